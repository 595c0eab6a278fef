"""Fuzzing the device decoders: a million payloads, random, mutated, hostile and valid, through
``protocols.inbound.classify``, which must return a verdict for every one and raise nothing. Prints one JSON
object; exits 1 when ``classify`` raised (a crash), refused a valid payload, accepted a payload that must be
refused, or accepted one that cannot be encoded again for the hosts.

    python -m benchmarks.fuzz_decoders [--count 1000000] [--seed 1] [--quick]

Families of payloads, drawn with ``random.Random(seed)`` (the same seed, the same payloads):

* ``random_bytes``: random bytes, 0-600 of them (some led by ``{`` or a MessagePack map byte, some made of JSON
  or MessagePack tokens, so that they get past the first byte);
* ``mutated_valid``: a valid message of any kind, JSON or MessagePack, with 1-4 mutations (a byte flipped,
  bytes inserted, a span deleted, a span repeated many times, the tail cut, a syntax token inserted);
* ``hostile``: deep nesting, bad UTF-8, NaN and Infinity, duplicate keys, a BOM or white space first, a bare
  JSON value, huge integers, control characters, oversize payloads, wrong types and out-of-range values,
  MessagePack length headers claiming gigabytes, trailing bytes, ``state`` topic payloads;
* ``valid``: valid messages of every kind (and ``online``/``offline`` states), which must be accepted, decode to
  the message sent and encode again (the bridge re-encodes what it accepts into the batches for the hosts).

Only the ``classify`` loop is timed, never the generation. A *crash* is any exception out of ``classify``.
Reported beside the crashes, and failing the run too: ``hostile_accepted`` (a hostile payload that must be
refused was accepted) and ``accepted_unencodable`` (an accepted message that does not encode again to
MessagePack, which the bridge does next to batch it for the hosts: one such message would fail its whole batch).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
import traceback
from collections import Counter
from random import Random

import msgpack
import msgspec
import msgspec.inspect as mi

from protocols.device import (
    _DATA_TYPES,
    MAX_DEPTH,
    MAX_PAYLOAD_BYTES,
    MAX_SEQ,
    encode_device_message,
    make_message,
)
from protocols.inbound import EventIn, Refused, StateIn, classify
from protocols.kinds import EventKind
from protocols.topics import Channel, channel_for

DEVICE = "S0001-panic1"
TOPICS = {channel: f"rb/v1/dev/{DEVICE}/{channel.value}" for channel in (Channel.ALARM, Channel.EVT, Channel.STATE)}
TOPIC_LIST = list(TOPICS.values())
KINDS = list(EventKind)
FAMILIES = ("random_bytes", "mutated_valid", "hostile", "valid")
FAMILY_WEIGHTS = (0.25, 0.35, 0.30, 0.10)  # cumulative below
CHUNK = 10_000
EXAMPLES = 10

_JSON = msgspec.json.Encoder()
_MSGPACK = msgspec.msgpack.Encoder()

# -- plausible values ----------------------------------------------------------------------------------------------

SHORT = ["", "A", "gate-3", "Block 7 east", "北门", "Ünit 12B", "🚪 east stair", "x" * 128, "Zone:1/2",
         "r#1 'q' \"dq\"", "ü" * 128, "visitor's door"]
LONG = ["", "ref://snap/8f3a9c", "line one\nline two\tend\r\n", "Ω" * 1024, "y" * 1024,
        "a clue: red bike, \"tall\" man, 'north' gate"]


def _short(rng: Random) -> str:
    return rng.choice(SHORT)


def _long(rng: Random) -> str:
    return rng.choice(LONG)


def _lat(rng: Random) -> float:
    return rng.choice((-90.0, 90.0, 0.0, round(rng.uniform(-90, 90), 6)))


def _lon(rng: Random) -> float:
    return rng.choice((-180.0, 180.0, 0.0, round(rng.uniform(-180, 180), 6)))


def _some(rng: Random, data: dict) -> dict:
    """Each optional field kept or left out (a device may omit any field with a default)."""
    return {key: value for key, value in data.items() if rng.random() < 0.7}


def _data(kind: EventKind, rng: Random) -> dict:
    k = kind.value
    if k in ("school.panic", "school.duress"):
        return _some(rng, {"zone": _short(rng), "button": _short(rng)})
    if k == "door.visitor":
        return {"unit": _short(rng), **_some(rng, {"floor": rng.randint(-5, 120), "snapshot": _long(rng)})}
    if k in ("door.forced", "door.held_open"):
        return _some(rng, {"open_s": rng.choice((0.0, 1e9, 3, round(rng.uniform(0, 3600), 3)))})
    if k == "door.opened":
        return _some(rng, {"open": rng.random() < 0.5, "by": _short(rng)})
    if k in ("camera.throw", "camera.intrusion"):
        return _some(rng, {"snapshot": _long(rng), "floor": rng.randint(-5, 120), "zone": _short(rng)})
    if k == "kiosk.session":
        return {"service": _short(rng), "outcome": _short(rng),
                **_some(rng, {"score": rng.choice((None, 0, 100, rng.randint(0, 100)))})}
    if k == "kiosk.fault":
        return {"code": _short(rng), **_some(rng, {"detail": _long(rng)})}
    if k == "kiosk.sos":
        return {}
    if k in ("patrol.start", "patrol.stop"):
        return _some(rng, {"volunteer": _short(rng), "team": _short(rng)})
    if k == "patrol.position":
        return {"lat": _lat(rng), "lon": _lon(rng),
                **_some(rng, {"accuracy_m": rng.choice((0.0, 5, round(rng.uniform(0, 500), 2)))})}
    if k == "patrol.clue":
        return {"text": _long(rng), **_some(rng, {"lat": rng.choice((None, _lat(rng))),
                                                  "lon": rng.choice((None, _lon(rng)))})}
    if k == "patrol.sos":
        return _some(rng, {"lat": rng.choice((None, _lat(rng))), "lon": rng.choice((None, _lon(rng)))})
    if k == "heartbeat":
        return _some(rng, {"battery": rng.choice((None, 0.0, 100.0, 42, round(rng.uniform(0, 100), 1))),
                           "rssi": rng.choice((None, -120, 0, rng.randint(-120, 0)))})
    raise AssertionError(f"no data for {kind}")  # a new EventKind: give it plausible data here


assert all(_data(kind, Random(0)) is not None for kind in KINDS)


def valid_message(rng: Random):
    kind = rng.choice(KINDS)
    seq = rng.choice((0, 1, rng.randrange(1, 10**6), MAX_SEQ))
    ts = rng.choice((0, 1_700_000_000_000 + rng.randrange(10**10), 2**53))
    boot = rng.choice((0, 0, rng.randrange(1, 2**32), MAX_SEQ))
    return kind, make_message(kind, seq=seq, ts=ts, data=_data(kind, rng), boot=boot)


def message_tree(message) -> dict:
    return msgspec.to_builtins(message)


def encode_tree(tree, as_json: bool) -> bytes:
    return _JSON.encode(tree) if as_json else _MSGPACK.encode(tree)


_OPTIONAL_DATA = {kind for kind, (_, required) in _DATA_TYPES.items() if not required}


def valid_variant(rng: Random, kind: EventKind, message, as_json: bool) -> tuple[str, bytes]:
    """One of the ways a device may legitimately send ``message``."""
    roll = rng.random()
    if roll < 0.45:
        return "plain", encode_device_message(message, json=as_json)
    tree = message_tree(message)
    if roll < 0.6:
        if tree["boot"] == 0:
            del tree["boot"]
        if kind in _OPTIONAL_DATA and tree["data"] == message_tree(_DATA_TYPES[kind][0]()):
            del tree["data"]
        return "minimal", encode_tree(tree, as_json)
    if roll < 0.75:
        tree[rng.choice(("fw", "x-vendor", "meta", "ÿ"))] = rng.choice(("2.1.0", 7, 1.5, None, True, [1, "a"],
                                                                      {"a": [1, {"b": None}]}))
        if isinstance(tree.get("data"), dict):
            tree["data"]["extra"] = rng.choice((1, "x", [], {"k": "v"}))
        return "extra_fields", encode_tree(tree, as_json)
    if roll < 0.9:
        items = list(tree.items())
        rng.shuffle(items)
        return "shuffled", encode_tree(dict(items), as_json)
    return "at_limit", pad_to(tree, MAX_PAYLOAD_BYTES, as_json)


def pad_to(tree: dict, size: int, as_json: bool) -> bytes:
    """``tree`` with an unknown ``pad`` field making the payload exactly ``size`` bytes (or just over it)."""
    tree = dict(tree)
    tree["pad"] = ""
    length = len(encode_tree(tree, as_json))
    fill = max(0, size - length)
    for _ in range(4):  # a longer MessagePack string may need a longer header
        tree["pad"] = "p" * fill
        payload = encode_tree(tree, as_json)
        if len(payload) == size:
            return payload
        fill = max(0, fill - (len(payload) - size))
    return payload


STATE_VALID = [b"online", b"offline", b'"online"', b'"offline"', b" online\n", b"OFFLINE", b"Online\r\n"]

# -- random bytes ---------------------------------------------------------------------------------------------------

JSON_TOKENS = [b"{", b"}", b"[", b"]", b'"', b":", b",", b"0", b"-1", b"1e999", b"true", b"null", b"NaN",
               b"\\", b"\\u", b"\\ud800", b'"seq"', b'"kind"', b'"data"', b'"heartbeat"', b'"school.panic"', b" ",
               b"\x00", b"\xff", b"9" * 30]
MSGPACK_TOKENS = [bytes([b]) for b in (0x80, 0x81, 0x8f, 0x90, 0x9f, 0xa0, 0xa3, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xca,
                                       0xcb, 0xcc, 0xcf, 0xd3, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xff, 0xe0)]
MSGPACK_TOKENS += [b"\xa3seq", b"\xa4kind", b"\xa4data", b"\xa9heartbeat", b"\xacschool.panic", b"\xdd\xff\xff\xff\xff",
                   b"\xdb\xff\xff\xff\xff", b"\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00"]
MAP_FIRST = [*range(0x80, 0x90), 0xDE, 0xDF]


def random_bytes(rng: Random) -> tuple[str, bytes]:
    roll = rng.random()
    n = rng.randrange(0, 601)
    if roll < 0.55:
        return "raw", rng.randbytes(n)
    if roll < 0.7:
        return "map_first", bytes([rng.choice(MAP_FIRST)]) + rng.randbytes(max(0, n - 1))
    if roll < 0.8:
        return "brace_first", b"{" + rng.randbytes(max(0, n - 1))
    tokens, first = (JSON_TOKENS, b"{") if roll < 0.9 else (MSGPACK_TOKENS, bytes([rng.choice(MAP_FIRST)]))
    out = [first]
    size = 1
    while size < n:
        token = rng.choice(tokens)
        out.append(token)
        size += len(token)
    return "json_tokens" if first == b"{" else "msgpack_tokens", b"".join(out)[:600]


# -- mutations ------------------------------------------------------------------------------------------------------

INTERESTING = JSON_TOKENS + MSGPACK_TOKENS
MAX_MUTATED = 64 * 1024


def mutate(rng: Random, data: bytes) -> tuple[str, bytes]:
    buf = bytearray(data)
    ops = []
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        n = len(buf)
        if op == 0 and n:
            i = rng.randrange(n)
            buf[i] ^= rng.randrange(1, 256)
            ops.append("flip")
        elif op == 1:
            i = rng.randrange(n + 1)
            buf[i:i] = rng.randbytes(rng.randint(1, 16))
            ops.append("insert")
        elif op == 2 and n:
            i = rng.randrange(n)
            del buf[i:i + rng.randint(1, 32)]
            ops.append("delete")
        elif op == 3 and n:
            i = rng.randrange(n)
            span = bytes(buf[i:i + rng.randint(1, 16)])
            times = rng.choice((2, 3, 10, 100, 500, 5000))
            times = max(1, min(times, (MAX_MUTATED - n) // len(span)))
            buf[i:i] = span * times
            ops.append("repeat")
        elif op == 4 and n:
            del buf[rng.randrange(n):]
            ops.append("truncate")
        else:
            i = rng.randrange(n + 1)
            buf[i:i] = rng.choice(INTERESTING)
            ops.append("token")
    return "+".join(sorted(set(ops))), bytes(buf)


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
    return _JSON.encode(value) if as_json else _MSGPACK.encode(value)


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
    names = {mi.IntType: "int", mi.FloatType: "float", mi.StrType: "str", mi.BoolType: "bool", mi.NoneType: "none"}
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
SHORT_FIELDS = {"zone", "button", "unit", "by", "service", "outcome", "code", "volunteer", "team"}
LONG_FIELDS = {"snapshot", "detail", "text"}
FLOAT_FIELDS = {"open_s", "accuracy_m", "lat", "lon", "battery"}
INT_FIELDS = {"floor", "score", "rssi"}
BAD_UTF8 = [b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\x80", b"ab\xc3"]


def _deep(depth: int, as_json: bool, style: str, closed: bool) -> bytes:
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


def _data_fields(kind: EventKind) -> list[str]:
    return list(FIELD_CATEGORIES[kind])



def _place(tree: dict, data: dict, target: str, value) -> None:
    """Put a hostile value where ``target`` says: the envelope's ``seq``, an unknown top-level field, or a data field."""
    if target == "seq":
        tree["seq"] = value
    elif target == "unknown":
        tree["x"] = value
    else:
        data[target] = value

