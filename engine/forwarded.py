"""Who a client is behind reverse proxies (``--trusted-proxy``): the address the console gateway audits and counts
failed logins by.

A proxy appends the address it took the request from to ``X-Forwarded-For``; whatever is left of that was sent by
the client and proves nothing. So the header is read only when the connection's peer is a trusted proxy, from the
right: past every entry that is itself a trusted proxy (a chain of them), the first one that is not is the client.
From any other peer the header is ignored: a device or an operator connecting directly cannot choose its address.
Every entry read must be an IP address (``203.0.113.7``, ``2001:db8::7``, with a port as some proxies write it:
``203.0.113.7:51234``, ``[2001:db8::7]:51234``); one that is not is refused (:class:`ForwardedError`), never guessed
at. Entries left of the client are never parsed, so a client's garbage there changes nothing.

A trusted proxy is an IP address or a network (``10.0.0.0/8``); a host name is refused (the peer is an address, and
trusting a name would mean trusting whoever answers for it), and so is a network that covers every address.

Pure: each check returns the reason a value is refused, or None; :meth:`TrustedProxies.client` raises.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
HEADER = "X-Forwarded-For"


class ForwardedError(ValueError):
    """An ``X-Forwarded-For`` from a trusted proxy with an entry that must be read and is not an address."""


def proxy_problem(value: str) -> str | None:
    """Why ``value`` is not a trusted proxy (an IP address or a network), or None."""
    try:
        network = ipaddress.ip_network(_unbracket(value), strict=True)
    except ValueError as exc:
        if "has host bits set" in str(exc):
            loose = ipaddress.ip_network(_unbracket(value), strict=False)
            return f"{value!r} has host bits set: the network is {loose}"
        return f"expected an IP address or a network (10.0.0.0/8), got {value!r}"
    if network.prefixlen == 0:
        return f"{value!r} trusts every address: anyone could choose the address the gateway sees"
    return None


class TrustedProxies:
    def __init__(self, values: Iterable[str] = ()) -> None:
        self.networks: tuple[Network, ...] = ()
        for value in values:
            if problem := proxy_problem(value):
                raise ValueError(f"trusted proxy: {problem}")
            self.networks += (ipaddress.ip_network(_unbracket(value)),)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: str | Address) -> bool:
        try:
            ip = _plain(ipaddress.ip_address(address) if isinstance(address, str) else address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client(self, peer: str, forwarded: list[str]) -> str:
        """The client's address: ``peer`` unless it is a trusted proxy that sent ``forwarded`` (the values of every
        ``X-Forwarded-For`` header, in order); then the right-most entry not itself trusted (the left-most if all
        are). Raises :class:`ForwardedError` for an entry it had to read that is not an address."""
        if not forwarded or not self.trusts(peer):
            return peer
        entries = ",".join(forwarded).split(",")
        client = ""
        for entry in reversed(entries):
            ip = _entry_address(entry)
            if ip is None:
                raise ForwardedError(f"{HEADER}: {entry.strip()[:60]!r} is not an IP address")
            client = str(ip)
            if not any(ip in network for network in self.networks):
                break
        return client


def _unbracket(value: str) -> str:
    return value[1:-1] if value.startswith("[") and value.endswith("]") else value


def _plain(ip: Address) -> Address:
    """An IPv4 address as itself, also when a dual-stack socket gives it as ``::ffff:a.b.c.d``."""
    return ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 5


def _entry_address(entry: str) -> Address | None:
    text = entry.strip()
    if text.startswith("["):  # [v6] or [v6]:port
        host, _, port = text[1:].partition("]")
        if port and not (port.startswith(":") and _is_port(port[1:])):
            return None
        text = host
    elif text.count(":") == 1:  # v4:port
        text, _, port = text.partition(":")
        if not _is_port(port):
            return None
    try:
        return _plain(ipaddress.ip_address(text))
    except ValueError:
        return None
