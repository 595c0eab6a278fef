"""What the engine says back to a device, and the device's connection state.

An ack answers one device message in the encoding the device used: JSON for JSON, MessagePack for
MessagePack, so a hand-held ``mosquitto_pub`` gets ``{"seq":7,"ok":true}`` and a panel gets bytes.

    {"seq": 7, "ok": true, "incident": "S0001-panic1#7"}
    {"seq": 7, "ok": true, "duplicate": true, "incident": "S0001-panic1#7"}
    {"seq": 7, "ok": false, "reason": "data.floor: expected int, got str"}          (final: fix the message)
    {"seq": 7, "ok": false, "reason": "unavailable, retry: host h0 ..."}             (not now: send it again)
    {"seq": 1, "boot": 4, "ok": true, "incident": "C0001-door1#1@1764000090000"}   (boot echoed when not 0)

A command to a device (``rb/v1/dev/{id}/cmd``) is ``{"cmd": "siren", "args": {...}, "ts": <ms>}``.
A device's ``state`` topic carries the bare text ``online`` (retained, on connect) or ``offline``
(its Last Will, also retained).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from msgspec import Struct

from protocols.batch import DeviceAck
from protocols.errors import ProtocolError
from protocols.kinds import AckStatus
from protocols.topics import DeviceState

MAX_SEQ_ECHO: Final = 2**63 - 1
RETRY_LATER: Final = "unavailable, retry"
"""How a NAK begins that means "not now, send the same message again" (its host is restarting, overloaded, or could
not write its journal). Any other NAK is final: the message itself is wrong."""


class Ack(Struct, frozen=True, omit_defaults=True):
    """``seq`` is left out only when a payload was too broken to read one from."""

    ok: bool
    seq: int | None = None
    reason: str = ""
    incident: str = ""
    duplicate: bool = False
    boot: int = 0


class Command(Struct, frozen=True):
    cmd: str
    args: dict[str, Any]
    ts: int


class Notice(Struct, frozen=True, omit_defaults=True):
    """A notice for a site's door screens; retained on the site's notice topic until replaced."""

    text: str
    ts: int
    title: str = ""
    level: str = "info"
    expires_ts: int = 0


_json_encoder: Final = msgspec.json.Encoder()
_msgpack_encoder: Final = msgspec.msgpack.Encoder()
_ack_json: Final = msgspec.json.Decoder(Ack)
_ack_msgpack: Final = msgspec.msgpack.Decoder(Ack)
_command_json: Final = msgspec.json.Decoder(Command)
_command_msgpack: Final = msgspec.msgpack.Decoder(Command)
_notice_json: Final = msgspec.json.Decoder(Notice)


def ack_of(device_ack: DeviceAck) -> Ack:
    return Ack(seq=device_ack.seq, ok=device_ack.status is not AckStatus.NAK, reason=device_ack.reason,
               incident=device_ack.incident_id, duplicate=device_ack.status is AckStatus.DUPLICATE,
               boot=device_ack.boot)


def encode_ack(ack: Ack, *, json: bool) -> bytes:
    return _json_encoder.encode(ack) if json else _msgpack_encoder.encode(ack)


def nak(seq: int | None, reason: str) -> Ack:
    return Ack(seq=seq, ok=False, reason=reason)


def decode_ack(payload: bytes) -> Ack:
    return _decode(_ack_json if payload[:1] == b"{" else _ack_msgpack, payload, "ack")


def encode_command(cmd: str, args: dict[str, Any], ts_ms: int, *, json: bool) -> bytes:
    command = Command(cmd, args, ts_ms)
    return _json_encoder.encode(command) if json else _msgpack_encoder.encode(command)


def decode_command(payload: bytes) -> Command:
    return _decode(_command_json if payload[:1] == b"{" else _command_msgpack, payload, "command")


def encode_notice(notice: Notice) -> bytes:
    """Notices are JSON: door screens render them and people read them in ``mosquitto_sub``."""
    return _json_encoder.encode(notice)


def decode_notice(payload: bytes) -> Notice:
    return _decode(_notice_json, payload, "notice")


def parse_state(payload: bytes) -> DeviceState:
    """``online`` or ``offline``; surrounding white space and quotes (a JSON string) are tolerated."""
    text = payload.strip().strip(b'"').decode("ascii", errors="replace").lower()
    try:
        return DeviceState(text)
    except ValueError:
        raise ProtocolError("state", f"expected 'online' or 'offline', got {text[:32]!r}") from None


def _decode(decoder, payload: bytes, what: str):
    try:
        return decoder.decode(payload)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ProtocolError(what, str(exc)) from exc