def hostile(rng: Random, kind: EventKind, message) -> tuple[str, object, bool | None, str | None]:
    """(case, tree or raw payload bytes, must it be refused, forced encoding: 'json' / 'msgpack' / None).

    ``must_refuse`` None: no expectation (a legitimate payload may look like this)."""
    tree = message_tree(message)
    data = tree["data"]
    fields = _data_fields(kind)
    case = rng.choice(HOSTILE_CASES)
    if case == "deep_nesting":
        depth = rng.choice((10, 14, 15, 16, 17, 20, 100, 500, 999, 1000, 1001, 1500, 2047, 2048, 3000,
                            rng.randint(10, 3000)))
        style = rng.choice(("arrays", "objects", "mixed"))
        closed = rng.random() < 0.8
        where = rng.choice(("top", "field", "data", "data_field", "seq"))
        as_json = rng.random() < 0.5
        body = _deep(depth, as_json, style, closed)
        depth -= depth % 2 if style == "mixed" else 0
        raw = Raw(body, None) if as_json else Raw(None, body)
        if where == "top":
            if as_json and style == "arrays":
                return case, body, True, "json"
            return case, body, True, "json" if as_json else "msgpack"  # no seq, no kind: refused
        if where == "field":
            tree["nest"] = raw
            total = 1 + depth
        elif where == "data":
            tree["data"] = raw
            total = 1 + depth
        elif where == "data_field":
            data["nest"] = raw
            total = 2 + depth
        else:
            tree["seq"] = raw
            total = 1 + depth
        must = True if (total > MAX_DEPTH or not closed or where == "seq"
                        or (where == "data" and style != "objects")) else None
        return case, tree, must, "json" if as_json else "msgpack"
    if case == "bad_utf8":
        bad = rng.choice(BAD_UTF8)
        where = rng.choice(("data_value", "data_key", "top_key", "top_value", "kind", "nested"))
        if where == "data_value" and any(f in SHORT_FIELDS | LONG_FIELDS for f in fields):
            data[rng.choice([f for f in fields if f in SHORT_FIELDS | LONG_FIELDS])] = raw_str(b"ok " + bad + b" x")
        elif where == "data_key":
            tree["data"] = Pairs([*data.items(), (raw_str(bad + b"zone"), 1)])
        elif where == "top_key":
            tree = Pairs([*tree.items(), (raw_str(b"k" + bad), "v")])
        elif where == "kind":
            tree["kind"] = raw_str(kind.value.encode() + bad)
        elif where == "nested":
            tree["meta"] = {"a": [1, {"b": raw_str(bad)}]}
        else:
            tree["note"] = raw_str(bad)
        return case, tree, True, None
    if case == "nan_infinity_json":
        literal = rng.choice((b"NaN", b"Infinity", b"-Infinity", b"nan", b"inf", b"1e999", b"-1e999"))
        target = rng.choice([f for f in fields if f in FLOAT_FIELDS] + ["seq", "unknown"])
        _place(tree, data, target, Raw(literal, None))
        must = None if (target == "unknown" and literal in (b"1e999", b"-1e999")) else True
        return case, tree, must, "json"
    if case == "nonfinite_msgpack":
        value = rng.choice((float("inf"), float("-inf"), float("nan")))
        as32 = rng.random() < 0.3
        raw = Raw(None, b"\xca" + (msgpack.packb(value, use_single_float=True)[1:]) if as32 else msgpack.packb(value))
        target = rng.choice([f for f in fields if f in FLOAT_FIELDS | INT_FIELDS] + ["seq", "unknown"])
        _place(tree, data, target, raw)
        return case, tree, None if target == "unknown" else True, "msgpack"
    if case == "duplicate_keys":
        where = rng.choice(("seq", "kind", "data", "unknown", "data_field", "nested"))
        if where in ("seq", "kind", "data"):
            other = {"seq": tree["seq"] + 1, "kind": rng.choice(KINDS).value, "data": {}}[where]
            items = list(tree.items())
            items.insert(rng.randrange(len(items) + 1), (where, rng.choice((tree[where], other))))
            tree = Pairs(items)
        elif where == "unknown":
            tree = Pairs([*tree.items(), ("x", 1), ("x", 2)])
        elif where == "data_field" and fields:
            name = rng.choice(fields)
            tree["data"] = Pairs([*data.items(), (name, data.get(name, None)), (name, data.get(name, None))])
        else:
            tree["meta"] = {"a": Pairs([("b", 1), ("b", 1)])}
        return case, tree, True, None
    if case == "bom_whitespace":
        prefix = rng.choice((b"\xef\xbb\xbf", b" ", b"\n", b"\t", b"\r\n", b"  \xef\xbb\xbf", b"\xef\xbb\xbf "))
        return case, prefix + encode_device_message(message, json=True), True, "json"
    if case == "trailing_whitespace":
        return case, encode_device_message(message, json=True) + rng.choice((b" ", b"\n", b"\r\n\t ")), None, "json"
    if case == "bare_value":
        as_json = rng.random() < 0.6
        if as_json:
            body = rng.choice((b"[]", b"[1,2,3]", b'["seq",1]', b'"online"', b'"x"', b"123", b"-1.5e3", b"0",
                               b"true", b"false", b"null", b"1e999", b"NaN",
                               b"[" + encode_device_message(message, json=True) + b"]",
                               b'"' + encode_device_message(message, json=True).replace(b'"', b'\\"') + b'"'))
        else:
            body = rng.choice((b"\x90", b"\x93\x01\x02\x03", b"\xa6online", b"\x01", b"\xc0", b"\xc3",
                               b"\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", b"\x91" + encode_device_message(message),
                               b"\xc4\x03abc", b"\xd4\x01\x00", b"\xff"))
        return case, body, True, "json" if as_json else "msgpack"
    if case == "huge_int":
        value = rng.choice((2**53, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 10**30, -(2**63), -(2**63) - 1, 10**300,
                            -(10**300), int("9" * 2000)))
        target = rng.choice([f for f in fields if f in INT_FIELDS | FLOAT_FIELDS] + ["seq", "ts", "boot", "unknown"])
        as_json = rng.random() < 0.5 or not -(2**63) <= value < 2**64
        if target in ("seq", "ts", "boot"):
            tree[target] = value
            must = True if not 0 <= value <= (2**53 if target == "ts" else MAX_SEQ) else None
        elif target == "unknown":
            tree["big"] = value
            must = None
        else:
            data[target] = value
            must = True if target not in ("floor", "rssi") else None
        return case, tree, must, "json" if as_json else "msgpack"
    if case == "control_chars":
        char = rng.choice(("\x00", "\x01", "\x1b", "\x7f", "\x1f", "\x0b", "\t", "\n", "\r"))
        raw_byte = rng.random() < 0.3  # JSON with the byte itself inside a string (not JSON), not its \\u escape
        where = rng.choice(("short", "long", "kind", "key"))
        shorts = [f for f in fields if f in SHORT_FIELDS]
        longs = [f for f in fields if f in LONG_FIELDS]
        value = f"a{char}b"
        raw = raw_str(value.encode()) if raw_byte else value
        must: bool | None = True if raw_byte else None
        if where == "short" and shorts:
            data[rng.choice(shorts)] = raw
            must = True
        elif where == "long" and longs:
            data[rng.choice(longs)] = raw
            if char not in "\t\n\r":
                must = True
        elif where == "kind":
            tree["kind"] = raw_str(kind.value.encode() + char.encode()) if raw_byte else kind.value + char
            must = True
        else:  # an unknown key: ignored, unless the byte itself is not JSON (0x7f is)
            tree = Pairs([*tree.items(), (raw_str(value.encode()) if raw_byte else value, 1)])
            must = True if raw_byte and char != "\x7f" else None
        return case, tree, must, "json" if raw_byte else None
    if case == "oversize":
        as_json = rng.random() < 0.5
        roll = rng.random()
        if roll < 0.8:
            return case, pad_to(tree, MAX_PAYLOAD_BYTES + rng.choice((1, 2, 10, rng.randint(1, 300))), as_json), \
                True, "json" if as_json else "msgpack"
        if roll < 0.9:
            return case, pad_to(tree, rng.choice((64 * 1024, 256 * 1024)), as_json), True, \
                "json" if as_json else "msgpack"
        return case, _deep(rng.choice((5000, 20000, 60000)), as_json, "arrays", rng.random() < 0.5), True, \
            "json" if as_json else "msgpack"
    if case == "wrong_type":
        if rng.random() < 0.4 or not fields:
            name = rng.choice(list(ENVELOPE_CATEGORIES))
            cats, holder = ENVELOPE_CATEGORIES[name], tree
        else:
            name = rng.choice(fields)
            cats, holder = FIELD_CATEGORIES[kind][name], data
        wrong = rng.choice([c for c in WRONG_VALUES if c not in cats])
        holder[name] = rng.choice(WRONG_VALUES[wrong])  # data: null too (a Struct, not optional, even with a default)
        return case, tree, True, None
    if case == "out_of_range":
        choices = [("seq", -1), ("seq", MAX_SEQ + 1), ("ts", -1), ("ts", 2**53 + 1), ("boot", -5),
                   ("boot", MAX_SEQ + 1), ("kind", "school.Panic"), ("kind", ""), ("kind", "x" * 300)]
        for f in fields:
            if f in SHORT_FIELDS:
                choices.append((f, "s" * 129))
            elif f in LONG_FIELDS:
                choices.append((f, "l" * 1025))
            elif f == "score":
                choices += [(f, 101), (f, -1)]
            elif f == "lat":
                choices += [(f, 90.000001), (f, -91)]
            elif f == "lon":
                choices += [(f, 180.5), (f, -181)]
            elif f in ("open_s", "accuracy_m"):
                choices += [(f, -0.001), (f, 1e9 + 1)]
            elif f == "battery":
                choices += [(f, 100.5), (f, -1)]
        name, value = rng.choice(choices)
        (tree if name in ENVELOPE_CATEGORIES else data)[name] = value
        return case, tree, True, None
    if case == "missing_field":
        name = rng.choice(["seq", "ts", "kind"] + ([] if kind in _OPTIONAL_DATA else ["data"])
                          + REQUIRED_FIELDS[kind])
        (tree if name in ENVELOPE_CATEGORIES else data).pop(name, None)
        return case, tree, True, None
    if case == "msgpack_huge_length":
        header = rng.choice((b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff", b"\xdb\xff\xff\xff\xff",
                             b"\xc6\xff\xff\xff\xff", b"\xc9\xff\xff\xff\xff\x01", b"\xdc\xff\xff", b"\xde\xff\xff",
                             b"\xda\xff\xff"))
        where = rng.choice(("top", "field", "data_field"))
        if where == "top":
            return case, (b"\xdf\xff\xff\xff\xff" if rng.random() < 0.5 else header) + b"\xa3seq\x01", True, "msgpack"
        (tree if where == "field" else data)["big"] = Raw(None, header + b"\x01\x02")
        return case, tree, True, "msgpack"
    if case == "msgpack_odd_types":
        value = rng.choice((Raw(None, b"\xc4\x03abc"), Raw(None, b"\xd6\xff\x00\x00\x00\x01"),  # bin, timestamp ext
                            Raw(None, b"\xd4\x05\x00"), Raw(None, b"\xc1"), Raw(None, b"\xca\x3f\x80\x00\x00")))
        target = rng.choice(fields + ["seq", "kind", "unknown"])
        if target in ("seq", "kind"):
            tree[target] = value
        elif target == "unknown":
            tree["x"] = value
        else:
            data[target] = value
        must = None if target in ("unknown", "battery", "lat", "lon", "open_s", "accuracy_m") else True
        return case, tree, must, "msgpack"
    if case == "trailing_bytes":
        as_json = rng.random() < 0.5
        body = encode_device_message(message, json=as_json)
        return case, body + rng.choice((body, b"\x00", b"x", b"}", b"\xc0", b"{}")), True, \
            "json" if as_json else "msgpack"
    if case == "empty_and_tiny":
        return case, rng.choice((b"", b"{", b"{}", b"\x80", b"\x81", b"{\"seq\":1}", b"\x81\xa3seq\x01", b"\xde",
                                 b"\xde\x00", b"\xdf\x00\x00\x00\x00")), True, None
    if case == "state_payloads":
        return case, rng.choice((b"", b"online\x00", b"\xffonline", b"on line", b"online" * 1000, b"onl\xc3ine",
                                 b"\x00" * 50, b'{"state":"online"}', b"\x81\xa5state\xa6online", b"\xef\xbb\xbfonline",
                                 b'"online', b"offline\"\"", b"o")), None, "state"
    raise AssertionError(case)


