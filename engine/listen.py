"""The addresses our servers listen on and the Origins the console accepts, checked before anything starts.

- A listen address (``--bind``, the host of ``--console HOST:PORT``, the broker's ``listener``) is an IP address
  (``127.0.0.1``, ``0.0.0.0``, ``::``) or a host name; nothing else (no port, no scheme, no spaces).
- An allowed Origin (``--allowed-origin``) is what a browser sends in a WebSocket handshake's ``Origin`` header and
  the gateway compares as is (``actors/gateway_http.handshake``): ``scheme://host[:port]``, http or https, lower case,
  no path, no trailing slash, no default port (a browser sends ``https://console.example.org``, never
  ``https://console.example.org:443/``). A value that no browser would ever send is refused: it would silently lock
  every console out.

Pure: each check returns the reason a value is refused, or None.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)", re.IGNORECASE | re.ASCII)  # (not Unicode's: K, ſ matched [a-z])
_PORT = re.compile(r"(?::[1-9][0-9]*)?")
"""What may follow an Origin's host: nothing, or a port as a browser writes it (no leading zero, never empty)."""
DEFAULT_PORTS = {"http": 80, "https": 443}


def bind_problem(value: str) -> str | None:
    """Why ``value`` is not an address to listen on, or None."""
    host = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        ipaddress.ip_address(host)
        return None if host == value or ":" in host else f"expected an IPv6 address in brackets, got {value!r}"
    except ValueError:
        if host != value:
            return f"expected an IPv6 address in brackets, got {value!r}"
    labels = host.rstrip(".").split(".")
    if not host or len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return f"expected an IP address or a host name, got {value!r}"
    if labels[-1].isdigit():  # a host name's last label is never all digits: an IPv4 address mistyped (999.1.1.1)
        return f"expected an IP address or a host name, got {value!r} (not an IP address)"
    return None


def listen_host(value: str) -> str:
    """The host as a socket takes it (an IPv6 address without its brackets)."""
    return value[1:-1] if value.startswith("[") and value.endswith("]") else value


def origin_problem(value: str) -> str | None:
    """Why ``value`` is not an Origin a browser sends, or None."""
    given = f"got {value!r}"
    if not (value.isascii() and value.isprintable()):  # urlsplit drops tabs and line ends a browser never sends
        return f"a browser sends an Origin in printable ASCII (a host name in punycode), {given}"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        return f"expected scheme://host[:port], {given} ({exc})"
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return f"expected http://host[:port] or https://host[:port], {given}"
    if parts.path or parts.query or parts.fragment or value.endswith(("?", "#")):
        return f"an Origin has no path, query or trailing slash: {given}"
    if parts.username is not None or "@" in parts.netloc:
        return f"an Origin has no user name or password: {given}"
    if value != value.lower():
        return f"a browser sends an Origin in lower case: {given}"
    after_host = parts.netloc.rpartition("]")[2] if parts.netloc.startswith("[") else parts.netloc
    if not _PORT.fullmatch("".join(after_host.partition(":")[1:])):
        return f"a browser writes an Origin's port with digits, no leading zero: {given}"
    if port == DEFAULT_PORTS[parts.scheme]:
        return f"a browser leaves the default port {port} out of an Origin: {given}"
    if bind_problem(parts.hostname) is not None and not parts.netloc.startswith("["):
        return f"expected a host name or an IP address in the Origin, {given}"
    return None
