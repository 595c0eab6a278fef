"""Device message v1: ``{seq, ts, kind, data}`` in MessagePack, or JSON when the first byte is ``{``.

One msgspec Struct per kind, tagged by ``kind``, so decoding and validating the whole message,
``data`` included, is a single pass. ``decode_device_message`` raises :class:`ProtocolError` whose
message names the field: ``data.floor: expected int, got str``.

Unknown fields are ignored, so a newer device can add fields without older engines refusing it.
"""

from __future__ import annotations

import re
from typing import Annotated, Final, Union

import msgspec
from msgspec import Meta, Struct, field

from protocols.errors import ProtocolError
from protocols.kinds import EventKind

MAX_PAYLOAD_BYTES: Final = 4096
"""Largest device payload accepted. Snapshots travel as references, never inline."""

Seq = Annotated[int, Meta(ge=0, le=2**63 - 1)]  # msgspec bounds fit int64; a device never wraps that
EpochMs = Annotated[int, Meta(ge=0, le=2**53)]
Lat = Annotated[float, Meta(ge=-90.0, le=90.0)]
Lon = Annotated[float, Meta(ge=-180.0, le=180.0)]
ShortText = Annotated[str, Meta(max_length=128)]
LongText = Annotated[str, Meta(max_length=1024)]
NonNegative = Annotated[float, Meta(ge=0.0)]


# -- data, one Struct per kind -------------------------------------------------------------------


class PanicData(Struct, frozen=True):
    zone: ShortText = ""
    button: ShortText = ""


class VisitorData(Struct, frozen=True):
    unit: ShortText
    floor: int = 0
    snapshot: LongText = ""


class DoorAlarmData(Struct, frozen=True):
    open_s: NonNegative = 0.0


class DoorOpenedData(Struct, frozen=True):
    open: bool = True
    by: ShortText = ""


class CameraData(Struct, frozen=True):
    snapshot: LongText = ""
    floor: int = 0
    zone: ShortText = ""


class KioskSessionData(Struct, frozen=True):
    service: ShortText
    outcome: ShortText
    score: Annotated[int, Meta(ge=0, le=100)] | None = None


class KioskFaultData(Struct, frozen=True):
    code: ShortText
    detail: LongText = ""


class EmptyData(Struct, frozen=True):
    pass


class PatrolData(Struct, frozen=True):
    volunteer: ShortText = ""
    team: ShortText = ""


class PositionData(Struct, frozen=True):
    lat: Lat
    lon: Lon
    accuracy_m: NonNegative = 0.0


class ClueData(Struct, frozen=True):
    text: LongText
    lat: Lat | None = None
    lon: Lon | None = None


class SosData(Struct, frozen=True):
    lat: Lat | None = None
    lon: Lon | None = None


class HeartbeatData(Struct, frozen=True):
    battery: Annotated[float, Meta(ge=0.0, le=100.0)] | None = None
    rssi: int | None = None


# -- envelopes, one per kind ---------------------------------------------------------------------


class DeviceMessage(Struct, frozen=True, tag_field="kind"):
    """Common envelope fields; ``kind`` is the tag of the concrete subclass."""

    seq: Seq
    ts: EpochMs

    @property
    def event_kind(self) -> EventKind:
        return _KIND_OF_CLASS[type(self)]


def _envelope(kind: EventKind, data_type: type[Struct], *, required: bool) -> type[DeviceMessage]:
    """A tagged envelope for one kind; ``data`` may be omitted when every field of it has a default."""
    data_field = ("data", data_type) if required else ("data", data_type, field(default_factory=data_type))
    name = "".join(part.capitalize() for part in re.split(r"[._]", kind.value)) + "Message"
    return msgspec.defstruct(
        name, [data_field], bases=(DeviceMessage,), tag=kind.value, frozen=True, module=__name__
    )


