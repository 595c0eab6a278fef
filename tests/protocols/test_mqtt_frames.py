"""The bridge's own MQTT frame reader (protocols/mqtt_frames.py): PUBLISH frames into a batch, split anywhere,
and hostile frames refused by name."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import mqtt_frames as mf


def _v5_publish(topic: bytes, payload: bytes, *, qos: int = 0, pid: int = 0, props: bytes = b"",
                retain: bool = False) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + (pid.to_bytes(2, "big") if qos else b"")
    body += mf.length_bytes(len(props)) + props + payload
    return bytes([0x30 | (qos << 1) | int(retain)]) + mf.length_bytes(len(body)) + body


def _read_all(data: bytes, cuts: list[int]) -> mf.Frames:
    """Feed ``data`` as a socket would, in pieces ending at ``cuts``, keeping the unread tail like the protocol."""
    out, buf, r = mf.Frames(), bytearray(), 0
    for cut in sorted(set(cuts)) + [len(data)]:
        buf += data[len(buf):cut]
        r = mf.parse(buf, r, len(buf), out)
    assert r == len(buf)
    return out


def test_publishes_are_read_into_parallel_lists_with_qos1_ids_to_acknowledge_and_control_packets_kept():
    data = (_v5_publish(b"rb/v1/dev/d1/evt", b"\x93\x01", qos=0)
            + _v5_publish(b"rb/v1/dev/d2/state", b"offline", qos=1, pid=7, retain=True, props=b"\x0b\x05")
            + b"\xd0\x00"  # PINGRESP
            + b"\x40\x02\x00\x09")  # PUBACK 9
    out = _read_all(data, [])
    assert out.topics == ["rb/v1/dev/d1/evt", "rb/v1/dev/d2/state"]
    assert out.payloads == [b"\x93\x01", b"offline"]
    assert [f & mf.RETAIN for f in out.flags] == [0, 1]
    assert out.acks == [7]
    assert out.control == [(mf.PINGRESP, b""), (mf.PUBACK, b"\x00\x09")]
    assert mf.puback(out.control[1][1]) == (9, 0)


def test_a_frame_split_anywhere_waits_for_its_rest():
    payload = b"x" * 300  # a two-byte remaining length
    data = _v5_publish(b"rb/v1/dev/d1/evt", payload) * 3
    for cut in range(len(data)):
        out = _read_all(data, [cut])
        assert out.payloads == [payload] * 3


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet="abcdefghij0123456789-", min_size=1, max_size=20),
                          st.binary(max_size=400), st.integers(0, 1)), min_size=1, max_size=20),
       st.lists(st.integers(0, 4000), max_size=8))
def test_any_split_of_any_stream_of_publishes_reads_them_all_in_order(messages, cuts):
    data = b"".join(_v5_publish(f"rb/v1/dev/{d}/evt".encode(), p, qos=q, pid=i + 1)
                    for i, (d, p, q) in enumerate(messages))
    out = _read_all(data, [c % (len(data) + 1) for c in cuts])
    assert out.topics == [f"rb/v1/dev/{d}/evt" for d, _, _ in messages]
    assert out.payloads == [p for _, p, _ in messages]
    assert out.acks == [i + 1 for i, (_, _, q) in enumerate(messages) if q]


@pytest.mark.parametrize(("frame", "words"), [
    (b"\x30\xff\xff\xff\x7f", "remaining length: 268435455 bytes is over"),
    (b"\x30\xff\xff\xff\xff\x01", "more than 4 bytes"),
    (_v5_publish(b"rb/v1/dev/\xff\xfe/evt", b"{}"), "topic is not UTF-8"),
    (_v5_publish(b"rb/v1/dev/+/evt", b"{}"), "wildcard"),
    (_v5_publish(b"", b"{}"), "empty"),
    (b"\x30\x05\x00\x09abc", "topic length runs past"),
    (b"\x36\x05\x00\x01a\x00\x01", "QoS 3"),
    (b"\x30\x04\x00\x01a\x05", "properties of 5 bytes"),
    (b"\x30\x01\x00", "no room for its topic"),
    (b"\xf0\x00", "reserved"),
])
def test_a_frame_that_breaks_mqtt_is_refused_naming_what(frame, words):
    with pytest.raises(mf.FrameError, match=words.replace("+", r"\+")):
        mf.parse(frame, 0, len(frame), mf.Frames())


def test_the_frames_before_a_bad_one_are_kept_and_a_huge_length_is_refused_before_its_bytes_arrive():
    out = mf.Frames()
    good = _v5_publish(b"rb/v1/dev/d1/evt", b"ok")
    with pytest.raises(mf.FrameError):
        mf.parse(good + b"\x30\x80\x80\x80\x01", 0, len(good) + 5, out)  # 2 MiB announced, 5 bytes here
    assert out.payloads == [b"ok"]


def test_what_the_bridge_sends_reads_back():
    connect = mf.connect("redband-x-b0-evt", username="u", password="p", keepalive_s=30, clean_start=False,
                         session_expiry_s=3600, receive_maximum=1000)
    assert connect[0] == 0x10 and b"MQTT\x05" in connect and b"\x11\x00\x00\x0e\x10" in connect
    assert connect[connect.index(b"MQTT\x05") + 5] & 0x02 == 0  # clean start off: a persistent session
    sub = mf.subscribe(3, "$share/rb-x/rb/v1/dev/+/evt", qos=1, retain_handling=2)
    assert sub[0] == 0x82 and sub.endswith(b"$share/rb-x/rb/v1/dev/+/evt\x21")
    out = mf.Frames()
    frame = mf.publish("rb/v1/dev/d1/ack", b"{}", qos=1, packet_id=5)
    mf.parse(frame, 0, len(frame), out)
    assert (out.topics, out.payloads, out.acks) == (["rb/v1/dev/d1/ack"], [b"{}"], [5])
    assert mf.suback(b"\x00\x03\x00\x87") == (3, [0x87]) and mf.reason_name(0x87) == "not authorized"
    assert mf.connack(b"\x01\x00\x00") == (True, 0)
    assert mf.pubacks([1, 258]) == b"\x40\x02\x00\x01\x40\x02\x01\x02"
