"""The hostile family of ``benchmarks/fuzz_decoders.py``: payloads built to be refused (deep nesting, bad
UTF-8, NaN, duplicate keys, huge numbers, wrong types, lying MessagePack headers, oversize, ``state`` noise).
"""

from __future__ import annotations

from random import Random

import msgpack

from benchmarks.fuzz_encoding import (
    BAD_UTF8,
    ENVELOPE_CATEGORIES,
    FIELD_CATEGORIES,
    FLOAT_FIELDS,
    INT_FIELDS,
    LONG_FIELDS,
    REQUIRED_FIELDS,
    SHORT_FIELDS,
    WRONG_VALUES,
    Pairs,
    Raw,
    data_fields,
    deep,
    place,
    raw_str,
)
from benchmarks.fuzz_values import KINDS, OPTIONAL_DATA, message_tree, pad_to
from protocols.device import MAX_DEPTH, MAX_PAYLOAD_BYTES, MAX_SEQ, encode_device_message
from protocols.kinds import EventKind


def hostile(rng: Random, kind: EventKind, message) -> tuple[str, object, bool | None, str | None]:
    """(case, tree or raw payload bytes, must it be refused, forced encoding: 'json' / 'msgpack' / None).

    ``must_refuse`` None: no expectation (a legitimate payload may look like this)."""
    tree = message_tree(message)
    data = tree["data"]
    fields = data_fields(kind)
    case = rng.choice(HOSTILE_CASES)
    if case == "deep_nesting":
        depth = rng.choice((10, 14, 15, 16, 17, 20, 100, 500, 999, 1000, 1001, 1500, 2047, 2048, 3000,
                            rng.randint(10, 3000)))
        style = rng.choice(("arrays", "objects", "mixed"))
        closed = rng.random() < 0.8
        where = rng.choice(("top", "field", "data", "data_field", "seq"))
        as_json = rng.random() < 0.5
        body = deep(depth, as_json, style, closed)
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
        place(tree, data, target, Raw(literal, None))
        must = None if (target == "unknown" and literal in (b"1e999", b"-1e999")) else True
        return case, tree, must, "json"
    if case == "nonfinite_msgpack":
        value = rng.choice((float("inf"), float("-inf"), float("nan")))
        as32 = rng.random() < 0.3
        raw = Raw(None, b"\xca" + (msgpack.packb(value, use_single_float=True)[1:]) if as32 else msgpack.packb(value))
        target = rng.choice([f for f in fields if f in FLOAT_FIELDS | INT_FIELDS] + ["seq", "unknown"])
        place(tree, data, target, raw)
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
        return case, deep(rng.choice((5000, 20000, 60000)), as_json, "arrays", rng.random() < 0.5), True, \
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
        name = rng.choice(["seq", "ts", "kind"] + ([] if kind in OPTIONAL_DATA else ["data"])
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
        must = None if target in ("unknown", "battery", "lat", "lon", "open_s", "accuracy_m", "duration_s",
                                  "paper", "card") else True
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
