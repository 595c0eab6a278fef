"""Device message v1: ``{seq, ts, kind, data, boot?}`` in MessagePack, or JSON when the first byte is ``{``.

One msgspec Struct per kind, tagged by ``kind``, so decoding and validating the whole message,
``data`` included, is a single pass. ``decode_device_message`` raises :class:`ProtocolError` whose
message names the field: ``data.floor: expected int, got str``; it raises nothing else, whatever the
bytes (deep nesting, bad UTF-8, NaN, duplicate keys, huge numbers: each is a ``ProtocolError`` naming the
field or the limit). The device contract, for integrators: ``docs/devices.md``.

Unknown fields are ignored, so a newer device can add fields without older engines refusing it.
"""

from __future__ import annotations

import hashlib
import json as _json
import re
from typing import Annotated, Any, Final, Union

import msgpack
import msgspec
from msgspec import Meta, Struct, field

from protocols.errors import ProtocolError
from protocols.kinds import EventKind

MAX_PAYLOAD_BYTES: Final = 4096
"""Largest device payload accepted. Snapshots travel as references, never inline."""

MAX_SEQ: Final = 2**53 - 1
"""The largest ``seq`` (and ``boot``): every JSON parser reads it exactly, and a device counting one a millisecond
takes 285,000 years to reach it. Anything larger is refused, never allowed to poison the device's window."""
MAX_DEPTH: Final = 16
"""Deepest nesting of objects and arrays taken (a device message needs 2)."""

# Texts end up in consoles, logs and journals: no control characters (C0, DEL, C1), no Unicode line or paragraph
# separators, no direction overrides (which make a console show text other than what was sent). Free text may
# hold tabs and line breaks.
_UNSAFE = "\\x7f-\\x9f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069"
_PLAIN_TEXT = f"^[^\\x00-\\x1f{_UNSAFE}]*$"
_PROSE = f"^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f{_UNSAFE}]*$"

Seq = Annotated[int, Meta(ge=0, le=MAX_SEQ)]
EpochMs = Annotated[int, Meta(ge=0, le=2**53)]
Lat = Annotated[float, Meta(ge=-90.0, le=90.0)]
Lon = Annotated[float, Meta(ge=-180.0, le=180.0)]
ShortText = Annotated[str, Meta(max_length=128, pattern=_PLAIN_TEXT)]
LongText = Annotated[str, Meta(max_length=1024, pattern=_PROSE)]
NonNegative = Annotated[float, Meta(ge=0.0, le=1e9)]  # bounded: MessagePack can carry +inf, JSON cannot
Floor = Annotated[int, Meta(ge=-20, le=500)]  # every int bounded: one past int64 cannot be encoded again
Rssi = Annotated[int, Meta(ge=-200, le=50)]


# -- data, one Struct per kind -------------------------------------------------------------------


class PanicData(Struct, frozen=True):
    zone: ShortText = ""
    button: ShortText = ""


class VisitorData(Struct, frozen=True):
    unit: ShortText
    floor: Floor = 0
    snapshot: LongText = ""


class DoorAlarmData(Struct, frozen=True):
    open_s: NonNegative = 0.0


class DoorOpenedData(Struct, frozen=True):
    open: bool = True
    by: ShortText = ""


class CameraData(Struct, frozen=True):
    snapshot: LongText = ""
    floor: Floor = 0
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
    rssi: Rssi | None = None


# -- envelopes, one per kind ---------------------------------------------------------------------


class DeviceMessage(Struct, frozen=True, tag_field="kind"):
    """Common envelope fields; ``kind`` is the tag of the concrete subclass."""

    seq: Seq
    ts: EpochMs
    boot: Seq = 0
    """Changes at every boot of the device (a boot counter or a random number); 0: the device sends none.
    A new ``boot`` starts the device's sequence numbers afresh (``docs/devices.md``)."""

    @property
    def event_kind(self) -> EventKind:
        return _KIND_OF_CLASS[type(self)]


