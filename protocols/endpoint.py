"""``mqtt://USER:PASS@HOST:PORT``: where a broker is and who we are on it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from protocols.errors import ProtocolError

DEFAULT_PORT = 1883


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    host: str
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never print a password into a log
        user = f"{self.username}:***@" if self.username else ""
        return f"mqtt://{user}{self.host}:{self.port}"

    def url(self) -> str:
        from urllib.parse import quote

        user = ""
        if self.username:
            user = quote(self.username, safe="") + (f":{quote(self.password, safe='')}" if self.password else "") + "@"
        return f"mqtt://{user}{self.host}:{self.port}"

    def as_user(self, username: str, password: str) -> "MqttEndpoint":
        return MqttEndpoint(self.host, self.port, username, password)


def parse_mqtt_url(url: str) -> MqttEndpoint:
    """Parse ``mqtt://[USER[:PASS]@]HOST[:PORT]``; user and password may be percent-encoded."""
    parts = urlsplit(url)
    if parts.scheme != "mqtt":
        raise ProtocolError("mqtt", f"expected a URL like mqtt://USER:PASS@HOST:PORT, got scheme {parts.scheme!r}")
    if not parts.hostname:
        raise ProtocolError("mqtt", "the URL names no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ProtocolError("mqtt", "the URL must have no path, query or fragment")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise ProtocolError("mqtt", f"bad port: {exc}") from None
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return MqttEndpoint(parts.hostname, port, username, password)


NO_DELAY: tuple[tuple[int, int, int], ...] = ((6, 1, 1),)
"""``(IPPROTO_TCP, TCP_NODELAY, 1)`` for MQTT client sockets: an ack written right after a PUBACK must
not wait for the broker's delayed TCP ack (Nagle's algorithm costs ~40 ms per alarm round trip)."""


@dataclass(frozen=True, slots=True)
class ConsoleEndpoint:
    """An operator's way into the console: ``ws://USER:PASS@HOST:PORT`` (``/login`` and ``/ws`` below it)."""

    host: str
    port: int
    username: str
    password: str
    secure: bool = False

    def __repr__(self) -> str:
        return f"{'wss' if self.secure else 'ws'}://{self.username}:***@{self.host}:{self.port}"

    def path(self, path: str) -> str:
        return f"{'wss' if self.secure else 'ws'}://{self.host}:{self.port}{path}"


def parse_console_url(url: str) -> ConsoleEndpoint:
    """Parse ``ws://USER:PASS@HOST[:PORT]`` (or ``wss://``); user and password may be percent-encoded."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise ProtocolError("console", f"expected a URL like ws://USER:PASS@HOST:PORT, got scheme {parts.scheme!r}")
    if not parts.hostname:
        raise ProtocolError("console", "the URL names no host")
    if not parts.username or parts.password is None:
        raise ProtocolError("console", "the URL must carry an operator and a password (ws://USER:PASS@HOST:PORT)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ProtocolError("console", "the URL must have no path, query or fragment")
    try:
        port = parts.port or (443 if parts.scheme == "wss" else 80)
    except ValueError as exc:
        raise ProtocolError("console", f"bad port: {exc}") from None
    return ConsoleEndpoint(parts.hostname, port, unquote(parts.username), unquote(parts.password),
                           parts.scheme == "wss")
