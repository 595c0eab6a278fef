"""Bytes per device: a city of about a million devices hosted by the engine's host core, every device
activated (one heartbeat each: its entity, its sequence window, its supervision deadline). Prints one JSON
object. Memory is the process's resident set, measured after a full collection.

    python -m benchmarks.device_memory [--devices 1000000] [--quick]

The host core runs in this process without Ray: a host actor holds exactly this, plus the actor's
fixed cost (one Python process, about 100 MB, for any number of devices).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import time

from engine.citygen import CitySpec, generate_city
from engine.host import HostConfig, HostCore
from engine.journal import MemoryJournal
from engine.policy import default_policies
from protocols.batch import Ingest
from protocols.device import make_message


def rss_bytes() -> int:
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def city_spec(communities: int) -> CitySpec:
    return CitySpec(precincts=6, communities=communities, schools=max(10, communities // 100),
                    kiosk_halls=max(2, communities // 1000), volunteers=communities * 5,
                    doors_per_community=8, cameras_per_community=4, residents_per_door=4, seed=11)


def communities_for(devices: int) -> int:
    """Communities whose city holds at least ``devices`` devices: measured on a small city, then scaled (every
    part of the spec grows with the communities), with a margin that the caller checks."""
    sample = 1_000
    per_community = len(generate_city(city_spec(sample)).devices) / sample
    return max(10, math.ceil(devices / per_community * 1.002))


def run(asked: int) -> dict:
    communities = communities_for(asked)
    base = rss_bytes()
    started = time.perf_counter()
    city = generate_city(city_spec(communities))
    built_s = time.perf_counter() - started
    if len(city.devices) < asked:
        raise SystemExit(f"--devices {asked}: the city came out with {len(city.devices)} devices")
    with_city = rss_bytes()
    core = HostCore(HostConfig("h0"), city=city, policies=default_policies(), journal=MemoryJournal(), now_s=0.0)
    with_core = rss_bytes()
    devices = list(city.devices)
    heartbeat = make_message("heartbeat", seq=1, ts=1)
    started = time.perf_counter()
    for i in range(0, len(devices), 10_000):
        result = core.ingest([Ingest(d, heartbeat) for d in devices[i:i + 10_000]], now_s=1.0)
        assert result.accepted == len(devices[i:i + 10_000]), result
    ingest_s = time.perf_counter() - started
    activated = rss_bytes()
    n = len(devices)
    return {
        "benchmark": "device_memory",
        "devices": n,
        "devices_asked": asked,
        "communities": communities,
        "devices_active": core.statistics().devices_active,
        "bytes_per_device": round((activated - base) / n),
        "bytes_per_device_topology": round((with_city - base) / n),
        "bytes_per_device_entity": round((activated - with_core) / n),
        "rss_mb": round(activated / 2**20),
        "city_build_s": round(built_s, 2),
        "activation_events_per_s": round(n / ingest_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1_000_000, help="at least this many devices are hosted")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10,000 devices")
    args = parser.parse_args()
    if args.devices < 1:
        parser.error("--devices: must be at least 1")
    print(json.dumps(run(10_000 if args.quick else args.devices)), flush=True)


if __name__ == "__main__":
    main()
