"""The audit trail through the gateway: a row for every refused token, Origin and audit request, with the client's
address and one meaning per column; the command center pages through every host's rows newest first and filters
them."""

from __future__ import annotations

import pytest
from websockets.exceptions import InvalidStatus

from protocols.console import AuditQuery, AuditRows, Command, Error, Result, Token
from protocols.records import Action
from tests.console.client import ConsoleClient, login
from tests.console.conftest import PASSWORD
from tests.console.test_gateway import changed, panic, session

pytestmark = pytest.mark.ray


def ask(cc: ConsoleClient, **query) -> AuditRows:
    """One audit page, the answer to this request (not an earlier one)."""
    cc.received.clear()
    cc.send(AuditQuery(**query))
    return cc.until(lambda m: isinstance(m, AuditRows), what="an audit page")


def columns(row) -> tuple:
    return row.actor, row.role, row.scope, row.action, row.target, row.outcome, row.reason


def test_forged_malformed_and_expired_tokens_are_refused_and_audited_with_the_address(console):
    forged = ConsoleClient(console.ws, "e30.c2lnbmF0dXJl")
    assert forged.next().reason == "bad token signature"
    assert ConsoleClient(console.ws, "garbage").next().reason == "malformed token"
    expired, claims = console.gateway.signer.issue(console.gateway.operators["p1"], now_s=0.0, ttl_s=1.0)
    assert ConsoleClient(console.ws, expired).next().reason == "token expired"
    cc = session(console, "cc")
    rows = [columns(r) for r in ask(cc, action="auth", outcome="refused").rows]
    assert ("", "", "", "auth", "token", "refused", "bad token signature (from 127.0.0.1)") in rows
    assert ("", "", "", "auth", "token", "refused", "malformed token (from 127.0.0.1)") in rows
    assert ("p1", "station", "P1", "auth", f"token {claims.token_id}", "refused",
            "token expired (from 127.0.0.1)") in rows


def test_a_foreign_origin_is_refused_with_403_and_audited(console):
    token = login(console.login_url, "p1", PASSWORD)
    for url in (console.ws, console.login_url):
        with pytest.raises(InvalidStatus) as refused:
            ConsoleClient(url, token.token, origin="http://evil.example")
        assert refused.value.response.status_code == 403
    cc = session(console, "cc")
    rows = [columns(r) for r in ask(cc, action="connect").rows]
    reason = "origin 'http://evil.example' not allowed (from 127.0.0.1)"
    assert ("", "", "", "connect", "/ws", "refused", reason) in rows
    assert ("", "", "", "connect", "/login", "refused", reason) in rows


def test_a_stations_audit_request_is_refused_and_audited(console):
    p1 = session(console, "p1")
    p1.send(AuditQuery())
    assert "command center" in p1.until(lambda m: isinstance(m, Error), what="the refusal").reason
    cc = session(console, "cc")
    rows = [columns(r) for r in ask(cc, action="audit").rows]
    assert rows == [("p1", "station", "P1", "audit", "audit trail", "refused",
                     "audit: the command center's only (from 127.0.0.1)")]


def test_the_trail_of_every_host_pages_newest_first_and_filters(console):
    for _ in range(3):
        assert isinstance(login(console.login_url, "p2", "guess"), Error)
    assert isinstance(login(console.login_url, "p2", PASSWORD), Token)
    p1, cc = session(console, "p1"), session(console, "cc")
    incident = panic(console, "P1")
    p1.until(changed(incident), what="the panic")
    p1.send(Command(1, Action.ACKNOWLEDGE, incident, note="on it"))
    assert p1.until(lambda m: isinstance(m, Result) and m.id == 1, what="the acknowledgement").ok

    # the precinct host's row (the command) and the command center host's (logins) in one trail
    (ack,) = [r for r in ask(cc, limit=500, action="acknowledge").rows if r.target == incident]
    assert columns(ack) == ("p1", "station", "P1", "acknowledge", incident, "ok", "on it")
    newest = ask(cc, limit=500)
    until_s = newest.rows[0].t_s  # rows written from now on are left out of what is compared
    everything = ask(cc, limit=500, until_s=until_s)
    assert not everything.more and len({r.id for r in everything.rows}) == len(everything.rows) >= 6
    ms = [int(r.t_s * 1000) for r in everything.rows]  # newest first to the millisecond (within one, by host)
    assert ms == sorted(ms, reverse=True)
    seen, before = [], None
    for _ in range(len(everything.rows)):
        answer = ask(cc, limit=2, before=before, until_s=until_s)
        seen += answer.rows
        if not answer.more:
            break
        before = answer.rows[-1].id
    assert seen == everything.rows

    p2 = ask(cc, limit=500, actor="p2")
    assert [r.outcome for r in p2.rows] == ["ok", "refused", "refused", "refused"]
    assert all(r.actor == "p2" and r.action == "login" for r in p2.rows)
    refused = ask(cc, limit=2, action="login", outcome="refused")
    assert len(refused.rows) == 2 and refused.more
    assert all((r.action, r.outcome) == ("login", "refused") for r in refused.rows)
    window = [r for r in everything.rows if r.actor == "p2"]
    since_s, until_window_s = window[-2].t_s, window[0].t_s
    ranged = ask(cc, limit=500, actor="p2", since_s=since_s, until_s=until_window_s)
    assert [r.id for r in ranged.rows] == [r.id for r in window[:-1]]
    assert ask(cc, limit=5, before=10**12).rows == []  # a cursor that names no row
