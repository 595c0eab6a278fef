"""Client process for ``benchmarks/console_fanout.py``: N console WebSockets (asyncio), each authenticated
with a token of its operator; for every incident change received, the delay from the change's time (the
engine's clock, same machine) to its arrival. Prints one JSON object when told to stop (stdin closes)."""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time

import orjson
from websockets.asyncio.client import connect


async def console(url: str, token: str, delays: list[float], ready: asyncio.Event, counts: list[int]) -> None:
    async with connect(url, max_size=2**24, ping_interval=None) as ws:
        await ws.send(orjson.dumps({"type": "auth", "token": token}).decode())
        async for raw in ws:
            message = orjson.loads(raw)
            kind = message["type"]
            if kind == "snapshot":
                counts[0] += 1
                if counts[0] == counts[1]:
                    ready.set()
            elif kind == "changes":
                now = time.time()
                delays.extend(now - item["incident"]["timeline"][-1]["t_s"] for item in message["items"])


async def main(args) -> dict:
    tokens = json.loads(args.tokens)
    delays: list[float] = []
    ready = asyncio.Event()
    counts = [0, args.consoles]
    tasks = [asyncio.create_task(console(args.url, tokens[i % len(tokens)], delays, ready, counts))
             for i in range(args.consoles)]
    await asyncio.wait_for(ready.wait(), 60)
    print(json.dumps({"ready": True}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the driver closes stdin
    for task in tasks:
        task.cancel()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    ms = sorted(d * 1000 for d in delays)

    def pct(p: float) -> float:
        return round(ms[min(len(ms) - 1, int(p / 100 * len(ms)))], 2) if ms else 0.0

    return {"deliveries": len(ms), "p50_ms": pct(50), "p99_ms": pct(99), "max_ms": round(ms[-1], 2) if ms else 0.0,
            "cpu_s": usage.ru_utime + usage.ru_stime}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--tokens", required=True, help="JSON list of tokens, used round-robin")
    parser.add_argument("--consoles", type=int, default=200)
    print(json.dumps(asyncio.run(main(parser.parse_args()))), flush=True)
