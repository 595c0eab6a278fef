"""What the bridge makes of a device's MQTT message, and what it says back — pure, no broker."""

from __future__ import annotations

import msgspec
import pytest

from protocols.batch import DeviceAck, StateChange
from protocols.endpoint import parse_mqtt_url
from protocols.errors import ProtocolError
from protocols.inbound import EventIn, Refused, StateIn, classify
from protocols.kinds import AckStatus
from protocols.replies import (Notice, ack_of, decode_ack, decode_command, decode_notice, encode_ack, encode_command,
                               encode_notice, nak, parse_state)
from protocols.topics import Channel, DeviceState

PANIC = b'{"seq": 7, "ts": 1, "kind": "school.panic", "data": {"zone": "gate"}}'


def test_acks_echo_seq_in_the_encoding_of_the_message_they_answer():
    ok = ack_of(DeviceAck("S1", 7, AckStatus.ACK, incident_id="S1#7"))
    assert encode_ack(ok, json=True) == b'{"ok":true,"seq":7,"incident":"S1#7"}'
    assert msgspec.msgpack.decode(encode_ack(ok, json=False)) == {"ok": True, "seq": 7, "incident": "S1#7"}
    dup = ack_of(DeviceAck("S1", 7, AckStatus.DUPLICATE, incident_id="S1#7"))
    assert decode_ack(encode_ack(dup, json=True)).duplicate is True
    refused = ack_of(DeviceAck("S1", 8, AckStatus.NAK, "seq: stale"))
    assert encode_ack(refused, json=True) == b'{"ok":false,"seq":8,"reason":"seq: stale"}'
    assert encode_ack(nak(None, "malformed JSON"), json=True) == b'{"ok":false,"reason":"malformed JSON"}'
    assert decode_ack(encode_ack(refused, json=False)) == refused


def test_commands_and_notices_round_trip():
    for as_json in (True, False):
        command = decode_command(encode_command("open_door", {"by": "resident"}, 5, json=as_json))
        assert (command.cmd, command.args, command.ts) == ("open_door", {"by": "resident"}, 5)
    notice = Notice(text="Lift out of order", ts=9, title="Block 2")
    assert decode_notice(encode_notice(notice)) == notice
    with pytest.raises(ProtocolError, match="command"):
        decode_command(b'{"cmd": 1}')


@pytest.mark.parametrize("payload, state", [(b"online", DeviceState.ONLINE), (b" offline\n", DeviceState.OFFLINE),
                                            (b'"online"', DeviceState.ONLINE), (b"OFFLINE", DeviceState.OFFLINE)])
def test_state_payloads(payload, state):
    assert parse_state(payload) is state


def test_a_bad_state_is_refused_by_name():
    with pytest.raises(ProtocolError) as err:
        parse_state(b"sleeping")
    assert err.value.field == "state" and "sleeping" in err.value.reason


def test_classify_a_good_alarm_and_a_state():
    event = classify("rb/v1/dev/S1/alarm", PANIC)
    assert isinstance(event, EventIn) and event.device_id == "S1" and event.json and event.channel is Channel.ALARM
    assert event.message.seq == 7
    state = classify("rb/v1/dev/S1/state", b"offline")
    assert state == StateIn(StateChange("S1", online=False))


@pytest.mark.parametrize("topic, payload, seq, reason", [
    ("rb/v1/dev/S1/alarm", b'{"seq": 3, "ts": 1, "kind": "school.pa', None, "payload: malformed JSON"),
    ("rb/v1/dev/S1/alarm", b'{"seq": 3, "ts": 1, "kind": "school.panic", "data": {"zone": 1}}', 3,
     "data.zone: expected str, got int"),
    ("rb/v1/dev/S1/alarm", b'{"seq": 4, "ts": 1, "kind": "heartbeat"}', 4,
     "kind: heartbeat must be published on the evt topic, not alarm"),
    ("rb/v1/dev/S1/evt", PANIC, 7, "kind: school.panic must be published on the alarm topic, not evt"),
    ("rb/v1/dev/S1/alarm", b'{"seq": 5, "ts": 1, "kind": "bogus"}', 5, "kind: unknown kind 'bogus'"),
    ("rb/v1/dev/S1/alarm", msgspec.msgpack.encode({"seq": 6, "ts": "x", "kind": "school.panic"}), 6,
     "ts: expected int, got str"),
    ("rb/v1/dev/S1/ack", PANIC, None, "topic: devices do not publish on ack"),
    ("rb/v1/dev/S1/state", b"maybe", None, "state: expected 'online' or 'offline'"),
])
def test_classify_refusals_name_the_field_and_echo_the_seq_when_readable(topic, payload, seq, reason):
    refused = classify(topic, payload)
    assert isinstance(refused, Refused) and refused.device_id == "S1"
    assert refused.seq == seq and refused.reason.startswith(reason), refused.reason


def test_unknown_devices_and_foreign_topics_are_refused():
    refused = classify("rb/v1/dev/ghost/alarm", PANIC, known_device=lambda d: d == "S1")
    assert refused == Refused("ghost", 7, "device_id: unknown device 'ghost'", True)
    foreign = classify("other/topic", PANIC)
    assert isinstance(foreign, Refused) and foreign.device_id == "" and "not a device topic" in foreign.reason


def test_mqtt_urls():
    endpoint = parse_mqtt_url("mqtt://redband-bridge:p%40ss@127.0.0.1:18830")
    assert (endpoint.host, endpoint.port, endpoint.username, endpoint.password) == (
        "127.0.0.1", 18830, "redband-bridge", "p@ss")
    assert "p@ss" not in repr(endpoint) and "***" in repr(endpoint)
    assert parse_mqtt_url(endpoint.url()) == endpoint
    assert parse_mqtt_url("mqtt://localhost").port == 1883
    for bad, why in (("tcp://h:1", "scheme"), ("mqtt://:1", "no host"), ("mqtt://h:99999", "port"),
                     ("mqtt://h/x", "no path")):
        with pytest.raises(ProtocolError, match=why):
            parse_mqtt_url(bad)
