"""Host restart: how long a precinct host whose process is killed (SIGKILL) takes to answer again, rebuilt from its
journal by itself, and how late the escalations it held fire. Prints one JSON object.

    python -m benchmarks.host_restart [--kills 5] [--open 2000] [--escalate-after-s 4] [--quick]

Before each kill the host holds ``--open`` unacknowledged incidents (a journal to rebuild from) whose escalations
fall due one second after the kill (``--escalate-after-s`` after they were raised); the program measures kill → the
restarted host answering, and the lateness of those escalations as the restarted host records them.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402

from actors.runtime import Engine, EngineOptions, shutdown_ray  # noqa: E402
from engine.citygen import CitySpec, generate_city  # noqa: E402
from engine.policy import load_policy_set  # noqa: E402
from protocols.batch import Ingest  # noqa: E402
from protocols.device import make_message  # noqa: E402

POLICY = """
[policies."door.forced"]
priority = 2
steps = [{{ notify = ["guard_room", "police_station"], ack_within_s = {escalate_after_s} }},
         {{ notify = ["command_center"], ack_within_s = 600 }}]
"""


def _back(handle, deadline_s: float) -> float:
    killed = time.monotonic()
    while time.monotonic() < deadline_s:
        try:
            where = ray.get(handle.where.remote(), timeout=5)
        except (ray.exceptions.ActorUnavailableError, ray.exceptions.ActorDiedError, ray.exceptions.GetTimeoutError):
            time.sleep(0.01)  # polling the restart; bounded by the deadline
            continue
        if where.restarted:
            return time.monotonic() - killed
        time.sleep(0.01)  # the old process still answered: the kill has not landed yet
    raise TimeoutError("the host did not come back")


def run(args) -> dict:
    city = generate_city(CitySpec(seed=4, precincts=1, communities=args.kills * args.open // 8 + 1,
                                  doors_per_community=8, residents_per_door=0, volunteers=10))
    doors = [d.id for d in city.devices.values() if d.kind.value == "door"]
    tmp = Path(tempfile.mkdtemp())
    (tmp / "policy.toml").write_text(POLICY.format(escalate_after_s=args.escalate_after_s))
    engine = Engine(city, load_policy_set(tmp / "policy.toml"),
                    EngineOptions(precinct_hosts=1, realtime=True, journal_dir=str(tmp / "journal"))).start()
    restart_s, lateness_s = [], []
    try:
        host = engine.placement.precinct_hosts[0]
        handle = engine.hosts[host]
        for round_ in range(args.kills):  # fresh doors each round: their incidents are new, their deadlines pending
            batch = [Ingest(d, make_message("door.forced", seq=1, ts=int(time.time() * 1000)))
                     for d in doors[round_ * args.open:(round_ + 1) * args.open]]
            engine.ingest(batch)
            time.sleep(args.escalate_after_s - 1.0)  # the kill comes one second before the escalations fall due
            os.kill(ray.get(handle.where.remote()).pid, signal.SIGKILL)
            restart_s.append(_back(handle, time.monotonic() + 60))
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # the restarted process records only its own firings
                fired = ray.get(handle.deadline_lateness_s.remote())
                if len(fired) >= len(batch):
                    lateness_s += fired
                    break
                time.sleep(0.1)  # waiting for the escalations; bounded by the deadline
    finally:
        engine.stop()
    return {
        "benchmark": "host_restart",
        "kills": len(restart_s),
        "open_incidents_per_kill": args.open,
        "host_restart_p50_s": round(statistics.median(restart_s), 3) if restart_s else None,
        "host_restart_max_s": round(max(restart_s), 3) if restart_s else None,
        "escalations_fired": len(lateness_s),
        "escalation_lateness_after_restart_max_ms": round(max(lateness_s) * 1000, 1) if lateness_s else None,
        "samples": {  # each summary figure's sample size, in words (benchmarks/table.py)
            "host_restart_max_s": f"{len(restart_s)} SIGKILLs, {args.open:,} open incidents each",
            "escalation_lateness_after_restart_max_ms": f"{len(lateness_s):,} escalations held across the kills",
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--open", type=int, default=2000)
    parser.add_argument("--escalate-after-s", type=float, default=4.0,
                        help="the incidents' acknowledgement deadline; the kill comes one second before it")
    parser.add_argument("--quick", action="store_true", help="2 kills, 200 open incidents, escalations after 2 s")
    args = parser.parse_args()
    if args.quick:
        args.kills, args.open, args.escalate_after_s = 2, 200, 2.0
    figures = run(args)
    shutdown_ray()  # before printing: Ray forwards the killed workers' last words to stdout
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
