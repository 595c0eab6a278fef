"""Client process for ``benchmarks/console_fanout.py``: N console WebSockets (asyncio), each authenticated
with a token of its operator; for every incident change received, the delay from the change's time (the
engine's clock, same machine) to its arrival, in one HDR histogram (``benchmarks/latency.py``).

    python -m benchmarks.console_clients --url WS --tokens JSON --consoles N

Prints ``{"ready": true}`` once every console has its snapshot; when stdin closes, prints one JSON object:
the delay summary and, per console, ``[token index, snapshot seq, changes delivered, close code]`` (the close
code None while it is still open: the gateway closes a console that cannot keep up with 1013 and this client
does not reconnect, so what it missed after that is counted by the driver as lost)."""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from benchmarks.latency import Latencies


async def console(url: str, token: str, state: list, delays: Latencies, ready: asyncio.Event, counts: list[int]
                  ) -> None:
    """``state`` is this console's ``[token index, snapshot seq, delivered, close code]``, kept up to date."""
    try:
        async with connect(url, max_size=2**24, ping_interval=None) as ws:
            await ws.send(orjson.dumps({"type": "auth", "token": token}).decode())
            try:
                async for raw in ws:
                    message = orjson.loads(raw)
                    kind = message["type"]
                    if kind == "snapshot":
                        state[1] = message["seq"]
                        counts[0] += 1
                        if counts[0] == counts[1]:
                            ready.set()
                    elif kind == "changes":
                        now = time.time()
                        state[2] += len(message["items"])
                        for item in message["items"]:
                            delays.record_s(now - item["incident"]["timeline"][-1]["t_s"])
            finally:
                state[3] = ws.close_code
    except ConnectionClosed as exc:
        state[3] = exc.rcvd.code if exc.rcvd is not None else 1006


async def main(args) -> dict:
    tokens = json.loads(args.tokens)
    delays = Latencies()
    ready = asyncio.Event()
    counts = [0, args.consoles]
    states = [[i % len(tokens), None, 0, None] for i in range(args.consoles)]
    tasks = [asyncio.create_task(console(args.url, tokens[i % len(tokens)], states[i], delays, ready, counts))
             for i in range(args.consoles)]
    await asyncio.wait_for(ready.wait(), 60)
    print(json.dumps({"ready": True}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the driver closes stdin
    for task in tasks:
        task.cancel()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {**delays.summary(), "deliveries": sum(s[2] for s in states), "consoles": states,
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--tokens", required=True, help="JSON list of tokens, used round-robin")
    parser.add_argument("--consoles", type=int, default=200)
    print(json.dumps(asyncio.run(main(parser.parse_args()))), flush=True)
