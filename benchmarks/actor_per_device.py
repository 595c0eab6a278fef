"""The literal design as a baseline: one Ray actor per device. As many device actors as this run creates,
each event one actor call; events/s, and the memory each actor costs (its worker process's resident set),
hence how many devices this machine could hold that way. Prints one JSON object.

    python -m benchmarks.actor_per_device [--actors 40] [--events 20000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402

from actors.runtime import ensure_ray, shutdown_ray  # noqa: E402


@ray.remote(num_cpus=0)
class DeviceActor:
    """A device as its own actor: its sequence check and last-seen time, nothing else."""

    def __init__(self, device_id: str) -> None:
        self.device_id, self.last_seq, self.last_seen = device_id, -1, 0.0

    def ingest(self, seq: int, t: float) -> bool:
        if seq <= self.last_seq:
            return False
        self.last_seq, self.last_seen = seq, t
        return True

    def pid(self) -> int:
        return os.getpid()


def rss_of(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def available_bytes() -> int:
    with open("/proc/meminfo") as f:
        info = dict(line.split(":", 1) for line in f)
    return int(info["MemAvailable"].split()[0]) * 1024


def run(n_actors: int, events: int, inflight: int) -> dict:
    started_ray = ensure_ray()
    try:
        t0 = time.perf_counter()
        actors = [DeviceActor.remote(f"dev-{i}") for i in range(n_actors)]
        pids = ray.get([a.pid.remote() for a in actors], timeout=600)
        create_s = time.perf_counter() - t0
        per_actor = sum(rss_of(p) for p in pids) / len(pids)
        seq = [0] * n_actors
        started = time.perf_counter()
        pending: list = []
        accepted = 0
        for i in range(events):
            k = i % n_actors
            seq[k] += 1
            pending.append(actors[k].ingest.remote(seq[k], 1.0))
            if len(pending) >= inflight:
                accepted += sum(ray.get(pending, timeout=120))
                pending = []
        accepted += sum(ray.get(pending, timeout=120))
        elapsed = time.perf_counter() - started
        for actor in actors:
            ray.kill(actor)
    finally:
        if started_ray:
            shutdown_ray()
    return {
        "benchmark": "actor_per_device",
        "actors": n_actors,
        "events": events,
        "accepted": accepted,
        "actor_per_device_events_per_s": round(events / elapsed),
        "bytes_per_actor": round(per_actor),
        "actor_per_device_max_devices": int(available_bytes() / per_actor),
        "seconds_to_create_actors": round(create_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--actors", type=int, default=40)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--inflight", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 4 actors, 2,000 events")
    args = parser.parse_args()
    if args.quick:
        args.actors, args.events = 4, 2000
    print(json.dumps(run(args.actors, args.events, args.inflight)), flush=True)


if __name__ == "__main__":
    main()
