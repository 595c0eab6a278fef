"""How ``benchmarks/fuzz_hostile.py`` writes payloads no encoder would: pre-encoded values, objects with a key
twice, hand-built MessagePack headers, deep nesting, and which fields take which types.
"""

from __future__ import annotations

import msgspec.inspect as mi

from benchmarks.fuzz_values import JSON_ENCODER, MSGPACK_ENCODER
from protocols.device import _DATA_TYPES
from protocols.kinds import EventKind

# -- hostile payloads -----------------------------------------------------------------------------------------------


class Raw:
    """A value already encoded, one way for JSON and one for MessagePack (``None``: not expressible)."""

    __slots__ = ("j", "m")

    def __init__(self, j: bytes | None, m: bytes | None) -> None:
        self.j, self.m = j, m


class Pairs(list):
    """An object written key by key, so a key may appear twice."""


class NotExpressible(Exception):
    pass


def _map_header(n: int) -> bytes:
    return bytes([0x80 | n]) if n < 16 else b"\xde" + n.to_bytes(2, "big")


def _array_header(n: int) -> bytes:
    return bytes([0x90 | n]) if n < 16 else b"\xdc" + n.to_bytes(2, "big")


def enc(value, as_json: bool) -> bytes:
    if isinstance(value, Raw):
        out = value.j if as_json else value.m
        if out is None:
            raise NotExpressible
        return out
    if isinstance(value, (dict, Pairs)):
        items = list(value.items()) if isinstance(value, dict) else list(value)
        if as_json:
            return b"{" + b",".join(enc(k, True) + b":" + enc(v, True) for k, v in items) + b"}"
        return _map_header(len(items)) + b"".join(enc(k, False) + enc(v, False) for k, v in items)
    if isinstance(value, list):
        if as_json:
            return b"[" + b",".join(enc(v, True) for v in value) + b"]"
        return _array_header(len(value)) + b"".join(enc(v, False) for v in value)
    if not as_json and isinstance(value, int) and not -(2**63) <= value < 2**64:
        raise NotExpressible
    return JSON_ENCODER.encode(value) if as_json else MSGPACK_ENCODER.encode(value)


def raw_str(content: bytes) -> Raw:
    """A string holding exactly these bytes, valid UTF-8 or not."""
    n = len(content)
    if n < 32:
        header = bytes([0xA0 | n])
    elif n < 256:
        header = b"\xd9" + bytes([n])
    else:
        header = b"\xda" + n.to_bytes(2, "big")
    return Raw(b'"' + content + b'"', header + content)


def _field_categories() -> dict[EventKind, dict[str, set[str]]]:
    """For each kind, the JSON types each data field takes (``int`` is taken where a float is)."""
    names = {mi.IntType: "int", mi.FloatType: "float", mi.StrType: "str", mi.BoolType: "bool", mi.NoneType: "none",
             mi.EnumType: "str"}
    out = {}
    for kind, (data_type, _) in _DATA_TYPES.items():
        fields = {}
        for f in mi.type_info(data_type).fields:
            types = f.type.types if isinstance(f.type, mi.UnionType) else (f.type,)
            cats = {names[type(t)] for t in types}
            if "float" in cats:
                cats.add("int")
            fields[f.name] = cats
        out[kind] = fields
    return out


FIELD_CATEGORIES = _field_categories()
REQUIRED_FIELDS = {kind: [f.name for f in mi.type_info(data_type).fields if f.required]
                   for kind, (data_type, _) in _DATA_TYPES.items()}
ENVELOPE_CATEGORIES = {"seq": {"int"}, "ts": {"int"}, "boot": {"int"}, "kind": {"str"}, "data": {"dict"}}
WRONG_VALUES = {"str": ["7", "", "true"], "int": [7, -1, 0], "float": [7.5, -0.5], "bool": [True, False],
                "none": [None], "list": [[1], []], "dict": [{"a": 1}, {}]}
SHORT_FIELDS = {"zone", "button", "unit", "by", "service", "outcome", "code", "volunteer", "team", "incident",
                "category"}
LONG_FIELDS = {"snapshot", "detail", "text", "photo"}
FLOAT_FIELDS = {"open_s", "accuracy_m", "lat", "lon", "battery"}
INT_FIELDS = {"floor", "score", "rssi"}
BAD_UTF8 = [b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\x80", b"ab\xc3"]


def deep(depth: int, as_json: bool, style: str, closed: bool) -> bytes:
    """``depth`` nested arrays, objects or both (``mixed``: an even number of levels); unclosed when not ``closed``."""
    if as_json:
        if style == "arrays":
            body = b"[" * depth + b"1" + b"]" * depth
        elif style == "objects":
            body = b'{"a":' * depth + b"1" + b"}" * depth
        else:
            half = depth // 2
            body = b'[{"a":' * half + b"1" + b"}]" * half
        if not closed:
            body = body[:len(body) // 2 + 1]
        return body
    if style == "arrays":
        body = b"\x91" * depth + b"\x01"
    elif style == "objects":
        body = b"\x81\xa1a" * depth + b"\x01"
    else:
        body = b"\x91\x81\xa1a" * (depth // 2) + b"\x01"
    return body if closed else body[:-1]


def data_fields(kind: EventKind) -> list[str]:
    return list(FIELD_CATEGORIES[kind])


def place(tree: dict, data: dict, target: str, value) -> None:
    """Put a hostile value where ``target`` says: the envelope's ``seq``, an unknown top-level field, or a data
    field."""
    if target == "seq":
        tree["seq"] = value
    elif target == "unknown":
        tree["x"] = value
    else:
        data[target] = value
