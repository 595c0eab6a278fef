"""Console fan-out: N WebSocket consoles (in another process) watching a real engine while alarms raise
and repeat incidents at a steady rate; the delay from each change (engine clock) to each console that
receives it (HDR, ``benchmarks/latency.py``), every delivery accounted for, and the gateway process's CPU.
Prints one JSON object.

    python -m benchmarks.console_fanout [--consoles 200] [--rate 1000] [--seconds 10] [--cc-consoles 10]

Consoles are scoped as operators would be: ``--cc-consoles`` command-center consoles see every change,
the rest are police-station consoles spread over the precincts and see their own precinct's. The gateway
closes a console that cannot keep up (its send queue full); these consoles do not reconnect, so every change
such a console would have seen after its snapshot and did not get is a **lost delivery**:
``deliveries_expected`` (per console, the changes after its snapshot that its jurisdiction sees, from the
gateway's own change stream) = ``deliveries`` + ``deliveries_lost``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from actors.broker import free_port  # noqa: E402
from redband.files import add_operator  # noqa: E402
from actors.console_gateway import ConsoleGateway  # noqa: E402
from actors.runtime import Engine, EngineOptions  # noqa: E402
from engine.citygen import CitySpec, generate_city  # noqa: E402
from engine.operators import Jurisdiction, Role, TokenSigner, load_operators  # noqa: E402
from engine.policy import default_policies  # noqa: E402
from protocols.batch import Ingest  # noqa: E402
from protocols.device import make_message  # noqa: E402
from protocols.kinds import ALARM_KIND_OF, DeviceKind  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ALARM_OF = {kind: alarm for kind, alarm in ALARM_KIND_OF.items() if kind is not DeviceKind.VOLUNTEER_PHONE}
"""Fixed devices' alarms (a volunteer phone's SOS belongs to a patrol)."""
TICK_S = 0.01


def account(consoles: list, jurisdictions: list[Jurisdiction], stream: list[tuple[int, object]]) -> dict:
    """What one client process's consoles should have received (every change after its snapshot that its
    jurisdiction sees), and how many of them the gateway closed."""
    expected, closed, codes = 0, 0, set()
    for token_index, snapshot_seq, _delivered, close_code in consoles:
        j = jurisdictions[token_index]
        expected += sum(1 for seq, record in stream if seq > (snapshot_seq or 0) and j.sees(record))
        if close_code is not None:
            closed += 1
            codes.add(close_code)
    return {"expected": expected, "closed": closed, "codes": codes}


def run(args) -> dict:
    # 6 precincts, and enough alarm devices that every change is a fresh raise (a repeat keeps the raise's
    # timeline, so its delay could not be told from the incident's age)
    needed = int(args.rate * args.seconds * 1.1)
    city = generate_city(CitySpec(seed=1, communities=max(100, needed // 9), doors_per_community=8,
                                  cameras_per_community=1, residents_per_door=0, volunteers=100))
    work = Path(tempfile.mkdtemp(prefix="redband-fanout-"))
    users = work / "users.toml"
    add_operator(users, name="cc", role=Role.COMMAND_CENTER, scope="", password="x", city=city)
    for precinct in city.precincts:
        add_operator(users, name=f"{precinct}-duty", role=Role.STATION, scope=precinct, password="x", city=city)
    operators = load_operators(users, city=city)
    signer = TokenSigner()
    cc_token = signer.issue(operators["cc"], now_s=time.time())[0]
    station_tokens = [signer.issue(operators[f"{p}-duty"], now_s=time.time())[0] for p in city.precincts]
    jurisdictions = [[Jurisdiction(Role.COMMAND_CENTER, "")],
                     [Jurisdiction(Role.STATION, p) for p in city.precincts]]  # in the order of each process's tokens
    engine = Engine(city, default_policies(), EngineOptions(realtime=True)).start()
    port = free_port()
    stream: list[tuple[int, object]] = []  # (gateway seq, record) of every change the gateway sent on

    def on_change(change) -> None:  # on the gateway's loop, right after it took (or skipped) the change
        if gateway.seq > (stream[-1][0] if stream else 0):
            stream.append((gateway.seq, change.record))

    # no delivery watch: its lines are changes of their own, and this measures the fan-out of the alarms alone
    gateway = ConsoleGateway(engine, operators, port=port, signer=signer, poll_s=args.poll_ms / 1000,
                             watch_delivery=False, on_change=on_change).start()
    try:
        cc = subprocess.Popen([sys.executable, "-m", "benchmarks.console_clients", "--url",
                               f"ws://127.0.0.1:{port}/ws", "--tokens", json.dumps([cc_token]),
                               "--consoles", str(args.cc_consoles)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        stations = subprocess.Popen([sys.executable, "-m", "benchmarks.console_clients", "--url",
                                     f"ws://127.0.0.1:{port}/ws", "--tokens", json.dumps(station_tokens),
                                     "--consoles", str(args.consoles - args.cc_consoles)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        for proc in (cc, stations):
            assert json.loads(proc.stdout.readline()).get("ready"), "consoles did not connect"
        devices = [d for d in city.devices.values() if d.kind in ALARM_OF]
        assert len(devices) >= needed, f"{len(devices)} alarm devices for {needed} raises"
        seq = {d.id: 0 for d in devices}
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        sent_before = gateway.sent
        started = time.perf_counter()
        changes = 0
        i = 0
        while time.perf_counter() - started < args.seconds:
            due = int((time.perf_counter() - started) * args.rate) - changes
            batch = []
            for _ in range(max(0, due)):
                device = devices[i % len(devices)]
                i += 1
                seq[device.id] += 1
                batch.append(Ingest(device.id, make_message(ALARM_OF[device.kind], seq=seq[device.id], ts=1)))
            if batch:
                engine.ingest(batch)
                changes += len(batch)
            time.sleep(TICK_S)  # the load generator's tick
        elapsed = time.perf_counter() - started
        deadline = time.monotonic() + 10
        while gateway.seq < changes and time.monotonic() < deadline:
            time.sleep(0.05)  # the last changes through the gateway, bounded
        time.sleep(1.0)  # the last deliveries in flight to the consoles
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        results = []
        for proc in (cc, stations):
            out, _ = proc.communicate(input="", timeout=60)
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        gateway.stop()
        engine.stop()
    deliveries = sum(r["deliveries"] for r in results)
    accounts = [account(r.pop("consoles"), jurisdictions[i], stream) for i, r in enumerate(results)]
    expected = sum(a["expected"] for a in accounts)
    return {
        "benchmark": "console_fanout",
        "consoles": args.consoles,
        "devices": len(city.devices),
        "cc_consoles": args.cc_consoles,
        "changes_per_s": round(changes / elapsed),
        "changes": changes,
        "gateway_changes_seen": gateway.seq,
        "deliveries": deliveries,
        "deliveries_expected": expected,
        "deliveries_lost": expected - deliveries,
        "consoles_closed": sum(a["closed"] for a in accounts),
        "consoles_closed_codes": sorted({c for a in accounts for c in a["codes"]}),
        "deliveries_per_s": round(deliveries / elapsed),
        "gateway_pushed": gateway.sent - sent_before,
        "delay_cc": results[0],
        "delay_stations": results[1],
        "delay_p99_ms_worst": max((r["p99_ms"] for r in results if r["count"]), default=None),
        "driver_and_gateway_cpu_s": round((cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime), 2),
        "seconds": round(elapsed, 2),
        "gateway_poll_ms": args.poll_ms,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "samples": {  # each summary figure's sample size, in words (benchmarks/table.py)
            "console_fanout_p99_ms": f"{deliveries:,} deliveries to {args.consoles} consoles, 1 run",
            **{f"console_fanout_{what}": f"{changes:,} changes to {args.consoles} consoles, 1 run"
               for what in ("deliveries", "deliveries_expected", "deliveries_lost", "consoles_closed")},
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--consoles", type=int, default=200)
    parser.add_argument("--cc-consoles", type=int, default=10)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--poll-ms", type=float, default=10, help="the gateway's polling period while changes come")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20 consoles, 100 changes/s, 1 s")
    args = parser.parse_args()
    if args.quick:
        args.consoles, args.cc_consoles, args.rate, args.seconds = 20, 2, 100, 1
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
