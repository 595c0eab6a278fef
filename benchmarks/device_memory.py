"""Bytes per device: a city of about a million devices hosted by the engine's host core, every device activated
(one heartbeat each: its entity, its sequence window, its supervision deadline). Prints one JSON object.

    python -m benchmarks.device_memory [--devices 1000000] [--quick]

Two measurements of the same build, each in a process of its own (tracing costs memory of its own):

* ``bytes_per_device`` (the headline, against the target): the process's resident set after a full collection,
  minus what it was before the city, divided by the devices. What the operating system pays, allocator slack
  included; no tracing in that process.
* the split, part by part, from **tracemalloc snapshots**: a snapshot before and after building each part (the
  topology, the host core's indexes, the activated entities), diffed; each part with the source lines that
  allocated most of it. What Python allocated for each part, exactly; the parts' sum is ``bytes_per_device_traced``.

The host core runs in this process without Ray: a host actor holds exactly this, plus the actor's fixed cost (one
Python process, about 100 MB, for any number of devices). Its journal here is the in-memory one; a host's SQLite
journal keeps on disk what the split shows under ``engine/journal.py``.
"""

from __future__ import annotations

import argparse
import gc
import json
import linecache
import math
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

from engine.citygen import CitySpec, generate_city
from engine.host import HostConfig, HostCore
from engine.journal import MemoryJournal
from engine.policy import default_policies
from protocols.batch import Ingest
from protocols.device import make_message

ROOT = Path(__file__).resolve().parents[1]
TOP_LINES = 6


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


def build(communities: int, asked: int, on_part) -> dict:
    """The three parts, one after another; ``on_part(name)`` is called before the first and after each. A small
    city goes through every step first, so that lazy imports and caches are not counted in a part."""
    policies = default_policies()
    warm = HostCore(HostConfig("w"), city=generate_city(city_spec(10)), policies=policies, journal=MemoryJournal(),
                    now_s=0.0)
    warm.ingest([Ingest(d, make_message("heartbeat", seq=1, ts=1)) for d in warm.city.devices], now_s=1.0)
    del warm
    on_part(None)
    started = time.perf_counter()
    city = generate_city(city_spec(communities))
    built_s = time.perf_counter() - started
    if len(city.devices) < asked:
        raise SystemExit(f"--devices {asked}: the city came out with {len(city.devices)} devices")
    on_part("topology")
    core = HostCore(HostConfig("h0"), city=city, policies=policies, journal=MemoryJournal(), now_s=0.0)
    on_part("host_indexes")
    devices = list(city.devices)
    heartbeat = make_message("heartbeat", seq=1, ts=1)
    started = time.perf_counter()
    for i in range(0, len(devices), 10_000):
        result = core.ingest([Ingest(d, heartbeat) for d in devices[i:i + 10_000]], now_s=1.0)
        assert result.accepted == len(devices[i:i + 10_000]), result
    ingest_s = time.perf_counter() - started
    del devices
    on_part("entities")
    return {"devices": len(city.devices), "devices_active": core.statistics().devices_active,
            "city_build_s": round(built_s, 2), "activation_events_per_s": round(len(city.devices) / ingest_s),
            "_keep": (city, core)}


def measure_rss(communities: int, asked: int) -> dict:
    marks: dict = {}
    figures = build(communities, asked, lambda part: marks.__setitem__(part, rss_bytes()))
    figures.pop("_keep")
    n = figures["devices"]
    return {**figures, "bytes_per_device": round((marks["entities"] - marks[None]) / n),
            "rss_mb": round(marks["entities"] / 2**20)}


def _snapshot() -> tracemalloc.Snapshot:
    gc.collect()
    return tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])


def _where(frame: tracemalloc.Frame) -> str:
    """``file:line  source``: where the bytes were allocated, readable in the JSON."""
    path = Path(frame.filename)
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else "/".join(path.parts[-2:])
    return f"{where}:{frame.lineno}  {linecache.getline(frame.filename, frame.lineno).strip()[:70]}"


def measure_split(communities: int, asked: int) -> dict:
    """Each part: the diff of the snapshots taken before and after it, in total and by the source line that
    allocated (its biggest few)."""
    tracemalloc.start(1)
    parts: dict[str, dict] = {}
    last: list = []

    def on_part(name: str | None) -> None:
        snapshot = _snapshot()
        if name is not None:
            stats = snapshot.compare_to(last[0], "lineno")
            parts[name] = {"bytes": sum(s.size_diff for s in stats),
                           "by_line": {_where(s.traceback[0]): s.size_diff
                                       for s in sorted(stats, key=lambda s: -s.size_diff)[:TOP_LINES]}}
        last[:] = [snapshot]  # the older snapshot goes: at a million devices each holds millions of traces

    figures = build(communities, asked, on_part)
    last.clear()
    tracemalloc.stop()
    n = figures["devices"]
    return {"devices": n, "bytes_per_device_traced": round(sum(p["bytes"] for p in parts.values()) / n),
            "parts": {name: {"bytes_per_device": round(part["bytes"] / n),
                             "by_line_bytes_per_device": {f: round(b / n) for f, b in part["by_line"].items()}}
                      for name, part in parts.items()}}


def _child(mode: str, communities: int, asked: int) -> dict:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.device_memory", "--_measure", mode,
                           "--_communities", str(communities), "--devices", str(asked)],
                          capture_output=True, text=True, cwd=ROOT, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"device_memory {mode}: exit {proc.returncode}: {proc.stderr.strip()[-1500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(asked: int, quick: bool) -> dict:
    communities = communities_for(asked)
    rss = _child("rss", communities, asked)
    split = _child("split", communities, asked)
    n = rss["devices"]
    if split["devices"] != n:
        raise SystemExit(f"the two builds differ: {n} and {split['devices']} devices")
    return {
        "benchmark": "device_memory", "devices_asked": asked, "communities": communities, **rss,
        "bytes_per_device_traced": split["bytes_per_device_traced"],
        **{f"bytes_per_device_{name}": part["bytes_per_device"] for name, part in split["parts"].items()},
        "parts": split["parts"],
        "samples": {"bytes_per_device": f"{n:,} devices hosted and activated, 1 run",
                    **{f"bytes_per_device_{name}": f"{n:,} devices, tracemalloc snapshots, 1 run"
                       for name in ("traced", *split["parts"])}},
        "quick": quick,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1_000_000, help="at least this many devices are hosted")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 6,000 devices")
    parser.add_argument("--_measure", choices=("rss", "split"), help=argparse.SUPPRESS)
    parser.add_argument("--_communities", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.devices < 1:
        parser.error("--devices: must be at least 1")
    asked = 6_000 if args.quick else args.devices
    if args._measure:
        measure = measure_rss if args._measure == "rss" else measure_split
        print(json.dumps(measure(args._communities, asked)), flush=True)
        return
    print(json.dumps(run(asked, args.quick)), flush=True)


if __name__ == "__main__":
    main()
