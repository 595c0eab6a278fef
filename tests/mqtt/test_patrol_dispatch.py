"""A volunteer phone through the real broker: patrol start and positions, the P1 alarm's automatic offer reaching the
nearest phone on patrol as a ``task.offer`` command, its acceptance, arrival, and the phone's own SOS."""

from __future__ import annotations

import time

import pytest

from engine.patrol.cameras import CameraIndex
from protocols.kinds import IncidentKind
from protocols.replies import decode_command
from tests.mqtt.helpers import Inbox, pub, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.mqtt]

M_LAT = 1 / 111_195.0


def message(seq: int, kind: str, **data) -> dict:
    return {"seq": seq, "ts": int(time.time() * 1000), "kind": kind, "data": data}


def units(engine, state: str) -> int:
    return sum(s.units_by_state.get(state, 0) for s in engine.statistics())


def test_a_p1_alarm_is_offered_to_the_nearest_phone_on_patrol_which_accepts_and_arrives(broker, engine):
    phone = broker.device("volunteer_phone", 0)
    precinct = broker.city.devices[phone].precinct_id
    box = next(d for d in sorted(broker.city.devices.values(), key=lambda d: d.id)
               if d.kind == "panic_box" and d.precinct_id == precinct)
    commands = Inbox(broker, phone, f"rb/v1/dev/{phone}/cmd")
    assert commands.subscribed, commands.error
    evt = f"rb/v1/dev/{phone}/evt"
    assert pub(broker, phone, evt, message(1, "patrol.start")).returncode == 0
    pub(broker, phone, evt, message(2, "patrol.position", lat=box.lat + 100 * M_LAT, lon=box.lon, accuracy_m=5.0))
    wait_until(lambda: units(engine, "available") == 1, timeout_s=20, what="the phone on patrol")

    acks = Inbox(broker, box.id, f"rb/v1/dev/{box.id}/ack")
    pub(broker, box.id, f"rb/v1/dev/{box.id}/alarm", message(1, "school.panic"))
    (ack,) = acks.read_json(1)
    assert ack["ok"], ack
    offer = decode_command(commands.read(1)[0])
    assert offer.cmd == "task.offer" and offer.args["incident"] == ack["incident"]
    assert 90 <= offer.args["distance_m"] <= 110
    nearby = CameraIndex(broker.city.devices.values()).near(box.lat, box.lon)  # within 200 m, nearest first
    assert offer.args["cameras"] == [camera for camera, _ in nearby]

    pub(broker, phone, evt, message(3, "patrol.task", incident=ack["incident"], answer="accept"))
    wait_until(lambda: units(engine, "en_route") == 1, timeout_s=20, what="the accepted task")
    pub(broker, phone, evt, message(4, "patrol.task", incident=ack["incident"], answer="check_in"))
    pub(broker, phone, evt, message(5, "patrol.task", incident=ack["incident"], answer="arrived"))
    wait_until(lambda: units(engine, "on_scene") == 1, timeout_s=20, what="the unit on scene")
    assert sum(s.dispatch_effects.get("CheckInMissed", 0) for s in engine.statistics()) == 0


def test_a_volunteers_sos_is_an_alarm_with_its_precincts_chain(broker, engine):
    phone = broker.device("volunteer_phone", 1)
    station = broker.city.precincts[broker.city.devices[phone].precinct_id].station_id
    acks = Inbox(broker, phone, f"rb/v1/dev/{phone}/ack")
    pub(broker, phone, f"rb/v1/dev/{phone}/alarm", message(1, "patrol.sos", lat=31.9, lon=117.3))
    (ack,) = acks.read_json(1)
    record = engine.incident(ack["incident"])
    assert record.kind is IncidentKind.PATROL_SOS and station in record.notified
