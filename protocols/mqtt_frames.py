"""MQTT v5 frames for the bridge's own receive path: PUBLISH frames read straight from a buffer into a batch, and
the few packets a subscriber sends (CONNECT, SUBSCRIBE, PUBACK, PINGREQ, DISCONNECT, a PUBLISH for an answer).

Pure: no I/O. :func:`parse` reads every complete frame of ``buf[start:end]``: a PUBLISH becomes three entries of
the batch's parallel lists (topic, payload, flags) and, at QoS 1, its packet id in ``acks``; every other packet is
kept whole in ``control`` for the connection to handle. No object per message but its topic and payload. A frame
that breaks the protocol raises :class:`FrameError` naming what is wrong; the connection is then dropped (MQTT
5, 4.13: a malformed packet closes the network connection) and opened again.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

PUBLISH: Final = 3
CONNACK: Final = 2
PUBACK: Final = 4
SUBACK: Final = 9
PINGRESP: Final = 13
DISCONNECT: Final = 14
PINGREQ_FRAME: Final = b"\xc0\x00"
MAX_PACKET: Final = 256 * 1024
"""The largest frame the bridge reads (its CONNECT tells the broker so: Maximum Packet Size); the broker's own
limit is 16,384 (``engine/mqtt_provision.py``). A remaining length above it drops the connection."""
RETAIN: Final = 1
DUP: Final = 8


class FrameError(ValueError):
    """A frame that breaks MQTT: the connection that sent it is dropped; the message names the field."""


@dataclass(slots=True)
class Frames:
    """What :func:`parse` read: the PUBLISHes as parallel lists, the packet ids to acknowledge, the other packets."""

    topics: list[str] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)
    flags: list[int] = field(default_factory=list)
    """Per PUBLISH: its fixed header's low nibble (``RETAIN``, QoS << 1, ``DUP``)."""
    acks: list[int] = field(default_factory=list)
    control: list[tuple[int, bytes]] = field(default_factory=list)
    """Every other packet: (its type, its body)."""

    def __len__(self) -> int:
        return len(self.topics)

    def take(self) -> "Frames":
        """The publishes read so far, leaving this collector empty of them (its acks and control stay)."""
        out = Frames(self.topics, self.payloads, self.flags)
        self.topics, self.payloads, self.flags = [], [], []
        return out


def parse(buf, start: int, end: int, out: Frames, *, max_packet: int = MAX_PACKET) -> int:
    """Read the complete frames of ``buf[start:end]`` into ``out``; returns where the first incomplete frame starts
    (``end`` when none is). Raises :class:`FrameError` for a frame that breaks the protocol."""
    topics, payloads, flags, acks = out.topics, out.payloads, out.flags, out.acks
    i = start
    while end - i >= 2:
        head = buf[i]
        length = buf[i + 1]
        p = i + 2
        if length & 0x80:
            length, p = _long_length(buf, i + 1, end)
            if p < 0:
                break  # the length itself is not all here yet
        if length > max_packet:
            raise FrameError(f"remaining length: {length} bytes is over the bridge's maximum of {max_packet}")
        stop = p + length
        if stop > end:
            break
        if head >> 4 == PUBLISH:
            if length < 2:
                raise FrameError(f"PUBLISH: remaining length {length} leaves no room for its topic")
            q = p + 2 + ((buf[p] << 8) | buf[p + 1])
            if q > stop:
                raise FrameError("PUBLISH: topic length runs past the end of the packet")
            topic = _topic(buf, p + 2, q)
            qos = (head >> 1) & 3
            if qos:
                if qos == 3 or q + 2 > stop:
                    raise FrameError("PUBLISH: QoS 3" if qos == 3 else "PUBLISH: no room for its packet id")
                acks.append((buf[q] << 8) | buf[q + 1])
                q += 2
            if q >= stop:
                raise FrameError("PUBLISH: no room for its properties length")
            props = buf[q]
            if props & 0x80:
                props, q = _long_length(buf, q, stop)
                if q < 0:
                    raise FrameError("PUBLISH: properties length runs past the end of the packet")
            else:
                q += 1
            q += props
            if q > stop:
                raise FrameError(f"PUBLISH: properties of {props} bytes run past the end of the packet")
            topics.append(topic)
            payloads.append(bytes(buf[q:stop]))
            flags.append(head & 0x0F)
        elif head >> 4 in (0, 15):
            raise FrameError(f"packet type: {head >> 4} is reserved (first byte 0x{head:02x})")
        else:
            out.control.append((head >> 4, bytes(buf[p:stop])))
        i = stop
    return i


def _long_length(buf, at: int, end: int) -> tuple[int, int]:
    """A variable byte integer at ``buf[at]``: (value, the index after it); (0, -1) when it is not all there."""
    value, shift = 0, 0
    for k in range(4):
        if at + k >= end:
            return 0, -1
        byte = buf[at + k]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at + k + 1
        shift += 7
    raise FrameError("remaining length: more than 4 bytes")


