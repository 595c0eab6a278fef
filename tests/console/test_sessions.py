"""Sessions on the server: a logout revokes its token and closes every session opened with it, a revoked token is
refused (and audited), and a session whose token expires while open is closed then, with a reason the console
shows instead of reconnecting (4001)."""

from __future__ import annotations

import time

import pytest
from websockets.exceptions import ConnectionClosed

from protocols.console import AuditQuery, AuditRows, Error, Heartbeat, Logout, Token, Welcome
from tests.console.client import ConsoleClient, login
from tests.console.conftest import PASSWORD
from tests.console.test_gateway import session

pytestmark = pytest.mark.ray


def closed(client: ConsoleClient, *, timeout_s: float = 10.0) -> tuple[int, str]:
    """The close code and reason the server ended ``client``'s session with; fail at the deadline."""
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            client.next(left)
        except ConnectionClosed as exc:
            assert exc.rcvd is not None, "closed without a close frame"
            return exc.rcvd.code, exc.rcvd.reason
        except TimeoutError:
            break
    raise AssertionError(f"the session was not closed within {timeout_s} s")


def opened(url: str, token: str) -> tuple[ConsoleClient, Welcome]:
    client = ConsoleClient(url, token)
    welcome = client.next()
    assert isinstance(welcome, Welcome), welcome
    return client, welcome


def audit_rows(cc: ConsoleClient, **query) -> list:
    cc.send(AuditQuery(limit=100, **query))
    return cc.until(lambda m: isinstance(m, AuditRows), what="the audit rows").rows


def test_logout_revokes_the_token_and_closes_every_session_opened_with_it(console):
    token = login(console.login_url, "p1", PASSWORD)
    assert isinstance(token, Token)
    token_id = console.gateway.signer.verify(token.token, now_s=time.time()).token_id
    first, _ = opened(console.ws, token.token)
    second, _ = opened(console.ws, token.token)
    other_login = session(console, "p1")  # the same operator's other login: not this token
    first.send(Logout())
    assert closed(first) == (4001, "logged out")
    assert closed(second) == (4001, "logged out")
    other_login.until(lambda m: isinstance(m, Heartbeat), what="a heartbeat on the other login's session")

    again = ConsoleClient(console.ws, token.token)
    refusal = again.next()
    assert isinstance(refusal, Error) and refusal.reason == "token revoked"
    assert closed(again) == (4001, "token revoked")

    cc = session(console, "cc")
    rows = [r for r in audit_rows(cc, actor="p1") if r.target == f"token {token_id}"]
    by_action = {r.action: r for r in rows}
    logout, refused = by_action["logout"], by_action["auth"]
    assert (logout.role, logout.scope, logout.outcome) == ("station", "P1", "ok")
    assert logout.reason == "2 session(s) closed (from 127.0.0.1)"
    assert (refused.actor, refused.role, refused.scope, refused.outcome, refused.reason) == (
        "p1", "station", "P1", "refused", "token revoked (from 127.0.0.1)")
    assert console.gateway.sessions.open_sessions(token_id) == 0


def test_a_session_is_closed_when_its_token_expires_while_open(console):
    from tests.console.conftest import start_gateway

    short = start_gateway(console.engine, console.gateway.operators, token_ttl_s=2.0)
    try:
        url = f"ws://127.0.0.1:{short.port}"
        token = login(f"{url}/login", "p1", PASSWORD)
        assert isinstance(token, Token)
        client, welcome = opened(f"{url}/ws", token.token)
        assert welcome.expires_s == token.expires_s
        assert closed(client, timeout_s=10.0) == (4001, "token expired")
        assert time.time() >= welcome.expires_s - 0.01  # not before (the clocks are one)
        late = ConsoleClient(f"{url}/ws", token.token)
        assert late.next().reason == "token expired"
    finally:
        short.stop()
