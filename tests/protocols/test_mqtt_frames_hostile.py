"""The bridge's frame reader (protocols/mqtt_frames.py) against hostile bytes: anything at all is read or refused
with FrameError, never another exception; publishes with properties of any length (one- and multi-byte property
lengths, as a device's user properties relayed by the broker) and control packets read alike split at every byte."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import mqtt_frames as mf


def _publish(topic: bytes, payload: bytes, *, qos: int, pid: int, props: bytes) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + (pid.to_bytes(2, "big") if qos else b"")
    body += mf.length_bytes(len(props)) + props + payload
    return bytes([0x30 | (qos << 1)]) + mf.length_bytes(len(body)) + body


def _user_properties(n: int) -> bytes:
    return b"".join(b"\x26\x00\x01k\x00\x05" + b"v%04d" % i for i in range(n))


STREAM = b"".join([
    _publish(b"rb/v1/dev/d1/alarm", b'{"seq":1}', qos=1, pid=1, props=b""),
    _publish(b"rb/v1/dev/d1/alarm", b"x" * 130, qos=1, pid=2, props=_user_properties(12)),  # 2-byte lengths
    b"\xd0\x00",  # PINGRESP
    _publish(b"rb/v1/dev/d2/evt", b"", qos=0, pid=0, props=b"\x01\x01"),
    b"\x40\x03\x00\x07\x10",  # PUBACK with a reason
])


def _read(data: bytes, cut: int) -> mf.Frames:
    out = mf.Frames()
    r = mf.parse(data[:cut], 0, cut, out)
    rest = data[r:]
    assert mf.parse(rest, 0, len(rest), out) == len(rest)
    return out


def test_publishes_with_properties_and_control_packets_read_alike_split_at_every_byte():
    whole = _read(STREAM, len(STREAM))
    assert whole.topics == ["rb/v1/dev/d1/alarm", "rb/v1/dev/d1/alarm", "rb/v1/dev/d2/evt"]
    assert whole.payloads == [b'{"seq":1}', b"x" * 130, b""] and whole.acks == [1, 2]
    assert whole.control == [(mf.PINGRESP, b""), (mf.PUBACK, b"\x00\x07\x10")]
    for cut in range(len(STREAM)):
        out = _read(STREAM, cut)
        assert (out.topics, out.payloads, out.acks, out.control) == (
            whole.topics, whole.payloads, whole.acks, whole.control), cut


def _parse_or_refuse(data: bytes) -> None:
    out = mf.Frames()
    try:
        r = mf.parse(data, 0, len(data), out)
    except mf.FrameError:
        return
    assert 0 <= r <= len(data)
    assert len(out.topics) == len(out.payloads) == len(out.flags)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_are_read_or_refused_with_frame_error(data):
    _parse_or_refuse(data)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(STREAM) - 1), st.integers(0, 255)), min_size=1, max_size=4))
def test_a_valid_stream_with_any_bytes_changed_is_read_or_refused_with_frame_error(changes):
    data = bytearray(STREAM)
    for at, byte in changes:
        data[at] = byte
    _parse_or_refuse(bytes(data))
