"""A load process for ``redband simulate --mqtt``: a scenario's telemetry, pre-encoded, published on time.

The driver writes this process's share of the events (``[[at_s, topic, payload], ...]``, MessagePack) to a
file; the process encodes every PUBLISH packet before the start instant, then writes, every 5 ms, the
packets whose time has come — QoS 0, as telemetry is. Alarms do not come here: the driver's fleet sends
them, at QoS 1, and publishes them again until acked. Prints one JSON object at the end.

    python -m simulation.wire_publisher --port P --user U --password=W --file F --start-at EPOCH
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from bisect import bisect_right

import msgpack
import uvloop

from simulation.mqtt_wire import open_connection, publish_packet

TICK_S = 0.005


async def publish(args, times: list[float], packets: list[bytes]) -> dict:
    _, writer = await open_connection(args.host, args.port, f"redband-load-{args.index}", username=args.user,
                                      password=args.password)
    delay = args.start_at - time.time()
    if delay > 0:
        await asyncio.sleep(delay)  # every load process starts at the same instant as the driver
    sent, late_s = 0, 0.0
    while sent < len(packets):
        now = time.time() - args.start_at
        due = bisect_right(times, now)
        if due > sent:
            late_s = max(late_s, now - times[sent])
            writer.write(b"".join(packets[sent:due]))
            sent = due
            await writer.drain()
        await asyncio.sleep(TICK_S)  # the pacing tick
    writer.close()
    return {"published": sent, "max_late_ms": round(late_s * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--file", required=True)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--start-at", type=float, required=True)
    args = parser.parse_args()
    with open(args.file, "rb") as f:
        rows = msgpack.unpackb(f.read())
    times = [row[0] for row in rows]
    packets = [publish_packet(row[1], row[2]) for row in rows]
    print(json.dumps({"ready": True, "events": len(packets)}), flush=True)
    result = uvloop.run(publish(args, times, packets))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
