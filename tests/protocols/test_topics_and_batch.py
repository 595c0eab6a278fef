import pytest

from protocols import EventKind, ProtocolError
from protocols.batch import DeviceAck, IngestResult, decode_ingest, decode_result, encode_ingest, encode_result, ingest_item
from protocols.device import make_message
from protocols.kinds import AckStatus
from protocols.topics import (
    Channel,
    channel_for,
    check_kind_on_channel,
    device_topic,
    notice_topic,
    parse_device_topic,
    subscription,
)


def test_device_topics_carry_only_the_device_id():
    assert device_topic("D00042", Channel.ALARM) == "rb/v1/dev/D00042/alarm"
    assert device_topic("D00042", Channel.STATE) == "rb/v1/dev/D00042/state"
    assert notice_topic("S007") == "rb/v1/site/S007/notice"
    parsed = parse_device_topic("rb/v1/dev/D00042/evt")
    assert (parsed.device_id, parsed.channel) == ("D00042", Channel.EVT)


def test_shared_subscription_form():
    assert subscription(Channel.ALARM, share_group="redband") == "$share/redband/rb/v1/dev/+/alarm"


@pytest.mark.parametrize("topic", ["rb/v1/dev/D1", "rb/v2/dev/D1/evt", "rb/v1/dev/D1/nope", "rb/v1/dev/a b/evt"])
def test_foreign_topics_are_refused(topic):
    with pytest.raises(ProtocolError, match=r"^topic: "):
        parse_device_topic(topic)


def test_wildcards_cannot_hide_in_an_id():
    with pytest.raises(ProtocolError, match=r"^device_id: invalid id"):
        device_topic("D1/#", Channel.CMD)


def test_alarm_on_event_topic_is_refused_with_reason():
    with pytest.raises(ProtocolError, match=r"^kind: school\.panic must be published on the alarm topic, not evt$"):
        check_kind_on_channel(EventKind.SCHOOL_PANIC, Channel.EVT)
    with pytest.raises(ProtocolError, match=r"^kind: heartbeat must be published on the evt topic, not alarm$"):
        check_kind_on_channel(EventKind.HEARTBEAT, Channel.ALARM)
    check_kind_on_channel(EventKind.HEARTBEAT, Channel.EVT)


@pytest.mark.parametrize("kind", [EventKind.DOOR_VISITOR, EventKind.VISITOR_ANSWER, EventKind.DOOR_CODE])
def test_a_person_waiting_at_a_door_takes_the_alarm_topic_and_older_devices_the_event_topic(kind):
    assert channel_for(kind) is Channel.ALARM  # the fast path, ahead of the telemetry
    check_kind_on_channel(kind, Channel.ALARM)
    check_kind_on_channel(kind, Channel.EVT)  # devices built before the fast path
    with pytest.raises(ProtocolError, match=rf"^kind: {kind.value} must be published on the alarm topic, not state$"):
        check_kind_on_channel(kind, Channel.STATE)


@pytest.mark.parametrize("kind", [EventKind.VISITOR_PASS, EventKind.DOOR_OPENED, EventKind.PATROL_POSITION])
def test_a_non_urgent_kind_on_the_alarm_topic_is_refused_by_name(kind):
    assert channel_for(kind) is Channel.EVT
    with pytest.raises(ProtocolError, match=rf"^kind: {kind.value} must be published on the evt topic, not alarm$"):
        check_kind_on_channel(kind, Channel.ALARM)


def test_ingest_batch_roundtrip_keeps_every_event_typed():
    items = [ingest_item(f"D{i}", make_message("heartbeat", seq=i, ts=5), received_ms=i) for i in range(50)]
    items.append(ingest_item("D9", make_message("school.panic", seq=3, ts=5, data={"zone": "gym"})))
    decoded = decode_ingest(encode_ingest(items))
    assert decoded == items
    assert decoded[-1].message.data.zone == "gym"


def test_corrupt_batch_is_a_protocol_error():
    with pytest.raises(ProtocolError, match=r"ingest batch"):
        decode_ingest(b"\x92\x01")


def test_result_roundtrip():
    result = IngestResult(3, 1, 1, [DeviceAck("D1", 4, AckStatus.NAK, "unknown device")])
    assert decode_result(encode_result(result)) == result
    assert result.accounted == 5


def test_protocol_error_survives_pickling_with_its_field():
    import pickle

    err = pickle.loads(pickle.dumps(ProtocolError("data.floor", "expected int, got str")))
    assert (err.field, err.reason, str(err)) == ("data.floor", "expected int, got str", "data.floor: expected int, got str")


def test_corrupt_batch_error_names_the_item():
    with pytest.raises(ProtocolError, match=r"^0: ingest batch: expected array, got int$"):
        decode_ingest(b"\x93\x01\x02\x03")
