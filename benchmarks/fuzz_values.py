"""Valid device messages, random bytes and mutations for ``benchmarks/fuzz_decoders.py``: plausible values of
every field, valid messages of every kind in both encodings, byte-level noise. Drawn from the caller's ``Random``.
"""

from __future__ import annotations

from random import Random

import msgspec

from protocols.device import _DATA_TYPES, MAX_PAYLOAD_BYTES, MAX_SEQ, encode_device_message, make_message
from protocols.kinds import EventKind
from protocols.topics import Channel

DEVICE = "S0001-panic1"
TOPICS = {channel: f"rb/v1/dev/{DEVICE}/{channel.value}" for channel in (Channel.ALARM, Channel.EVT, Channel.STATE)}
TOPIC_LIST = list(TOPICS.values())
KINDS = list(EventKind)

JSON_ENCODER = msgspec.json.Encoder()
MSGPACK_ENCODER = msgspec.msgpack.Encoder()

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
        return _some(rng, {"snapshot": _long(rng), "floor": rng.randint(-5, 120), "zone": _short(rng),
                           "building": _short(rng), "facade": _short(rng), "trajectory": _short(rng),
                           "floor_low": rng.choice((None, -20, rng.randint(0, 60))),
                           "floor_high": rng.choice((None, 500, rng.randint(0, 60))), "clip": _short(rng)})
    if k == "visitor.answer":
        return {"call": _short(rng), "answer": rng.choice(("open", "deny"))}
    if k == "visitor.pass":
        return {"request": _short(rng)[:64] or "p", "valid_until": rng.choice((0, 2**53, rng.randrange(2**41))),
                **_some(rng, {"valid_from": rng.choice((0, rng.randrange(2**41))), "uses": rng.randint(1, 20),
                              "door": _short(rng)})}
    if k == "door.code":
        return {"code": rng.choice(("0", "A" * 16, f"{rng.randrange(10**6):06d}"))}
    if k == "notice.shown":
        return {"notice": rng.choice(("n", "A" * 64, f"notice-{rng.randrange(10**6)}"))}
    if k == "kiosk.session":
        return {"service": _short(rng), "outcome": _short(rng),
                **_some(rng, {"score": rng.choice((None, 0, 100, rng.randint(0, 100))),
                              "duration_s": rng.choice((0.0, 1e9, rng.uniform(0, 3600))),
                              "face_check": rng.choice(("passed", "failed", "skipped", _short(rng)))})}
    if k == "kiosk.book":
        return {"service": _short(rng), "hall": _short(rng), "slot": rng.choice((0, 2**40, rng.randrange(2**31)))}
    if k == "kiosk.code":
        return {"code": rng.choice(("0", "A" * 16, f"{rng.randrange(10**8):08d}"))}
    if k == "kiosk.supplies":
        return _some(rng, {"paper": rng.choice((None, 0.0, 100.0, rng.uniform(0, 100))),
                           "card": rng.choice((None, 0, 100, rng.randint(0, 100)))})
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
                                                  "lon": rng.choice((None, _lon(rng))),
                                                  "category": _short(rng), "photo": _short(rng)})}
    if k == "patrol.task":
        return {"incident": _short(rng),
                "answer": rng.choice(("accept", "decline", "check_in", "arrived", "done"))}
    if k == "points.redeem":
        return {"request": _short(rng)[:64] or "r", "item": _short(rng)[:64] or "i",
                **_some(rng, {"quantity": rng.choice((1, 100, rng.randint(1, 100)))})}
    if k == "points.query":
        return _some(rng, {"month": rng.choice(("", "2026-01", "1999-12"))})
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
    return JSON_ENCODER.encode(tree) if as_json else MSGPACK_ENCODER.encode(tree)


OPTIONAL_DATA = {kind for kind, (_, required) in _DATA_TYPES.items() if not required}


def valid_variant(rng: Random, kind: EventKind, message, as_json: bool) -> tuple[str, bytes]:
    """One of the ways a device may legitimately send ``message``."""
    roll = rng.random()
    if roll < 0.45:
        return "plain", encode_device_message(message, json=as_json)
    tree = message_tree(message)
    if roll < 0.6:
        if tree["boot"] == 0:
            del tree["boot"]
        if kind in OPTIONAL_DATA and tree["data"] == message_tree(_DATA_TYPES[kind][0]()):
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
