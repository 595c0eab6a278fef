"""Notices for door screens through a host (engine/hosting/notices.py): the board, targets, scheduled starts, expiry,
withdrawal, named refusals, receipts, restart, audit, and the board's place in the device-command outbox."""

from __future__ import annotations

import pytest

from engine.hosting.notices import NOTICE_TIMER
from engine.journal import MemoryJournal
from engine.notices import MAX_OPEN_PER_SITE, NoticeRefused
from protocols.notices import (NOTICE_BOARD, NoticeQuery, NoticeRefusal, NoticeState, PostNotice, WithdrawNotice,
                               decode_board)
from tests.engine.helpers import Pair

SITE, OTHER = "C0001", "C0002"
DOOR1, DOOR2 = "C0001-door1", "C0001-door2"  # buildings "1" and "2"
HOUR = 3600.0


def _post(pair: Pair, notice: str = "n1", **fields):
    request = PostNotice(**{"notice": notice, "operator": "op-1", "site": SITE, "text": "Water off 9-12",
                            "valid_until_s": pair.now_s + HOUR, **fields})
    return pair.host.ask(request, now_s=pair.now_s)


def _withdraw(pair: Pair, notice: str = "n1", site: str = SITE):
    return pair.host.ask(WithdrawNotice(site, notice, "op-2", "mistake"), now_s=pair.now_s)


def _boards(pair: Pair) -> dict[str, list]:
    """Site → the boards queued for it since the last call (each decoded; None: the retained message cleared)."""
    out: dict[str, list] = {}
    for command in pair.host.take_device_commands():
        if command.site:
            assert command.command == NOTICE_BOARD and command.device_id == command.site
            board = decode_board(command.args["board"])
            out.setdefault(command.site, []).append(None if board is None else [n.id for n in board.notices])
    return out


def _refusal(call) -> NoticeRefusal:
    with pytest.raises(NoticeRefused) as caught:
        call()
    return caught.value.reason


def _notice(pair: Pair, notice: str = "n1"):
    (view,) = [v for v in pair.host.ask(NoticeQuery(SITE), now_s=pair.now_s).notices if v.notice == notice]
    return view


def test_a_posted_notice_goes_on_the_board_once_and_the_same_post_again_is_the_same_notice():
    pair = Pair(now_s=1000.0)
    view = _post(pair, title="Maintenance", level="warning")
    assert view.state is NoticeState.ACTIVE and view.author == "op-1" and view.valid_from_s == 1000.0
    assert view.pending == (DOOR1, DOOR2) and view.shown == ()
    assert _boards(pair) == {SITE: [["n1"]]}
    assert _post(pair, title="Maintenance", level="warning") == view  # sent again (valid_from 0: "now" as first resolved): answered, nothing new
    assert _boards(pair) == {}
    assert pair.host.statistics().notices["posted"] == 1 and pair.host.statistics().notices["active"] == 1
    (row,) = [r for r in pair.journal.audit_rows() if r.action == "notice.post"]
    assert (row.actor, row.target, row.outcome) == ("op-1", f"{SITE}/n1", "ok") and "Water off" in row.reason


def test_targets_buildings_and_units_choose_the_door_screens():
    pair = Pair()
    assert _post(pair, "b", buildings=("2",)).pending == (DOOR2,)
    assert _post(pair, "u", units=("1",)).pending == (DOOR1,)
    board = decode_board(pair.host.take_device_commands()[-1].args["board"])
    assert [(n.id, n.buildings, n.units) for n in board.notices] == [("b", ("2",), ()), ("u", (), ("1",))]
    assert pair.send(DOOR1, "notice.shown", {"notice": "b"}).refused == 1  # not for building 1


