"""Visitor passes through a host (engine/hosting/visitor_passes.py): issue, windows, uses, doors, bounds, restart."""

from __future__ import annotations

import itertools

import pytest

from engine.hosting.visitor_passes import PassRefused
from engine.journal import MemoryJournal
from protocols.community import IssueVisitorPass
from protocols.device import make_message
from protocols.errors import ProtocolError
from tests.engine.test_community_calls import R1, R2, SPEC, _commands, _community
from tests.engine.helpers import Pair

DOOR, OTHER_DOOR, FOREIGN_DOOR = "C0001-door2", "C0001-door1", "C0002-door1"
HOUR_MS = 3_600_000
_REQUESTS = itertools.count(1)


def _issue(pair: Pair, phone: str = R1, **data) -> dict:
    data = {"request": f"req-{next(_REQUESTS)}", "valid_until": HOUR_MS, **data}
    result = pair.send(phone, "visitor.pass", data)
    assert result.refused == 0, result.acks
    (issued,) = [args for device, command, args in _commands(pair) if command == "visitor_pass.issued"]
    return issued


def _type(pair: Pair, code: str, door: str = DOOR) -> tuple[str, dict]:
    pair.send(door, "door.code", {"code": code})
    ((device, command, args),) = _commands(pair)
    assert device == door
    return command, args


def test_a_pass_opens_the_door_for_its_uses_then_is_used_up():
    pair = Pair(SPEC)
    issued = _issue(pair, uses=2)
    assert len(issued["code"]) == 6 and issued["uses"] == 2 and issued["valid_until"] == HOUR_MS
    code = issued["code"]
    assert _type(pair, code) == ("open_door", {"by": "C0001-u2-r1", "pass": code})
    assert _type(pair, code, OTHER_DOOR)[0] == "open_door"  # no door named: any door of the community
    assert _type(pair, code) == ("door.code.refused", {"code": code, "reason": "used_up"})
    assert _community(pair)["code_opened"] == 2 and _community(pair)["code_used_up"] == 1
    opened = [r for r in pair.journal.audit_rows() if r.action == "door.code" and r.outcome == "opened"]
    assert [r.actor for r in opened] == ["C0001-u2-r1"] * 2


def test_a_pass_outside_its_window_is_refused_not_yet_then_expired():
    pair = Pair(SPEC)
    code = _issue(pair, valid_from=600_000, valid_until=1_200_000)["code"]
    assert _type(pair, code)[1]["reason"] == "not_yet"
    pair.now_s = 700.0
    assert _type(pair, code)[0] == "open_door"
    pair.now_s = 1200.0
    assert _type(pair, code)[1]["reason"] == "expired"


def test_a_pass_for_one_door_is_refused_at_another_and_unknown_codes_are_named():
    pair = Pair(SPEC)
    code = _issue(pair, door=DOOR)["code"]
    assert _type(pair, code, OTHER_DOOR)[1] == {"code": code, "reason": "wrong_door"}
    assert _type(pair, code, FOREIGN_DOOR)[1]["reason"] == "unknown"  # another community's panel
    assert _type(pair, "000000" if code != "000000" else "111111")[1]["reason"] == "unknown"
    assert _type(pair, code)[0] == "open_door"


def test_bad_passes_are_refused_naming_the_field():
    pair = Pair(SPEC)
    pair.now_s = 100.0
    cases = [(R2, {"request": "a", "valid_until": HOUR_MS}, "data.request: only a verified resident's phone may "
                                                              "issue passes"),
             (R1, {"request": "b", "valid_until": 50_000}, "data.valid_until: the window is over before it begins"),
             (R1, {"request": "c", "valid_until": 9 * 86_400_000}, "data.valid_until: a window longer than 7 days"),
             (R1, {"request": "d", "valid_until": HOUR_MS, "door": FOREIGN_DOOR}, "data.door: not a door of C0001")]
    for phone, data, reason in cases:
        result = pair.send(phone, "visitor.pass", data)
        assert result.refused == 1 and result.acks[0].reason == reason
    assert _commands(pair) == []
    with pytest.raises(ProtocolError, match=r"^data.uses: expected int >= 1$"):  # the bridge's NAK
        make_message("visitor.pass", seq=1, ts=0, data={"request": "e", "valid_until": HOUR_MS, "uses": 0})
    with pytest.raises(ProtocolError, match=r"^data.code: expected letters and digits only$"):
        make_message("door.code", seq=1, ts=0, data={"code": "12 34"})


