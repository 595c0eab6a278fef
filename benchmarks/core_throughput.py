"""Batched device events per second into the host actors on a local Ray (no MQTT).

The driver pre-encodes MessagePack batches (as the bridge will), keeps a few calls in flight per host,
and counts what the hosts report back as accounted. Prints one JSON object.

    python -m benchmarks.core_throughput [--events 600000] [--batch 5000] [--hosts 2] [--inflight 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections import defaultdict

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402

from actors.runtime import Engine, EngineOptions  # noqa: E402
from engine.citygen import CitySpec, generate_city  # noqa: E402
from engine.policy import default_policies  # noqa: E402
from protocols.batch import Ingest, decode_result, encode_ingest  # noqa: E402
from protocols.device import make_message  # noqa: E402


def build_batches(city, placement, *, events: int, batch: int, alarm_every: int) -> dict[str, list[bytes]]:
    devices = list(city.devices.values())
    by_host: dict[str, list[Ingest]] = defaultdict(list)
    seq: dict[str, int] = defaultdict(int)
    heartbeat = {}
    for i in range(events):
        device = devices[i % len(devices)]
        seq[device.id] += 1
        if alarm_every and i % alarm_every == 0 and device.kind.value == "panic_box":
            message = make_message("school.panic", seq=seq[device.id], ts=1)
        else:
            message = heartbeat.get(seq[device.id])
            if message is None:
                message = heartbeat[seq[device.id]] = make_message("heartbeat", seq=seq[device.id], ts=1)
        by_host[placement.host_for_device(device.id)].append(Ingest(device.id, message))
    return {host: [encode_ingest(items[k:k + batch]) for k in range(0, len(items), batch)]
            for host, items in by_host.items()}


def run(events: int, batch: int, hosts: int, inflight: int, communities: int, quick: bool) -> dict:
    city = generate_city(CitySpec(precincts=max(2, hosts), communities=communities, schools=200, kiosk_halls=20,
                                  volunteers=communities * 10, seed=5))
    engine = Engine(city, default_policies(), EngineOptions(precinct_hosts=hosts, realtime=True)).start()
    try:
        batches = build_batches(city, engine.placement, events=events, batch=batch, alarm_every=0)
        # every host answers once before the clock starts, so actor start-up is not measured
        warm = [engine.hosts[h].ingest.remote(encode_ingest([])) for h in batches]
        ray.get(warm, timeout=60)
        call_ms: list[float] = []
        accounted = 0
        started = time.perf_counter()
        pending: dict = {}
        queues = {host: list(payloads) for host, payloads in batches.items()}
        while queues or pending:
            for host in list(queues):
                while queues[host] and sum(1 for h, _ in pending.values() if h == host) < inflight:
                    ref = engine.hosts[host].ingest.remote(queues[host].pop(0))
                    pending[ref] = (host, time.perf_counter())
                if not queues[host]:
                    del queues[host]
            done, _ = ray.wait(list(pending), num_returns=1, timeout=60)
            for ref in done:
                host, sent = pending.pop(ref)
                accounted += decode_result(ray.get(ref)).accounted
                call_ms.append((time.perf_counter() - sent) * 1000)
        elapsed = time.perf_counter() - started
    finally:
        engine.stop()
    call_ms.sort()
    return {
        "benchmark": "core_throughput",
        "events": events,
        "accounted": accounted,
        "lost": events - accounted,
        "seconds": round(elapsed, 3),
        "core_events_per_s": round(accounted / elapsed),
        "batch_events": batch,
        "precinct_hosts": hosts,
        "inflight_per_host": inflight,
        "devices": len(city.devices),
        "call_ms_p50": round(statistics.median(call_ms), 2),
        "call_ms_p99": round(call_ms[int(len(call_ms) * 0.99) - 1], 2) if len(call_ms) > 1 else None,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "ray": ray.__version__,
        "quick": quick,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=600_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--hosts", type=int, default=2)
    parser.add_argument("--inflight", type=int, default=4)
    parser.add_argument("--communities", type=int, default=2_000)
    parser.add_argument("--quick", action="store_true", help="a small run, as a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.communities = 20_000, 50
    print(json.dumps(run(args.events, args.batch, args.hosts, args.inflight, args.communities, args.quick)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
