"""The console behind a reverse proxy (``--trusted-proxy``), over real sockets to a gateway on a real engine: from a
peer that is not a trusted proxy ``X-Forwarded-For`` changes nothing (the failed-login limit and the audit keep the
peer's address); through a trusted one they use the forwarded client, the right-most address not itself a trusted
proxy; a malformed header from a trusted proxy is refused with 400, logged and audited, and the gateway serves on.

The per-address limit is 2 failures here (20 in production): each failure costs an argon2 check (~0.8 s)."""

from __future__ import annotations

import logging

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from actors.broker import free_port
from actors.gateway_http import LoginThrottles
from engine.citygen import generate_city
from engine.login_throttle import LoginThrottle
from engine.operators import operators_from_text
from engine.policy import load_policy_set
from protocols.console import Auth, Error, Login, Token, decode_server, encode
from tests.console.conftest import PASSWORD, SPEC, operators_file

pytestmark = pytest.mark.ray
WRONG = "unknown operator or wrong password"
LOCKED = "too many failed logins: retry in "


@pytest.fixture(scope="module")
def engine(ray_session):
    from actors.runtime import Engine, EngineOptions

    engine = Engine(generate_city(SPEC), load_policy_set(None), EngineOptions(precinct_hosts=1)).start()
    yield engine
    engine.stop()


def _gateway(engine, proxies: list[str]):
    from actors.console_gateway import ConsoleGateway

    operators = operators_from_text(operators_file(), file="users.toml", city=engine.city)
    throttles = LoginThrottles(users=LoginThrottle(max_failures=100), addresses=LoginThrottle(max_failures=2))
    return ConsoleGateway(engine, operators, port=free_port(), throttles=throttles, trusted_proxies=proxies,
                          watch_delivery=False).start()


def _send(gateway, path: str, message, forwarded: str | None):
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    with connect(f"ws://127.0.0.1:{gateway.port}{path}", additional_headers=headers, open_timeout=10) as ws:
        ws.send(encode(message))
        return decode_server(ws.recv(timeout=10))


def _login(gateway, user: str, password: str, forwarded: str | None):
    return _send(gateway, "/login", Login(user, password), forwarded)


def _reasons(engine, action: str, actor: str = "") -> list[str]:
    return [row.reason for row in engine.audit_page(50, action=action, actor=actor).rows]


def test_a_forwarded_address_from_a_peer_that_is_not_a_trusted_proxy_changes_nothing(engine):
    gateway = _gateway(engine, ["10.255.0.1"])  # the feature on; the test's peer, 127.0.0.1, not trusted
    try:
        for user, forwarded in (("spoof-1", "203.0.113.7"), ("spoof-2", "198.51.100.8")):
            answer = _login(gateway, user, "guess", forwarded)
            assert isinstance(answer, Error) and answer.reason == WRONG
        # two failures from 127.0.0.1, whatever it claimed: the address is locked, for a third claim too
        answer = _login(gateway, "p1", PASSWORD, "192.0.2.9")
        assert isinstance(answer, Error) and answer.reason.startswith(LOCKED)
        answer = _login(gateway, "p1", PASSWORD, "not an address")  # not read: ignored, no 400
        assert isinstance(answer, Error) and answer.reason.startswith(LOCKED)
        for user in ("spoof-1", "spoof-2"):
            assert _reasons(engine, "login", user) == [f"{WRONG} (from 127.0.0.1)"]
    finally:
        gateway.stop()


def test_through_a_trusted_proxy_the_limit_and_the_audit_use_the_forwarded_client(engine, caplog):
    gateway = _gateway(engine, ["127.0.0.1", "10.0.0.0/8"])
    try:
        answer = _login(gateway, "proxied-1", "guess", "203.0.113.7")
        assert isinstance(answer, Error) and answer.reason == WRONG
        answer = _login(gateway, "proxied-2", "guess", "6.6.6.6, 203.0.113.7")  # the client's own entry: not read
        assert isinstance(answer, Error) and answer.reason == WRONG
        answer = _login(gateway, "p1", PASSWORD, "203.0.113.7, 10.1.2.3")  # through a second trusted proxy
        assert isinstance(answer, Error) and answer.reason.startswith(LOCKED)
        assert _reasons(engine, "login", "proxied-1") == [f"{WRONG} (from 203.0.113.7 via 127.0.0.1)"]

        with caplog.at_level(logging.WARNING, logger="actors.gateway_http"):
            with pytest.raises(InvalidStatus, match="400"):
                _login(gateway, "p1", PASSWORD, "203.0.113.7, bogus")
        assert "X-Forwarded-For: 'bogus' is not an IP address" in caplog.text
        assert _reasons(engine, "connect") == ["X-Forwarded-For: 'bogus' is not an IP address (from 127.0.0.1)"]

        token = _login(gateway, "p1", PASSWORD, "198.51.100.8")  # another operator behind the proxy: not locked
        assert isinstance(token, Token)
        assert _reasons(engine, "login", "p1")[0] == "from 198.51.100.8 via 127.0.0.1"
        answer = _send(gateway, "/ws", Auth(token.token + "x"), "198.51.100.9")
        assert isinstance(answer, Error)
        assert _reasons(engine, "auth")[0].endswith("(from 198.51.100.9 via 127.0.0.1)")
    finally:
        gateway.stop()
