"""The console gateway over real WebSockets: login, tokens, origins, scoped fan-out, authorised commands."""

from __future__ import annotations

import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from engine.operators import TokenSigner
from protocols.batch import Ingest
from protocols.console import (LABELS, AuditQuery, AuditRows, Command, Error, Heartbeat, IncidentChanged, Resync,
                               Result, Snapshot, Token, Welcome, decode_server)
from protocols.device import make_message
from protocols.kinds import IncidentState, Level
from protocols.records import Action
from tests.console.client import ConsoleClient, login
from tests.console.conftest import ESCALATE_AFTER_S, PASSWORD

pytestmark = pytest.mark.ray


def session(console, name: str) -> ConsoleClient:
    token = login(console.login_url, name, PASSWORD)
    assert isinstance(token, Token), token
    client = ConsoleClient(console.ws, token.token)
    assert isinstance(client.next(), Welcome)
    assert isinstance(client.next(), Snapshot)
    return client


def panic(console, precinct: str, seq: int = 1) -> str:
    box = console.device_in(precinct)
    result = console.engine.ingest([Ingest(box, make_message("school.panic", seq=seq, ts=1))])
    return result.acks[0].incident_id


def changed(incident_id: str, **fields):
    def match(m) -> bool:
        return isinstance(m, IncidentChanged) and m.incident.id == incident_id and all(
            getattr(m.incident, k) == v for k, v in fields.items())
    return match


def test_login_gives_a_token_and_wrong_passwords_are_refused_and_audited(console):
    token = login(console.login_url, "p1", PASSWORD)
    assert isinstance(token, Token) and (token.operator, token.role, token.scope) == ("p1", "station", "P1")
    wrong = login(console.login_url, "p1", "guess")
    assert isinstance(wrong, Error) and "wrong password" in wrong.reason
    cc = session(console, "cc")
    cc.send(AuditQuery(limit=50))
    rows = cc.until(lambda m: isinstance(m, AuditRows), what="the audit rows").rows
    logins = [(r.actor, r.outcome) for r in rows if r.action == "login"]
    assert ("p1", "ok") in logins and ("p1", "refused") in logins
    p1 = session(console, "p1")
    p1.send(AuditQuery())
    assert "command center" in p1.until(lambda m: isinstance(m, Error), what="a refusal").reason


def test_no_token_a_bad_or_expired_token_or_a_foreign_origin_is_refused(console, monkeypatch):
    from websockets.sync.client import connect

    monkeypatch.setattr("actors.console_gateway.AUTH_TIMEOUT_S", 1.0)  # 5 s in the product
    for first in ('{"type": "resync"}', None):  # a message that is not auth; nothing at all (1 s here)
        with connect(console.ws, open_timeout=10) as ws:
            if first is not None:
                ws.send(first)
            reply = decode_server(ws.recv(timeout=10))
            assert isinstance(reply, Error) and ("auth" in reply.reason or "first message" in reply.reason)
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
    forged = ConsoleClient(console.ws, "e30.c2lnbmF0dXJl")
    assert "signature" in forged.next().reason
    expired, _ = console.gateway.signer.issue(console.gateway.operators["p1"], now_s=0.0, ttl_s=1.0)
    assert ConsoleClient(console.ws, expired).next().reason == "token expired"
    other_gateway, _ = TokenSigner().issue(console.gateway.operators["p1"], now_s=1e12)
    assert "signature" in ConsoleClient(console.ws, other_gateway).next().reason
    token = login(console.login_url, "p1", PASSWORD).token
    with pytest.raises(InvalidStatus) as refused:
        ConsoleClient(console.ws, token, origin="http://evil.example")
    assert refused.value.response.status_code == 403
    ok = ConsoleClient(console.ws, token, origin=console.gateway.url.rstrip("/"))
    assert isinstance(ok.next(), Welcome)


def test_the_welcome_carries_every_label_and_the_chain_so_the_console_keeps_no_copy(console):
    token = login(console.login_url, "p1", PASSWORD)
    client = ConsoleClient(console.ws, token.token)
    welcome = client.next()
    assert isinstance(welcome, Welcome) and welcome.labels == LABELS
    assert welcome.labels.chain == [Level.GUARD_ROOM, Level.POLICE_STATION, Level.COMMAND_CENTER]
    assert welcome.labels.levels[welcome.level] == "Police station"
    assert welcome.labels.kinds["school.panic"] == "School panic"
    assert welcome.labels.kinds["device.offline"] == "Device offline"
    assert welcome.labels.states["on_scene"] == "On scene"
    assert {d.kind for d in welcome.map.devices} <= set(welcome.labels.devices)
    assert {s.kind for s in welcome.map.sites} <= set(welcome.labels.sites)
    client.close()


def test_incidents_reach_only_the_consoles_whose_jurisdiction_they_are_in(console):
    cc, p1, p2 = session(console, "cc"), session(console, "p1"), session(console, "p2")
    incident = panic(console, "P1")
    seen = p1.until(changed(incident), what="the panic on P1's console")
    assert seen.incident.state is IncidentState.RAISED and seen.incident.deadline_s is not None
    cc.until(changed(incident), what="the panic on the command center's console")
    # P2's console: a heartbeat at or past that change's seq proves the change was not sent to it
    p2.until(lambda m: isinstance(m, Heartbeat) and m.seq >= seen.seq, what="a later heartbeat")
    assert not any(isinstance(m, IncidentChanged) for m in p2.received)
    p2.send(Resync())
    snapshot = p2.until(lambda m: isinstance(m, Snapshot), what="P2's snapshot")
    assert all(i.precinct_id == "P2" for i in snapshot.incidents)


