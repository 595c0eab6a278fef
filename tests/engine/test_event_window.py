"""The per-device event window: several bridges deliver one device's events in any order, each is taken
exactly once within 64 of the newest; a jump back of 64 or more, or a new boot, is a device restart that
starts the window again. Nothing is ever refused for its seq."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.entities import EVENT_WINDOW, DeviceEntity
from engine.topology import Device
from protocols import DeviceKind
from protocols.kinds import AckStatus

DOOR = Device("C1-door1", DeviceKind.DOOR, "P1", "C1", None, "1", 0.0, 0.0, None)


def _run(seqs: list[int], boots: list[int] | None = None) -> list[AckStatus]:
    entity = DeviceEntity(DOOR)
    boots = boots or [0] * len(seqs)
    return [entity.check_event_seq(seq, boot).status for seq, boot in zip(seqs, boots)]


def _model(seqs: list[int], boots: list[int]) -> list[AckStatus]:
    """The rule written the plain way: sets of seqs seen in the current and the previous boot, their newest."""
    out, seen, newest, boot = [], set(), -1, 0
    previous: tuple[int, set, int] | None = None
    for seq, b in zip(seqs, boots):
        if b and b < boot:  # an older boot's event: a duplicate if its window saw it, else late (an ACK)
            if previous is not None and previous[0] == b and previous[2] - seq < EVENT_WINDOW:
                _, p_seen, p_newest = previous
                out.append(AckStatus.DUPLICATE if seq in p_seen else AckStatus.ACK)
                p_newest = max(p_newest, seq)
                previous = (b, {s for s in p_seen | {seq} if s > p_newest - EVENT_WINDOW}, p_newest)
            else:
                out.append(AckStatus.ACK)
            continue
        if (b and b > boot) or newest - seq >= EVENT_WINDOW:
            previous = (boot, seen, newest) if b and b > boot and newest >= 0 else None
            seen, newest, boot = {seq}, seq, (b if b else boot)
            out.append(AckStatus.ACK)
        elif seq in seen:
            out.append(AckStatus.DUPLICATE)
        else:
            newest = max(newest, seq)
            seen = {s for s in seen | {seq} if s > newest - EVENT_WINDOW}
            out.append(AckStatus.ACK)
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 300), st.sampled_from([0, 0, 0, 0, 1, 2])), min_size=1, max_size=150))
def test_the_window_follows_the_rule_and_never_refuses(pairs):
    seqs, boots = [p[0] for p in pairs], [p[1] for p in pairs]
    verdicts = _run(seqs, boots)
    assert AckStatus.NAK not in verdicts
    assert verdicts == _model(seqs, boots)


@given(st.permutations(list(range(EVENT_WINDOW))))
def test_any_reordering_within_the_window_loses_nothing(seqs):
    assert _run(list(seqs)) == [AckStatus.ACK] * EVENT_WINDOW


def test_an_absurd_seq_does_not_poison_the_device():
    entity = DeviceEntity(DOOR)
    assert entity.check_event_seq(2**53 - 1).status is AckStatus.ACK
    assert entity.check_event_seq(11).rearmed  # the next ordinary seq starts the window again
    assert entity.check_event_seq(12).status is AckStatus.ACK
    assert entity.check_event_seq(12).status is AckStatus.DUPLICATE


def test_an_event_of_the_previous_boot_arriving_late_is_a_duplicate_or_late_never_fresh():
    entity = DeviceEntity(DOOR)
    for seq in range(1, 6):
        entity.check_event_seq(seq, 1)
    assert entity.check_event_seq(1, 2).rearmed  # the device rebooted
    assert entity.check_event_seq(5, 1).status is AckStatus.DUPLICATE  # a redelivery of boot 1's seq 5
    late = entity.check_event_seq(6, 1)  # boot 1's last words, arriving after boot 2 began
    assert (late.status, late.late) == (AckStatus.ACK, True)
    assert entity.check_event_seq(2, 2).status is AckStatus.ACK  # boot 2 goes on unharmed


def test_a_new_boot_starts_again_at_seq_1():
    entity = DeviceEntity(DOOR)
    for seq in range(1, 11):
        entity.check_event_seq(seq, 7)
    again = entity.check_event_seq(1, 8)
    assert (again.status, again.rearmed) == (AckStatus.ACK, True)
    assert entity.check_event_seq(1, 8).status is AckStatus.DUPLICATE
