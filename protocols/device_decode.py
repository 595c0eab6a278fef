"""Device message v1, decoding: ``{seq, ts, kind, data, boot?}`` from MessagePack, or JSON when the first byte is ``{``.

``decode_device_message`` raises :class:`ProtocolError` whose message names the field: ``data.floor: expected int,
got str``; it raises nothing else, whatever the bytes (deep nesting, bad UTF-8, NaN, duplicate keys, huge numbers:
each is a ``ProtocolError`` naming the field or the limit).
"""

from __future__ import annotations

import json as _json
import re
from typing import Any, Final

import msgpack
import msgspec

from protocols.device_schema import AnyDeviceMessage, DeviceMessage, translate_validation_error
from protocols.errors import ProtocolError

MAX_PAYLOAD_BYTES: Final = 4096
"""Largest device payload accepted. Snapshots travel as references, never inline."""

MAX_DEPTH: Final = 16
"""Deepest nesting of objects and arrays taken (a device message needs 2)."""

_json_decoder = msgspec.json.Decoder(AnyDeviceMessage)
_msgpack_decoder = msgspec.msgpack.Decoder(AnyDeviceMessage)


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