def test_commands_are_authorised_by_jurisdiction_and_the_chain_is_kept(console):
    p1, p2, cc = session(console, "p1"), session(console, "p2"), session(console, "cc")
    incident = panic(console, "P1")
    p1.until(changed(incident), what="the panic")
    # a forged acknowledgement from another precinct's console: refused, audited, nothing changes
    p2.send(Command(1, Action.ACKNOWLEDGE, incident))
    refusal = p2.until(lambda m: isinstance(m, Result), what="P2's answer")
    assert not refusal.ok and "not in your jurisdiction" in refusal.error
    cc.send(AuditQuery())
    rows = cc.until(lambda m: isinstance(m, AuditRows), what="audit").rows
    assert any(r.actor == "p2" and r.action == "acknowledge" and r.outcome == "refused" for r in rows)
    # the station acknowledges, dispatches, resolves; closing needs a disposition
    p1.send(Command(2, Action.ACKNOWLEDGE, incident))
    assert p1.until(lambda m: isinstance(m, Result) and m.id == 2, what="ack result").ok
    acked = p1.until(changed(incident, state=IncidentState.ACKNOWLEDGED), what="acknowledged")
    assert acked.incident.deadline_s is None and acked.incident.acked_by == "p1"
    assert acked.incident.acked_level is Level.POLICE_STATION
    for n, action, extra in ((3, Action.DISPATCH, {"unit": "car 7"}), (4, Action.ON_SCENE, {}),
                             (5, Action.RESOLVE, {})):
        p1.send(Command(n, action, incident, **extra))
        assert p1.until(lambda m, n=n: isinstance(m, Result) and m.id == n, what=f"{action} result").ok
    p1.send(Command(6, Action.CLOSE, incident))
    no_disposition = p1.until(lambda m: isinstance(m, Result) and m.id == 6, what="close result")
    assert not no_disposition.ok and "disposition" in no_disposition.error
    p1.send(Command(7, Action.CLOSE, incident, disposition="pupil pressed it by mistake"))
    assert p1.until(lambda m: isinstance(m, Result) and m.id == 7, what="close result").ok
    closed = cc.until(changed(incident, state=IncidentState.CLOSED), what="closed on the CC console")
    assert closed.incident.disposition == "pupil pressed it by mistake"


def test_the_command_center_sees_an_unacknowledged_incident_escalate_to_it(console):
    cc = session(console, "cc")
    incident = panic(console, "P2")
    escalated = cc.until(changed(incident, level=Level.COMMAND_CENTER), timeout_s=ESCALATE_AFTER_S + 10,
                         what="the escalation to the command center")
    assert "CC" in escalated.incident.notified
    assert [e.event.value for e in escalated.incident.timeline].count("escalated") == 1


def test_a_reconnecting_console_resyncs_to_exactly_the_servers_queue(console):
    p1 = session(console, "p1")
    first = panic(console, "P1")
    p1.until(changed(first), what="the first panic")
    p1.close()
    second = panic(console, "P1", seq=2)  # a repeat of the first while away
    kiosk = console.device_in("P1", "kiosk")
    console.engine.ingest([Ingest(kiosk, make_message("kiosk.sos", seq=1, ts=1))])
    p1 = session(console, "p1")
    scope = type("C", (), {"jurisdiction": p1_jurisdiction(console)})()

    def console_and_server() -> tuple[dict, dict]:
        """The console's queue (its snapshot, then every change after it) and the gateway's own, same scope. The
        escalation chain goes on meanwhile, so the two are compared once the changes in flight have arrived."""
        shown: dict = {}
        for m in p1.received:
            if isinstance(m, Snapshot):
                shown = {i.id: i.version for i in m.incidents}
            elif isinstance(m, IncidentChanged):
                shown[m.incident.id] = max(shown.get(m.incident.id, 0), m.incident.version)
        return shown, {i.id: i.version for i in console.gateway._snapshot(scope).incidents}

    deadline = time.monotonic() + 10
    while (views := console_and_server())[0] != views[1] and time.monotonic() < deadline:
        try:
            p1.next(max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            pass
    shown, server = console_and_server()
    assert shown == server
    assert second == first and f"{kiosk}#1" in server and server[first] >= 2  # the repeat while away is in


def p1_jurisdiction(console):
    from engine.operators import Jurisdiction, Role

    return Jurisdiction(Role.STATION, "P1")


def test_the_command_centers_heartbeats_carry_the_engines_counters_and_no_one_elses_do(console):
    cc, p1 = session(console, "cc"), session(console, "p1")
    before = cc.until(lambda m: isinstance(m, Heartbeat) and m.engine is not None, what="a first figure")
    devices = sorted(d for d in console.city.devices)[:5]
    console.engine.ingest([Ingest(d, make_message("heartbeat", seq=1, ts=1)) for d in devices])
    after = cc.until(lambda m: isinstance(m, Heartbeat) and m.engine is not None
                     and m.engine.events_taken >= before.engine.events_taken + 5, what="the five events counted")
    assert after.engine.devices == len(console.city.devices)
    assert after.engine.devices_active >= 5 and after.engine.events_per_s >= 0
    beat = p1.until(lambda m: isinstance(m, Heartbeat) and m.seq >= after.seq, what="P1's heartbeat")
    assert beat.engine is None  # a station sees its precinct, not the engine's totals
