"""The operator's side of dispatch at a host's desk (engine/hosting/dispatch_desk.py), through HostCore: the units on
the map (stale ones flagged, a precinct's only, bounded), an incident's dispatch view with its cameras and log, offer,
cancel and reassign with the phones told, and every refusal made before anything changes."""

from __future__ import annotations

import dataclasses

import pytest

from engine.errors import UnknownIncident
from engine.hosting.dispatch_desk import NoDispatch, UnitBusy, UnitOutOfPrecinct
from engine.patrol.offers import OfferRefused
from engine.patrol.units import UnknownUnit
from protocols.desk import OfferUnit
from protocols.dispatch_desk import CancelDispatch, DispatchView, Reassign, UnitsOnMap
from protocols.kinds import DeviceKind
from tests.engine.helpers import SMALL, Pair

M_LAT = 1 / 111_195.0
TWO_PRECINCTS = dataclasses.replace(SMALL, precincts=2, volunteers=40)


def phones(pair: Pair, precinct: str) -> list[str]:
    return sorted(d.id for d in pair.host.city.devices.values()
                  if d.kind is DeviceKind.VOLUNTEER_PHONE and d.precinct_id == precinct)


def on_patrol(pair: Pair, phone: str, near: str, north_m: float, now_s: float) -> None:
    pair.now_s = now_s
    place = pair.host.city.devices[near]
    pair.send(phone, "patrol.start", {})
    pair.send(phone, "patrol.position", {"lat": place.lat + north_m * M_LAT, "lon": place.lon, "accuracy_m": 5.0})


def door_forced(pair: Pair, precinct: str, now_s: float) -> tuple[str, str]:
    """A P2 door alarm (offered by an operator, not automatically) and its door."""
    door = sorted(d.id for d in pair.host.city.devices.values()
                  if d.kind is DeviceKind.DOOR and d.precinct_id == precinct)[0]
    pair.now_s = now_s
    return pair.send(door, "door.forced", {}).acks[0].incident_id, door


def sent(pair: Pair, command: str) -> list[tuple[str, str]]:
    return [(c.device_id, c.args["incident"]) for c in pair.host.device_commands if c.command == command]


def test_the_map_lists_units_with_a_position_flags_stale_ones_keeps_to_a_precinct_and_is_bounded():
    pair = Pair(TWO_PRECINCTS)
    door = sorted(d.id for d in pair.host.city.devices.values() if d.kind is DeviceKind.DOOR)[0]
    p1, p2 = phones(pair, "P1"), phones(pair, "P2")
    on_patrol(pair, p1[0], door, 100.0, 1000.0)
    on_patrol(pair, p1[1], door, 200.0, 1350.0)
    on_patrol(pair, p2[0], door, 300.0, 1390.0)
    found = pair.host.ask(UnitsOnMap(), now_s=1400.0)
    by_id = {u.unit_id: u for u in found.units}
    assert set(by_id) == {p1[0], p1[1], p2[0]} and found.truncated == 0  # the others never sent a position
    old, fresh = by_id[p1[0]], by_id[p1[1]]
    assert (old.age_s, old.stale, fresh.age_s, fresh.stale) == (400.0, True, 50.0, False)
    assert (fresh.kind, fresh.state, fresh.precinct) == ("volunteer", "available", "P1")
    assert {u.unit_id for u in pair.host.ask(UnitsOnMap(precinct="P1"), now_s=1400.0).units} == {p1[0], p1[1]}
    assert pair.host.ask(UnitsOnMap(precinct="P9"), now_s=1400.0).units == ()
    limited = pair.host.ask(UnitsOnMap(limit=2), now_s=1400.0)
    assert [u.unit_id for u in limited.units] == [p2[0], p1[1]] and limited.truncated == 1  # the freshest kept


