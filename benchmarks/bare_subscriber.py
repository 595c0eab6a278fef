"""The yardstick for the bridge: a subscriber that only counts messages, on the same topics, in the
same run. Works with aiomqtt 2.x (this project's) and aiomqtt 3 (run it with another venv's python).

    python benchmarks/bare_subscriber.py --port P --user U --password W --seconds S
Prints {"lib", "count", "first", "last", "events_per_s", "cpu_s"} when no message came for 2 s after
the first (or after --seconds in all).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time

import aiomqtt

TOPIC = "rb/v1/dev/+/evt"
IDLE_S = 2.0


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.first = self.last = 0.0

    def tick(self) -> None:
        now = time.time()
        if not self.count:
            self.first = now
        self.count += 1
        self.last = now


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


async def run(args) -> dict:
    counter = Counter()
    subscribed = asyncio.Event()
    v3 = hasattr(aiomqtt, "QoS")
    task = asyncio.create_task((count_v3 if v3 else count_v2)(args, counter, subscribed))
    await asyncio.wait_for(subscribed.wait(), 30)
    print(json.dumps({"subscribed": True}), flush=True)
    deadline = time.time() + args.seconds
    while time.time() < deadline:
        await asyncio.sleep(0.1)  # checking for the end of the flow: idle after it began
        if counter.count and time.time() - counter.last > IDLE_S:
            break
    task.cancel()
    span = counter.last - counter.first
    return {"lib": f"aiomqtt {'3' if v3 else '2'} ({getattr(aiomqtt, '__version__', '?')})", "count": counter.count,
            "first": counter.first, "last": counter.last,
            "events_per_s": (counter.count - 1) / span if span > 0 else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
