"""A volunteer's tip through the real broker: the phone's ``patrol.clue`` is acked with its incident, the station
accepts it, and the verdict with the points earned reaches the phone as the command ``tip.reviewed``."""

from __future__ import annotations

import time

import pytest

from protocols.kinds import IncidentKind, Level
from protocols.records import Action, OperatorCommand
from protocols.replies import decode_command
from tests.mqtt.helpers import Inbox, pub

pytestmark = [pytest.mark.ray, pytest.mark.mqtt]


def test_a_tip_from_the_phone_is_reviewed_and_the_phone_hears_the_verdict_and_its_points(broker, engine):
    phone = broker.device("volunteer_phone", 2)
    station = broker.city.precincts[broker.city.devices[phone].precinct_id].station_id
    acks = Inbox(broker, phone, f"rb/v1/dev/{phone}/ack")
    commands = Inbox(broker, phone, f"rb/v1/dev/{phone}/cmd")
    assert acks.subscribed and commands.subscribed, (acks.error, commands.error)
    tip = {"seq": 1, "ts": int(time.time() * 1000), "kind": "patrol.clue",
           "data": {"text": "a man trying car doors", "category": "suspicious", "photo": "photos/1.jpg",
                    "lat": 31.91, "lon": 117.31}}
    assert pub(broker, phone, f"rb/v1/dev/{phone}/evt", tip).returncode == 0
    (ack,) = acks.read_json(1)
    assert ack["ok"], ack
    record = engine.incident(ack["incident"])
    assert record.kind is IncidentKind.PATROL_CLUE and station in record.notified
    assert (record.tip.photo, record.lat, record.lon) == ("photos/1.jpg", 31.91, 117.31)

    engine.command(OperatorCommand(Action.ACCEPT, record.id, "officer", Level.POLICE_STATION, station,
                                   note="good catch"))
    reviewed = decode_command(commands.read(1)[0])
    assert reviewed.cmd == "tip.reviewed"
    assert reviewed.args == {"incident": record.id, "verdict": "accepted", "reason": "good catch", "points": 20}
