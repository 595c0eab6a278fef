"""Visitor calls (engine.hosting.visitors)."""

from __future__ import annotations

from dataclasses import replace

from engine.entities import DeviceEntity
from engine.hosting.visitors import VisitorCalls
from engine.incident import DeviceCommand
from protocols.device import make_message
from tests.engine.host_parts import HOST_CITY


def _door(unit: str) -> DeviceEntity:
    return DeviceEntity(next(d for d in HOST_CITY.devices.values() if d.kind == "door" and d.unit == unit))


def _calls(city=HOST_CITY) -> tuple[VisitorCalls, list[tuple[DeviceCommand, float]]]:
    sent: list[tuple[DeviceCommand, float]] = []
    return VisitorCalls(city, send=lambda command, now_s: sent.append((command, now_s))), sent


def test_a_visitor_rings_each_verified_resident_of_the_unit_named():
    calls, sent = _calls()
    door = _door("1")
    message = make_message("door.visitor", seq=4, ts=0, data={"unit": "2", "snapshot": "v.jpg"})
    calls.call(door, message, 7.0)
    phones = calls.phones(door.device.site_id, "2")
    assert phones and [c.device_id for c, _ in sent] == phones
    command, at_s = sent[0]
    assert (command.command, at_s) == ("visitor_call", 7.0)
    assert command.args == {"call": f"{door.device.id}#call@4", "door": door.device.id, "unit": "2",
                            "snapshot": "v.jpg", "seq": 4, "until_s": 67.0}


def test_a_visitor_naming_no_unit_rings_the_doors_own_unit():
    calls, sent = _calls()
    door = _door("1")
    calls.call(door, make_message("door.visitor", seq=1, ts=0, data={"unit": ""}), 0.0)
    assert [c.device_id for c, _ in sent] == calls.phones(door.device.site_id, "1")


def test_residents_not_verified_are_not_rung():
    unverified = dict(HOST_CITY.residents)
    for resident_id, resident in unverified.items():
        unverified[resident_id] = replace(resident, verified=False)
    calls, sent = _calls(replace(HOST_CITY, residents=unverified))
    calls.call(_door("1"), make_message("door.visitor", seq=1, ts=0, data={"unit": ""}), 0.0)
    assert sent == []
