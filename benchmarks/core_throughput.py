"""Accepted device events per second into the host actors on a local Ray (no MQTT), for a realistic mix.

The headline, ``core_events_per_s``, is a city's traffic: heartbeats from every device, positions from volunteer
phones on patrol, door states (opened / closed) and 1 % alarms, every alarm a fresh incident written to the hosts'
SQLite journals before its ack (what ``EngineOptions.journal_dir`` gives the hosts in ``redband run``). Only events
the hosts *accepted* count; duplicates and refusals are reported apart, and any of them, a lost event or an alarm
without its incident fails the run (exit 1): nothing in this mix may be refused. ``core_heartbeat_events_per_s`` is
the same measurement with heartbeats only (the figure this program reported before), on a fresh engine.

The driver pre-encodes MessagePack batches (as the bridge does) and keeps a few calls in flight per host; the clock
runs from the first call to the last answer. Prints one JSON object.

    python -m benchmarks.core_throughput [--events 600000] [--batch 5000] [--hosts 2] [--inflight 4] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter, defaultdict
from random import Random

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402

from actors.runtime import Engine, EngineOptions, shutdown_ray  # noqa: E402
from benchmarks.latency import Latencies  # noqa: E402
from engine.citygen import CitySpec, generate_city  # noqa: E402
from engine.policy import default_policies  # noqa: E402
from protocols.batch import Ingest, decode_result, encode_ingest  # noqa: E402
from protocols.device import make_message  # noqa: E402
from protocols.kinds import ALARM_KIND_OF, AckStatus, DeviceKind, EventKind  # noqa: E402

MIX_PERCENT = {"heartbeat": 70, "position": 20, "door_state": 9, "alarm": 1}
"""Of every 100 events. ``city_load.toml`` offers heartbeats and positions 8:2; door states and 1 % alarms added."""
TS_MS = 1_700_000_000_000


class Traffic:
    """Device events in a fixed interleaving (seeded), each device's seq counting up across all its kinds."""

    def __init__(self, city, *, seed: int = 5) -> None:
        rng = Random(seed)
        devices = sorted(city.devices.values(), key=lambda d: d.id)
        self.pools = {
            "heartbeat": devices,
            "position": [d for d in devices if d.kind is DeviceKind.VOLUNTEER_PHONE],
            "door_state": [d for d in devices if d.kind is DeviceKind.DOOR],
            "alarm": [d for d in devices if d.kind in ALARM_KIND_OF],
        }
        rng.shuffle(self.pools["alarm"])  # every alarm from a device that raised none before (while the pool lasts)
        self.pattern = [kind for kind, percent in MIX_PERCENT.items() for _ in range(percent)]
        rng.shuffle(self.pattern)
        self.seq: dict[str, int] = defaultdict(int)
        self.next_of: Counter = Counter()
        self.sent: Counter = Counter()
        self._cache: dict = {}

    def _message(self, kind: str, device, seq: int):
        if kind == "position":  # a walk around the device's home position: every position is new
            return make_message(EventKind.PATROL_POSITION, seq=seq, ts=TS_MS + seq,
                                data={"lat": device.lat + seq * 1e-5, "lon": device.lon, "accuracy_m": 8.0})
        if kind == "alarm":
            return make_message(ALARM_KIND_OF[device.kind], seq=seq, ts=TS_MS + seq)
        key = (kind, seq)
        if key not in self._cache:
            self._cache[key] = (make_message(EventKind.HEARTBEAT, seq=seq, ts=TS_MS + seq) if kind == "heartbeat" else
                                make_message(EventKind.DOOR_OPENED, seq=seq, ts=TS_MS + seq,
                                             data={"open": seq % 2 == 1}))  # opened, closed, opened, ...
        return self._cache[key]

    def events(self, count: int, *, only: str | None = None) -> list[Ingest]:
        out = []
        for i in range(count):
            kind = only or self.pattern[i % len(self.pattern)]
            pool = self.pools[kind]
            device = pool[self.next_of[kind] % len(pool)]
            self.next_of[kind] += 1
            self.seq[device.id] += 1
            out.append(Ingest(device.id, self._message(kind, device, self.seq[device.id])))
            self.sent[kind] += 1
        return out


def batches_by_host(items: list[Ingest], placement, batch: int) -> dict[str, list[bytes]]:
    by_host: dict[str, list[Ingest]] = defaultdict(list)
    for item in items:
        by_host[placement.host_for_device(item.device_id)].append(item)
    return {host: [encode_ingest(part[k:k + batch]) for k in range(0, len(part), batch)]
            for host, part in by_host.items()}