def test_a_scheduled_notice_starts_then_expires_off_the_board():
    pair = Pair()
    view = _post(pair, valid_from_s=600.0, valid_until_s=1200.0)
    assert view.state is NoticeState.SCHEDULED and _boards(pair) == {}
    assert pair.send(DOOR1, "notice.shown", {"notice": "n1"}).refused == 1  # not started yet
    pair.advance(599.0)
    assert _boards(pair) == {}
    pair.advance(600.0)
    assert _boards(pair) == {SITE: [["n1"]]} and _notice(pair).state is NoticeState.ACTIVE
    pair.advance(1200.0)
    assert _boards(pair) == {SITE: [None]} and _notice(pair).state is NoticeState.EXPIRED
    stats = pair.host.statistics().notices
    assert (stats["started"], stats["expired"], stats["active"]) == (1, 1, 0)
    (row,) = [r for r in pair.journal.audit_rows() if r.action == "notice.expire"]
    assert (row.actor, row.target) == ("system", f"{SITE}/n1")
    assert _refusal(lambda: _withdraw(pair)) is NoticeRefusal.ALREADY_EXPIRED


def test_withdrawal_removes_it_from_the_board_and_is_audited():
    pair = Pair()
    _post(pair, "a")
    _post(pair, "b")
    _boards(pair)
    view = _withdraw(pair, "a")
    assert view.state is NoticeState.WITHDRAWN and view.withdrawn_by == "op-2" and view.withdraw_reason == "mistake"
    assert _boards(pair) == {SITE: [["b"]]}
    assert [d.in_force(SITE) for d in pair.host._domains if hasattr(d, "in_force")] == [1]
    _withdraw(pair, "b")
    assert _boards(pair) == {SITE: [None]}  # no notice in force: the retained message is cleared
    assert _refusal(lambda: _withdraw(pair, "b")) is NoticeRefusal.ALREADY_WITHDRAWN
    pair.advance(2 * HOUR)  # no expiry of a withdrawn notice
    assert _boards(pair) == {} and pair.host.statistics().notices.get("expired", 0) == 0
    rows = [(r.action, r.target, r.outcome) for r in pair.journal.audit_rows() if r.action == "notice.withdraw"]
    assert rows == [("notice.withdraw", f"{SITE}/a", "ok"), ("notice.withdraw", f"{SITE}/b", "ok"),
                    ("notice.withdraw", f"{SITE}/b", "refused")]


@pytest.mark.parametrize(("fields", "reason"), [
    ({"site": "C9999"}, NoticeRefusal.UNKNOWN_SITE),
    ({"site": "S0001"}, NoticeRefusal.UNKNOWN_SITE),  # a school: not a community
    ({"valid_from_s": 2000.0, "valid_until_s": 1500.0}, NoticeRefusal.WINDOW_INVERTED),
    ({"valid_until_s": 500.0}, NoticeRefusal.WINDOW_PAST),
    ({"valid_until_s": float("nan")}, NoticeRefusal.WINDOW_INVERTED),
    ({"valid_until_s": 1000.0 + 32 * 86_400}, NoticeRefusal.WINDOW_TOO_LONG),
    ({"valid_from_s": 1000.0 + 32 * 86_400, "valid_until_s": 1000.0 + 33 * 86_400}, NoticeRefusal.WINDOW_TOO_LONG),
    ({"buildings": ("9",)}, NoticeRefusal.UNKNOWN_BUILDING),
    ({"units": ("7-1203",)}, NoticeRefusal.UNKNOWN_UNIT),
    ({"text": "  \n"}, NoticeRefusal.TEXT_EMPTY),
    ({"text": "x" * 2001}, NoticeRefusal.TEXT_TOO_LONG),
    ({"text": "a\x00b"}, NoticeRefusal.TEXT_INVALID),
    ({"notice": "a/b"}, NoticeRefusal.TEXT_INVALID),
])
def test_refusals_are_named_and_change_nothing(fields, reason):
    pair = Pair(now_s=1000.0)
    refused = _refusal(lambda: _post(pair, **fields))
    assert refused is reason
    assert _boards(pair) == {} and pair.host.statistics().notices.get("posted", 0) == 0
    assert pair.host.statistics().notices[f"refused_{reason.value}"] == 1
    (row,) = [r for r in pair.journal.audit_rows() if r.action == "notice.post"]
    assert row.outcome == "refused" and row.reason.split(":")[0] in ("site", "valid_from_s", "valid_until_s",
                                                                       "buildings", "units", "text", "notice")


