"""A yardstick for the bridge: an aiomqtt subscriber that only counts the device telemetry it receives.
Works with aiomqtt 2.x (this project's) and aiomqtt 3 (run it with another venv's python).

    python benchmarks/bare_subscriber.py --port P --user U --password W

Prints ``{"subscribed": true}`` once subscribed; then answers every line on stdin with
``{"count": N, "t": EPOCH}`` (messages so far, and when they were counted), from a thread of its own so
that a saturated event loop still answers; ends when stdin closes, printing ``{"lib", "count", "cpu_s"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import threading
import time

import aiomqtt

TOPIC = "rb/v1/dev/+/evt"


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def tick(self) -> None:
        self.count += 1


async def count_v2(args, counter: Counter, subscribed: asyncio.Event) -> None:
    async with aiomqtt.Client("127.0.0.1", args.port, username=args.user, password=args.password,
                              identifier="bench-bare") as client:
        await client.subscribe(TOPIC, qos=0)
        subscribed.set()
        async for _ in client.messages:
            counter.tick()


async def count_v3(args, counter: Counter, subscribed: asyncio.Event) -> None:
    async with aiomqtt.Client(hostname="127.0.0.1", port=args.port, username=args.user,
                              password=args.password.encode(), identifier="bench-bare", clean_start=True) as client:
        await client.subscribe(TOPIC, max_qos=aiomqtt.QoS.AT_MOST_ONCE)
        subscribed.set()
        async for _ in client.messages():
            counter.tick()


def answer_queries(counter: Counter, done: threading.Event) -> None:
    for _ in sys.stdin:
        print(json.dumps({"count": counter.count, "t": time.time()}), flush=True)
    done.set()


async def run(args) -> dict:
    counter = Counter()
    subscribed = asyncio.Event()
    v3 = hasattr(aiomqtt, "QoS")
    task = asyncio.create_task((count_v3 if v3 else count_v2)(args, counter, subscribed))
    await asyncio.wait_for(subscribed.wait(), 30)
    print(json.dumps({"subscribed": True}), flush=True)
    done = threading.Event()
    threading.Thread(target=answer_queries, args=(counter, done), daemon=True).start()
    while not done.is_set():
        await asyncio.sleep(0.1)  # checking whether the driver closed stdin
    task.cancel()
    return {"lib": f"aiomqtt {'3' if v3 else '2'} ({getattr(aiomqtt, '__version__', '?')})", "count": counter.count}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
