"""The per-device event window: several bridges deliver one device's events in any order, each is taken
exactly once, and nothing more than 64 behind the newest is taken at all."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.entities import EVENT_WINDOW, DeviceEntity
from engine.topology import Device
from protocols import DeviceKind
from protocols.kinds import AckStatus

DOOR = Device("C1-door1", DeviceKind.DOOR, "P1", "C1", None, "1", 0.0, 0.0, None)


def _run(seqs: list[int]) -> list[AckStatus]:
    entity = DeviceEntity(DOOR)
    return [entity.check_event_seq(seq).status for seq in seqs]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 200), min_size=1, max_size=120).flatmap(
    lambda seqs: st.permutations(seqs + seqs[: len(seqs) // 3])))
def test_every_seq_is_taken_at_most_once_and_only_within_the_window(seqs):
    verdicts = _run(list(seqs))
    newest = -1
    taken: set[int] = set()
    for seq, verdict in zip(seqs, verdicts):
        if verdict is AckStatus.ACK:
            assert seq not in taken
            assert seq > newest - EVENT_WINDOW
            taken.add(seq)
        elif verdict is AckStatus.DUPLICATE:
            assert seq in taken
        else:
            assert verdict is AckStatus.NAK and seq <= newest - EVENT_WINDOW
        newest = max(newest, seq)


@given(st.permutations(list(range(EVENT_WINDOW))))
def test_any_reordering_within_the_window_loses_nothing(seqs):
    assert _run(list(seqs)) == [AckStatus.ACK] * EVENT_WINDOW
