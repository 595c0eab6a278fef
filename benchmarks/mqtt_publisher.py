"""Load generator process for the MQTT benchmarks: telemetry for a share of the city's devices, pre-encoded
QoS 0 PUBLISH packets written in 5 ms ticks at a fixed rate, one step of a ramp at a time.

    python -m benchmarks.mqtt_publisher --port P --user U --password W --devices FILE --index I --of N

Prints ``{"connected": true}``, then takes one step per line on stdin,
``{"rate": R, "seconds": S, "start_at": EPOCH, "fresh": true}``, and answers each with one JSON line
``{"published", "seconds", "cpu_s"}``; it ends when stdin closes. A ``fresh`` step encodes new packets,
each device's seq carrying on from the step before (what the engine needs); otherwise the step cycles over
a pool encoded once (for subscribers that only count, so a fast ramp costs no encoding time). A step that
cannot be written at its rate (the broker reads slower) stops at ``seconds + LATE_S``: what was not written
then was not offered, and ``published`` says so.

Optional step fields (``benchmarks/positions_ingest.py``): ``"event": "patrol.start"`` sends each device of the
share one ``patrol.start`` at ``rate`` instead; ``"realtime": true`` stamps each message with the instant it is
due (``start_at`` + its place in the schedule) instead of a fixed epoch, as the GPS filter needs; and
``"bad_every": N`` gives every N-th position an 80 m accuracy, a fix the filter discards as ``inaccurate``.
A volunteer phone's positions walk north ~0.11 m per fix from a point of its own, so its fixes are plausible
for a walker (a fix per 25 ms or slower stays under the filter's 15 m/s).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import resource
import sys
import time

import uvloop

from protocols.device import encode_device_message, make_message
from protocols.topics import Channel, device_topic
from simulation.mqtt_wire import open_connection, publish_packet

TICK_S = 0.005
LATE_S = 2.0
POOL = 100_000


class Packets:
    """Each device's telemetry in turn, its seq increasing from 1 across every step."""

    def __init__(self, devices: list[tuple[str, str]]) -> None:
        self.devices = devices
        self.seq = dict.fromkeys((d for d, _ in devices), 0)
        self.topics = {d: device_topic(d, Channel.EVT) for d, _ in devices}
        self.i = 0
        self._pool: list[bytes] | None = None

    def fresh(self, count: int, *, start_at: float | None = None, rate: float = 1.0, bad_every: int = 0
              ) -> list[bytes]:
        """``count`` messages, devices in turn; stamped with their due instants when ``start_at`` is given."""
        out = []
        n = len(self.devices)
        for k in range(count):
            index = self.i % n
            device_id, kind = self.devices[index]
            self.seq[device_id] += 1
            self.i += 1
            seq = self.seq[device_id]
            ts = 1_700_000_000_000 + self.i if start_at is None else int((start_at + k / rate) * 1000)
            if kind == "volunteer_phone":
                bad = bad_every and self.i % bad_every == 0
                message = make_message("patrol.position", seq=seq, ts=ts, data={
                    "lat": 31.8 + (index % 100) * 1e-3 + seq * 1e-6, "lon": 117.2 + (index // 100 % 100) * 1e-3,
                    "accuracy_m": 80.0 if bad else 5.0})
            else:
                message = make_message("heartbeat", seq=seq, ts=ts, data={"battery": 88.0})
            out.append(publish_packet(self.topics[device_id], encode_device_message(message)))
        return out

    def starts(self, start_at: float) -> list[bytes]:
        """One ``patrol.start`` per device, each seq carrying on."""
        out = []
        for device_id, _ in self.devices:
            self.seq[device_id] += 1
            message = make_message("patrol.start", seq=self.seq[device_id], ts=int(start_at * 1000))
            out.append(publish_packet(self.topics[device_id], encode_device_message(message)))
        return out

    def cycled(self, count: int) -> list[bytes]:
        if self._pool is None:
            self._pool = self.fresh(POOL)
        return list(itertools.islice(itertools.cycle(self._pool), count))


async def send_step(writer: asyncio.StreamWriter, queue: list[bytes], *, rate: float, seconds: float,
                    start_at: float) -> dict:
    delay = start_at - time.time()
    if delay > 0:
        await asyncio.sleep(delay)  # every publisher starts at the same wall-clock instant
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    sent, total = 0, len(queue)
    while sent < total and time.perf_counter() - started < seconds + LATE_S:
        due = min(total, int((time.perf_counter() - started) * rate) + 1)
        if due > sent:
            writer.write(b"".join(queue[sent:due]))
            sent = due
            await writer.drain()
        await asyncio.sleep(TICK_S)  # the pacing tick of a rate-limited load generator
    elapsed = time.perf_counter() - started
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    return {"published": sent, "scheduled": total, "seconds": round(elapsed, 3),
            "cpu_s": round((cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime), 3)}


async def serve(args, packets: Packets) -> None:
    _, writer = await open_connection("127.0.0.1", args.port, f"bench-pub-{args.index}", username=args.user,
                                      password=args.password)
    print(json.dumps({"connected": True}), flush=True)
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        step = json.loads(line)
        count = int(step["rate"] * step["seconds"])
        if step.get("event") == "patrol.start":
            queue = packets.starts(step["start_at"])
        elif step.get("fresh", True):
            queue = packets.fresh(count, start_at=step["start_at"] if step.get("realtime") else None,
                                  rate=step["rate"], bad_every=step.get("bad_every", 0))
        else:
            queue = packets.cycled(count)
        result = await send_step(writer, queue, rate=step["rate"], seconds=step["seconds"],
                                 start_at=step["start_at"])
        print(json.dumps(result), flush=True)
    writer.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    for name, kind in (("port", int), ("user", str), ("password", str), ("devices", str), ("index", int),
                       ("of", int)):
        parser.add_argument(f"--{name}", type=kind, required=True)
    args = parser.parse_args()
    with open(args.devices) as f:
        devices = [tuple(d) for i, d in enumerate(json.load(f)) if i % args.of == args.index]
    uvloop.run(serve(args, Packets(devices)))


if __name__ == "__main__":
    main()
