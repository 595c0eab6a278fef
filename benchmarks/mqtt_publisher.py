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

    def fresh(self, count: int) -> list[bytes]:
        out = []
        for _ in range(count):
            device_id, kind = self.devices[self.i % len(self.devices)]
            self.seq[device_id] += 1
            self.i += 1
            seq, ts = self.seq[device_id], 1_700_000_000_000 + self.i
            if kind == "volunteer_phone":
                message = make_message("patrol.position", seq=seq, ts=ts,
                                       data={"lat": 31.8 + (self.i % 100) * 1e-4, "lon": 117.2, "accuracy_m": 5.0})
            else:
                message = make_message("heartbeat", seq=seq, ts=ts, data={"battery": 88.0})
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
        queue = packets.fresh(count) if step.get("fresh", True) else packets.cycled(count)
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
