"""What a radio, a bug or an attacker can send: every decoder answers with a refusal naming the field or the
limit, and nothing else ever escapes it (a decoder that raises kills the bridge lane that called it)."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import ProtocolError
from protocols.batch import decode_changes, decode_host_batch, decode_ingest, decode_result, decode_states
from protocols.console import decode_client
from protocols.device import MAX_DEPTH, decode_device_message, encode_device_message, make_message, message_digest
from protocols.inbound import EventIn, Refused, classify

ALARM = b'{"seq":7,"ts":1764000000000,"kind":"school.panic","data":{"zone":"main gate"}}'
DEEP_JSON = b'{"seq":1,"ts":1,"kind":"school.panic","x":' + b"[" * 1000 + b"]" * 1000 + b"}"
DEEP_MSGPACK = b"\x84\xa3seq\x01\xa2ts\x01\xa4kind\xacschool.panic\xa1x" + b"\x91" * 1000 + b"\x90"
BAD_UTF8_ZONE = b'{"seq":3,"ts":1,"kind":"school.panic","data":{"zone":"gate \xff\xfe"}}'


def _msgpack(**fields) -> bytes:
    return msgpack.packb(fields)


@pytest.mark.parametrize("payload, field, reason", [
    (DEEP_JSON, "payload", f"nested too deep (limit {MAX_DEPTH} levels)"),
    (DEEP_MSGPACK, "payload", f"nested too deep (limit {MAX_DEPTH} levels)"),
    (b'{"seq":1,"ts":1,"kind":"school.panic","x":' + b"[" * 20 + b"]" * 20 + b"}", "payload",
     f"nested too deep (limit {MAX_DEPTH} levels)"),
    (BAD_UTF8_ZONE, "data.zone", "invalid UTF-8 (byte 0xff)"),
    (b'{"seq":3,"ts":1,"kind":"school.pan\xc3","data":{}}', "kind", "invalid UTF-8 (byte 0xc3)"),
    (b'{"seq":3,"ts":1,"kind":"school.panic","data":{"zo\xffne":"x"}}', "data.zo?ne", "invalid UTF-8 (byte 0xff)"),
    (b"\x84\xa3seq\x01\xa2ts\x01\xa4kind\xacschool.panic\xa4data\x81\xa4zone\xa2\xff\xfe", "data.zone",
     "invalid UTF-8 (byte 0xff)"),
    (b'{"seq":1,"ts":1,"kind":"school.panic","seq":2}', "seq", "duplicate key"),
    (b'{"seq":1,"ts":1,"kind":"school.panic","data":{"zone":"a","zone":"b"}}', "zone", "duplicate key"),
    (b'\x85\xa3seq\x01\xa2ts\x01\xa4kind\xacschool.panic\xa3seq\x02\xa4data\x80', "seq", "duplicate key"),
    (b'{"seq":1,"ts":NaN,"kind":"school.panic"}', "payload", "NaN and Infinity are not JSON numbers"),
    (b'{"seq":1,"ts":1,"kind":"door.forced","data":{"open_s":-Infinity}}', "payload",
     "NaN and Infinity are not JSON numbers"),
    (_msgpack(seq=1, ts=1, kind="door.forced", data={"open_s": float("inf")}), "data.open_s",
     "expected float <= 1000000000.0"),
    (_msgpack(seq=1, ts=1, kind="door.forced", data={"open_s": float("nan")}), "data.open_s", "expected float >= 0.0"),
    (_msgpack(seq=1, ts=1, kind="patrol.position", data={"lat": float("nan"), "lon": 0.0}), "data.lat",
     "expected float >= -90.0"),
    (b' {"seq":1,"ts":1,"kind":"school.panic"}', "payload",
     "white space before the JSON: send the object itself, starting with '{'"),
    (b'\xef\xbb\xbf{"seq":1,"ts":1,"kind":"school.panic"}', "payload",
     "a byte-order mark before the JSON: send the object itself, starting with '{'"),
    (b'[1, 2]', "payload", "expected a JSON object, got an array"),
    (b'"school.panic"', "payload", "expected a JSON object, got a string"),
    (b"42", "payload", "expected a JSON object or a MessagePack map, got a bare value"),
    (b'{"seq":99999999999999999999999,"ts":1,"kind":"school.panic"}', "seq", "expected int <= 9007199254740991"),
    (b'{"seq":9223372036854775807,"ts":1,"kind":"heartbeat"}', "seq", "expected int <= 9007199254740991"),
    (b'{"seq":1,"ts":1,"kind":"heartbeat","boot":-1}', "boot", "expected int >= 0"),
    (b'{"seq":1,"ts":1e400,"kind":"school.panic"}', "ts", "number out of range"),
    ('{"seq":1,"ts":1,"kind":"school.panic","data":{"zone":"gate \u202eetag"}}'.encode(), "data.zone",
     "control or direction-override characters are not allowed"),
    ('{"seq":1,"ts":1,"kind":"school.panic","data":{"zone":"a\u0085b"}}'.encode(), "data.zone",
     "control or direction-override characters are not allowed"),
    (msgpack.packb({"seq": 1, "ts": 1, "kind": "school.panic", "x": [{}] * 3900}), "payload",
     "too many objects and arrays (limit 64)"),
    (b'{"seq":1,"ts":1,"kind":"school.panic","data":{"zone":"a\\u0000b"}}', "data.zone",
     "control or direction-override characters are not allowed"),
    (b'{"seq":1,"ts":1,"kind":"school.panic","data":{"zone":"\\ud800"}}', "payload", None),  # a lone surrogate
    (b'{"seq":1,"ts":1,"kind":"heartbeat","note":"\xed\xa0\x80"}', "note", "invalid UTF-8 (byte 0xed)"),
    (b'{"seq":1,"ts":1,"kind":"camera.throw","data":{"floor":1000000000000000000000000000000}}', "data.floor",
     "expected int <= 500"),
    (_msgpack(seq=1, ts=1, kind="heartbeat", data={"rssi": 2**64 - 1}), "data.rssi", "expected int <= 50"),
    (msgpack.packb({1: 2, "kind": "heartbeat", "seq": 1, "ts": 1}), "payload", "map keys must be strings"),
    (msgpack.packb({"kind": "heartbeat", "seq": 1, "ts": 1, "data": {1: 2}}), "data", "map keys must be strings"),
    (b"\x85\xa4kind\xa9heartbeat\xa3seq\x01\xa2ts\x01\xa4meta\x81\x92\x01\x02\xc0\xa4boot\x00", "payload",
     "map keys must be strings"),
])
def test_hostile_payloads_are_refused_naming_the_field_or_the_limit(payload, field, reason):
    with pytest.raises(ProtocolError) as info:
        decode_device_message(payload)
    assert info.value.field == field, str(info.value)
    if reason is not None:
        assert info.value.reason == reason


def test_every_accepted_message_can_be_encoded_again_for_the_hosts():
    """The bridge re-encodes what it accepted into a batch: an int past int64 would fail there, for the whole batch."""
    for payload in (b'{"seq":1,"ts":1,"kind":"door.visitor","data":{"unit":"1","floor":500}}',
                    _msgpack(seq=2**53 - 1, ts=2**53, boot=2**53 - 1, kind="heartbeat", data={"rssi": -200})):
        encode_device_message(decode_device_message(payload))


def test_free_text_keeps_line_breaks_but_not_nul():
    clue = make_message("patrol.clue", seq=1, ts=1, data={"text": "two men\n\tnear the gate"})
    assert decode_device_message(encode_device_message(clue, json=True)) == clue
    with pytest.raises(ProtocolError, match=r"^data\.text: control or direction-override characters are not allowed$"):
        make_message("patrol.clue", seq=1, ts=1, data={"text": "a\x00b"})


@pytest.mark.parametrize("topic", ["rb/v1/dev/S1/alarm", "rb/v1/dev/S1/evt"])
@pytest.mark.parametrize("payload", [DEEP_JSON, DEEP_MSGPACK, BAD_UTF8_ZONE, b"", b"\x00" * 5000])
def test_classify_refuses_hostile_payloads_with_an_answer_for_the_device(topic, payload):
    verdict = classify(topic, payload)
    assert isinstance(verdict, Refused) and verdict.device_id == "S1" and verdict.reason


def test_a_refused_json_lookalike_is_answered_in_json():
    assert classify("rb/v1/dev/S1/alarm", b' {"seq":1}').json
    assert classify("rb/v1/dev/S1/alarm", b'\xef\xbb\xbf{"seq":1}').json
    assert not classify("rb/v1/dev/S1/alarm", b"\xc1").json


def test_the_digest_tells_a_resent_alarm_from_another_with_the_same_seq():
    panic = make_message("school.panic", seq=10, ts=5, data={"zone": "gate"})
    again = decode_device_message(encode_device_message(panic, json=True))  # same message, other encoding
    assert message_digest(again) == message_digest(panic)
    for other in (make_message("school.duress", seq=10, ts=5, data={"zone": "gate"}),
                  make_message("school.panic", seq=10, ts=6, data={"zone": "gate"}),
                  make_message("school.panic", seq=10, ts=5, data={"zone": "hall"}),
                  make_message("school.panic", seq=10, ts=5, data={"zone": "gate"}, boot=2)):
        assert message_digest(other) != message_digest(panic)
    assert 0 < message_digest(panic) < 2**56


# -- fuzzing: every decoder returns or refuses, whatever the bytes -------------------------------------

VALID = [
    ALARM,
    encode_device_message(make_message("patrol.position", seq=9, ts=1, data={"lat": 31.8, "lon": 117.2})),
    encode_device_message(make_message("door.visitor", seq=2, ts=3, data={"unit": "3-401", "floor": 4}), json=True),
    encode_device_message(make_message("kiosk.session", seq=4, ts=3, data={"service": "id", "outcome": "ok",
                                                                           "score": 90})),
]


@st.composite
def mutated(draw) -> bytes:
    """A valid payload with a few bytes flipped, inserted, deleted or duplicated: what a radio does."""
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "repeat"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            del data[at:at + draw(st.integers(1, 8))]
        elif op == "repeat":
            data[at:at] = data[at:at + draw(st.integers(1, 40))] * draw(st.integers(1, 50))
    return bytes(data)


payloads = st.one_of(st.binary(max_size=600), mutated())


@settings(max_examples=1500, deadline=None)
@given(payloads, st.sampled_from(["rb/v1/dev/S1/alarm", "rb/v1/dev/S1/evt", "rb/v1/dev/S1/state"]))
def test_classify_always_returns_a_verdict(payload, topic):
    verdict = classify(topic, payload)
    assert isinstance(verdict, (Refused, EventIn)) or topic.endswith("state")


@settings(max_examples=500, deadline=None)
@given(payloads)
def test_decode_device_message_raises_only_protocol_error(payload):
    try:
        decode_device_message(payload)
    except ProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=400), st.just(DEEP_MSGPACK), st.just(b"\x91" * 5000)),
       st.sampled_from([decode_ingest, decode_result, decode_states, decode_host_batch, decode_changes]))
def test_batch_decoders_raise_only_protocol_error(payload, decoder):
    try:
        decoder(payload)
    except ProtocolError:
        pass


CONSOLE = [b'{"type":"hello","token":"t"}', b'{"type":"ack","id":"x"}', b"[" * 5000, b'{"type":"\xff"}']


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=400), st.sampled_from(CONSOLE),
                 st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_console_decoder_raises_only_protocol_error(payload):
    try:
        decode_client(payload)
    except ProtocolError:
        pass


@pytest.mark.parametrize(("text", "title", "field"), [
    ("evil \u202egnp.exe", "", "text"),  # a direction override: the door screen would show other text than sent
    ("\x1b[2J lift closed", "", "text"),  # a terminal escape into logs and screens
    ("lift closed\u2028", "", "text"),
    ("lift closed", "Notice\nsecond line", "title"),
    ("lift closed", "\u2066x", "title"),
])
def test_a_notice_or_a_remote_open_reason_that_would_show_other_than_sent_is_refused_naming_its_field(text, title,
                                                                                                       field):
    from engine.notices import NoticeRefused, SiteDoors, check_post
    from engine.operators import Jurisdiction, Role
    from engine.remote_open import remote_open_refusal
    from protocols.notices import NoticeRefusal, PostNotice

    post = PostNotice("n1", "op", "C0001", text, 2_000.0, title=title)
    with pytest.raises(NoticeRefused, match=rf"^{field}: ") as refused:
        check_post(post, SiteDoors(), now_s=1_000.0)
    assert refused.value.reason is NoticeRefusal.TEXT_INVALID
    assert check_post(PostNotice("n1", "op", "C0001", "Lift closed\r\n\tuse B", 2_000.0, title="Lift"), SiteDoors(),
                      now_s=1_000.0)  # line breaks and tabs in the text stay allowed
    refusal = remote_open_refusal(None, Jurisdiction(Role.COMMAND_CENTER, ""), "C0001-door1", text + title + "\x00")
    assert refusal is not None and refusal[1].startswith("reason: one line without a control character")
