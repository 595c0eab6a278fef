"""A volunteer phone through the real broker: patrol start and positions, the P1 alarm's automatic offer reaching the
nearest phone on patrol as a ``task.offer`` command, its acceptance, arrival, and the phone's own SOS."""

from __future__ import annotations

import pytest

from engine.patrol.cameras import CameraIndex
from protocols.kinds import IncidentKind
from protocols.replies import decode_command
from tests.mqtt.helpers import Inbox, PatrolPhone, message, pub, units, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.mqtt]

def test_a_p1_alarm_is_offered_to_the_nearest_phone_on_patrol_which_accepts_and_arrives(broker, engine):
    on_patrol = PatrolPhone(broker, engine)
    phone, box, commands, evt = on_patrol.phone, on_patrol.box, on_patrol.commands, on_patrol.evt
    ack = on_patrol.box_alarm(broker)
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
