"""Device events per second end to end — publisher processes → Mosquitto → bridge → host actors — at the
target rate and at saturation, against two yardsticks at their own saturation on the same broker and
publishers: a bare aiomqtt subscriber and the C client ``mosquitto_sub`` (the broker's ceiling on this
machine); and the alarm lane's latency (publish → incident raised, publish → ack) under the target flood.
Prints one JSON object.

    python -m benchmarks.mqtt_ingest [--rate 30000] [--seconds 20] [--publishers 2] [--bridges 1]
                                     [--alarms-per-s 20] [--step-s 4] [--subscriber-python PATH] [--quick]
                                     [--target-only]

Phases, one after another, each consumer alone on the broker: the yardsticks' ramps (before Ray starts),
then the engine at ``--rate`` for ``--seconds`` with the alarm probe, then the engine's ramp from
1.1 × ``--rate`` (``benchmarks/mqtt_ramp.py``). ``--subscriber-python`` runs the bare subscriber under another
interpreter, e.g. a venv with the aiomqtt 3 pre-release, to compare client libraries. ``--target-only`` runs the
target phase alone (the alarm figures and the rate at the target, in about 40 s; the saturation figures null).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import threading
import time

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import aiomqtt  # noqa: E402
import uvloop  # noqa: E402

from actors.broker import Mosquitto  # noqa: E402
from benchmarks.latency import summary_ms  # noqa: E402
from benchmarks.mqtt_ramp import BareSubscriber, MosquittoSub, Publishers, ramp, step, wait_flowing  # noqa: E402
from benchmarks.mqtt_setup import add_engine_and_ramp_options, broker_setup, quick_ramp, start_engine  # noqa: E402
from engine.citygen import CitySpec, generate_city  # noqa: E402
from engine.mqtt_provision import SIMULATOR_USER  # noqa: E402
from protocols.device import encode_device_message, make_message  # noqa: E402
from protocols.endpoint import NO_DELAY, MqttEndpoint  # noqa: E402
from protocols.kinds import ALARM_KIND_OF, DeviceKind  # noqa: E402
from protocols.replies import decode_ack  # noqa: E402
from protocols.topics import Channel, device_topic, subscription  # noqa: E402

ALARM_OF = {kind.value: alarm.value for kind, alarm in ALARM_KIND_OF.items() if kind is not DeviceKind.VOLUNTEER_PHONE}
"""The probe's alarms: fixed devices' (a volunteer phone's SOS belongs to a patrol)."""


class AlarmProbe:
    """Publishes one alarm at a time at a steady pace, each from a device not used before, and times its ack."""

    def __init__(self, endpoint: MqttEndpoint, devices: list[tuple[str, str]], per_s: float) -> None:
        self.endpoint, self.devices, self.per_s = endpoint, devices, per_s
        self.published: dict[str, float] = {}  # incident id → publish wall time
        self.acked: dict[str, float] = {}
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: uvloop.run(self._main()), daemon=True)

    def start(self) -> "AlarmProbe":
        self._thread.start()
        if not self._ready.wait(30):
            raise ConnectionError("alarm probe could not connect")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    async def _main(self) -> None:
        e = self.endpoint
        async with aiomqtt.Client(e.host, e.port, username=e.username, password=e.password,
                                  identifier="bench-probe-pub", socket_options=NO_DELAY) as pub, \
                aiomqtt.Client(e.host, e.port, username=e.username, password=e.password,
                               identifier="bench-probe-acks", socket_options=NO_DELAY) as acks:
            await acks.subscribe(subscription(Channel.ACK), qos=1)
            reader = asyncio.create_task(self._read(acks))
            self._ready.set()
            for device_id, kind in self.devices:
                if self._stop.is_set():
                    break
                message = make_message(ALARM_OF[kind], seq=1, ts=int(time.time() * 1000))
                self.published[f"{device_id}#1"] = time.time()
                await pub.publish(device_topic(device_id, Channel.ALARM), encode_device_message(message), qos=1)
                await asyncio.sleep(1.0 / self.per_s)  # the probe's pace
            deadline = time.time() + 10
            while len(self.acked) < len(self.published) and time.time() < deadline:
                await asyncio.sleep(0.05)  # the last acks, bounded
            reader.cancel()

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            ack = decode_ack(bytes(message.payload))
            if ack.ok and ack.incident:
                self.acked.setdefault(ack.incident, time.time())


def yardsticks(args, publishers: Publishers, sim: MqttEndpoint) -> dict:
    """Each yardstick alone on the broker, ramped until it falls behind."""
    plan = dict(factor=args.factor, steps=args.max_steps, seconds=args.step_s, warm_s=args.warm_s,
                budget_s=args.budget_s)
    bare = BareSubscriber(python=args.subscriber_python, port=sim.port, user=sim.username, password=sim.password)
    try:
        wait_flowing(publishers, bare.count)
        # from at most 10,000 /s: an aiomqtt subscriber's ceiling here is about 30,000, and a first step above it
        # collapses (11,717 at 30,000 offered) instead of finding it
        bare_ramp = ramp(publishers, bare.count, first=min(args.rate, 10_000), **plan)
    finally:
        bare_ramp_client = bare.close()
    c_client = MosquittoSub(port=sim.port, user=sim.username, password=sim.password)
    try:
        wait_flowing(publishers, c_client.count)
        c_ramp = ramp(publishers, c_client.count, first=args.rate * 2, **{**plan, "factor": args.factor**2})
    finally:
        c_ramp_client = c_client.close()
    return {"bare_subscriber": {"client": bare_ramp_client, **bare_ramp},
            "mosquitto_sub": {"client": c_ramp_client, **c_ramp}}