def drive(engine: Engine, batches: dict[str, list[bytes]], inflight: int) -> dict:
    """Every batch into its host, ``inflight`` calls outstanding per host; counts what the hosts answered."""
    ray.get([engine.hosts[h].ingest.remote(encode_ingest([])) for h in batches], timeout=60)  # all up before the clock
    calls = Latencies()
    counts: Counter = Counter()
    not_acked: Counter = Counter()  # "status reason" → how many
    queues = {host: list(payloads) for host, payloads in batches.items()}
    pending: dict = {}
    outstanding: Counter = Counter()
    started = time.perf_counter()
    while queues or pending:
        for host in list(queues):
            while queues[host] and outstanding[host] < inflight:
                pending[engine.hosts[host].ingest.remote(queues[host].pop(0))] = (host, time.perf_counter())
                outstanding[host] += 1
            if not queues[host]:
                del queues[host]
        done, _ = ray.wait(list(pending), num_returns=1, timeout=60)
        if not done:
            raise SystemExit("core_throughput: no host answered for 60 s")
        for ref in done:
            host, sent = pending.pop(ref)
            outstanding[host] -= 1
            calls.record_s(time.perf_counter() - sent)
            result = decode_result(ray.get(ref))
            counts.update(accepted=result.accepted, duplicates=result.duplicates, refused=result.refused)
            counts["alarms_acked"] += sum(1 for a in result.acks if a.status is AckStatus.ACK and a.incident_id)
            not_acked.update(f"{a.status.value} {a.reason}"[:120] for a in result.acks if a.status is not AckStatus.ACK)
    elapsed = time.perf_counter() - started
    return {"seconds": round(elapsed, 3), "counts": counts, "not_acked": dict(not_acked), "call_ms": calls.summary()}


def phase(city, *, events: int, batch: int, hosts: int, inflight: int, only: str | None) -> dict:
    """One engine (hosts with SQLite journals in a temporary directory), one timed run of ``events``."""
    traffic = Traffic(city)
    items = traffic.events(events, only=only)
    with tempfile.TemporaryDirectory(prefix="redband-core-") as journal_dir:
        engine = Engine(city, default_policies(),
                        EngineOptions(precinct_hosts=hosts, realtime=True, journal_dir=journal_dir)).start()
        try:
            batches = batches_by_host(items, engine.placement, batch)
            writes_before = sum(s.journal_writes for s in engine.statistics())
            run = drive(engine, batches, inflight)
            stats = engine.statistics()
        finally:
            engine.stop()
    counts = run["counts"]
    accepted = counts["accepted"]
    figures = {
        "events": events, "sent": dict(traffic.sent), "accepted": accepted, "duplicates": counts["duplicates"],
        "refused": counts["refused"], "lost": events - accepted - counts["duplicates"] - counts["refused"],
        "alarms_acked": counts["alarms_acked"], "incidents_open": sum(s.incidents_open for s in stats),
        "journal_writes": sum(s.journal_writes for s in stats) - writes_before,
        "seconds": run["seconds"], "accepted_per_s": round(accepted / run["seconds"]), "call_ms": run["call_ms"],
        "not_acked": run["not_acked"],
    }
    figures["problems"] = problems_of(figures)
    return figures


def problems_of(figures: dict) -> list[str]:
    """What must not happen in this mix: every event is new and allowed for its device, every alarm raises."""
    out = [f"{figures[name]:,} {name}" for name in ("duplicates", "refused", "lost") if figures[name]]
    alarms = figures["sent"].get("alarm", 0)
    if figures["alarms_acked"] != alarms:
        out.append(f"{figures['alarms_acked']:,} alarms acked with an incident of {alarms:,} sent")
    return out


def run(events: int, batch: int, hosts: int, inflight: int, communities: int, quick: bool) -> dict:
    city = generate_city(CitySpec(precincts=max(2, hosts), communities=communities, schools=200, kiosk_halls=20,
                                  volunteers=communities * 10, seed=5))
    try:
        mix = phase(city, events=events, batch=batch, hosts=hosts, inflight=inflight, only=None)
        heartbeats = phase(city, events=events, batch=batch, hosts=hosts, inflight=inflight, only="heartbeat")
    finally:
        shutdown_ray()
    return {
        "benchmark": "core_throughput",
        "core_events_per_s": mix["accepted_per_s"],
        "core_heartbeat_events_per_s": heartbeats["accepted_per_s"],
        "samples": {"core_events_per_s": f"{mix['accepted']:,} accepted events, 1 run",
                    "core_heartbeat_events_per_s": f"{heartbeats['accepted']:,} accepted heartbeats, 1 run"},
        "mix_percent": MIX_PERCENT,
        "realistic_mix": mix,
        "heartbeat_only": heartbeats,
        "problems": mix["problems"] + [f"heartbeat-only: {p}" for p in heartbeats["problems"]],
        "batch_events": batch,
        "precinct_hosts": hosts,
        "inflight_per_host": inflight,
        "devices": len(city.devices),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "ray": ray.__version__,
        "quick": quick,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=600_000, help="events per phase (mix, then heartbeats only)")
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--inflight", type=int, default=4)
    parser.add_argument("--communities", type=int, default=2_000)
    parser.add_argument("--quick", action="store_true", help="a small run, as a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.communities = 20_000, 50
    figures = run(args.events, args.batch, args.hosts, args.inflight, args.communities, args.quick)
    print(json.dumps(figures), flush=True)
    for problem in figures["problems"]:
        print(f"core_throughput: {problem}", file=sys.stderr)
    return 1 if figures["problems"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