HOSTILE_CASES = ("deep_nesting", "deep_nesting", "bad_utf8", "nan_infinity_json", "nonfinite_msgpack", "duplicate_keys",
                 "bom_whitespace", "trailing_whitespace", "bare_value", "huge_int", "control_chars", "oversize",
                 "wrong_type", "wrong_type", "out_of_range", "missing_field", "msgpack_huge_length",
                 "msgpack_odd_types", "trailing_bytes", "empty_and_tiny", "state_payloads")


# -- generation -----------------------------------------------------------------------------------------------------


class Item:
    """One payload with what is known of it; ``expect`` is the message a valid payload must decode to."""

    __slots__ = ("family", "case", "topic", "payload", "must_refuse", "expect", "as_json")

    def __init__(self, family, case, topic, payload, must_refuse=None, expect=None, as_json=None):
        self.family, self.case, self.topic, self.payload = family, case, topic, payload
        self.must_refuse, self.expect, self.as_json = must_refuse, expect, as_json


def _topic_for(rng: Random, kind: EventKind) -> str:
    return TOPICS[channel_for(kind)] if rng.random() < 0.9 else rng.choice(TOPIC_LIST)


def generate(rng: Random) -> Item:
    roll = rng.random()
    if roll < FAMILY_WEIGHTS[0]:
        case, payload = random_bytes(rng)
        return Item("random_bytes", case, rng.choice(TOPIC_LIST), payload)
    roll -= FAMILY_WEIGHTS[0]
    if roll < FAMILY_WEIGHTS[1]:
        kind, message = valid_message(rng)
        as_json = rng.random() < 0.5
        _, base = valid_variant(rng, kind, message, as_json)
        case, payload = mutate(rng, base)
        return Item("mutated_valid", case, _topic_for(rng, kind), payload)
    roll -= FAMILY_WEIGHTS[1]
    if roll < FAMILY_WEIGHTS[2]:
        while True:
            kind, message = valid_message(rng)
            case, tree, must, fmt = hostile(rng, kind, message)
            if fmt == "state":
                return Item("hostile", case, TOPICS[Channel.STATE], tree)
            if isinstance(tree, bytes):
                payload = tree
            else:
                as_json = fmt == "json" if fmt else rng.random() < 0.5
                try:
                    payload = enc(tree, as_json)
                except NotExpressible:
                    try:
                        payload = enc(tree, not as_json)
                    except NotExpressible:
                        continue
            return Item("hostile", case, _topic_for(rng, kind), payload, must_refuse=must)
    if rng.random() < 0.05:
        return Item("valid", "state", TOPICS[Channel.STATE], rng.choice(STATE_VALID))
    kind, message = valid_message(rng)
    as_json = rng.random() < 0.5
    case, payload = valid_variant(rng, kind, message, as_json)
    return Item("valid", case, TOPICS[channel_for(kind)], payload, expect=message, as_json=as_json)


