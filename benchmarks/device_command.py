"""Engine → device: a school panic box publishes an alarm, the engine raises the incident and sounds the box's
siren; the delay from the alarm's publish to the siren command's arrival at the box, through a real Mosquitto
and the engine's bridge (``redband/stack.py``). The same alarm, a P1, is offered at once to the nearest volunteer on
patrol (one phone walks 100 m from each box): the delay to that ``task.offer`` at the phone is measured too.
Prints one JSON object.

    python -m benchmarks.device_command [--alarms 40] [--every-ms 250] [--quick]

The alarms come one at a time (a quiet city), each from a different panic box, each box listening on its own
command topic. This is the path of every command the engine sends: sirens, visitor calls to residents'
phones, an operator's remote door open.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import aiomqtt  # noqa: E402
from hdrh.histogram import HdrHistogram  # noqa: E402

from engine.policy import default_policies  # noqa: E402
from engine.topology import load_city  # noqa: E402
from protocols.device import encode_device_message, make_message  # noqa: E402
from protocols.endpoint import NO_DELAY  # noqa: E402
from protocols.replies import decode_command  # noqa: E402
from protocols.topics import Channel, device_topic, parse_device_topic, subscription  # noqa: E402
from simulation.shipped import DEMO_CITY, shipped  # noqa: E402
from redband.stack import Stack  # noqa: E402

WAIT_S = 10.0


async def patrol(client, city, boxes: list[str]) -> int:
    """One volunteer phone of each box's precinct starts a patrol 100 m north of the box."""
    phones = sorted((d for d in city.devices.values() if d.kind.value == "volunteer_phone"), key=lambda d: d.id)
    taken: set[str] = set()
    for box in boxes:
        device = city.devices[box]
        phone = next(p.id for p in phones if p.precinct_id == device.precinct_id and p.id not in taken)
        taken.add(phone)
        now_ms = int(time.time() * 1000)
        for seq, (kind, data) in enumerate((("patrol.start", {}), ("patrol.position", {
                "lat": device.lat + 100 / 111_195, "lon": device.lon, "accuracy_m": 5.0})), start=1):
            await client.publish(device_topic(phone, Channel.EVT),
                                 encode_device_message(make_message(kind, seq=seq, ts=now_ms, data=data)), qos=1)
    return len(taken)


async def measure(endpoint, city, boxes: list[str], every_s: float) -> dict:
    sent: dict[str, float] = {}
    offers_due: dict[str, float] = {}
    histogram = HdrHistogram(1, 60_000_000, 3)
    offers = HdrHistogram(1, 60_000_000, 3)
    arrived = asyncio.Event()
    received = offered = 0
    async with aiomqtt.Client(endpoint.host, endpoint.port, username=endpoint.username, password=endpoint.password,
                              identifier="bench-device-command", socket_options=NO_DELAY) as client:
        await client.subscribe(subscription(Channel.CMD), qos=1)

        async def listen() -> None:
            nonlocal received, offered
            async for message in client.messages:
                device_id = parse_device_topic(message.topic.value).device_id
                command = decode_command(bytes(message.payload))
                if command.cmd == "siren" and device_id in sent:
                    histogram.record_value(max(1, int((time.time() - sent.pop(device_id)) * 1_000_000)))
                    received += 1
                elif command.cmd == "task.offer" and command.args.get("incident", "").split("#")[0] in offers_due:
                    box = command.args["incident"].split("#")[0]
                    offers.record_value(max(1, int((time.time() - offers_due.pop(box)) * 1_000_000)))
                    offered += 1
                if not sent and not offers_due:
                    arrived.set()

        listener = asyncio.create_task(listen())
        phones = await patrol(client, city, boxes)
        await asyncio.sleep(1.0)  # the subscription settles and the patrols' first fixes are taken
        for box in boxes:
            sent[box] = offers_due[box] = time.time()
            await client.publish(device_topic(box, Channel.ALARM),
                                 encode_device_message(make_message("school.panic", seq=1, ts=int(time.time() * 1000))),
                                 qos=1)
            await asyncio.sleep(every_s)  # one alarm at a time: a quiet city
        try:
            await asyncio.wait_for(arrived.wait(), WAIT_S)
        except TimeoutError:
            pass
        listener.cancel()
    return {"alarms": len(boxes), "sirens_received": received,
            **{f"{name}_ms": round(histogram.get_value_at_percentile(p) / 1000, 2)
               for name, p in (("p50", 50), ("p99", 99))},
            "max_ms": round(histogram.get_max_value() / 1000, 2),
            "phones_on_patrol": phones, "offers_received": offered,
            **{f"offer_{name}_ms": round(offers.get_value_at_percentile(p) / 1000, 2)
               for name, p in (("p50", 50), ("p99", 99))},
            "samples": {"device_command_p99_ms": f"{received} sirens of {len(boxes)} alarms, one at a time",
                        "incident_to_offer_p99_ms": f"{offered} offers at phones of {len(boxes)} P1 alarms"}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alarms", type=int, default=40)
    parser.add_argument("--every-ms", type=float, default=250)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 5 alarms")
    args = parser.parse_args()
    city = load_city(shipped(DEMO_CITY))
    boxes = sorted(d.id for d in city.devices.values() if d.kind.value == "panic_box")
    count = 5 if args.quick else args.alarms
    if not 1 <= count <= len(boxes):
        parser.error(f"--alarms: between 1 and {len(boxes)} (one per panic box of the demo city)")
    with Stack(city, default_policies(), Path(tempfile.mkdtemp(prefix="redband-bench-"))) as stack:
        figures = asyncio.run(measure(stack.simulator, city, boxes[:count], args.every_ms / 1000))
    print(json.dumps({"benchmark": "device_command", "path": "alarm publish → siren command at the device",
                      **figures}), flush=True)


if __name__ == "__main__":
    main()