def test_other_refusals_not_found_id_taken_too_many_and_the_query_of_an_unknown_site():
    pair = Pair()
    assert _refusal(lambda: _withdraw(pair, "nope")) is NoticeRefusal.NOT_FOUND
    assert _refusal(lambda: _withdraw(pair, "n1", site="C9999")) is NoticeRefusal.UNKNOWN_SITE
    _post(pair)
    assert _refusal(lambda: _post(pair, text="Another text")) is NoticeRefusal.ID_TAKEN
    for i in range(1, MAX_OPEN_PER_SITE):
        _post(pair, f"n{i + 1}")
    assert _refusal(lambda: _post(pair, "one-more")) is NoticeRefusal.TOO_MANY
    assert _refusal(lambda: pair.host.ask(NoticeQuery("C9999"), now_s=0.0)) is NoticeRefusal.UNKNOWN_SITE
    listed = pair.host.ask(NoticeQuery(SITE, limit=10), now_s=0.0)
    assert len(listed.notices) == 10 and listed.more == MAX_OPEN_PER_SITE - 10


def test_receipts_one_per_notice_and_door_unknown_notices_refused_by_name():
    pair = Pair()
    _post(pair)
    assert pair.send(DOOR1, "notice.shown", {"notice": "n1"}).refused == 0
    assert pair.send(DOOR1, "notice.shown", {"notice": "n1"}).refused == 0  # again: one receipt
    view = _notice(pair)
    assert view.shown == (DOOR1,) and view.pending == (DOOR2,)
    result = pair.send(DOOR2, "notice.shown", {"notice": "ghost"})
    assert result.refused == 1 and result.acks[0].reason == f"data.notice: unknown notice 'ghost' at {SITE}"
    assert pair.send("C0002-door1", "notice.shown", {"notice": "n1"}).refused == 1  # another community's door
    assert pair.host.statistics().notices["receipts"] == 1
    pair.send(DOOR2, "notice.shown", {"notice": "n1"})
    assert _notice(pair).pending == () and pair.host.statistics().notices["receipts"] == 2


def test_a_restart_keeps_notices_receipts_and_their_start_and_expiry_timers():
    journal = MemoryJournal()
    pair = Pair(journal=journal)
    _post(pair, "now", valid_until_s=1000.0)
    _post(pair, "later", valid_from_s=500.0, valid_until_s=2000.0)
    pair.send(DOOR1, "notice.shown", {"notice": "now"})
    _boards(pair)
    pair.restart()
    assert _boards(pair) == {SITE: [["now"]]}  # a rebuilt host sends its boards again
    assert _notice(pair, "now").shown == (DOOR1,) and _notice(pair, "later").state is NoticeState.SCHEDULED
    assert {k[1] for k in pair.host.scheduler.keys() if k[0] == NOTICE_TIMER} == {f"{SITE}/now", f"{SITE}/later"}
    pair.advance(500.0)
    assert _boards(pair) == {SITE: [["now", "later"]]}  # soonest started first
    pair.restart()
    _boards(pair)
    pair.advance(1500.0)  # "now" expired while the host was down: it expires at the first advance
    assert _boards(pair) == {SITE: [["later"]]} and _notice(pair, "now").state is NoticeState.EXPIRED
    pair.restart()
    pair.advance(2000.0)
    assert _boards(pair)[SITE][-1] is None
    assert pair.host.statistics().notices["expired"] == 2 and pair.host.statistics().notices["posted"] == 2
    assert [r.target for r in journal.audit_rows() if r.action == "notice.expire"] == [f"{SITE}/now", f"{SITE}/later"]