def _envelope(kind: EventKind, data_type: type[Struct], *, required: bool) -> type[DeviceMessage]:
    """A tagged envelope for one kind; ``data`` may be omitted when every field of it has a default."""
    data_field = ("data", data_type) if required else ("data", data_type, field(default_factory=data_type))
    name = "".join(part.capitalize() for part in re.split(r"[._]", kind.value)) + "Message"
    return msgspec.defstruct(
        name, [data_field], bases=(DeviceMessage,), tag=kind.value, frozen=True, kw_only=True, module=__name__
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


def make_message(kind: EventKind | str, *, seq: int, ts: int, data: dict | None = None,
                 boot: int = 0) -> DeviceMessage:
    """Build a typed message from plain values, validating them exactly as the decoder does."""
    try:
        return msgspec.convert({"kind": str(kind), "seq": seq, "ts": ts, "boot": boot, "data": data or {}},
                               AnyDeviceMessage)
    except msgspec.ValidationError as exc:
        raise translate_validation_error(exc) from exc


def is_json(payload: bytes) -> bool:
    """JSON is told from MessagePack by its first byte: a JSON device message is an object."""
    return payload[:1] == b"{"


def _is_msgpack_map(first: int) -> bool:
    return 0x80 <= first <= 0x8F or first in (0xDE, 0xDF)


_JSON_LOOKALIKES: Final = {
    b"\xef": "a byte-order mark before the JSON: send the object itself, starting with '{'",
    b" ": "white space before the JSON: send the object itself, starting with '{'",
    b"\t": "white space before the JSON: send the object itself, starting with '{'",
    b"\r": "white space before the JSON: send the object itself, starting with '{'",
    b"\n": "white space before the JSON: send the object itself, starting with '{'",
    b"[": "expected a JSON object, got an array",
    b'"': "expected a JSON object, got a string",
}


def _refuse_format(payload: bytes) -> ProtocolError:
    first = payload[:1]
    if first in _JSON_LOOKALIKES:
        return ProtocolError("payload", _JSON_LOOKALIKES[first])
    if first in b"-0123456789tfn":
        return ProtocolError("payload", "expected a JSON object or a MessagePack map, got a bare value")
    return ProtocolError("payload", f"neither a JSON object (first byte '{{') nor a MessagePack map "
                                    f"(first byte 0x80-0x8f, 0xde or 0xdf): first byte 0x{payload[0]:02x}")


def decode_device_message(payload: bytes) -> DeviceMessage:
    """Decode and validate one device payload (MessagePack, or JSON when it starts with ``{``).

    Raises :class:`ProtocolError` and nothing else: every exception the bytes can provoke is turned into
    one naming the field, or the limit the payload broke."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError("payload", f"too large: {len(payload)} bytes, limit {MAX_PAYLOAD_BYTES}")
    if not payload:
        raise ProtocolError("payload", "empty")
    as_json = is_json(payload)
    if not as_json and not _is_msgpack_map(payload[0]):
        raise _refuse_format(payload)
    try:
        message = (_json_decoder if as_json else _msgpack_decoder).decode(payload)
    except msgspec.ValidationError as exc:
        raise translate_validation_error(exc) from None
    except msgspec.DecodeError as exc:
        raise _malformed(payload, as_json, exc) from None
    except RecursionError:
        raise ProtocolError("payload", f"nested too deep (limit {MAX_DEPTH} levels)") from None
    except UnicodeDecodeError as exc:
        raise ProtocolError(_bad_utf8_field(payload, as_json), f"invalid UTF-8 (byte 0x{exc.object[exc.start]:02x})"
                            ) from None
    except Exception as exc:  # noqa: BLE001 - whatever else the bytes provoke is still only a refusal
        raise ProtocolError("payload", f"unreadable: {type(exc).__name__}") from None
    _check_shape(payload, as_json)
    return message


def _malformed(payload: bytes, as_json: bool, exc: Exception) -> ProtocolError:
    if as_json and _NON_FINITE.search(payload):
        return ProtocolError("payload", "NaN and Infinity are not JSON numbers")
    return ProtocolError("payload", f"malformed {'JSON' if as_json else 'MessagePack'}: {exc}")


_NON_FINITE: Final = re.compile(rb"[:\[,]\s*-?(?:NaN|Infinity)\b")


class _DuplicateKey(Exception):
    def __init__(self, key: Any) -> None:
        self.key = key


def _no_duplicates(pairs: list[tuple[Any, Any]]) -> dict:
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def _check_shape(payload: bytes, as_json: bool) -> None:
    """What the typed decoder lets through silently: nesting and bulk inside ignored fields, a key given twice (it
    keeps the last). Run after a successful decode, so the payload is well-formed. The bulk is checked first, on an
    untyped decode in C and a walk with a budget, so that the duplicate-key pass (Python) only ever sees a small
    tree: a 4 KiB payload of 3,900 empty maps is refused in tens of microseconds, not milliseconds."""
    try:
        if _containers_at_most(payload, as_json) > MAX_DEPTH:
            _check_tree((msgspec.json.decode if as_json else msgspec.msgpack.decode)(payload))
        if as_json:  # strict UTF-8 first: Python's JSON reader lets encoded surrogates through
            _json.loads(payload.decode("utf-8"), object_pairs_hook=_no_duplicates)
        else:
            msgpack.unpackb(payload, object_pairs_hook=_no_duplicates, strict_map_key=False)
    except ProtocolError:
        raise
    except _DuplicateKey as exc:
        key = exc.key.decode("utf-8", "replace") if isinstance(exc.key, bytes) else exc.key
        raise ProtocolError(str(key)[:64], "duplicate key") from None
    except (RecursionError, msgpack.exceptions.StackError):
        raise ProtocolError("payload", f"nested too deep (limit {MAX_DEPTH} levels)") from None
    except TypeError:  # a MessagePack map keyed by an array, in an ignored field
        raise ProtocolError("payload", "map keys must be strings") from None
    except UnicodeDecodeError as exc:  # in a field the typed decoder skipped (an unknown key)
        raise ProtocolError(_bad_utf8_field(payload, as_json), f"invalid UTF-8 (byte 0x{exc.object[exc.start]:02x})"
                            ) from None
    except msgspec.DecodeError as exc:  # the untyped decode is stricter about what an ignored field may hold
        raise ProtocolError("payload", f"unreadable: {str(exc)[:80]}") from None
    except Exception as exc:  # noqa: BLE001 - msgspec took it; a stricter reader refusing it is still a refusal
        raise ProtocolError("payload", f"unreadable: {type(exc).__name__}") from None


_MSGPACK_CONTAINER_BYTES: Final = bytes([*range(0x80, 0xA0), 0xDC, 0xDD, 0xDE, 0xDF])


def _containers_at_most(payload: bytes, as_json: bool) -> int:
    """An upper bound on how many objects and arrays the payload holds, counted in C: when it is within the
    depth limit, so is the nesting, and the tree need not be walked."""
    if as_json:
        return payload.count(b"{") + payload.count(b"[")
    return len(payload) - len(payload.translate(None, _MSGPACK_CONTAINER_BYTES))


MAX_CONTAINERS: Final = 64
"""Most objects and arrays in one message (a device message needs 2): checked with a budget, so the walk over
a 4 KiB payload of 2,000 empty arrays costs 64 steps, not 2,000."""


def _check_tree(tree: Any) -> None:
    """Depth and container count of a decoded tree, walked iteratively; a container is counted when it is found,
    so the walk stops at the budget however many siblings a list holds."""
    stack = [(tree, 1)]
    seen = 1
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ProtocolError("payload", f"nested too deep (limit {MAX_DEPTH} levels)")
        for child in (node.values() if isinstance(node, dict) else node):
            if isinstance(child, (dict, list, tuple)):
                seen += 1
                if seen > MAX_CONTAINERS:
                    raise ProtocolError("payload", f"too many objects and arrays (limit {MAX_CONTAINERS})")
                stack.append((child, depth + 1))


def _bad_utf8_field(payload: bytes, as_json: bool) -> str:
    """Slow path, for a refusal only: the dotted path of the first key or string that is not UTF-8 (in a payload of
    many containers, just ``payload``: finding it is not worth a walk a device could make long)."""
    if _containers_at_most(payload, as_json) > MAX_CONTAINERS:
        return "payload"
    try:
        if as_json:
            tree = _json.loads(payload.decode("utf-8", "surrogateescape"))
        else:
            tree = msgpack.unpackb(payload, raw=True, strict_map_key=False)
        return _find_bad_text(tree, "", MAX_DEPTH) or "payload"
    except Exception:  # noqa: BLE001 - too broken to say where: the whole payload is named
        return "payload"


def _is_bad_text(value: Any) -> bool:
    if isinstance(value, bytes):
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            return True
        return False
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # surrogate escapes stand for bytes that were not UTF-8
            return True
    return False


def _find_bad_text(value: Any, path: str, limit: int) -> str | None:
    if limit < 0:
        return None
    if isinstance(value, dict):
        for key, child in value.items():
            name = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
            here = f"{path}.{name}" if path else name
            if _is_bad_text(key):
                return here.encode("utf-8", "replace").decode("utf-8")
            found = _find_bad_text(child, here, limit - 1)
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for index, child in enumerate(value):
            found = _find_bad_text(child, f"{path}.{index}" if path else str(index), limit - 1)
            if found:
                return found
    elif _is_bad_text(value):
        return path or "payload"
    return None


def message_digest(message: DeviceMessage) -> int:
    """A 56-bit digest of everything a message says (kind, seq, ts, boot, data): two sends of one alarm have the
    same digest, a different alarm that reuses a seq (another kind, another ``ts``) has another."""
    digest = hashlib.blake2b(_msgpack_encoder.encode(message), digest_size=7).digest()
    return int.from_bytes(digest, "big")


def encode_device_message(message: DeviceMessage, *, json: bool = False) -> bytes:
    """Encode the way a device would: MessagePack by default, JSON for hand-written tests."""
    return _json_encoder.encode(message) if json else _msgpack_encoder.encode(message)


_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_AT_KEY = re.compile(r"^.* - at `key` in `\$(?P<path>[^`]*)`$", re.S)
_EXPECTED = re.compile(r"^Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")
_INVALID_TAG = re.compile(r"^Invalid value (?P<value>.+)$")


def translate_validation_error(exc: msgspec.ValidationError) -> ProtocolError:
    """Turn msgspec's ``Expected `int`, got `str` - at `$.data.floor``` into ours."""
    if m := _AT_KEY.match(str(exc)):  # a map key that is not a string
        path = re.sub(r"\[(\d+)\]", r".\1", m["path"]).lstrip(".")
        return ProtocolError(path or "payload", "map keys must be strings")
    match = _AT.match(str(exc))
    assert match is not None  # the pattern accepts any text
    message, path = match["msg"], (match["path"] or "").lstrip(".")
    path = re.sub(r"\[(\d+)\]", r".\1", path).lstrip(".")
    if m := _EXPECTED.match(message):
        return ProtocolError(path, f"expected {m['want']}, got {m['got']}")
    if m := _MISSING.match(message):
        return ProtocolError(f"{path}.{m['name']}" if path else m["name"], "required field missing")
    if (m := _INVALID_TAG.match(message)) and path == "kind":
        return ProtocolError("kind", f"unknown kind {m['value'][:64]}")
    if "matching regex" in message:
        return ProtocolError(path, "control or direction-override characters are not allowed")
    message = message.replace("`", "")
    return ProtocolError(path, message[:1].lower() + message[1:])
