"""Visitor calls through a host (engine/hosting/community_domain.py, visitors.py): ring, first answer wins,
refusals, missed, the door's confirmation, restart."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.errors import JournalUnavailable
from engine.journal import MemoryJournal
from protocols.kinds import AckStatus
from tests.engine.helpers import SMALL, Pair

SPEC = replace(SMALL, residents_per_door=3)  # C0001 unit 2: r1 and r3 verified, r2 not
DOOR = "C0001-door2"
R1, R2, R3 = (f"C0001-u2-r{n}-phone" for n in (1, 2, 3))
OTHER_UNIT = "C0001-u1-r1-phone"


def _pair(**kw) -> Pair:
    pair = Pair(SPEC, **kw)
    assert [r.verified for r in pair.city.residents.values() if r.unit == "2" and r.site_id == "C0001"] == [
        True, False, True]
    return pair


def _commands(pair: Pair) -> list[tuple[str, str, dict]]:
    return [(c.device_id, c.command, c.args) for c in pair.host.take_device_commands()]


def _ring(pair: Pair) -> str:
    pair.send(DOOR, "door.visitor", {"unit": "2", "snapshot": "snap/1.jpg"})
    rung = _commands(pair)
    assert sorted(d for d, c, _ in rung if c == "visitor_call") == [R1, R3]  # never the unverified r2
    return rung[0][2]["call"]


def _audit(pair: Pair, action: str = "visitor_call"):
    return [row for row in pair.journal.audit_rows() if row.action == action]


def _community(pair: Pair) -> dict[str, int]:
    return pair.host._domains[1].figures.counts  # noqa: SLF001 - the host's statistics carry it too


def test_the_first_answer_wins_and_the_other_phone_is_told():
    pair = _pair()
    call = _ring(pair)
    pair.now_s = 4.0
    assert pair.send(R3, "visitor.answer", {"call": call, "answer": "open"}).accepted == 1
    sent = _commands(pair)
    assert (DOOR, "open_door", {"by": "C0001-u2-r3", "call": call}) in sent
    assert (R1, "visitor_call.answered", {"call": call, "by": "C0001-u2-r3", "answer": "open"}) in sent
    late = pair.send(R1, "visitor.answer", {"call": call, "answer": "deny"})
    assert late.refused == 1 and late.acks[0].reason == "data.call: answered already by C0001-u2-r3"
    assert not any(d == DOOR for d, _, _ in _commands(pair))  # the second answer changed nothing


def test_an_unverified_resident_or_another_units_phone_can_never_open():
    pair = _pair()
    call = _ring(pair)
    unverified = pair.send(R2, "visitor.answer", {"call": call, "answer": "open"})
    assert unverified.acks[0].status is AckStatus.NAK
    assert unverified.acks[0].reason == "data.call: unverified resident: may not answer or open"
    other = pair.send(OTHER_UNIT, "visitor.answer", {"call": call, "answer": "open"})
    assert other.acks[0].reason == "data.call: not a phone of unit 2 of C0001: may not answer"
    assert _commands(pair) == []  # no door opened, nobody told
    assert _community(pair)["refused_unverified"] == 1 and _community(pair)["refused_other_unit"] == 1
    refused = _audit(pair, "visitor_call.answer")
    assert [(r.actor, r.outcome, r.reason) for r in refused] == [
        ("C0001-u2-r2", "refused", "unverified: open"), ("C0001-u1-r1", "refused", "other_unit: open")]
    # the call still rings for the verified ones
    assert pair.send(R1, "visitor.answer", {"call": call, "answer": "open"}).accepted == 1


def test_an_unknown_call_is_refused_naming_the_field():
    pair = _pair()
    result = pair.send(R1, "visitor.answer", {"call": "C0001-door2#call@99", "answer": "open"})
    assert result.acks[0].reason.startswith("data.call: no visitor call of this id is ringing")


def test_a_call_nobody_answers_in_60_s_is_missed_and_the_phones_and_panel_are_told():
    pair = _pair()
    call = _ring(pair)
    pair.advance(59.9)
    assert _commands(pair) == []
    pair.advance(60.0)
    sent = _commands(pair)
    assert sorted(sent, key=str) == sorted([(R1, "visitor_call.missed", {"call": call}),
                                            (R3, "visitor_call.missed", {"call": call}),
                                            (DOOR, "visitor_call.ended", {"call": call, "outcome": "missed"})], key=str)
    (row,) = _audit(pair)
    assert (row.actor, row.outcome, row.target) == ("system", "missed", call)
    assert pair.send(R1, "visitor.answer", {"call": call, "answer": "open"}).refused == 1  # too late
    assert _community(pair)["missed"] == 1


def test_the_doors_open_report_closes_an_opened_call_with_its_latency_audited():
    pair = _pair()
    call = _ring(pair)
    pair.now_s = 2.5
    pair.send(R1, "visitor.answer", {"call": call, "answer": "open"})
    pair.now_s = 4.0
    pair.send(DOOR, "door.opened", {"open": True})
    (row,) = _audit(pair)
    assert (row.actor, row.outcome, row.role, row.scope) == ("C0001-u2-r1", "opened", "resident", "C0001")
    assert "answer=open" in row.reason and "latency_ms=2500" in row.reason and "door=C0001-door2" in row.reason
    pair.advance(100.0)
    assert len(_audit(pair)) == 1  # no timeout after it ended
    assert pair.host.statistics().community["opened"] == 1


def test_an_open_the_door_never_confirms_ends_not_opened():
    pair = _pair()
    call = _ring(pair)
    pair.send(R1, "visitor.answer", {"call": call, "answer": "open"})
    pair.advance(30.0)
    (row,) = _audit(pair)
    assert row.outcome == "not_opened"


def test_a_denied_call_ends_at_once_and_the_panel_is_told():
    pair = _pair()
    call = _ring(pair)
    pair.send(R3, "visitor.answer", {"call": call, "answer": "deny"})
    sent = _commands(pair)
    assert (DOOR, "visitor_call.ended", {"call": call, "outcome": "denied"}) in sent
    assert not any(c == "open_door" for _, c, _ in sent)
    assert [r.outcome for r in _audit(pair)] == ["denied"]


def test_the_open_calls_are_bounded_and_the_next_refused_naming_the_limit():
    pair = _pair()
    calls = pair.host._domains[1].calls  # noqa: SLF001
    calls.max_open = 1
    _ring(pair)
    refused = pair.send(DOOR, "door.visitor", {"unit": "2"})
    assert refused.acks[0].reason == "data.unit: 1 visitor calls open on this host (the limit): call refused"
    assert _community(pair)["refused_full"] == 1


def test_a_restarted_host_keeps_its_open_calls_with_their_deadlines():
    journal = MemoryJournal()
    pair = _pair(journal=journal)
    ringing = _ring(pair)
    pair.now_s = 10.0
    pair.send(DOOR, "door.visitor", {"unit": "2"})
    answered = _commands(pair)[0][2]["call"]
    pair.send(R1, "visitor.answer", {"call": answered, "answer": "open"})
    pair.host.take_device_commands()
    pair.restart()
    assert pair.host.next_deadline_s() is not None
    # the answered call still waits for its door, the ringing one still takes the first answer
    assert pair.send(R3, "visitor.answer", {"call": answered, "answer": "open"}).acks[0].reason.startswith(
        "data.call: answered already")
    pair.advance(40.0)  # answered at 10 s: not confirmed by 40 s
    pair.advance(60.0)  # rung at 0 s: missed at 60 s
    ended = sorted((r.target, r.outcome) for r in _audit(pair))
    assert ended == sorted([(answered, "not_opened"), (ringing, "missed")])


def test_a_step_the_journal_refuses_rings_nobody_and_an_answer_it_refuses_opens_nothing():
    pair = _pair()
    call = _ring(pair)
    pair.journal.fail_writes = OSError(28, "No space left on device")
    with pytest.raises(JournalUnavailable):
        pair.send(DOOR, "door.visitor", {"unit": "2"})
    with pytest.raises(JournalUnavailable):
        pair.send(R1, "visitor.answer", {"call": call, "answer": "open"})
    assert _commands(pair) == []  # no phone rung, no door opened for what the journal does not hold
    assert list(pair.host._domains[1].calls.open) == [call]  # noqa: SLF001
    pair.journal.fail_writes = None
    assert pair.send(R3, "visitor.answer", {"call": call, "answer": "open"}).accepted == 1  # still ringing
    assert (DOOR, "open_door", {"by": "C0001-u2-r3", "call": call}) in _commands(pair)


def test_after_a_restart_the_doors_open_report_still_closes_a_call_answered_open():
    pair = _pair(journal=MemoryJournal())
    call = _ring(pair)
    pair.send(R1, "visitor.answer", {"call": call, "answer": "open"})
    pair.restart()
    pair.now_s = 5.0
    pair.send(DOOR, "door.opened", {"open": True})
    assert [(r.target, r.outcome) for r in _audit(pair)] == [(call, "opened")]