_DATA_TYPES: Final[dict[EventKind, tuple[type[Struct], bool]]] = {
    EventKind.SCHOOL_PANIC: (PanicData, False),
    EventKind.SCHOOL_DURESS: (PanicData, False),
    EventKind.DOOR_VISITOR: (VisitorData, True),
    EventKind.DOOR_FORCED: (DoorAlarmData, False),
    EventKind.DOOR_HELD_OPEN: (DoorAlarmData, False),
    EventKind.DOOR_OPENED: (DoorOpenedData, False),
    EventKind.CAMERA_THROW: (CameraData, False),
    EventKind.CAMERA_INTRUSION: (CameraData, False),
    EventKind.KIOSK_SESSION: (KioskSessionData, True),
    EventKind.KIOSK_FAULT: (KioskFaultData, True),
    EventKind.KIOSK_SOS: (EmptyData, False),
    EventKind.PATROL_START: (PatrolData, False),
    EventKind.PATROL_POSITION: (PositionData, True),
    EventKind.PATROL_STOP: (PatrolData, False),
    EventKind.PATROL_CLUE: (ClueData, True),
    EventKind.PATROL_SOS: (SosData, False),
    EventKind.HEARTBEAT: (HeartbeatData, False),
}

MESSAGE_TYPES: Final[dict[EventKind, type[DeviceMessage]]] = {
    kind: _envelope(kind, data_type, required=required) for kind, (data_type, required) in _DATA_TYPES.items()
}
_KIND_OF_CLASS: Final = {cls: kind for kind, cls in MESSAGE_TYPES.items()}

AnyDeviceMessage = Union[tuple(MESSAGE_TYPES.values())]  # type: ignore[valid-type]

_json_decoder = msgspec.json.Decoder(AnyDeviceMessage)
_msgpack_decoder = msgspec.msgpack.Decoder(AnyDeviceMessage)
_json_encoder = msgspec.json.Encoder()
_msgpack_encoder = msgspec.msgpack.Encoder()


def make_message(kind: EventKind | str, *, seq: int, ts: int, data: dict | None = None) -> DeviceMessage:
    """Build a typed message from plain values, validating them exactly as the decoder does."""
    try:
        return msgspec.convert({"kind": str(kind), "seq": seq, "ts": ts, "data": data or {}}, AnyDeviceMessage)
    except msgspec.ValidationError as exc:
        raise translate_validation_error(exc) from exc


def is_json(payload: bytes) -> bool:
    """JSON is told from MessagePack by its first byte: a JSON device message is an object."""
    return payload[:1] == b"{"


def decode_device_message(payload: bytes) -> DeviceMessage:
    """Decode and validate one device payload (MessagePack, or JSON when it starts with ``{``)."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError("", f"payload too large: {len(payload)} bytes, limit {MAX_PAYLOAD_BYTES}")
    if not payload:
        raise ProtocolError("", "empty payload")
    decoder = _json_decoder if is_json(payload) else _msgpack_decoder
    try:
        return decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise translate_validation_error(exc) from exc
    except msgspec.DecodeError as exc:
        raise ProtocolError("", f"malformed {'JSON' if is_json(payload) else 'MessagePack'}: {exc}") from exc


def encode_device_message(message: DeviceMessage, *, json: bool = False) -> bytes:
    """Encode the way a device would: MessagePack by default, JSON for hand-written tests."""
    return _json_encoder.encode(message) if json else _msgpack_encoder.encode(message)


_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_EXPECTED = re.compile(r"^Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")
_INVALID_TAG = re.compile(r"^Invalid value (?P<value>.+)$")


def translate_validation_error(exc: msgspec.ValidationError) -> ProtocolError:
    """Turn msgspec's ``Expected `int`, got `str` - at `$.data.floor``` into ours."""
    match = _AT.match(str(exc))
    assert match is not None  # the pattern accepts any text
    message, path = match["msg"], (match["path"] or "").lstrip(".")
    path = re.sub(r"\[(\d+)\]", r".\1", path).lstrip(".")
    if m := _EXPECTED.match(message):
        return ProtocolError(path, f"expected {m['want']}, got {m['got']}")
    if m := _MISSING.match(message):
        return ProtocolError(f"{path}.{m['name']}" if path else m["name"], "required field missing")
    if (m := _INVALID_TAG.match(message)) and path == "kind":
        return ProtocolError("kind", f"unknown kind {m['value']}")
    message = message.replace("`", "")
    return ProtocolError(path, message[:1].lower() + message[1:])