def test_the_same_request_gets_the_same_pass_and_a_resident_has_at_most_ten():
    pair = Pair(SPEC)
    first = pair.send(R1, "visitor.pass", {"request": "again", "valid_until": HOUR_MS})
    assert first.refused == 0
    code = _commands(pair)[0][2]["code"]
    pair.send(R1, "visitor.pass", {"request": "again", "valid_until": HOUR_MS})
    assert _commands(pair)[0][2]["code"] == code
    for n in range(9):
        pair.now_s = 10.0 * (n + 1)  # at most 10 visitor.pass a minute from one phone
        _issue(pair, request=f"more-{n}")
    pair.now_s = 100.0
    full = pair.send(R1, "visitor.pass", {"request": "eleventh", "valid_until": HOUR_MS})
    assert full.acks[0].reason == "data.request: 10 passes kept for this resident (the limit)"


def test_a_restarted_host_keeps_its_passes_and_their_uses():
    journal = MemoryJournal()
    pair = Pair(SPEC, journal=journal)
    code = _issue(pair, uses=2, valid_until=2 * HOUR_MS)["code"]
    assert _type(pair, code)[0] == "open_door"
    pair.restart()
    assert _type(pair, code)[0] == "open_door"
    assert _type(pair, code)[1]["reason"] == "used_up"


def test_a_desk_issues_a_pass_on_a_residents_behalf_audited_with_the_operator():
    pair = Pair(SPEC)
    answer = pair.host.ask(IssueVisitorPass(resident="C0001-u2-r1", request="desk-1", valid_until_s=3600.0, uses=1,
                                            door=DOOR, operator="C0001-guard-duty"), now_s=0.0)
    assert (answer.site, answer.door, answer.uses_left, answer.resident) == ("C0001", DOOR, 1, "C0001-u2-r1")
    ((phone, command, args),) = _commands(pair)
    assert (phone, command, args["code"]) == (R1, "visitor_pass.issued", answer.code)
    (row,) = [r for r in pair.journal.audit_rows() if r.action == "visitor_pass.issue"]
    assert (row.actor, row.role) == ("C0001-guard-duty", "operator") and "for=C0001-u2-r1" in row.reason
    assert _type(pair, answer.code)[0] == "open_door"


def test_a_desk_pass_is_refused_naming_the_field():
    pair = Pair(SPEC)
    with pytest.raises(PassRefused, match=r"^request: only a verified resident's phone may issue passes$"):
        pair.host.ask(IssueVisitorPass(resident="C0001-u2-r2", request="x", valid_until_s=3600.0), now_s=0.0)
    with pytest.raises(PassRefused, match=r"^resident: unknown resident 'nobody' on this host$"):
        pair.host.ask(IssueVisitorPass(resident="nobody", request="x", valid_until_s=3600.0), now_s=0.0)
    with pytest.raises(PassRefused, match=r"^valid_until: the window is over before it begins$"):
        pair.host.ask(IssueVisitorPass(resident="C0001-u2-r1", request="x", valid_until_s=5.0), now_s=10.0)
    assert _commands(pair) == []


def test_a_panel_typing_codes_is_bounded_to_ten_a_minute():
    pair = Pair(SPEC)
    for n in range(10):
        assert _type(pair, f"{n:06d}")[1]["reason"] == "unknown"
    guessed = pair.send(DOOR, "door.code", {"code": "999999"})
    assert guessed.refused == 1 and guessed.acks[0].reason.startswith("kind: too many door.code from this device")
    assert _commands(pair) == []
    pair.now_s = 60.0
    assert _type(pair, "999999")[1]["reason"] == "unknown"


def test_a_panel_guessing_codes_is_locked_out_after_twenty_wrong_in_an_hour_even_for_the_right_code():
    """A site keeps up to 1,000 passes among a million codes: ten guesses a minute would hit one within hours."""
    pair = Pair(SPEC)
    code = _issue(pair, uses=2, valid_until=2 * HOUR_MS)["code"]
    wrong = [f"{n:06d}" for n in range(21) if f"{n:06d}" != code][:20]
    for n, guess in enumerate(wrong):
        pair.now_s = 7.0 * n  # within the ten a minute
        assert _type(pair, guess)[1]["reason"] == "unknown"
    pair.now_s = 200.0
    locked = pair.send(DOOR, "door.code", {"code": code})
    assert locked.refused == 1 and locked.acks[0].reason == ("data.code: 20 wrong codes at this door in the last "
                                                             "hour: no code taken here for 3400 s")
    assert _commands(pair) == []  # the right code opens nothing while locked out
    audited = [(r.actor, r.outcome) for r in pair.journal.audit_rows() if r.action == "door.code"]
    assert audited.count((DOOR, "locked_out")) == 1 and len(audited) == 21
    assert _community(pair)["code_locked_out"] == 1
    assert _type(pair, code, OTHER_DOOR)[0] == "open_door"  # another panel of the site is not locked
    pair.now_s = 3_600.0  # the first wrong code is an hour old
    assert _type(pair, code)[0] == "open_door"
