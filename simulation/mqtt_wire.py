"""MQTT 3.1.1 packets, pre-encoded, for the load generator only.

A general client (aiomqtt) spends 74-160 µs of CPU per publish here, so at 10,000 events/s it would
need most of a core just to generate load. The load generator instead encodes every PUBLISH packet
before the clock starts and writes them to the socket in large chunks: QoS 0, no acknowledgements to
track, nothing to parse but the CONNACK. Everything else (devices, the bridge, the simulator) uses aiomqtt.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Final

from protocols.mqtt_frames import length_bytes as _length

CONNECT: Final = 0x10
CONNACK: Final = 0x20
PUBLISH: Final = 0x30
PINGREQ: Final = b"\xc0\x00"
CONNACK_CODES: Final = {1: "unacceptable protocol version", 2: "identifier rejected", 3: "server unavailable",
                        4: "bad user name or password", 5: "not authorised"}


def _string(s: str | bytes) -> bytes:
    data = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(data)) + data


def connect_packet(client_id: str, *, username: str | None = None, password: str | None = None,
                   keepalive_s: int = 60, clean: bool = True) -> bytes:
    flags = (0x80 if username is not None else 0) | (0x40 if password is not None else 0) | (0x02 if clean else 0)
    body = _string("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive_s) + _string(client_id)
    if username is not None:
        body += _string(username)
    if password is not None:
        body += _string(password)
    return bytes([CONNECT]) + _length(len(body)) + body


def publish_packet(topic: str, payload: bytes) -> bytes:
    """A QoS 0 PUBLISH."""
    body = _string(topic) + payload
    return bytes([PUBLISH]) + _length(len(body)) + body


async def open_connection(host: str, port: int, client_id: str, *, username: str | None, password: str | None,
                          timeout_s: float = 10.0) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    writer.write(connect_packet(client_id, username=username, password=password, keepalive_s=0))
    await writer.drain()
    header = await asyncio.wait_for(reader.readexactly(4), timeout_s)
    if header[0] != CONNACK or header[3] != 0:
        writer.close()
        raise ConnectionError(f"broker refused the connection: {CONNACK_CODES.get(header[3], header[3])}")
    return reader, writer