def _topic(buf, start: int, stop: int) -> str:
    raw = bytes(buf[start:stop])
    try:
        topic = raw.decode()
    except UnicodeDecodeError as exc:
        raise FrameError(f"PUBLISH: topic is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if not topic or "\x00" in topic or "+" in topic or "#" in topic:
        raise FrameError(f"PUBLISH: topic {topic[:80]!r} is empty or holds NUL or a wildcard")
    return topic


# -- what the bridge sends ------------------------------------------------------------------------------------------

def length_bytes(n: int) -> bytes:
    """A variable byte integer (a fixed header's remaining length, a properties length)."""
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(s: str | bytes) -> bytes:
    data = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(data)) + data


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + length_bytes(len(body)) + body


def connect(client_id: str, *, username: str | None, password: str | None, keepalive_s: int,
            clean_start: bool, session_expiry_s: int, receive_maximum: int, max_packet: int = MAX_PACKET) -> bytes:
    """An MQTT v5 CONNECT: a persistent session is ``clean_start=False`` with a session expiry."""
    flags = (0x80 if username is not None else 0) | (0x40 if password is not None else 0) | (0x02 if clean_start
                                                                                             else 0)
    props = (b"\x11" + struct.pack("!I", session_expiry_s) + b"\x21" + struct.pack("!H", receive_maximum)
             + b"\x27" + struct.pack("!I", max_packet))
    body = _string("MQTT") + bytes([5, flags]) + struct.pack("!H", keepalive_s) + length_bytes(len(props)) + props
    body += _string(client_id)
    if username is not None:
        body += _string(username)
    if password is not None:
        body += _string(password)
    return _packet(0x10, body)


def subscribe(packet_id: int, topic_filter: str, *, qos: int, retain_handling: int) -> bytes:
    """A SUBSCRIBE of one filter (``$share/<group>/...`` for a shared subscription), no properties."""
    return _packet(0x82, struct.pack("!H", packet_id) + b"\x00" + _string(topic_filter)
                   + bytes([qos | (retain_handling << 4)]))


def publish(topic: str, payload: bytes, *, qos: int = 0, packet_id: int = 0, retain: bool = False) -> bytes:
    header = 0x30 | (qos << 1) | (1 if retain else 0)
    pid = struct.pack("!H", packet_id) if qos else b""
    return _packet(header, _string(topic) + pid + b"\x00" + payload)


def pubacks(packet_ids: list[int]) -> bytes:
    """One PUBACK (success, no properties) per packet id, in one buffer."""
    return b"".join(b"\x40\x02" + struct.pack("!H", pid) for pid in packet_ids)


def disconnect(reason: int = 0) -> bytes:
    return b"\xe0\x01" + bytes([reason])


# -- what the bridge reads besides PUBLISH -------------------------------------------------------------------------

REASONS: Final = {0x80: "unspecified error", 0x81: "malformed packet", 0x82: "protocol error",
                  0x83: "implementation specific error", 0x84: "unsupported protocol version",
                  0x85: "client identifier not valid", 0x86: "bad user name or password", 0x87: "not authorized",
                  0x88: "server unavailable", 0x89: "server busy", 0x8A: "banned", 0x8B: "server shutting down",
                  0x8D: "keep alive timeout", 0x8E: "session taken over", 0x8F: "topic filter invalid",
                  0x90: "topic name invalid", 0x91: "packet identifier in use", 0x95: "packet too large",
                  0x97: "quota exceeded", 0x9E: "shared subscriptions not supported"}


def reason_name(code: int) -> str:
    return REASONS.get(code, f"reason 0x{code:02x}")


def connack(body: bytes) -> tuple[bool, int]:
    """(session present, reason code) of a CONNACK."""
    if len(body) < 2:
        raise FrameError(f"CONNACK: {len(body)} bytes, expected at least 2")
    return bool(body[0] & 1), body[1]


def suback(body: bytes) -> tuple[int, list[int]]:
    """(packet id, reason codes) of a SUBACK; a code of 0x80 or more is a refusal."""
    if len(body) < 3:
        raise FrameError(f"SUBACK: {len(body)} bytes, expected at least 3")
    props, at = body[2], 3
    if props & 0x80:
        props, at = _long_length(body, 2, len(body))
        if at < 0:
            raise FrameError("SUBACK: properties length runs past the end")
    return (body[0] << 8) | body[1], list(body[at + props:])


def puback(body: bytes) -> tuple[int, int]:
    """(packet id, reason code) of a PUBACK."""
    if len(body) < 2:
        raise FrameError(f"PUBACK: {len(body)} bytes, expected at least 2")
    return (body[0] << 8) | body[1], body[2] if len(body) > 2 else 0
