"""Tips through the real gateway: a volunteer's tip reaches its station's console with what it says; the station accepts
it (the volunteer's balance at the host grows by the rule's points), a rejection without a reason is refused naming
``note``, and the review actions on any other incident are refused; the audit has every one."""

from __future__ import annotations

import time

import pytest

from actors.engine_desk import ask_device_host
from protocols.batch import Ingest
from protocols.console import AuditQuery, AuditRows, Command, IncidentChanged, Result
from protocols.device import make_message
from protocols.points_desk import Ledger
from protocols.records import Action
from tests.console.test_gateway import changed, panic, session

pytestmark = pytest.mark.ray


def tip(console, precinct: str, seq: int, text: str = "a man trying car doors") -> tuple[str, str, str]:
    """A volunteer phone of ``precinct`` sends a tip: (incident, phone, volunteer)."""
    phone = sorted(d.id for d in console.city.devices.values()
                   if d.kind == "volunteer_phone" and d.precinct_id == precinct)[0]
    volunteer = next(v.id for v in console.city.volunteers.values() if v.phone_id == phone)
    data = {"text": text, "category": "suspicious", "photo": f"photos/{seq}.jpg"}
    result = console.engine.ingest([Ingest(phone, make_message("patrol.clue", seq=seq, ts=int(time.time() * 1000),
                                                               data=data))])
    return result.acks[0].incident_id, phone, volunteer


def result(client, command_id: int) -> Result:
    return client.until(lambda m: isinstance(m, Result) and m.id == command_id, what=f"result {command_id}")


def test_the_station_accepts_a_tip_and_its_volunteer_earns_the_points_and_a_reason_is_needed_to_reject(console):
    p1 = session(console, "p1")
    first, phone, volunteer = tip(console, "P1", seq=1)
    shown = p1.until(changed(first), what="the tip").incident
    assert (shown.kind, shown.priority, shown.tip.category, shown.tip.photo, shown.tip.reporter, shown.tip.verdict) == (
        "patrol.clue", 4, "suspicious", "photos/1.jpg", volunteer, None)
    before = ask_device_host(console.engine, phone, Ledger(volunteer=volunteer)).balance

    p1.send(Command(1, Action.ACCEPT, first, note="good catch"))
    assert result(p1, 1).ok
    done = p1.until(changed(first, state="closed"), what="the accepted tip").incident
    assert (done.tip.verdict, done.tip.reason, done.timeline[-1].event) == ("accepted", "good catch", "tip_accepted")
    assert ask_device_host(console.engine, phone, Ledger(volunteer=volunteer)).balance == before + 20

    second, _, _ = tip(console, "P1", seq=2, text="a light left on")
    p1.until(changed(second), what="the second tip")
    p1.send(Command(2, Action.REJECT, second))
    refused = result(p1, 2)
    assert not refused.ok and refused.code == "InvalidTransition" and "note: rejecting a tip needs a reason" in refused.error
    p1.send(Command(3, Action.PROMOTE, second, priority=1))
    assert result(p1, 3).ok
    promoted = p1.until(changed(second, state="acknowledged"), what="the promoted tip").incident
    assert (promoted.priority, promoted.tip.verdict) == (1, "promoted")
    assert ask_device_host(console.engine, phone, Ledger(volunteer=volunteer)).balance == before + 40

    box_incident = panic(console, "P1")
    p1.until(lambda m: isinstance(m, IncidentChanged) and m.incident.id == box_incident, what="the panic")
    p1.send(Command(4, Action.ACCEPT, box_incident))
    assert "only a tip (patrol.clue) is reviewed" in result(p1, 4).error

    cc = session(console, "cc")
    cc.send(AuditQuery(limit=100, actor="p1"))
    rows = cc.until(lambda m: isinstance(m, AuditRows), what="the audit").rows
    assert {(r.action, r.target, r.outcome) for r in rows} >= {
        ("accept", first, "ok"), ("reject", second, "refused"), ("promote", second, "ok"),
        ("accept", box_incident, "refused")}
