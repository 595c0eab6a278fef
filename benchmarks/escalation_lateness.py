"""Escalation deadline lateness: how long after its due time an unacknowledged incident really escalates,
on a real-time engine that is also taking an open-loop stream of heartbeats. Prints one JSON object.

    python -m benchmarks.escalation_lateness [--incidents 2000] [--seconds 10] [--background 20000]
                                             [--in-flight 8] [--quick]

The load is a fixed schedule of 10 ms ticks: each tick's batch (the forced doors due by then and
``--background`` × 10 ms heartbeats) is sent at its scheduled time whether or not earlier batches were
answered, from a pool of ``--in-flight`` senders per lane; a batch due while its lane has that many
unanswered is dropped and counted, never queued. Alarms and heartbeats travel separate lanes, so a dropped
heartbeat batch never takes an alarm with it. Incidents have a 1 s acknowledgement deadline (nobody
acknowledges). Two lateness figures: the hosts' own (``now − due``, due from when the host raised the
incident) and against the schedule (escalation time − (scheduled send + 1 s)), which also holds any delay
in sending or raising. Every percentile is HDR (``benchmarks/latency.py``), each with its count.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from actors.runtime import Engine, EngineOptions  # noqa: E402
from benchmarks.latency import Latencies, summary_ms  # noqa: E402
from engine.citygen import CitySpec, generate_city  # noqa: E402
from engine.policy import load_policy_set  # noqa: E402
from protocols.batch import Ingest  # noqa: E402
from protocols.device import make_message  # noqa: E402
from protocols.kinds import ALARM_KIND_OF, DeviceKind, TimelineEvent  # noqa: E402

ALARM = ALARM_KIND_OF[DeviceKind.DOOR]
ACK_WITHIN_S = 1.0
POLICY = f"""
[policies."{ALARM.value}"]
priority = 2
steps = [
    {{ notify = ["guard_room", "police_station"], ack_within_s = {ACK_WITHIN_S} }},
    {{ notify = ["command_center"], ack_within_s = 600 }},
]
"""
TICK_S = 0.01


class Lane:
    """Batches sent at their scheduled time by at most ``bound`` threads; one due while all are busy is dropped."""

    def __init__(self, engine: Engine, bound: int, name: str) -> None:
        self.engine, self.bound = engine, bound
        self.pool = ThreadPoolExecutor(max_workers=bound, thread_name_prefix=name)
        self.busy = threading.BoundedSemaphore(bound)
        self.sent = self.dropped = 0
        self.futures: list[Future] = []
        self.call_ms = Latencies()

    def send(self, batch: list[Ingest]) -> bool:
        if not self.busy.acquire(blocking=False):
            self.dropped += len(batch)
            return False
        self.sent += len(batch)
        self.futures.append(self.pool.submit(self._call, batch))
        return True

    def _call(self, batch: list[Ingest]) -> int:
        started = time.perf_counter()
        try:
            return self.engine.ingest(batch).accepted
        finally:
            self.call_ms.record_s(time.perf_counter() - started)
            self.busy.release()

    def finish(self) -> dict:
        self.pool.shutdown(wait=True)
        accepted = sum(f.result() for f in self.futures if f.exception() is None)
        failed = sum(1 for f in self.futures if f.exception() is not None)
        return {"sent": self.sent, "dropped": self.dropped, "accepted": accepted, "failed_calls": failed,
                "in_flight_bound": self.bound, "call_ms": self.call_ms.summary()}


def run(args) -> dict:
    city = generate_city(CitySpec(seed=2, communities=max(50, args.incidents // 7), doors_per_community=8,
                                  residents_per_door=0, volunteers=100))
    doors = [d.id for d in city.devices.values() if d.kind is DeviceKind.DOOR][:args.incidents]
    others = [d.id for d in city.devices.values() if d.kind is not DeviceKind.DOOR]
    policy = Path(tempfile.mkdtemp()) / "policy.toml"
    policy.write_text(POLICY)
    engine = Engine(city, load_policy_set(policy), EngineOptions(realtime=True)).start()
    alarms, background = Lane(engine, args.in_flight, "alarms"), Lane(engine, args.in_flight, "background")
    try:
        beat_seq = dict.fromkeys(others, 0)
        scheduled_at: dict[str, float] = {}  # incident id → the wall time its alarm was scheduled for
        send_lag = Latencies()
        ticks = int(args.seconds / TICK_S)
        per_tick = args.background * TICK_S
        start = time.time() + 0.2
        raised = beats = 0
        for tick in range(ticks):
            due_at = start + tick * TICK_S
            while (left := due_at - time.time()) > 0:
                time.sleep(left)  # the schedule's next instant
            send_lag.record_s(time.time() - due_at)
            due = min(len(doors), int((tick + 1) / ticks * len(doors))) - raised
            if due > 0:
                for d in doors[raised:raised + due]:
                    scheduled_at[f"{d}#1"] = due_at
                alarms.send([Ingest(d, make_message(ALARM, seq=1, ts=1)) for d in doors[raised:raised + due]])
                raised += due
            n = int((tick + 1) * per_tick) - int(tick * per_tick)
            batch = []
            for _ in range(n):
                device = others[beats % len(others)]
                beat_seq[device] += 1
                batch.append(Ingest(device, make_message("heartbeat", seq=beat_seq[device], ts=1)))
                beats += 1
            if batch:
                background.send(batch)
        sent_until = time.time()
        alarm_lane, background_lane = alarms.finish(), background.finish()
        answered_until = time.time()
        deadline = time.monotonic() + 15
        while len(engine.deadline_lateness_s()) < alarm_lane["accepted"] and time.monotonic() < deadline:
            time.sleep(0.1)  # the last deadlines, one second after the last raise
        host_lateness_ms = [x * 1000 for x in engine.deadline_lateness_s()]
        records = {r.id: r for r in engine.open_incidents() if r.id in scheduled_at}
    finally:
        engine.stop()
    vs_schedule_ms, raise_lag_ms = [], []
    for incident_id, record in records.items():
        raise_lag_ms.append((record.raised_s - scheduled_at[incident_id]) * 1000)
        escalated = [e.t_s for e in record.timeline if e.event is TimelineEvent.ESCALATED]
        if escalated:
            vs_schedule_ms.append((escalated[0] - scheduled_at[incident_id] - ACK_WITHIN_S) * 1000)
    offered_s = ticks * TICK_S
    host = summary_ms(host_lateness_ms)
    schedule = summary_ms(vs_schedule_ms)
    return {
        "benchmark": "escalation_lateness",
        "incidents": raised,
        "incidents_raised": len(records),
        "deadlines_fired": host["count"],
        "escalations_found": schedule["count"],
        "seconds": offered_s,
        "background_offered_events_per_s": round(beats / offered_s),
        "background_sent_events_per_s": round(background_lane["sent"] / offered_s),
        # accepted over the schedule's span, or until the last answer if that came later
        "background_achieved_events_per_s": round(background_lane["accepted"]
                                                  / max(offered_s, answered_until - start)),
        "background_dropped_events": background_lane["dropped"],
        "lanes": {"alarms": alarm_lane, "background": background_lane},
        "schedule_send_lag_ms": send_lag.summary(),
        "sending_overran_s": round(sent_until - (start + offered_s), 3),
        "raise_lag_vs_schedule_ms": summary_ms(raise_lag_ms),
        "escalation_lateness": host,
        "escalation_lateness_vs_schedule": schedule,
        "escalation_lateness_p50_ms": host["p50_ms"],
        "escalation_lateness_p99_ms": host["p99_ms"],
        "escalation_lateness_max_ms": host["max_ms"],
        "escalation_lateness_vs_schedule_p99_ms": schedule["p99_ms"],
        "samples": {  # each summary figure's sample size, in words (benchmarks/table.py)
            "escalation_lateness_vs_schedule_p99_ms": f"{schedule['count']:,} escalations, 1 run",
            **{f"escalation_background_{what}": f"{beats:,} heartbeats scheduled over {offered_s:g} s, 1 run"
               for what in ("offered_events_per_s", "achieved_events_per_s", "dropped_events")},
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--background", type=float, default=20_000, help="heartbeats per second meanwhile")
    parser.add_argument("--in-flight", type=int, default=8, help="unanswered batches per lane before one is dropped")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 50 incidents in 1 s")
    args = parser.parse_args()
    if args.quick:
        args.incidents, args.seconds, args.background = 50, 1, 2000
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
