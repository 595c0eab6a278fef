"""Points and the shop at a host (issue 14): the catalogue put into the book once, a phone's redemption decided and
journaled with its step and answered ``points.redeemed`` (an idempotent retry, out of stock, never a negative
balance), ``points.query`` answered ``points.statement``, and the office's desk requests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.errors import JournalUnavailable
from engine.hosting.points_desk import PointsRequestRefused, UnknownVolunteer
from engine.points_errors import ShopRefused
from protocols.device import make_message
from protocols.errors import ProtocolError
from protocols.points import ItemCategory, ItemRow, Redemption, decode_row
from protocols.points_desk import (Board, BoardBy, Leaderboard, Ledger, MonthStatement, PutItem, Redeem, Restock,
                                   ShopStock)
from protocols.points import PointsReason
from tests.engine.helpers import Pair

DEC_3 = datetime(2026, 12, 3, 10, tzinfo=UTC).timestamp()


@pytest.fixture
def pair() -> Pair:
    return Pair(now_s=DEC_3)


def _volunteer(pair: Pair, n: int = 0):
    return sorted(pair.host.city.volunteers.values(), key=lambda v: v.id)[n]


def _earn(pair: Pair, volunteer: str, times: int) -> None:
    """``times`` × 50 points (emergencies handled), journaled with a step of their own."""
    points = pair.host.points
    for n in range(times):
        points.staging.points(points.book.credit(volunteer, PointsReason.EMERGENCY_HANDLED, f"inc-{volunteer}-{n}",
                                                 t_s=pair.now_s).rows)
    pair.host.ask(ShopStock(), now_s=pair.now_s)


def _rows(pair: Pair):
    return [decode_row(raw) for raw in pair.journal.points_rows()]


def _answers(pair: Pair, command: str) -> list[dict]:
    return [c.args for c in pair.host.take_device_commands() if c.command == command]


def _redeem(pair: Pair, phone: str, request: str, item: str, quantity: int = 1) -> dict:
    result = pair.send(phone, "points.redeem", {"request": request, "item": item, "quantity": quantity})
    assert result.refused == 0, result.acks
    (answer,) = _answers(pair, "points.redeemed")
    return answer


def test_the_catalogue_is_put_into_the_book_once_and_a_restart_keeps_the_stock_it_has(pair):
    stock = pair.host.ask(ShopStock(), now_s=pair.now_s)
    assert {i.id: (i.category, i.stock) for i in stock.items} == {
        "coupon-grocery-20": (ItemCategory.COUPON, 50), "credit-30": (ItemCategory.PHONE_CREDIT, 100),
        "umbrella": (ItemCategory.GOODS, 20), "thermos": (ItemCategory.GOODS, 10)}
    seeded = [r for r in _rows(pair) if isinstance(r, ItemRow)]
    assert len(seeded) == 8 and {r.actor for r in seeded} == {"catalogue"}
    assert pair.host.ask(Restock("umbrella", -15, actor="op"), now_s=pair.now_s).stock == 5
    pair.restart()
    pair.host.ask(ShopStock(), now_s=pair.now_s)
    pair.restart()
    assert pair.host.points.book.stock()["umbrella"] == 5  # not reset to the catalogue's 20
    assert len([r for r in _rows(pair) if isinstance(r, ItemRow) and r.actor == "catalogue"]) == 8
    assert pair.cc.points.book.items() == []  # the command center keeps no shop


def test_a_phone_redeems_and_a_retry_with_the_same_request_gets_the_same_answer_and_no_second_debit(pair):
    volunteer = _volunteer(pair)
    _earn(pair, volunteer.id, 3)
    first = _redeem(pair, volunteer.phone_id, "r-1", "umbrella", 2)
    assert first == {"request": "r-1", "item": "umbrella", "quantity": 2, "status": "accepted", "points": 120,
                     "balance": 30, "reason": ""}
    accepted = [r for r in _rows(pair) if isinstance(r, Redemption)]
    assert [r.request_id for r in accepted] == [f"{volunteer.id}/r-1"]  # journaled with the step, before the ack
    again = _redeem(pair, volunteer.phone_id, "r-1", "umbrella", 2)  # a new message, the same request
    assert again == first
    assert pair.host.points.book.balance(volunteer.id) == 30 and pair.host.points.book.stock()["umbrella"] == 18
    other = _redeem(pair, volunteer.phone_id, "r-1", "thermos")
    assert other["status"] == "conflict" and "use a new request id" in other["reason"] and other["balance"] == 30
    assert len([r for r in _rows(pair) if isinstance(r, Redemption)]) == 1
    pair.restart()  # the journal remembers the request
    assert _redeem(pair, volunteer.phone_id, "r-1", "umbrella", 2) == first


def test_out_of_stock_and_insufficient_balance_are_answers_and_a_balance_never_goes_negative(pair):
    volunteer = _volunteer(pair)
    _earn(pair, volunteer.id, 1)
    pair.host.ask(Restock("thermos", -10), now_s=pair.now_s)
    out = _redeem(pair, volunteer.phone_id, "a", "thermos")
    assert (out["status"], out["balance"]) == ("out_of_stock", 50) and "0 left, 1 asked" in out["reason"]
    poor = _redeem(pair, volunteer.phone_id, "b", "credit-30")
    assert poor["status"] == "insufficient_balance" and "costs 150 points, the balance is 50" in poor["reason"]
    assert _redeem(pair, volunteer.phone_id, "c", "nothing")["status"] == "unknown_item"
    assert pair.host.points.book.balance(volunteer.id) == 50
    assert _redeem(pair, volunteer.phone_id, "b", "credit-30")["status"] == "insufficient_balance"  # the same answer
    assert all(e.balance_after >= 0 for e in pair.host.points.book.entries())


def test_of_two_requests_for_the_last_item_exactly_one_wins(pair):
    first, second = _volunteer(pair, 0), _volunteer(pair, 1)
    _earn(pair, first.id, 5)
    _earn(pair, second.id, 5)
    pair.host.ask(Restock("thermos", -9), now_s=pair.now_s)
    answers = [_redeem(pair, v.phone_id, "last", "thermos")["status"] for v in (first, second)]
    assert answers == ["accepted", "out_of_stock"]


def test_a_redemption_the_journal_did_not_take_is_not_acked_and_leaves_no_debit(pair):
    volunteer = _volunteer(pair)
    _earn(pair, volunteer.id, 2)
    pair.host.take_device_commands()
    pair.journal.fail_writes = OSError("disk full")
    with pytest.raises(JournalUnavailable):
        pair.send(volunteer.phone_id, "points.redeem", {"request": "r", "item": "umbrella"})
    assert pair.host.points.book.balance(volunteer.id) == 100 and _answers(pair, "points.redeemed") == []
    pair.journal.fail_writes = None
    assert _redeem(pair, volunteer.phone_id, "r", "umbrella")["balance"] == 40


def test_a_phone_asks_for_its_statement_of_the_month(pair):
    volunteer = _volunteer(pair)
    _earn(pair, volunteer.id, 2)
    _redeem(pair, volunteer.phone_id, "r", "umbrella")
    result = pair.send(volunteer.phone_id, "points.query", {})
    assert result.refused == 0
    (statement,) = _answers(pair, "points.statement")
    assert {k: statement[k] for k in ("month", "opening", "earned", "spent", "closing", "more")} == {
        "month": "2026-12", "opening": 0, "earned": 100, "spent": 60, "closing": 40, "more": 0}
    assert [(e["reason"], e["ref"], e["delta"]) for e in statement["entries"]][-1] == ("redemption", "r", -60)
    pair.send(volunteer.phone_id, "points.query", {"month": "2026-11"})
    assert _answers(pair, "points.statement")[0]["entries"] == []


@pytest.mark.parametrize("kind, data, reason", [
    ("points.query", {"month": "2026-13"}, "data.month: expected a month YYYY-MM, or empty for the current month"),
    ("points.redeem", {"item": "umbrella"}, "data.request: required field missing"),
    ("points.redeem", {"request": "", "item": "umbrella"}, "data.request: expected str of length >= 1"),
    ("points.redeem", {"request": "r", "item": "umbrella", "quantity": 0}, "data.quantity: expected int >= 1"),
    ("points.redeem", {"request": "r" * 65, "item": "umbrella"}, "data.request: expected str of length <= 64"),
])
def test_a_bad_points_message_is_refused_naming_the_field(kind, data, reason):
    with pytest.raises(ProtocolError) as refused:
        make_message(kind, seq=1, ts=1, data=data)
    assert str(refused.value) == reason


def test_the_desk_answers_ledger_statement_boards_and_the_office_s_redemptions(pair):
    volunteer = _volunteer(pair)
    _earn(pair, volunteer.id, 3)
    office = pair.host.ask(Redeem("desk-1", volunteer.id, "coupon-grocery-20", actor="op"), now_s=pair.now_s)
    assert office.accepted and office.balance_after == 50
    page = pair.host.ask(Ledger(volunteer.id, limit=2), now_s=pair.now_s)
    assert page.balance == 50 and page.more and [e.delta for e in page.entries] == [-100, 50]
    older = pair.host.ask(Ledger(volunteer.id, before=page.entries[-1].entry_id, limit=2), now_s=pair.now_s)
    assert [e.delta for e in older.entries] == [50, 50] and not older.more
    statement = pair.host.ask(MonthStatement(volunteer.id, "2026-12"), now_s=pair.now_s)
    assert (statement.credits, statement.debits, statement.closing_balance) == (150, -100, 50)
    board = pair.host.ask(Leaderboard(BoardBy.TEAM, "2026-12"), now_s=pair.now_s)
    assert isinstance(board, Board) and board.rows[0].key == volunteer.team_id and board.rows[0].points == 150
    streets = pair.host.ask(Leaderboard(BoardBy.STREET), now_s=pair.now_s)
    assert streets.rows[0].points == 150
    assert pair.host.ask(Leaderboard(BoardBy.TEAM, "2026-11"), now_s=pair.now_s).rows[0].points == 0
    item = pair.host.ask(PutItem("cap", "Cap", ItemCategory.GOODS, 30, actor="op"), now_s=pair.now_s)
    assert (item.id, item.stock) == ("cap", 0)
    written = len(pair.journal.points_rows())
    with pytest.raises(UnknownVolunteer, match="volunteer: unknown volunteer 'nobody'"):
        pair.host.ask(Redeem("x", "nobody", "cap"), now_s=pair.now_s)
    with pytest.raises(ShopRefused, match="unknown item 'hat'"):
        pair.host.ask(Restock("hat", 1), now_s=pair.now_s)
    with pytest.raises(ShopRefused, match="must stay within"):
        pair.host.ask(Restock("cap", -1), now_s=pair.now_s)
    with pytest.raises(PointsRequestRefused, match="month"):
        pair.host.ask(MonthStatement(volunteer.id, ""), now_s=pair.now_s)
    assert len(pair.journal.points_rows()) == written  # refusals change nothing
