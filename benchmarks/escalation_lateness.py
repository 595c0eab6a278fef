"""Escalation deadline lateness: how long after its due time an unacknowledged incident really escalates,
on a real-time engine that is also taking a stream of heartbeats. Prints one JSON object.

    python -m benchmarks.escalation_lateness [--incidents 2000] [--seconds 10] [--background 20000] [--quick]

Incidents are raised from distinct devices, evenly over ``--seconds``, with a 1 s acknowledgement deadline
(nobody acknowledges); the hosts record ``now − due`` for every deadline they fire.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import numpy as np  # noqa: E402

from actors.runtime import Engine, EngineOptions  # noqa: E402
from engine.citygen import CitySpec, generate_city  # noqa: E402
from engine.policy import load_policy_set  # noqa: E402
from protocols.batch import Ingest  # noqa: E402
from protocols.device import make_message  # noqa: E402

POLICY = """
[policies."door.forced"]
priority = 2
steps = [{ notify = ["guard_room", "police_station"], ack_within_s = 1 }, { notify = ["command_center"], ack_within_s = 600 }]
"""
TICK_S = 0.01


def run(args) -> dict:
    city = generate_city(CitySpec(seed=2, communities=max(50, args.incidents // 7), doors_per_community=8,
                                  residents_per_door=0, volunteers=100))
    doors = [d.id for d in city.devices.values() if d.kind.value == "door"][:args.incidents]
    others = [d.id for d in city.devices.values() if d.kind.value != "door"]
    policy = Path(tempfile.mkdtemp()) / "policy.toml"
    policy.write_text(POLICY)
    engine = Engine(city, load_policy_set(policy), EngineOptions(realtime=True)).start()
    try:
        beat_seq = dict.fromkeys(others, 0)
        started = time.perf_counter()
        raised = beats = 0
        while time.perf_counter() - started < args.seconds:
            t = time.perf_counter() - started
            due = min(len(doors), int(t / args.seconds * len(doors)) + 1) - raised
            batch = [Ingest(d, make_message("door.forced", seq=1, ts=1)) for d in doors[raised:raised + due]]
            raised += len(batch)
            for _ in range(int(args.background * TICK_S)):
                device = others[beats % len(others)]
                beat_seq[device] += 1
                batch.append(Ingest(device, make_message("heartbeat", seq=beat_seq[device], ts=1)))
                beats += 1
            if batch:
                engine.ingest(batch)
            time.sleep(TICK_S)  # the load's tick
        deadline = time.monotonic() + 15
        while len(engine.deadline_lateness_s()) < raised and time.monotonic() < deadline:
            time.sleep(0.1)  # the last deadlines, one second after the last raise
        lateness_ms = np.array(engine.deadline_lateness_s()) * 1000
    finally:
        engine.stop()
    return {
        "benchmark": "escalation_lateness",
        "incidents": raised,
        "deadlines_fired": int(lateness_ms.size),
        "background_events_per_s": round(beats / args.seconds),
        "escalation_lateness_p50_ms": round(float(np.percentile(lateness_ms, 50)), 2) if lateness_ms.size else None,
        "escalation_lateness_p99_ms": round(float(np.percentile(lateness_ms, 99)), 2) if lateness_ms.size else None,
        "escalation_lateness_max_ms": round(float(lateness_ms.max()), 2) if lateness_ms.size else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--background", type=float, default=20_000, help="heartbeats per second meanwhile")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 100 incidents in 2 s")
    args = parser.parse_args()
    if args.quick:
        args.incidents, args.seconds, args.background = 100, 2, 2000
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