def test_an_offer_shows_in_the_view_with_the_cameras_nearby_and_a_cancel_tells_the_phone():
    pair = Pair()
    incident, door = door_forced(pair, "P1", 1000.0)
    phone = phones(pair, "P1")[0]
    on_patrol(pair, phone, door, 50.0, 1000.0)
    before = pair.host.ask(DispatchView(incident), now_s=1001.0)
    assert (before.state, before.unit_id, before.log) == ("none", None, ())
    assert before.cameras and all(m <= 200.0 for _, m in before.cameras)
    assert [m for _, m in before.cameras] == sorted(m for _, m in before.cameras)  # nearest first
    offered = pair.host.ask(OfferUnit(incident, phone, precinct="P1"), now_s=1002.0)
    assert (offered.state, offered.unit_id, offered.unit_state) == ("offering", phone, "offered")
    assert offered.deadline_s == 1032.0 and sent(pair, "task.offer") == [(phone, incident)]
    assert [(line.t_s, line.effect, line.unit) for line in offered.log] == [
        (1002.0, "UnitStateSet", phone), (1002.0, "OfferSent", phone)]
    cancelled = pair.host.ask(CancelDispatch(incident, "a false alarm"), now_s=1010.0)
    assert (cancelled.state, cancelled.unit_id) == ("cancelled", None)
    assert sent(pair, "task.cancel") == [(phone, incident)]
    assert next(c for c in pair.host.device_commands if c.command == "task.cancel").args["reason"] == "a false alarm"
    assert pair.host.patrols.units.state_of(phone) == "available"
    assert "OfferWithdrawn" in [line.effect for line in cancelled.log]
    again = pair.host.ask(OfferUnit(incident, phone), now_s=1020.0)  # a cancelled dispatch begins again
    assert (again.state, again.unit_id) == ("offering", phone)


def test_a_reassignment_takes_the_incident_off_one_unit_and_offers_it_to_another():
    pair = Pair()
    incident, door = door_forced(pair, "P1", 1000.0)
    first, second = phones(pair, "P1")[:2]
    on_patrol(pair, first, door, 50.0, 1000.0)
    on_patrol(pair, second, door, 150.0, 1000.0)
    pair.host.ask(OfferUnit(incident, first), now_s=1001.0)
    with pytest.raises(OfferRefused, match="has it already"):
        pair.host.ask(Reassign(incident, first), now_s=1002.0)
    moved = pair.host.ask(Reassign(incident, second, "nearer the back gate", precinct="P1"), now_s=1003.0)
    assert (moved.state, moved.unit_id, moved.declined) == ("offering", second, (first,))
    assert sent(pair, "task.cancel") == [(first, incident)] and sent(pair, "task.offer")[-1] == (second, incident)
    units = pair.host.patrols.units
    assert (units.state_of(first), units.state_of(second)) == ("available", "offered")
    nobody = pair.host.ask(Reassign(incident), now_s=1004.0)  # to the next candidate: none left untried
    assert (nobody.state, nobody.unit_id, nobody.declined) == ("none_available", None, (first, second))
    assert sent(pair, "task.cancel") == [(first, incident), (second, incident)]
    assert nobody.log[-1].effect == "NoneAvailable" and units.state_of(second) == "available"


def test_every_refusal_names_its_field_and_changes_nothing():
    pair = Pair(TWO_PRECINCTS)
    incident, door = door_forced(pair, "P1", 1000.0)
    mine, theirs = phones(pair, "P1")[0], phones(pair, "P2")[0]
    on_patrol(pair, mine, door, 50.0, 1000.0)
    on_patrol(pair, theirs, door, 80.0, 1000.0)
    held, commands = pair.host.incidents, len(pair.host.device_commands)
    with pytest.raises(NoDispatch, match="^incident: .* has no dispatch to cancel"):
        pair.host.ask(CancelDispatch(incident), now_s=1001.0)
    with pytest.raises(NoDispatch, match="reassign"):
        pair.host.ask(Reassign(incident, mine), now_s=1001.0)
    with pytest.raises(UnknownUnit):
        pair.host.ask(OfferUnit(incident, "no-such-unit"), now_s=1001.0)
    with pytest.raises(UnitOutOfPrecinct, match=f"^unit: {theirs} is of precinct P2, not of your precinct P1$"):
        pair.host.ask(OfferUnit(incident, theirs, precinct="P1"), now_s=1001.0)
    with pytest.raises(UnknownIncident):
        pair.host.ask(DispatchView("no-such-incident"), now_s=1001.0)
    assert len(pair.host.device_commands) == commands and pair.host.incidents is held
    pair.host.ask(OfferUnit(incident, mine), now_s=1002.0)
    with pytest.raises(OfferRefused, match="with unit .*: reassign it"):
        pair.host.ask(OfferUnit(incident, theirs), now_s=1003.0)
    second, _ = door_forced(pair, "P2", 1004.0)
    with pytest.raises(UnitBusy, match=f"^unit: {mine} is busy \\(offered\\)"):
        pair.host.ask(OfferUnit(second, mine), now_s=1005.0)
    assert pair.host.ask(DispatchView(second), now_s=1005.0).state == "none"  # the refused offer left nothing
    assert pair.host.incidents is held
