"""Load generator process for ``benchmarks/mqtt_ingest.py``: telemetry for a share of the city's devices,
pre-encoded QoS 0 PUBLISH packets written in 5 ms ticks at a fixed rate. Prints one JSON object.

    python -m benchmarks.mqtt_publisher --port P --user U --password W --devices FILE --index I --of N
        --rate R --seconds S --start-at EPOCH
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time

import uvloop

from protocols.device import encode_device_message, make_message
from protocols.topics import Channel, device_topic
from simulation.mqtt_wire import open_connection, publish_packet

TICK_S = 0.005


def packets(devices: list[tuple[str, str]], count: int) -> list[bytes]:
    """``count`` packets cycling over the devices, each device's seqs increasing from 1."""
    out = []
    seq = dict.fromkeys((d for d, _ in devices), 0)
    topics = {d: device_topic(d, Channel.EVT) for d, _ in devices}
    for i in range(count):
        device_id, kind = devices[i % len(devices)]
        seq[device_id] += 1
        if kind == "volunteer_phone":
            message = make_message("patrol.position", seq=seq[device_id], ts=1_700_000_000_000 + i,
                                   data={"lat": 31.8 + (i % 100) * 1e-4, "lon": 117.2, "accuracy_m": 5.0})
        else:
            message = make_message("heartbeat", seq=seq[device_id], ts=1_700_000_000_000 + i, data={"battery": 88.0})
        out.append(publish_packet(topics[device_id], encode_device_message(message)))
    return out


async def publish(args, queue: list[bytes]) -> dict:
    _, writer = await open_connection("127.0.0.1", args.port, f"bench-pub-{args.index}", username=args.user,
                                      password=args.password)
    delay = args.start_at - time.time()
    if delay > 0:
        await asyncio.sleep(delay)  # every publisher starts at the same wall-clock instant
    started = time.perf_counter()
    sent = 0
    total = len(queue)
    while sent < total:
        due = min(total, int((time.perf_counter() - started) * args.rate) + 1)
        if due > sent:
            writer.write(b"".join(queue[sent:due]))
            sent = due
            await writer.drain()
        await asyncio.sleep(TICK_S)  # the pacing tick of a rate-limited load generator
    elapsed = time.perf_counter() - started
    writer.close()
    return {"published": sent, "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser()
    for name, kind in (("port", int), ("user", str), ("password", str), ("devices", str), ("index", int),
                       ("of", int), ("rate", float), ("seconds", float), ("start_at", float)):
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, required=True)
    args = parser.parse_args()
    with open(args.devices) as f:
        devices = [tuple(d) for i, d in enumerate(json.load(f)) if i % args.of == args.index]
    queue = packets(devices, int(args.rate * args.seconds))
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    result = uvloop.run(publish(args, queue))
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_s"] = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
