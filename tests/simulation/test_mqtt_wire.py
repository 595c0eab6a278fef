"""The load generator's pre-encoded MQTT 3.1.1 packets (a real broker reads them in the benchmark smoke run)."""

from simulation.mqtt_wire import _length, connect_packet, publish_packet


def test_remaining_length_encoding_at_its_boundaries():
    assert [_length(n) for n in (0, 127, 128, 16383, 16384, 2097151)] == [
        b"\x00", b"\x7f", b"\x80\x01", b"\xff\x7f", b"\x80\x80\x01", b"\xff\xff\x7f"]


def test_publish_and_connect_packets():
    assert publish_packet("a/b", b"xy") == b"\x30\x07\x00\x03a/bxy"
    big = publish_packet("t", b"x" * 200)
    assert big[:3] == b"\x30\xcb\x01" and len(big) == 3 + 203
    packet = connect_packet("c1", username="u", password="p", keepalive_s=0)
    assert packet == b"\x10\x14\x00\x04MQTT\x04\xc2\x00\x00\x00\x02c1\x00\x01u\x00\x01p"
