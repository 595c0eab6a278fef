"""Visitor call → resident phone command under the city load: door panels publish ``door.visitor`` at a steady pace
while the demo city's background traffic (``simulation/scenarios/city_load.toml``: heartbeats 8,000/s and positions
2,000/s, an alarm a second) goes through the same Mosquitto and the same engine on Ray; a client for the residents'
phones times each ``visitor_call`` command on ``rb/v1/dev/{phone}/cmd``. Prints one JSON object.

    python -m benchmarks.visitor_call [--calls-per-s 20] [--seconds 30] [--rate 10000] [--quick]

The latency of a delivery is the phone's receive time minus the panel's publish time (one process, one clock);
every verified resident of the called unit must be rung (``protocols/community.py``), each delivery is timed
(``benchmarks/call_ledger.py``; HDR percentiles, ``benchmarks/latency.py``). Each command's own ``ts`` (the host's
clock when it sent it, in ms) splits the delay into publish → host and host → phone. The background comes from
the publisher processes of ``mqtt_ingest`` (pre-encoded QoS 0 packets at a fixed rate), every device but the
panels (whose seqs are the probe's) and the alarm devices (each raises one alarm, seq 1); the panels publish at
QoS 1 as a door would. The background's rate achieved is the hosts' accepted counter over the steady window.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import threading
import time

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import aiomqtt  # noqa: E402
import uvloop  # noqa: E402

from actors.broker import Mosquitto  # noqa: E402
from benchmarks.call_ledger import CallLedger  # noqa: E402
from benchmarks.latency import Latencies  # noqa: E402
from benchmarks.mqtt_ramp import Publishers, step  # noqa: E402
from benchmarks.mqtt_setup import add_engine_and_ramp_options, broker_setup, start_engine  # noqa: E402
from benchmarks.positions_ingest import Stages  # noqa: E402  (it puts Ray's psutil on the path)
from engine.mqtt_provision import SIMULATOR_USER  # noqa: E402
from engine.topology import City, load_city  # noqa: E402
from protocols.community import VISITOR_CALL  # noqa: E402
from protocols.device import encode_device_message, make_message  # noqa: E402
from protocols.endpoint import NO_DELAY, MqttEndpoint  # noqa: E402
from protocols.kinds import ALARM_KIND_OF, DeviceKind  # noqa: E402
from protocols.replies import decode_command  # noqa: E402
from protocols.topics import Channel, device_topic, parse_device_topic, subscription  # noqa: E402
from simulation.shipped import DEMO_CITY, shipped  # noqa: E402

import psutil  # noqa: E402  (Ray's own copy: ray/thirdparty_files)

TARGET_P99_MS = 50.0
POSITIONS_SHARE = 0.2
"""``city_load.toml``: heartbeats 8,000/s and positions 2,000/s."""
ALARM_DEVICES = (DeviceKind.PANIC_BOX, DeviceKind.KIOSK)
WAIT_S = 10.0
"""How long after the last call the phones may still ring."""


def panels(city: City) -> dict[str, tuple[str, list[str]]]:
    """Door → its unit and the phones its call must ring, the verified residents of that unit (doors whose unit has
    one)."""
    phones: dict[tuple[str, str], list[str]] = {}
    for resident in city.residents.values():
        if resident.verified:
            phones.setdefault((resident.site_id, resident.unit), []).append(resident.phone_id)
    doors = sorted((d for d in city.devices.values() if d.kind is DeviceKind.DOOR), key=lambda d: d.id)
    return {d.id: (d.unit, sorted(phones[(d.site_id, d.unit)])) for d in doors if (d.site_id, d.unit) in phones}


def background(city: City, publishers: int) -> list[tuple[str, str]]:
    """The publishers' device list, heartbeats and positions in the city load's 8:2, neither doors nor alarm devices.
    A device repeats in the list, always in the same publisher's share (entry ``i`` is publisher ``i % publishers``'s),
    so its seq grows in one place."""
    phones = sorted(d.id for d in city.devices.values() if d.kind is DeviceKind.VOLUNTEER_PHONE)
    beating = sorted(d.id for d in city.devices.values()
                     if d.kind not in (DeviceKind.VOLUNTEER_PHONE, DeviceKind.DOOR, *ALARM_DEVICES))
    per_phone = round((1 - POSITIONS_SHARE) / POSITIONS_SHARE)
    shares = []
    for j in range(publishers):
        mine, beats, share = phones[j::publishers], beating[j::publishers], []
        for k, phone in enumerate(mine):
            share += [(beats[(k * per_phone + b) % len(beats)], city.devices[beats[(k * per_phone + b) % len(beats)]]
                       .kind.value) for b in range(per_phone)]
            share.append((phone, DeviceKind.VOLUNTEER_PHONE.value))
        shares.append(share)
    length = min(len(share) for share in shares)
    return [shares[j][k] for k in range(length) for j in range(publishers)]


class CallProbe:
    """Door panels ring at ``per_s`` for ``seconds`` (doors in turn, each door's seq growing), an alarm every
    ``1 / alarms_per_s`` from a device not used before; one client for the phones reads every command."""

    def __init__(self, endpoint: MqttEndpoint, doors: dict[str, tuple[str, list[str]]], alarms: list[tuple[str, str]], *,
                 per_s: float, seconds: float, alarms_per_s: float, delay_s: float) -> None:
        self.endpoint, self.doors, self.alarm_devices = endpoint, doors, alarms
        self.per_s, self.seconds, self.alarms_per_s, self.delay_s = per_s, seconds, alarms_per_s, delay_s
        self.ledger = CallLedger()
        self.to_host, self.from_host = Latencies(), Latencies()  # publish → the host's ts; that ts → the phone
        self.publish_lag = Latencies()  # how late a call was published against its schedule
        self.alarms_sent = 0
        self.commands_seen = 0
        self._ready, self._go = threading.Event(), threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="visitor-call-probe")

    def connect(self) -> "CallProbe":
        self._thread.start()
        if not self._ready.wait(30):
            raise ConnectionError("visitor call probe: could not connect and subscribe in 30 s")
        return self

    def start(self) -> None:
        self._go.set()

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout=timeout_s)
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            uvloop.run(self._main())
        except BaseException as exc:  # handed to the driver by join()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        e = self.endpoint
        async with aiomqtt.Client(e.host, e.port, username=e.username, password=e.password,
                                  identifier="bench-visitor-phones", socket_options=NO_DELAY) as phones, \
                aiomqtt.Client(e.host, e.port, username=e.username, password=e.password,
                               identifier="bench-visitor-panels", socket_options=NO_DELAY) as panels_client:
            await phones.subscribe(subscription(Channel.CMD), qos=1)
            reader = asyncio.create_task(self._read(phones))
            self._ready.set()
            while not self._go.is_set():
                await asyncio.sleep(0.005)  # waiting for the background's start instant
            await asyncio.sleep(self.delay_s)  # the background's warm-up
            alarms = asyncio.create_task(self._alarms(panels_client))
            await self._calls(panels_client)
            await alarms
            deadline = time.monotonic() + WAIT_S
            while not self.ledger.complete and time.monotonic() < deadline:
                await asyncio.sleep(0.02)  # the last commands, bounded
            reader.cancel()

    async def _calls(self, client: aiomqtt.Client) -> None:
        doors, seq = list(self.doors), dict.fromkeys(self.doors, 0)
        start = time.time()
        for i in range(int(self.per_s * self.seconds)):
            due = start + i / self.per_s
            if (left := due - time.time()) > 0:
                await asyncio.sleep(left)  # the panels' steady pace
            door = doors[i % len(doors)]
            seq[door] += 1
            unit, phones = self.doors[door]
            now = time.time()
            self.publish_lag.record_s(max(0.0, now - due))
            message = make_message("door.visitor", seq=seq[door], ts=int(now * 1000),
                                   data={"unit": unit, "snapshot": f"snap/{door}/{seq[door]}.jpg"})
            self.ledger.published(f"{door}#call@{seq[door]}", now, phones)
            # the fast path: door.visitor on the alarm topic, ahead of the telemetry (protocols/topics.py)
            await client.publish(device_topic(door, Channel.ALARM), encode_device_message(message), qos=1)

    async def _alarms(self, client: aiomqtt.Client) -> None:
        if self.alarms_per_s <= 0:
            return
        start = time.time()
        for i, (device_id, kind) in enumerate(self.alarm_devices[:int(self.alarms_per_s * self.seconds)]):
            if (left := start + i / self.alarms_per_s - time.time()) > 0:
                await asyncio.sleep(left)  # an alarm a second, as in city_load.toml
            message = make_message(ALARM_KIND_OF[DeviceKind(kind)], seq=1, ts=int(time.time() * 1000))
            await client.publish(device_topic(device_id, Channel.ALARM), encode_device_message(message), qos=1)
            self.alarms_sent += 1

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            at = time.time()
            self.commands_seen += 1
            command = decode_command(bytes(message.payload))
            if command.cmd != VISITOR_CALL:
                continue
            phone = parse_device_topic(message.topic.value).device_id
            call = self.ledger.calls.get(command.args.get("call", ""))
            if self.ledger.received(command.args.get("call", ""), phone, at) is not None:
                self.to_host.record_ms(max(0.0, command.ts - call.published_s * 1000))
                self.from_host.record_ms(max(0.0, at * 1000 - command.ts))


def run(args) -> dict:
    city = load_city(shipped(DEMO_CITY))
    doors = panels(city)
    alarm_devices = sorted((d.id, d.kind.value) for d in city.devices.values() if d.kind in ALARM_DEVICES)
    setup = broker_setup(city)
    devices_file = setup.work / "devices.json"
    devices_file.write_text(json.dumps(background(city, args.publishers)))
    with Mosquitto(setup.conf, port=setup.port) as broker:
        publishers = Publishers(port=setup.port, user=SIMULATOR_USER, password=setup.password[SIMULATOR_USER],
                                devices_file=devices_file, count=args.publishers)
        try:
            engine = start_engine(city, setup, args)
            try:
                def accepted() -> int:
                    return sum(s.accepted for s in engine.statistics())

                stages = Stages(engine, broker.process.pid)
                me = psutil.Process()

                def cpu() -> dict:  # where the machine's CPU went (seconds; per second of the window: cores)
                    busy = psutil.cpu_times()
                    t = me.cpu_times()
                    return {**stages(), "driver_cpu_s": round(t.user + t.system, 3),
                            "machine_busy_cpu_s": round(sum(busy) - busy.idle - busy.iowait, 3)}

                probe = CallProbe(setup.simulator, doors, alarm_devices, per_s=args.calls_per_s,
                                  seconds=args.seconds, alarms_per_s=args.alarms_per_s, delay_s=args.warm_s).connect()
                load = step(publishers, accepted, args.rate, seconds=args.warm_s + args.seconds + 0.5,
                            warm_s=args.warm_s, fresh=True, on_start=probe.start, stages=cpu)
                probe.join(timeout_s=WAIT_S + 30)
                community = {}
                for stats in engine.statistics():
                    for name, value in stats.community.items():
                        community[name] = community.get(name, 0) + value
                bridge_stats = engine.bridge_statistics()
                hosts = len(engine.placement.hosts)
            finally:
                engine.stop()
        finally:
            publishers.close()
        broker_log = broker.log_tail(5)
    calls = probe.ledger.summary()
    latency = calls["latency"]
    probe_events = calls["calls"] + probe.alarms_sent
    return {
        "benchmark": "visitor_call",
        "path": "door.visitor publish at the panel → visitor_call command at each verified resident's phone",
        "target_p99_ms": TARGET_P99_MS,
        "met": latency["p99_ms"] is not None and latency["p99_ms"] <= TARGET_P99_MS and calls["calls_lost"] == 0,
        "p50_ms": latency["p50_ms"], "p95_ms": latency["p95_ms"], "p99_ms": latency["p99_ms"],
        "max_ms": latency["max_ms"],
        **calls,
        "calls_per_s": args.calls_per_s, "seconds": args.seconds, "panels": len(doors),
        "publish_to_host_ms": probe.to_host.summary(), "host_to_phone_ms": probe.from_host.summary(),
        "call_publish_lag_ms": probe.publish_lag.summary(),
        "alarms": probe.alarms_sent, "commands_seen": probe.commands_seen,
        "engine_community": community,
        "background_offered_events_per_s": args.rate,
        "background_published": load["published"],
        # the hosts' accepted counter over the steady window: the background and the probe's ~calls_per_s + 1 /s
        "background_achieved_events_per_s": load["received_per_s"],
        "background_lost": load["published"] - (load["received"] - probe_events),
        "background_run": load,
        # CPU cores in the steady window: the bridge's two processes, the hosts, Mosquitto, this driver (the probe),
        # the whole machine (2 cores here; the rest is the publishers, Ray and anything else running)
        "cores_in_window": {k.removesuffix("_cpu_s"): v for k, v in load.get("stages_per_s", {}).items()
                            if k.endswith("_cpu_s")},
        "hosts": hosts, "devices": len(city.devices), "bridges": args.bridges,
        "bridge_stats": bridge_stats,
        "broker_log_tail": broker_log,
        "samples": {
            "visitor_call_p99_ms": f"{calls['deliveries']:,} phone commands of {calls['calls']:,} calls "
                                   f"({args.calls_per_s:g}/s for {args.seconds:g} s) under {args.rate:,.0f}/s "
                                   f"background, 1 run",
            **{f"visitor_call_{name}": f"of {calls['calls']:,} calls ({calls['deliveries_expected']:,} phone "
                                       f"commands expected), 1 run" for name in ("lost", "deliveries_lost")},
            "visitor_call_background_events_per_s": f"{load['published']:,} published at {args.rate:,.0f}/s, "
                                                    f"accepted over {load['window_s']:g} s, 1 run",
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls-per-s", type=float, default=20, help="door.visitor events per second")
    parser.add_argument("--seconds", type=float, default=30, help="how long the panels ring")
    parser.add_argument("--rate", type=float, default=10_000, help="the background's events per second")
    parser.add_argument("--alarms-per-s", type=float, default=1.0)
    add_engine_and_ramp_options(parser, step_s=4.0, max_steps=1, budget_s=0.0)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10 calls/s for 1 s under 1,000/s")
    args = parser.parse_args()
    if args.quick:
        args.calls_per_s, args.seconds, args.rate, args.warm_s = 10, 1, 1000, 0.3
    for name in ("calls_per_s", "seconds", "rate"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')}: must be above 0")
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
