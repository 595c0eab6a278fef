"""A storm's tick of changes goes to a console in frames of bounded size, every change once and in seq order."""

import msgspec

from actors.gateway_fanout import MAX_CHANGES_FRAME, changes_frames


def test_a_storms_tick_is_split_into_bounded_frames_keeping_every_change_in_order():
    parts = [msgspec.json.encode({"seq": seq, "incident": {"pad": "x" * (300 + seq % 700)}}) for seq in range(1, 4_001)]
    big = msgspec.json.encode({"seq": 4_001, "incident": {"pad": "y" * (MAX_CHANGES_FRAME + 10)}})
    assert changes_frames([]) == []
    frames = changes_frames([*parts, big])
    assert len(frames) > 1
    assert all(len(frame) <= MAX_CHANGES_FRAME + 64 for frame in frames[:-1])  # the last: one item over the bound
    items = [item for frame in frames for item in msgspec.json.decode(frame)["items"]]
    assert [item["seq"] for item in items] == list(range(1, 4_002))
    assert msgspec.json.decode(frames[-1])["items"] == [msgspec.json.decode(big)]

