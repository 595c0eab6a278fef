import pytest
from hypothesis import given, strategies as st

from protocols import EventKind, ProtocolError
from protocols.device import (
    MAX_PAYLOAD_BYTES,
    MESSAGE_TYPES,
    decode_device_message,
    encode_device_message,
    make_message,
)
from protocols.kinds import ALARM_KINDS


def test_every_kind_has_a_typed_message():
    assert set(MESSAGE_TYPES) == set(EventKind)


def test_alarm_kinds_are_exactly_the_listed_ones():
    assert {k.value for k in EventKind if k.is_alarm} == {
        "school.panic", "school.duress", "door.forced", "door.held_open",
        "camera.throw", "camera.intrusion", "kiosk.sos", "patrol.sos",
    }
    assert ALARM_KINDS == {k for k in EventKind if k.is_alarm}


def test_json_object_is_accepted_like_msgpack():
    payload = b'{"seq": 7, "ts": 1700000000000, "kind": "school.panic", "data": {"zone": "gate"}}'
    message = decode_device_message(payload)
    assert message.event_kind is EventKind.SCHOOL_PANIC
    assert (message.seq, message.data.zone) == (7, "gate")
    assert decode_device_message(encode_device_message(message)) == message


def test_data_may_be_omitted_when_all_its_fields_have_defaults():
    assert decode_device_message(b'{"seq":1,"ts":1,"kind":"heartbeat"}').event_kind is EventKind.HEARTBEAT


def test_wrong_field_type_names_the_field():
    payload = b'{"seq":1,"ts":1,"kind":"door.visitor","data":{"unit":"3-401","floor":"four"}}'
    with pytest.raises(ProtocolError, match=r"^data\.floor: expected int, got str$") as info:
        decode_device_message(payload)
    assert info.value.field == "data.floor"


def test_missing_required_field_names_it():
    with pytest.raises(ProtocolError, match=r"^data\.unit: required field missing$"):
        decode_device_message(b'{"seq":1,"ts":1,"kind":"door.visitor","data":{}}')
    with pytest.raises(ProtocolError, match=r"^seq: required field missing$"):
        decode_device_message(b'{"ts":1,"kind":"heartbeat"}')


def test_unknown_kind_is_refused_with_its_name():
    with pytest.raises(ProtocolError, match=r"^kind: unknown kind 'door.exploded'$"):
        decode_device_message(b'{"seq":1,"ts":1,"kind":"door.exploded"}')


def test_negative_seq_and_out_of_range_latitude_are_refused():
    with pytest.raises(ProtocolError, match=r"^seq: expected int >= 0$"):
        decode_device_message(b'{"seq":-1,"ts":1,"kind":"heartbeat"}')
    with pytest.raises(ProtocolError, match=r"^data\.lat: expected float <= 90\.0$"):
        decode_device_message(b'{"seq":1,"ts":1,"kind":"patrol.position","data":{"lat":91,"lon":0}}')


def test_malformed_json_and_msgpack_are_refused():
    with pytest.raises(ProtocolError, match=r"^payload: malformed JSON"):
        decode_device_message(b'{"seq": 1,')
    with pytest.raises(ProtocolError, match=r"^payload: malformed MessagePack"):
        decode_device_message(b"\x84\xa3seq")
    with pytest.raises(ProtocolError, match=r"^payload: neither a JSON object .* first byte 0xc1$"):
        decode_device_message(b"\xc1")
    with pytest.raises(ProtocolError, match=r"^payload: empty$"):
        decode_device_message(b"")


def test_oversized_payload_is_refused_before_decoding():
    big = b'{"seq":1,"ts":1,"kind":"patrol.clue","data":{"text":"' + b"x" * MAX_PAYLOAD_BYTES + b'"}}'
    with pytest.raises(ProtocolError, match=r"^payload: too large: \d+ bytes, limit 4096$"):
        decode_device_message(big)


def test_make_message_validates_like_the_decoder():
    with pytest.raises(ProtocolError, match=r"^data\.floor: expected int, got str$"):
        make_message("door.visitor", seq=1, ts=1, data={"unit": "1", "floor": "x"})


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_escape_as_anything_but_protocol_error(payload):
    try:
        decode_device_message(payload)
    except ProtocolError:
        pass


@given(
    kind=st.sampled_from([EventKind.HEARTBEAT, EventKind.SCHOOL_PANIC, EventKind.KIOSK_SOS]),
    seq=st.integers(0, 2**53 - 1),
    ts=st.integers(0, 2**53),
    as_json=st.booleans(),
)
def test_roundtrip_in_both_encodings(kind, seq, ts, as_json):
    message = make_message(kind, seq=seq, ts=ts)
    assert decode_device_message(encode_device_message(message, json=as_json)) == message