# -- the run --------------------------------------------------------------------------------------------------------

_NUMBER = re.compile(r"\b0x[0-9a-fA-F]+\b|(?<![\w.-])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?|`[^`]*`?", re.S)


def split_reason(reason: str) -> tuple[str, str]:
    """``"data.floor: expected int, got str"`` → (``data.floor``, ``expected int, got str``)."""
    field, sep, rest = reason.partition(": ")
    return (field, rest) if sep else ("(none)", reason)


def reason_class(text: str) -> str:
    """Quoted values and numbers taken out, so that refusals of one sort group together."""
    text = _QUOTED.sub("'…'", text)
    return _NUMBER.sub(lambda m: "0x#" if m[0].startswith("0x") else "#", text)[:160]


class _Crash:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _show(payload: bytes) -> str:
    return repr(payload[:160]) + (f"... ({len(payload)} bytes)" if len(payload) > 160 else "")


def _example(item: Item, **extra) -> dict:
    return {"family": item.family, "case": item.case, "topic": item.topic, "payload": _show(item.payload), **extra}


def run(count: int, seed: int, quick: bool) -> dict:
    rng = Random(seed)
    known = frozenset({DEVICE}).__contains__
    families: Counter = Counter()
    verdicts: Counter = Counter()
    by_family: dict[str, Counter] = {f: Counter() for f in FAMILIES}
    cases: dict[str, Counter] = {}
    fields: Counter = Counter()
    classes: Counter = Counter()
    crashes: list[dict] = []
    crash_count = 0
    valid_refused: list[dict] = []
    valid_refused_count = 0
    hostile_accepted: list[dict] = []
    hostile_accepted_count = 0
    unencodable: list[dict] = []
    unencodable_count = 0
    refused_with_seq = 0
    classify_s = generate_s = 0.0
    done = 0
    while done < count:
        n = min(CHUNK, count - done)
        started = time.perf_counter()
        items = [generate(rng) for _ in range(n)]
        generate_s += time.perf_counter() - started
        results: list = []
        append = results.append
        started = time.perf_counter()
        for item in items:
            try:
                append(classify(item.topic, item.payload, known_device=known))
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - the very thing measured
                append(_Crash(exc))
        classify_s += time.perf_counter() - started
        done += n
        for item, result in zip(items, results):
            families[item.family] += 1
            if isinstance(result, _Crash):
                crash_count += 1
                verdict = "crash"
                if len(crashes) < EXAMPLES:
                    crashes.append(_example(item, type=type(result.exc).__name__, message=str(result.exc)[:300],
                                            traceback="".join(traceback.format_exception(result.exc))[-3000:]))
            elif type(result) is Refused:
                verdict = "refused"
                field, rest = split_reason(result.reason)
                fields[field[:64]] += 1
                classes[reason_class(rest)] += 1
                refused_with_seq += result.seq is not None
            elif type(result) is StateIn:
                verdict = "state"
            elif type(result) is EventIn:
                verdict = "accepted"
                try:
                    encode_device_message(result.message)  # what the bridge does next: into a batch for a host
                except Exception as exc:  # noqa: BLE001 - counted: accepted, then unusable
                    unencodable_count += 1
                    if len(unencodable) < EXAMPLES:
                        unencodable.append(_example(item, error=f"{type(exc).__name__}: {exc}"[:300]))
            else:
                verdict = f"other:{type(result).__name__}"
            verdicts[verdict] += 1
            by_family[item.family][verdict] += 1
            if item.family == "hostile":
                cases.setdefault(item.case, Counter())[verdict] += 1
                if item.must_refuse and verdict == "accepted":
                    hostile_accepted_count += 1
                    if len(hostile_accepted) < EXAMPLES:
                        hostile_accepted.append(_example(item, verdict=verdict))
            elif item.family == "valid":
                wrong = None
                if item.case == "state":
                    wrong = None if verdict == "state" else verdict
                elif verdict != "accepted":
                    wrong = result.reason if verdict == "refused" else verdict
                elif result.message != item.expect or result.json != item.as_json:
                    wrong = f"decoded to {result.message!r} (json={result.json})"[:300]
                if wrong is not None:
                    valid_refused_count += 1
                    if len(valid_refused) < EXAMPLES:
                        valid_refused.append(_example(item, verdict=wrong))
    refused = verdicts["refused"]
    return {
        "benchmark": "fuzz_decoders",
        "payloads": done,
        "seed": seed,
        "families": {f: families[f] for f in FAMILIES},
        "verdicts": {v: verdicts[v] for v in ("accepted", "refused", "state")}
        | {v: c for v, c in verdicts.items() if v not in ("accepted", "refused", "state")},
        "verdicts_by_family": {f: dict(sorted(c.items())) for f, c in by_family.items()},
        "crashes": crash_count,
        "crash_examples": crashes,
        "valid_refused": valid_refused_count,
        "valid_refused_examples": valid_refused,
        "accepted_unencodable": unencodable_count,
        "accepted_unencodable_examples": unencodable,
        "hostile_accepted": hostile_accepted_count,
        "hostile_accepted_examples": hostile_accepted,
        "hostile_cases": {case: dict(sorted(c.items())) for case, c in sorted(cases.items())},
        "refused_with_seq": refused_with_seq,
        "refusals_by_field": dict(fields.most_common(30)),
        "refusal_fields_distinct": len(fields),
        "refusals_by_reason": dict(classes.most_common(30)),
        "refusal_reasons_distinct": len(classes),
        "unreadable_refusals": sum(c for r, c in classes.items() if r.startswith("unreadable")),
        "refused_share": round(refused / done, 4) if done else None,
        "classify_s": round(classify_s, 3),
        "generate_s": round(generate_s, 3),
        "payloads_per_s": round(done / classify_s) if classify_s else None,
        "us_per_payload": round(classify_s / done * 1e6, 2) if done else None,
        "max_payload_bytes": MAX_PAYLOAD_BYTES,
        "max_depth": MAX_DEPTH,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "msgspec": msgspec.__version__,
        "msgpack": ".".join(map(str, msgpack.version)),
        "quick": quick,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="payloads to classify")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20,000 payloads")
    args = parser.parse_args(argv)
    if args.quick:
        args.count = 20_000
    if args.count < 1:
        parser.error("--count: must be at least 1")
    result = run(args.count, args.seed, args.quick)
    print(json.dumps(result, ensure_ascii=False), flush=True)
    failed = (result["crashes"] > 0 or result["valid_refused"] > 0 or result["accepted_unencodable"] > 0
              or result["hostile_accepted"] > 0)
    if failed:  # ``redband bench`` keeps only the tail of stderr of a failed program: the first example goes there
        first = (result["crash_examples"] or result["valid_refused_examples"])[0]
        print(f"fuzz_decoders: {result['crashes']} crashes, {result['valid_refused']} valid payloads refused; "
              f"first: {json.dumps(first, ensure_ascii=False)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
