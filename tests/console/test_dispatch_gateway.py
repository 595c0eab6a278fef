"""The units layer and dispatch through the real gateway: a station sees its precinct's units on the map with the
patrol figures, offers a P2 incident to a unit, is refused a second offer, reassigns and cancels, each audited; another
station is refused by name, and a guard room gets no units."""

from __future__ import annotations

import time

import pytest

from protocols.batch import Ingest
from protocols.console import Error, IncidentChanged, Result
from protocols.console_dispatch import (CancelDispatchCommand, DispatchAnswer, DispatchQuery, OfferCommand,
                                        ReassignCommand, UnitMap, UnitMapQuery)
from protocols.device import make_message
from tests.console.test_gateway import session

pytestmark = pytest.mark.ray

M_LAT = 1 / 111_195.0


def on_patrol(console, phones: list[str], near: str) -> None:
    """The phones start patrols 100 m, 200 m... north of the device."""
    place = console.city.devices[near]
    now_ms = int(time.time() * 1000)
    for n, phone in enumerate(phones, start=1):
        console.engine.ingest([
            Ingest(phone, make_message("patrol.start", seq=1, ts=now_ms)),
            Ingest(phone, make_message("patrol.position", seq=2, ts=now_ms, data={
                "lat": place.lat + 100 * n * M_LAT, "lon": place.lon, "accuracy_m": 5.0}))])


def result(client, command_id: int) -> Result:
    return client.until(lambda m: isinstance(m, Result) and m.id == command_id, what=f"result {command_id}")


def view(client, state: str, unit: str = "") -> DispatchAnswer:
    return client.until(lambda m: isinstance(m, DispatchAnswer) and m.state == state and m.unit == unit,
                        what=f"the dispatch {state} {unit}")


def test_a_station_offers_reassigns_and_cancels_its_incident_with_its_units_and_each_command_is_audited(console):
    door = console.device_in("P1", "door")
    phones = sorted(d.id for d in console.city.devices.values()
                    if d.kind == "volunteer_phone" and d.precinct_id == "P1")[:2]
    on_patrol(console, phones, door)
    p1, p2, guard = session(console, "p1"), session(console, "p2"), session(console, "guard")
    incident = console.engine.ingest([Ingest(door, make_message("door.forced", seq=1, ts=1))]).acks[0].incident_id
    p1.until(lambda m: isinstance(m, IncidentChanged) and m.incident.id == incident, what="the door alarm")

    p1.send(UnitMapQuery())
    seen = p1.until(lambda m: isinstance(m, UnitMap), what="the unit map")
    assert {(u.unit, u.state, u.stale, u.precinct) for u in seen.units} == {(p, "available", False, "P1")
                                                                            for p in phones}
    assert seen.truncated == 0 and seen.figures.patrols_active == 2
    assert seen.figures.units_by_state.get("available") == 2
    p2.send(UnitMapQuery())
    assert p2.until(lambda m: isinstance(m, UnitMap), what="P2's unit map").units == []  # none of P2's on patrol
    cc = session(console, "cc")
    cc.send(UnitMapQuery())
    everyone = cc.until(lambda m: isinstance(m, UnitMap), what="the command center's unit map")
    assert {u.unit for u in everyone.units} == set(phones) and everyone.figures.patrols_active == 2
    cc.close()
    guard.send(UnitMapQuery())
    assert "station's or the command center's" in guard.until(lambda m: isinstance(m, Error), what="refusal").reason

    p1.send(DispatchQuery(incident))
    before = view(p1, "none")
    assert all(c.distance_m <= 200 for c in before.cameras)
    p1.send(OfferCommand(1, incident, phones[0]))
    offered = view(p1, "offering", phones[0])
    assert offered.unit_state == "offered" and offered.deadline_s is not None
    assert result(p1, 1).ok
    p1.send(OfferCommand(2, incident, phones[1]))
    refused = result(p1, 2)
    assert (refused.ok, refused.code) == (False, "OfferRefused") and "reassign it" in refused.error
    p2.send(OfferCommand(3, incident, phones[1]))
    foreign = result(p2, 3)
    assert foreign.code == "OutOfJurisdiction" and foreign.error.startswith("incident: ")

    p1.send(ReassignCommand(4, incident, phones[1], "nearer"))
    moved = view(p1, "offering", phones[1])
    assert moved.declined == [phones[0]] and ("OfferWithdrawn", phones[0]) in [(l.effect, l.unit) for l in moved.log]
    assert result(p1, 4).ok
    p1.send(CancelDispatchCommand(5, incident, "false alarm"))
    assert view(p1, "cancelled").log[-1].effect in ("OfferWithdrawn", "UnitStateSet")
    assert result(p1, 5).ok
    p1.send(CancelDispatchCommand(6, incident))
    again = result(p1, 6)
    assert again.code == "NoDispatch" and again.error.startswith("incident: ")

    rows = [(r.actor, r.action, r.outcome) for r in console.engine.audit_rows(200)
            if r.target == incident and r.action in ("offer", "reassign", "cancel_dispatch")]
    assert sorted(rows) == sorted([("p1", "offer", "ok"), ("p1", "offer", "refused"), ("p2", "offer", "refused"),
                                   ("p1", "reassign", "ok"), ("p1", "cancel_dispatch", "ok"),
                                   ("p1", "cancel_dispatch", "refused")])
    for client in (p1, p2, guard):
        client.close()
