"""The simulator's console watch confirms what it showed the way a browser does: receipts the gateway accepts (16 KiB
at most a client message), however long the incident ids and however many a storm's frame shows."""

from protocols.console import MAX_CLIENT_MESSAGE_BYTES, Receipt, decode_client, encode
from simulation.console_watch import receipt_parts


def test_a_storms_receipts_stay_within_the_gateways_message_limit_and_keep_every_incident_in_order():
    longest = "D" * 64  # a device id may have 64 characters; its incident id adds "#" and a number
    shown = [(f"{longest}#{100_000 + n}", 10_000 + n) for n in range(5_000)] + [(f"C{n:04d}-door1#1", 2) for n in range(6_000)]
    parts = receipt_parts(shown)
    frames = [encode(Receipt(part)) for part in parts]
    assert max(len(frame) for frame in frames) <= MAX_CLIENT_MESSAGE_BYTES
    assert [entry for frame in frames for entry in decode_client(frame).incidents] == shown
    assert len(encode(Receipt(shown[:200]))) > MAX_CLIENT_MESSAGE_BYTES  # 200 a receipt, as before: refused
