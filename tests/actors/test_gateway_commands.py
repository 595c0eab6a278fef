"""The gateway's command path with a fake engine (no Ray, no socket): each answer of the engine becomes the
result an operator should get, and a bug is never passed off as an outage."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
import ray

from actors.gateway_commands import Commands
from actors.gateway_fanout import Fanout
from engine.citygen import CitySpec, generate_city
from engine.errors import InvalidTransition
from engine.operators import Jurisdiction, Role
from engine.journal import AuditPage, AuditRow
from protocols.console import AuditQuery, AuditRows, AuditRowView, Command, Error
from protocols.kinds import IncidentKind, IncidentState, Level
from protocols.records import Action, IncidentRecord

CITY = generate_city(CitySpec(precincts=1, communities=1, schools=1, kiosk_halls=1, volunteers=1, seed=1))


def _record(state=IncidentState.RAISED, version=1) -> IncidentRecord:
    return IncidentRecord(id="X#1", kind=IncidentKind.DOOR_FORCED, device_id="X", site_id="S", precinct_id="P1",
                          host_id="p0", priority=1, state=state, level=Level.POLICE_STATION, raised_s=0.0,
                          version=version)


class FakeEngine:
    def __init__(self, answer) -> None:
        self.answer, self.city = answer, CITY

    def command(self, command):
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def _run(answer):
    audits = []

    async def audit(*row):
        audits.append(row)

    async def go():
        fanout = Fanout(lambda: 0.0)
        fanout.incidents["X#1"] = _record()
        commands = Commands(FakeEngine(answer), CITY, fanout, audit)
        console = SimpleNamespace(claims=SimpleNamespace(operator="p1"), jurisdiction=Jurisdiction(Role.STATION, "P1"))
        return await commands.command(console, Command(7, Action.ACKNOWLEDGE, "X#1")), fanout

    result, fanout = asyncio.run(go())
    return result, fanout, audits


def test_an_accepted_command_is_ok_and_its_incident_goes_out():
    result, fanout, _ = _run(_record(IncidentState.ACKNOWLEDGED, version=2))
    assert (result.id, result.ok, result.code) == (7, True, "")
    assert fanout.incidents["X#1"].state is IncidentState.ACKNOWLEDGED and fanout.seq == 1


def test_an_engine_refusal_keeps_its_type_as_the_code():
    result, fanout, audits = _run(InvalidTransition("X#1", "raised", "acknowledge"))
    assert (result.ok, result.code) == (False, "InvalidTransition") and "cannot acknowledge" in result.error
    assert fanout.seq == 0 and audits == []  # the host audits what reaches it


@pytest.mark.parametrize("error, says", [
    (ray.exceptions.GetTimeoutError("60 s"), "may or may not be done"),
    (ray.exceptions.ActorUnavailableError("restarting", b"\0" * 16), "nothing was done"),
])
def test_a_host_that_cannot_answer_is_unavailable_and_audited(error, says):
    result, _, audits = _run(error)
    assert (result.ok, result.code) == (False, "Unavailable") and says in result.error
    assert [(a[0], a[1], a[2], a[3], a[4], a[5]) for a in audits] == [
        ("p1", "station", "P1", "acknowledge", "X#1", "unavailable")]


def test_a_bug_is_not_passed_off_as_an_outage():
    with pytest.raises(TypeError):
        _run(TypeError("a bug in the engine"))


class AuditEngine:
    """Answers ``audit_page`` with one row and remembers what it was asked."""

    city = CITY

    def __init__(self) -> None:
        self.asked: list = []

    def audit_page(self, limit, **query):
        self.asked.append((limit, query))
        return AuditPage([AuditRow(5.0, "p1", "station", "P1", "login", "p1", "ok", "from 10.0.0.9", id=2049)], True)


def _audit_request(role: Role, scope: str, message: AuditQuery):
    audits, engine = [], AuditEngine()

    async def audit(*row):
        audits.append(row)

    async def go():
        commands = Commands(engine, CITY, Fanout(lambda: 0.0), audit)
        console = SimpleNamespace(claims=SimpleNamespace(operator="op"), jurisdiction=Jurisdiction(role, scope),
                                  connection=SimpleNamespace(remote_address=("10.0.0.7", 50000)))
        return await commands.audit_rows(console, message)

    return asyncio.run(go()), engine.asked, audits


def test_the_command_centers_audit_request_is_answered_with_the_rows_ids_and_whether_there_are_more():
    query = AuditQuery(limit=20, before=4097, actor="p1", action="login", outcome="ok", since_s=1.0, until_s=9.0)
    answer, asked, audits = _audit_request(Role.COMMAND_CENTER, "", query)
    assert asked == [(20, {"before": 4097, "actor": "p1", "action": "login", "outcome": "ok", "since_s": 1.0,
                           "until_s": 9.0})]
    assert answer == AuditRows([AuditRowView(2049, 5.0, "p1", "station", "P1", "login", "p1", "ok", "from 10.0.0.9")],
                               True)
    assert audits == []


def test_a_stations_audit_request_is_refused_and_audited_with_its_address():
    answer, asked, audits = _audit_request(Role.STATION, "P1", AuditQuery())
    assert isinstance(answer, Error) and "command center" in answer.reason and asked == []
    assert audits == [("op", "station", "P1", "audit", "audit trail", "refused",
                       "audit: the command center's only (from 10.0.0.7)")]