def test_a_newer_board_replaces_an_older_one_not_yet_confirmed():
    pair = Pair()
    _post(pair, "a")
    (first,) = pair.host.take_device_commands(now_s=pair.now_s)  # taken by a bridge, not confirmed yet
    _post(pair, "b")
    pair.advance(pair.now_s + 60.0)  # past command_confirm_s: the old board is not handed out again
    boards = [c for c in pair.host.take_device_commands(now_s=pair.now_s) if c.site]
    assert [[n.id for n in decode_board(c.args["board"]).notices] for c in boards] == [["a", "b"]]
    assert first.number not in [c.number for c in boards]
    pair.advance(pair.now_s + 60.0)  # not confirmed: handed out again, the newest
    again = [c for c in pair.host.take_device_commands(now_s=pair.now_s) if c.site]
    assert len(again) == 1 and again[0].args == boards[0].args
    pair.host.confirm_device_commands([again[0].number])
    pair.advance(pair.now_s + 60.0)
    assert pair.host.take_device_commands(now_s=pair.now_s) == []


def test_a_post_the_journal_refuses_leaves_the_board_as_the_journal_holds_it():
    from engine.errors import JournalUnavailable

    pair = Pair()
    _post(pair, "a")
    pair.journal.fail_writes = OSError(28, "No space left on device")
    with pytest.raises(JournalUnavailable):
        _post(pair, "b")
    pair.journal.fail_writes = None
    assert _boards(pair) == {SITE: [["a"]]}  # b's board taken back; the rebuilt host sends the board it holds
    assert [v.notice for v in pair.host.ask(NoticeQuery(SITE), now_s=0.0).notices] == ["a"]
    _post(pair, "b")  # the caller's retry
    assert _boards(pair) == {SITE: [["a", "b"]]}


def test_a_withdrawal_reason_that_would_show_other_than_sent_is_refused_and_the_notice_stays():
    pair = Pair(now_s=1_000.0)
    _post(pair)
    for reason in ("\x1b[2J", "mis\u202etake", "nul\x00"):
        assert _refusal(lambda: pair.host.ask(WithdrawNotice(SITE, "n1", "op-2", reason),
                                              now_s=pair.now_s)) is NoticeRefusal.TEXT_INVALID
    assert _notice(pair).state is NoticeState.ACTIVE
    assert _withdraw(pair).state is NoticeState.WITHDRAWN


def test_notices_that_would_make_the_board_larger_than_one_broker_packet_are_refused_by_name():
    """The broker disconnects a client sending a packet over 16,384 bytes: a board that large would take the bridge's
    alarm lane down each time its host handed it out again."""
    import re
    from pathlib import Path

    from engine import mqtt_provision
    from protocols.notices import MAX_BOARD_BYTES

    packet_max = int(re.search(r"^max_packet_size (\d+)$", Path(mqtt_provision.__file__).read_text(), re.M).group(1))

    pair = Pair(now_s=1_000.0)
    text = "停水通知。" * 400  # 2,000 characters, 6,000 bytes
    _post(pair, "n1", text=text)
    _post(pair, "n2", text=text[:1800], valid_from_s=pair.now_s + HOUR, valid_until_s=pair.now_s + 2 * HOUR)
    refused = _refusal(lambda: _post(pair, "n3", text=text[:200]))
    assert refused is NoticeRefusal.BOARD_TOO_LARGE
    assert _notice(pair, "n1").state is NoticeState.ACTIVE and len(_boards(pair)[SITE]) == 1
    _withdraw(pair, "n2")
    _post(pair, "n3", text=text[:200])  # room again
    (payload,) = [c.args["board"] for c in pair.host.take_device_commands() if c.site == SITE]
    assert len(payload) <= MAX_BOARD_BYTES < packet_max - 256  # the topic and the packet's headers fit too
