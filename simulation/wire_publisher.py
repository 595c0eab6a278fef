"""A load process for ``redband simulate --mqtt``: a scenario's telemetry, pre-encoded, published on time.

The driver writes this process's share of the events (``[[at_s, topic, payload], ...]``, MessagePack) to a
file; the process encodes every PUBLISH packet before the start instant, then writes, every 5 ms, the
packets whose time has come — QoS 0, as telemetry is. A lost connection is opened again; what falls due
while it is down is counted as not sent. Alarms do not come here: the driver's fleet sends
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
RECONNECT_S = 0.2


async def publish(args, times: list[float], packets: list[bytes]) -> dict:
    """Write each packet when its time comes. A lost connection is opened again (every ``RECONNECT_S``); what
    falls due meanwhile is not sent, as a device without a network drops QoS 0 telemetry, and is counted."""
    client_id = f"redband-load-{args.index}"

    async def connect():
        return await open_connection(args.host, args.port, client_id, username=args.user, password=args.password)

    reader, writer = await connect()
    delay = args.start_at - time.time()
    if delay > 0:
        await asyncio.sleep(delay)  # every load process starts at the same instant as the driver
    done = sent = not_sent = reconnects = 0
    late_s, next_try = 0.0, 0.0
    while done < len(packets):
        now = time.time() - args.start_at
        due = bisect_right(times, now)
        if due > done:
            if writer is not None and (reader.at_eof() or writer.is_closing()):
                writer = None  # the broker went away
            if writer is None and time.monotonic() >= next_try:
                try:
                    reader, writer = await connect()
                    reconnects += 1
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                    next_try = time.monotonic() + RECONNECT_S
            if writer is None:
                not_sent += due - done
            else:
                late_s = max(late_s, now - times[done])
                try:
                    writer.write(b"".join(packets[done:due]))
                    await writer.drain()
                    sent += due - done
                except (OSError, ConnectionError):
                    not_sent += due - done
                    writer = None
            done = due
        await asyncio.sleep(TICK_S)  # the pacing tick
    if writer is not None:
        writer.close()
    return {"published": sent, "not_sent_offline": not_sent, "reconnects": reconnects,
            "max_late_ms": round(late_s * 1000, 2)}


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
