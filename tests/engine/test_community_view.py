"""The community's console view at the host's desk (engine/hosting/community_view.py): doors open, calls ringing,
recent calls with their outcome and counts, kept across a restart (read back from the audit trail)."""

from __future__ import annotations

from dataclasses import replace

from engine.journal import MemoryJournal
from protocols.community_desk import CommunityState
from tests.engine.helpers import SMALL, Pair

SPEC = replace(SMALL, residents_per_door=3)  # C0001 unit 2: r1 and r3 verified
DOOR = "C0001-door2"
R1 = "C0001-u2-r1-phone"


def _state(pair: Pair, site: str = "C0001"):
    return pair.host.ask(CommunityState(site), now_s=pair.now_s)


def test_a_call_rings_then_shows_among_the_recent_with_its_outcome_and_counts_and_survives_a_restart():
    pair = Pair(SPEC, journal=MemoryJournal())
    pair.send(DOOR, "door.visitor", {"unit": "2", "snapshot": "snap/1.jpg"})
    call = next(c.args["call"] for c in pair.host.take_device_commands())
    state = _state(pair)
    assert [(c.call, c.door, c.unit, c.outcome, c.snapshot) for c in state.calls_open] == [
        (call, DOOR, "2", "", "snap/1.jpg")]
    assert state.calls_recent == [] and state.counts == {}
    assert _state(pair, "C0002").calls_open == []  # another community's view does not show it
    pair.now_s = 3.0
    pair.send(R1, "visitor.answer", {"call": call, "answer": "open"})
    assert _state(pair).calls_open[0].answer == "open"
    pair.now_s = 4.0
    pair.send(DOOR, "door.opened", {"open": True})
    state = _state(pair)
    assert state.calls_open == [] and [d.door for d in state.doors_open] == [DOOR]
    [ended] = state.calls_recent
    assert (ended.call, ended.outcome, ended.by, ended.latency_ms, ended.ended_s) == (
        call, "opened", "C0001-u2-r1", 3000, 4.0)
    assert state.counts == {"opened": 1}
    pair.now_s = 5.0
    pair.send(DOOR, "door.opened", {"open": False})
    assert _state(pair).doors_open == []
    pair.send(DOOR, "door.visitor", {"unit": "2"})
    pair.advance(70.0)  # nobody answers: missed
    pair.restart()
    state = _state(pair)
    assert [(c.outcome, c.door, c.unit) for c in state.calls_recent] == [("missed", DOOR, "2"), ("opened", DOOR, "2")]
    assert state.calls_recent[1].by == "C0001-u2-r1" and state.calls_recent[1].latency_ms == 3000
    assert state.counts == {"opened": 1, "missed": 1}
