"""The literal design as a baseline: one Ray actor per device. What each such actor costs in memory (its worker
process's resident set, hence how many devices this machine could hold that way: the headline of the comparison),
and how many events per second they take, two ways:

* ``actor_per_device_events_per_s``: one actor call per event, as a device's events arrive;
* ``actor_per_device_batched_events_per_s``: batching on both sides, the same batch size as ``core_throughput``
  (5,000): each actor gets MessagePack batches of its own events, decoded as the hosts decode theirs. A best case
  for the baseline: in a city a 5,000-event batch holds about one event per device
  (``events_per_actor_call_in_a_city``), so batching by actor only helps a device that sends thousands of events.

Each device actor only checks its sequence and keeps its last-seen time (less than a host does per event).
Prints one JSON object.

    python -m benchmarks.actor_per_device [--actors 40] [--events 20000] [--batch 5000] [--rounds 2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402

from actors.runtime import ensure_ray, shutdown_ray  # noqa: E402
from protocols.batch import Ingest, decode_ingest, encode_ingest  # noqa: E402
from protocols.device import make_message  # noqa: E402

CITY_DEVICES = 48_660
"""The devices of ``core_throughput``'s city: a 5,000-event batch of it, split by device, is this many calls."""


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

    def ingest_batch(self, payload: bytes) -> int:
        """A batch of this device's own events (``protocols.batch``), in order; how many were accepted."""
        accepted = 0
        for item in decode_ingest(payload):
            accepted += self.ingest(item.message.seq, item.message.ts / 1000)
        return accepted

    def pid(self) -> int:
        return os.getpid()


def rss_of(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def available_bytes() -> int:
    with open("/proc/meminfo") as f:
        info = dict(line.split(":", 1) for line in f)
    return int(info["MemAvailable"].split()[0]) * 1024


def one_call_per_event(actors: list, events: int, inflight: int) -> tuple[int, float]:
    seq = [0] * len(actors)
    started = time.perf_counter()
    pending: list = []
    accepted = 0
    for i in range(events):
        k = i % len(actors)
        seq[k] += 1
        pending.append(actors[k].ingest.remote(seq[k], 1.0))
        if len(pending) >= inflight:
            accepted += sum(ray.get(pending, timeout=120))
            pending = []
    accepted += sum(ray.get(pending, timeout=120))
    return accepted, time.perf_counter() - started


def batched(actors: list, batch: int, rounds: int, *, first_seq: int) -> tuple[int, int, float]:
    """``rounds`` batches of ``batch`` events for every actor, all sent at once (each actor takes its own in
    order), seqs from ``first_seq`` on; the batches are encoded before the clock starts."""
    heartbeats = [make_message("heartbeat", seq=s, ts=s) for s in range(first_seq, first_seq + batch * rounds)]
    payloads = [[encode_ingest([Ingest(f"dev-{k}", m) for m in heartbeats[r * batch:(r + 1) * batch]])
                 for r in range(rounds)] for k in range(len(actors))]
    started = time.perf_counter()
    refs = [actor.ingest_batch.remote(payload) for r in range(rounds) for actor, payload in
            ((actors[k], payloads[k][r]) for k in range(len(actors)))]
    accepted = sum(ray.get(refs, timeout=600))
    return accepted, len(actors) * batch * rounds, time.perf_counter() - started


def events_per_call_in_a_city(batch: int, devices: int = CITY_DEVICES) -> float:
    """Expected events per actor call when a batch of ``batch`` events, from devices chosen evenly at random, is
    split by device: ``batch`` over the expected number of distinct devices in it."""
    return round(batch / (devices * (1 - math.exp(-batch / devices))), 3)


def run(n_actors: int, events: int, inflight: int, batch: int, rounds: int, quick: bool) -> dict:
    started_ray = ensure_ray()
    try:
        t0 = time.perf_counter()
        actors = [DeviceActor.remote(f"dev-{i}") for i in range(n_actors)]
        pids = ray.get([a.pid.remote() for a in actors], timeout=600)
        create_s = time.perf_counter() - t0
        per_actor = sum(rss_of(p) for p in pids) / len(pids)
        accepted, elapsed = one_call_per_event(actors, events, inflight)
        batched_accepted, batched_events, batched_s = batched(actors, batch, rounds, first_seq=events + 1)
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
        "actor_per_device_events_per_s": round(accepted / elapsed),
        "batch_events": batch,
        "batched_events": batched_events,
        "batched_accepted": batched_accepted,
        "actor_per_device_batched_events_per_s": round(batched_accepted / batched_s),
        "events_per_actor_call_in_a_city": events_per_call_in_a_city(batch),
        "bytes_per_actor": round(per_actor),
        "actor_per_device_max_devices": int(available_bytes() / per_actor),
        "seconds_to_create_actors": round(create_s, 1),
        "samples": {
            "actor_per_device_events_per_s": f"{accepted:,} events, one call each, {n_actors} actors, 1 run",
            "actor_per_device_batched_events_per_s":
                f"{batched_accepted:,} events in {n_actors * rounds} calls of {batch:,}, {n_actors} actors, 1 run",
            "bytes_per_actor": f"{n_actors} actor processes, 1 run",
            "actor_per_device_max_devices": f"free memory ÷ the mean of {n_actors} actor processes",
        },
        "quick": quick,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--actors", type=int, default=40)
    parser.add_argument("--events", type=int, default=20_000, help="events sent one call each")
    parser.add_argument("--inflight", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=5_000, help="events per batch (core_throughput's batch size)")
    parser.add_argument("--rounds", type=int, default=2, help="batches per actor")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 4 actors, 2,000 events, 1 batch each")
    args = parser.parse_args()
    if args.quick:
        args.actors, args.events, args.rounds = 4, 2000, 1
    print(json.dumps(run(args.actors, args.events, args.inflight, args.batch, args.rounds, args.quick)), flush=True)


if __name__ == "__main__":
    main()
