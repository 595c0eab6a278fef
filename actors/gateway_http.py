"""The gateway's HTTP side: the handshake (the static console, ``web_console/`` and nothing outside it; the Origin of
a socket's handshake, refused with 403 and audited; the client's address behind a trusted proxy,
``engine/forwarded.py``) and the login socket (``/login``: a password checked with argon2 off the loop, a signed token
back; both outcomes audited)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import mimetypes
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers, MultipleValuesError
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from engine.forwarded import HEADER, ForwardedError, TrustedProxies
from engine.login_throttle import LoginThrottle
from engine.operators import Jurisdiction, Operator, Role, TokenSigner, hash_password
from protocols.console import Error, Login, Token, encode

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parents[1] / "web_console"
SOCKET_PATHS = ("/ws", "/login")
CSP = "default-src 'self'; connect-src 'self' ws: wss:"

_NOBODY = Operator("", Jurisdiction(Role.COMMAND_CENTER, ""), hash_password(secrets.token_urlsafe(16)))
"""Whose password an unknown user name is checked against: never matches, costs what a real check costs."""

@dataclass(frozen=True)
class LoginThrottles:
    users: LoginThrottle = field(default_factory=lambda: LoginThrottle(max_failures=5))
    addresses: LoginThrottle = field(default_factory=lambda: LoginThrottle(max_failures=20))


Audit = Callable[[str, str, str, str, str, str, str], Awaitable[None]]
"""Writes one audit row: actor, role, scope, action, target, outcome, reason (``engine/audit.py``)."""


def peer_address(connection: ServerConnection) -> str:
    return connection.remote_address[0] if connection.remote_address else "?"


def client_address(connection: ServerConnection) -> str:
    """Who the client is: the peer, or behind a trusted proxy the address it forwarded (set by the handshake). The
    key of the per-address login limit."""
    return getattr(connection, "redband_client", None) or peer_address(connection)


def where_from(connection: ServerConnection) -> str:
    """The client's address for an audit row, with the proxy it came through: ``203.0.113.7 via 10.0.0.2``."""
    client, peer = client_address(connection), peer_address(connection)
    return client if client == peer else f"{client} via {peer}"


def handshake(static_dir: Path, origins: list[str], audit: Audit, proxies: TrustedProxies | None = None
              ) -> Callable[[ServerConnection, Request], Awaitable[Response | None]]:
    """The server's ``process_request``: runs before websockets' own checks, so a socket handshake's Origin is
    checked here, where a refusal can be audited (a missing Origin, as from a non-browser client, is let through:
    Origin defends browsers against other sites' pages). Anything else is a file (:func:`static_response`).
    Behind a trusted proxy the client's address is taken from its ``X-Forwarded-For`` here; a header it must read
    and cannot is refused with 400 (logged and audited)."""
    allowed = set(origins)
    proxies = proxies or TrustedProxies()

    async def process_request(connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path not in SOCKET_PATHS:
            return static_response(static_dir, connection, request)
        if proxies:
            try:
                connection.redband_client = proxies.client(peer_address(connection), request.headers.get_all(HEADER))
            except ForwardedError as exc:
                log.warning("console gateway: handshake from %s refused: %s", peer_address(connection), exc)
                await audit("", "", "", "connect", path, "refused", f"{exc} (from {peer_address(connection)})")
                return connection.respond(400, f"Malformed {HEADER} header.\n")
        try:
            origin = request.headers.get("Origin")
        except MultipleValuesError:
            origin = "(several Origin headers)"
        if origin is None or origin in allowed:
            return None
        await audit("", "", "", "connect", path, "refused",
                    f"origin {origin[:200]!r} not allowed (from {where_from(connection)})")
        return connection.respond(403, "Failed to open a WebSocket connection: invalid Origin header.\n")

    return process_request


def static_response(static_dir: Path, connection: ServerConnection, request: Request) -> Response | None:
    """The file asked for under ``static_dir``, a 404, or None for a WebSocket handshake."""
    path = request.path.split("?", 1)[0]
    if path in SOCKET_PATHS:
        return None
    name = "index.html" if path == "/" else path.lstrip("/")
    file = (static_dir / name).resolve()
    if static_dir.resolve() not in file.parents or not file.is_file():
        return connection.respond(404, "not found\n")
    body = file.read_bytes()
    kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    headers = Headers({"Content-Type": kind, "Content-Length": str(len(body)), "Cache-Control": "no-cache",
                       "Content-Security-Policy": CSP})
    return Response(200, "OK", headers, body)


async def refuse(connection: ServerConnection, reason: str) -> None:
    with contextlib.suppress(ConnectionClosed):
        await connection.send(encode(Error(reason)), text=True)
        await connection.close(4001, reason[:100])


async def login(connection: ServerConnection, message, *, operators: dict[str, Operator], signer: TokenSigner,
                now_s: float, ttl_s: float, audit: Audit, throttles: "LoginThrottles") -> None:
    """A password checked, a token back. Guessing is slowed (``LoginThrottle``, per user name, and per client
    address with a higher limit: behind a proxy that is not a ``--trusted-proxy`` every operator has its address),
    and an unknown user name costs the same argon2 check as a known one, so names cannot be told apart by the time
    the answer takes."""
    if not isinstance(message, Login):
        await refuse(connection, "expected a login message")
        return
    address = where_from(connection)
    user, addr = (message.username,), (client_address(connection),)
    operator = operators.get(message.username)
    role, scope = (operator.jurisdiction.role.value, operator.jurisdiction.scope) if operator else ("", "")
    wait_s = max(throttles.users.retry_after_s(user, now_s), throttles.addresses.retry_after_s(addr, now_s))
    if wait_s > 0:
        reason = f"too many failed logins: retry in {math.ceil(wait_s)} s"
        await audit(message.username, role, scope, "login", message.username, "refused", f"{reason} (from {address})")
        await refuse(connection, reason)
        return
    ok = await asyncio.to_thread((operator or _NOBODY).check_password, message.password) and operator is not None
    if ok:
        throttles.users.succeeded(user)
    else:
        throttles.users.failed(user, now_s)
        throttles.addresses.failed(addr, now_s)
    await audit(message.username, role, scope, "login", message.username, "ok" if ok else "refused",
                f"from {address}" if ok else f"unknown operator or wrong password (from {address})")
    if not ok:
        await refuse(connection, "unknown operator or wrong password")
        return
    token, claims = signer.issue(operator, now_s=now_s, ttl_s=ttl_s)
    with contextlib.suppress(ConnectionClosed):
        await connection.send(encode(Token(token, claims.expires_s, claims.operator, claims.role.value,
                                           claims.scope)), text=True)
        await connection.close()