def run(args) -> dict:
    city = generate_city(CitySpec(precincts=2, communities=args.communities, schools=100, kiosk_halls=10,
                                  volunteers=args.communities * 10, seed=7))
    setup = broker_setup(city)
    work, port, password, sim = setup.work, setup.port, setup.password, setup.simulator
    alarm_devices = [(d.id, d.kind.value) for d in city.devices.values() if d.kind.value in ALARM_OF]
    probe_devices = alarm_devices[:int(args.alarms_per_s * args.seconds)]
    probe_ids = {d for d, _ in probe_devices}
    # a probe device's first seq is its alarm: its telemetry would take it
    telemetry_devices = [(d.id, d.kind.value) for d in city.devices.values() if d.id not in probe_ids]
    devices_file = work / "devices.json"
    devices_file.write_text(json.dumps(telemetry_devices))

    with Mosquitto(setup.conf, port=port) as broker:
        # the simulator user: the broker grants the bridge its share group only
        publishers = Publishers(port=port, user=SIMULATOR_USER, password=password[SIMULATOR_USER],
                                devices_file=devices_file, count=args.publishers)
        try:
            # before Ray starts: nothing else on the machine
            yard = yardsticks(args, publishers, sim) if not args.target_only else {"bare_subscriber": NOT_RUN,
                                                                                   "mosquitto_sub": NOT_RUN}
            engine = start_engine(city, setup, args)
            try:
                def accepted() -> int:
                    return sum(s.accepted for s in engine.statistics())

                probe = AlarmProbe(sim, probe_devices, args.alarms_per_s)
                cpu_before = bridge_cpu(engine.bridge_statistics())
                target = step(publishers, accepted, args.rate, seconds=args.seconds, warm_s=args.warm_s, fresh=True,
                              on_start=probe.start)
                probe.stop()
                raised_ms, ack_ms = [], []
                for incident_id, t_pub in probe.published.items():
                    record = engine.incident(incident_id)
                    if record is not None:
                        raised_ms.append((record.raised_s - t_pub) * 1000)
                    if incident_id in probe.acked:
                        ack_ms.append((probe.acked[incident_id] - t_pub) * 1000)
                target_stats = engine.bridge_statistics()
                cpu_target = bridge_cpu(target_stats, since=cpu_before)
                e2e_ramp = NOT_RUN if args.target_only else ramp(
                    publishers, accepted, first=args.rate * 1.1, factor=args.factor, steps=args.max_steps,
                    seconds=args.step_s, warm_s=args.warm_s, budget_s=args.budget_s, fresh=True)
                cpu_ramp = bridge_cpu(engine.bridge_statistics(), since=bridge_cpu(target_stats))
            finally:
                engine.stop()
        finally:
            publishers.close()
        broker_log = broker.log_tail(5)

    alarms = len(probe.published)
    target.update(alarms=alarms, lost=target["published"] + alarms - target["received"])
    e2e = e2e_ramp["events_per_s"]
    bare, c_client = yard["bare_subscriber"]["events_per_s"], yard["mosquitto_sub"]["events_per_s"]
    return {
        "benchmark": "mqtt_ingest",
        "offered_events_per_s": args.rate,
        "seconds": args.seconds,
        "publishers": args.publishers,
        "bridges": args.bridges,
        "bridge_in_flight_batches": args.inflight,
        "batch_window_ms": args.window_ms,
        "hosts": len(engine.placement.hosts),
        "devices": len(city.devices),
        # the target run: telemetry at --rate plus the probe's alarms, received = the hosts' accepted counter
        "published": target["published"],
        "engine_accepted": target["received"] - len(raised_ms),
        "lost": target["published"] - (target["received"] - len(raised_ms)),
        "end_to_end_events_per_s": target["received_per_s"],
        "end_to_end_window_s": target["window_s"],
        "target_run": target,
        "end_to_end_at_saturation": e2e_ramp,
        "end_to_end_events_per_s_at_saturation": e2e,
        "bare_subscriber": yard["bare_subscriber"],
        "bare_subscriber_events_per_s_at_saturation": bare,
        "mosquitto_sub": yard["mosquitto_sub"],
        "mosquitto_sub_events_per_s_at_saturation": c_client,
        "ratio_to_bare_at_saturation": round(e2e / bare, 3) if bare else None,
        "ratio_to_mosquitto_sub": round(e2e / c_client, 3) if c_client else None,
        "ratio_to_bare_at_target": round(target["received_per_s"] / bare, 3) if bare else None,
        "ratio_to_mosquitto_sub_at_target": round(target["received_per_s"] / c_client, 3) if c_client else None,
        "bulk_receive": args.bulk_receive,
        # bridge CPU ÷ events the hosts accepted: the bulk lane's process (telemetry), the alarm lane's (alarms)
        "bridge_cpu_s_target": cpu_target,
        "bridge_cpu_us_per_event_target": round(1e6 * cpu_target.get("evt", 0) / max(1, target["received"]), 2),
        "bridge_cpu_s_ramp": cpu_ramp,
        "bridge_cpu_us_per_event_ramp": round(1e6 * cpu_ramp.get("evt", 0) / max(1, sum(
            s["received"] for s in e2e_ramp["steps"])), 2),
        "load_avg": os.getloadavg(),
        "alarm_publish_to_raised": summary_ms(raised_ms),
        "alarm_publish_to_ack": summary_ms(ack_ms),
        "alarms": {"published": alarms, "acked": len(probe.acked), "raised": len(raised_ms)},
        "publisher_cpu_s_per_event_us": round(1e6 * target["publisher_cpu_s"] / max(1, target["published"]), 2),
        "bridge_stats": target_stats,
        "client_lib": f"aiomqtt {aiomqtt.__version__}" if hasattr(aiomqtt, "__version__") else "aiomqtt",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "broker_log_tail": broker_log,
        "samples": samples(args, target, e2e_ramp, yard, alarms, cpu_target),
    }


NOT_RUN = {"events_per_s": None, "steps": [], "saturated": None, "not_run": "--target-only"}
"""A phase ``--target-only`` leaves out."""


def bridge_cpu(stats: list[dict], since: dict | None = None) -> dict:
    """Each bridge process's CPU seconds by the lanes it runs ("evt", "alarm", "alarm+evt"), minus ``since``."""
    out: dict[str, float] = {}
    for s in stats:
        name = "+".join(sorted(s.get("lanes", {}))) or "unavailable"
        out[name] = round(out.get(name, 0.0) + s.get("cpu_s", 0.0) - (since or {}).get(name, 0.0), 3)
    return out


def samples(args, target: dict, e2e_ramp: dict, yard: dict, alarms: int, cpu_target: dict) -> dict:
    """Each summary figure's sample size, in words (``benchmarks/table.py`` prints it beside the figure)."""
    def ramp_text(r: dict) -> str:
        if not r["steps"]:
            return "not run (--target-only)"
        best = max(r["steps"], key=lambda s: s["received_per_s"])
        n = len(r["steps"])
        return (f"best of {n} step{'s' if n > 1 else ''} of {r['step_s']:g} s ({best['offered_per_s']:,}/s offered, "
                f"{best['received']:,} received, rate over {best['window_s']:g} s)"
                + ("" if r["saturated"] else "; never fell behind: a floor"))

    return {
        "mqtt_events_per_s": f"{target['received']:,} events accepted, {args.rate:,.0f}/s offered (+ {alarms} alarms) "
                             f"for {args.seconds:g} s, rate over {target['window_s']:g} s, 1 run",
        "mqtt_offered_events_per_s": f"{target['published']:,} published, 1 run",
        "mqtt_lost": f"of {target['published'] + alarms:,} published, 1 run",
        "mqtt_events_per_s_at_saturation": ramp_text(e2e_ramp),
        "bare_subscriber_events_per_s_at_saturation": ramp_text(yard["bare_subscriber"]),
        "mosquitto_sub_events_per_s_at_saturation": ramp_text(yard["mosquitto_sub"]),
        "mqtt_ratio_to_bare_at_saturation": "ratio: `mqtt_events_per_s_at_saturation` ÷ "
                                            "`bare_subscriber_events_per_s_at_saturation`",
        "mqtt_ratio_to_mosquitto_sub": "ratio: `mqtt_events_per_s_at_saturation` ÷ "
                                       "`mosquitto_sub_events_per_s_at_saturation`",
        "mqtt_ratio_to_mosquitto_sub_at_target": "ratio: `mqtt_events_per_s` ÷ "
                                                 "`mosquitto_sub_events_per_s_at_saturation`",
        "bridge_cpu_us_per_event": f"the bulk lane's process: {cpu_target.get('evt', 0):.2f} s of CPU ÷ "
                                   f"{target['received']:,} accepted in the target run, 1 run",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=30_000, help="the target run's telemetry per second")
    parser.add_argument("--seconds", type=float, default=20, help="the target run's length")
    add_engine_and_ramp_options(parser, step_s=4.0, max_steps=8, budget_s=45.0)
    parser.add_argument("--communities", type=int, default=400)
    parser.add_argument("--alarms-per-s", type=float, default=20)
    parser.add_argument("--subscriber-python", default=sys.executable)
    parser.add_argument("--target-only", action="store_true",
                        help="the target run alone (alarm latency, rate at the target): no yardsticks, no ramp")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 1,000 events/s for 2 s, each ramp one 1 s step")
    args = parser.parse_args()
    if args.quick:
        args.rate, args.seconds, args.alarms_per_s, args.communities = 1000, 2, 5, 20
        quick_ramp(args)
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
