"""The points book (engine.points): earning by rule, the shop's redemptions, statements, and rebuild from the rows a
host journals."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.points import PointsBook, rebuild
from engine.points_errors import CreditConflict, InvalidCredit, PointsJournalCorrupt, ShopRefused
from engine.points_rules import PointsRules
from protocols import ProtocolError
from protocols.points import (ItemCategory, LedgerEntry, PointsReason, PointsRow, Redemption, RedemptionStatus,
                              ShopItem, decode_row, encode_row)

HOUR_S = 3600.0


def book_with_coupon(stock: int = 5, price: int = 10) -> PointsBook:
    book = PointsBook(PointsRules())
    book.put_item("coupon-10", name="Supermarket coupon", category=ItemCategory.COUPON, price=price, t_s=0.0)
    book.restock("coupon-10", stock, t_s=0.0)
    return book


def journal_round_trip(rows: list[PointsRow]) -> list[PointsRow]:
    """What a journal hands back: each row stored as its blob and read back."""
    return [decode_row(encode_row(row)) for row in rows]


def utc_s(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


# -- earning -------------------------------------------------------------------------------------------------------


def test_a_patrol_earns_pro_rata_for_its_valid_hours():
    book = PointsBook(PointsRules(patrol_hour=10))
    first = book.credit_patrol("v1", "patrol-1", valid_s=1.5 * HOUR_S, t_s=100.0)
    book.credit_patrol("v1", "patrol-2", valid_s=20 * 60, t_s=200.0)
    assert (first.entry.delta, first.entry.valid_s, first.entry.balance_after) == (15, 5400.0, 15)
    assert first.rows == (first.entry,) and not first.duplicate
    assert book.balance("v1") == 18


def test_an_accepted_tip_and_a_handled_emergency_earn_their_rule_for_each_volunteer():
    book = PointsBook(PointsRules(tip_accepted=20, emergency_handled=50))
    book.credit("v1", PointsReason.TIP_ACCEPTED, "inc-tip-1", t_s=1.0)
    book.credit("v1", PointsReason.EMERGENCY_HANDLED, "inc-9", t_s=2.0)
    book.credit("v2", PointsReason.EMERGENCY_HANDLED, "inc-9", t_s=2.0)
    assert book.balances() == {"v1": 70, "v2": 50}


def test_crediting_the_same_patrol_or_tip_twice_changes_nothing():
    book = PointsBook()
    patrol = book.credit_patrol("v1", "patrol-1", valid_s=HOUR_S, t_s=10.0)
    tip = book.credit("v1", PointsReason.TIP_ACCEPTED, "inc-tip-1", t_s=11.0)
    again = book.credit_patrol("v1", "patrol-1", valid_s=HOUR_S, t_s=99.0)
    tip_again = book.credit("v1", PointsReason.TIP_ACCEPTED, "inc-tip-1", t_s=99.0)
    assert (again.entry, again.rows, again.duplicate) == (patrol.entry, (), True)
    assert (tip_again.entry, tip_again.rows, tip_again.duplicate) == (tip.entry, (), True)
    assert book.balance("v1") == 30 and len(book.entries()) == 2


def test_the_same_patrol_credited_with_another_duration_is_a_conflict():
    book = PointsBook()
    book.credit_patrol("v1", "patrol-1", valid_s=HOUR_S, t_s=10.0)
    with pytest.raises(CreditConflict,
                       match=r"^patrol patrol-1 of v1 was credited for 3600 s \(entry 1\), now 7200 s$"):
        book.credit_patrol("v1", "patrol-1", valid_s=2 * HOUR_S, t_s=11.0)
    assert book.balance("v1") == 10


def test_a_false_sos_penalty_takes_what_the_balance_holds_and_forgives_the_rest():
    book = PointsBook(PointsRules(tip_accepted=20, sos_false=-30))
    book.credit("v1", PointsReason.TIP_ACCEPTED, "tip-1", t_s=1.0)
    cut = book.credit("v1", PointsReason.SOS_FALSE, "sos-1", t_s=2.0).entry
    at_zero = book.credit("v1", PointsReason.SOS_FALSE, "sos-2", t_s=3.0).entry
    assert (cut.rule_points, cut.delta, cut.balance_after) == (-30, -20, 0)
    assert (at_zero.rule_points, at_zero.delta, at_zero.balance_after) == (-30, 0, 0)
    book.credit("v1", PointsReason.TIP_ACCEPTED, "tip-2", t_s=4.0)
    assert book.balance("v1") == 20  # nothing was owed


@pytest.mark.parametrize("args, match", [
    (("v1", PointsReason.PATROL, "p1"), {"valid_s": -1.0}),
    (("v1", PointsReason.PATROL, "p1"), {"valid_s": math.nan}),
    (("v1", PointsReason.PATROL, "p1"), {"valid_s": math.inf}),
    (("v1", PointsReason.REDEMPTION, "r1"), {}),
    (("", PointsReason.TIP_ACCEPTED, "tip-1"), {}),
    (("v1", PointsReason.TIP_ACCEPTED, ""), {}),
])
def test_a_credit_the_book_cannot_take_is_refused_and_changes_nothing(args, match):
    book = PointsBook()
    with pytest.raises(InvalidCredit):
        book.credit(*args, t_s=1.0, **match)
    assert book.rows() == [] and book.balances() == {}


# -- the shop ------------------------------------------------------------------------------------------------------


def test_two_redemptions_for_the_last_item_exactly_one_wins():
    book = book_with_coupon(stock=1)
    book.credit_patrol("v1", "p1", valid_s=HOUR_S, t_s=1.0)
    book.credit_patrol("v2", "p2", valid_s=HOUR_S, t_s=1.0)
    first = book.redeem("req-a", "v1", "coupon-10", t_s=5.0).outcome
    second = book.redeem("req-b", "v2", "coupon-10", t_s=5.0).outcome
    assert [first.status, second.status] == [RedemptionStatus.ACCEPTED, RedemptionStatus.OUT_OF_STOCK]
    assert second.reason == "Supermarket coupon: 0 left, 1 asked"
    assert book.balances() == {"v1": 0, "v2": 10} and book.stock() == {"coupon-10": 0}


def test_an_accepted_redemption_journals_its_debit_then_its_outcome():
    book = book_with_coupon(stock=3)
    book.credit_patrol("v1", "p1", valid_s=3 * HOUR_S, t_s=1.0)
    done = book.redeem("req-1", "v1", "coupon-10", quantity=2, t_s=5.0)
    debit, outcome = done.rows
    assert isinstance(debit, LedgerEntry) and outcome == done.outcome
    assert (debit.reason, debit.ref, debit.delta, debit.balance_after) == (PointsReason.REDEMPTION, "req-1", -20, 10)
    assert (outcome.points, outcome.entry_id, outcome.balance_after, outcome.stock_after) == (20, debit.entry_id, 10, 1)


def test_a_retried_redemption_gets_the_first_outcome_and_no_second_debit():
    book = book_with_coupon(stock=5)
    book.credit_patrol("v1", "p1", valid_s=3 * HOUR_S, t_s=1.0)
    first = book.redeem("req-1", "v1", "coupon-10", t_s=5.0)
    retry = book.redeem("req-1", "v1", "coupon-10", t_s=9.0)
    assert (retry.outcome, retry.rows, retry.replay) == (first.outcome, (), True)
    assert book.balance("v1") == 20 and book.stock() == {"coupon-10": 4}


def test_a_retried_refusal_gets_the_same_refusal_even_after_a_restock():
    book = book_with_coupon(stock=0)
    book.credit_patrol("v1", "p1", valid_s=HOUR_S, t_s=1.0)
    refused = book.redeem("req-1", "v1", "coupon-10", t_s=2.0).outcome
    book.restock("coupon-10", 1, t_s=3.0)
    assert book.redeem("req-1", "v1", "coupon-10", t_s=4.0).outcome == refused
    assert book.redeem("req-2", "v1", "coupon-10", t_s=4.0).outcome.accepted


@pytest.mark.parametrize("volunteer, item, quantity", [("v2", "coupon-10", 1), ("v1", "credit-5", 1),
                                                       ("v1", "coupon-10", 2)])
def test_a_request_id_reused_for_another_request_is_refused_and_changes_nothing(volunteer, item, quantity):
    book = book_with_coupon(stock=5)
    book.put_item("credit-5", name="Phone credit 5", category=ItemCategory.PHONE_CREDIT, price=5, t_s=0.0)
    for v in ("v1", "v2"):
        book.credit_patrol(v, "p-" + v, valid_s=5 * HOUR_S, t_s=1.0)
    first = book.redeem("req-1", "v1", "coupon-10", t_s=2.0).outcome
    before = (book.balances(), book.stock(), book.rows())
    reused = book.redeem("req-1", volunteer, item, quantity=quantity, t_s=3.0)
    assert reused.outcome.status is RedemptionStatus.CONFLICT and reused.rows == ()
    assert reused.outcome.reason == ("request id 'req-1' was already used by v1 for 1 × coupon-10 (accepted); "
                                     "use a new request id")
    assert (book.balances(), book.stock(), book.rows()) == before
    assert book.redemption("req-1") == first


def test_a_redemption_beyond_the_balance_is_refused_with_the_reason():
    book = book_with_coupon(stock=5, price=40)
    book.credit_patrol("v1", "p1", valid_s=3 * HOUR_S, t_s=1.0)
    outcome = book.redeem("req-1", "v1", "coupon-10", t_s=2.0).outcome
    assert outcome.status is RedemptionStatus.INSUFFICIENT_BALANCE
    assert outcome.reason == "Supermarket coupon × 1 costs 40 points, the balance is 30"
    assert book.balance("v1") == 30 and book.stock() == {"coupon-10": 5}


@pytest.mark.parametrize("request_id, volunteer, item, quantity, status", [
    ("req-1", "v1", "nothing", 1, RedemptionStatus.UNKNOWN_ITEM),
    ("req-1", "v1", "coupon-10", 0, RedemptionStatus.INVALID),
    ("req-1", "v1", "coupon-10", -3, RedemptionStatus.INVALID),
    ("req-1", "v1", "coupon-10", 6, RedemptionStatus.OUT_OF_STOCK),
    ("", "v1", "coupon-10", 1, RedemptionStatus.INVALID),
    ("req-1", "", "coupon-10", 1, RedemptionStatus.INVALID),
])
def test_each_refusal_is_an_outcome_and_debits_nothing(request_id, volunteer, item, quantity, status):
    book = book_with_coupon(stock=5)
    book.credit_patrol("v1", "p1", valid_s=100 * HOUR_S, t_s=1.0)
    outcome = book.redeem(request_id, volunteer, item, quantity=quantity, t_s=2.0).outcome
    assert outcome.status is status and outcome.reason
    assert book.balance("v1") == 1000 and book.stock() == {"coupon-10": 5}


def test_an_item_changed_keeps_its_stock_and_stock_never_goes_below_zero():
    book = book_with_coupon(stock=2)
    book.put_item("coupon-10", name="Coupon (new design)", category=ItemCategory.COUPON, price=12, t_s=1.0)
    assert book.item("coupon-10") == ShopItem("coupon-10", "Coupon (new design)", ItemCategory.COUPON, 12, 2)
    with pytest.raises(ShopRefused, match=r"^item coupon-10: stock 2 -3 must stay within 0\.\.1000000$"):
        book.restock("coupon-10", -3, t_s=2.0)
    with pytest.raises(ShopRefused, match=r"^unknown item 'mug'$"):
        book.restock("mug", 1, t_s=2.0)
    with pytest.raises(ShopRefused, match="price must be"):
        book.put_item("mug", name="Mug", category=ItemCategory.GOODS, price=0, t_s=2.0)
    book.restock("coupon-10", -2, t_s=3.0)
    assert book.stock() == {"coupon-10": 0}


# -- statements ----------------------------------------------------------------------------------------------------


def test_a_monthly_statement_takes_the_entries_of_its_utc_month():
    book = book_with_coupon(stock=5)
    book.credit_patrol("v1", "nov", valid_s=HOUR_S, t_s=utc_s(2026, 11, 30, 23, 59, 59))
    book.credit_patrol("v1", "dec-first", valid_s=2 * HOUR_S, t_s=utc_s(2026, 12, 1))
    book.redeem("req-1", "v1", "coupon-10", t_s=utc_s(2026, 12, 15, 12))
    book.credit("v1", PointsReason.TIP_ACCEPTED, "tip-1", t_s=utc_s(2026, 12, 31, 23, 59, 59) + 0.5)
    book.credit_patrol("v1", "jan", valid_s=HOUR_S, t_s=utc_s(2027, 1, 1))
    december = book.statement("v1", "2026-12")
    january = book.statement("v1", "2027-01")
    assert [e.ref for e in december.entries] == ["dec-first", "req-1", "tip-1"]
    assert (december.opening_balance, december.credits, december.debits, december.closing_balance) == (10, 40, -10, 40)
    assert (december.start_s, december.end_s, december.patrol_hours) == (utc_s(2026, 12, 1), utc_s(2027, 1, 1), 2.0)
    assert january.opening_balance == december.closing_balance and january.closing_balance == book.balance("v1") == 50
    assert book.statement("v2", "2026-12").entries == () and book.statement("v2", "2026-12").closing_balance == 0
    with pytest.raises(ValueError, match=r"^month: expected YYYY-MM, got '2026-13'$"):
        book.statement("v1", "2026-13")


# -- the journal ---------------------------------------------------------------------------------------------------


def test_rebuild_from_the_journaled_rows_gives_the_same_book():
    book = book_with_coupon(stock=2)
    book.credit_patrol("v1", "p1", valid_s=2 * HOUR_S, t_s=1.0)
    book.credit_patrol("v2", "p2", valid_s=HOUR_S, t_s=1.0)
    book.redeem("req-1", "v1", "coupon-10", t_s=2.0)
    book.redeem("req-2", "v2", "coupon-10", quantity=2, t_s=3.0)
    book.credit("v2", PointsReason.SOS_FALSE, "sos-1", t_s=4.0)
    again = rebuild(journal_round_trip(book.rows()))
    assert (again.balances(), again.stock(), again.entries(), again.items()) == (
        book.balances(), book.stock(), book.entries(), book.items())
    assert again.redeem("req-1", "v1", "coupon-10", t_s=9.0).replay
    assert again.credit_patrol("v1", "p1", valid_s=2 * HOUR_S, t_s=9.0).duplicate


def tampered(rows: list[PointsRow], index: int, **changes) -> list[PointsRow]:
    return rows[:index] + [msgspec.structs.replace(rows[index], **changes)] + rows[index + 1:]


def test_rebuild_refuses_rows_that_do_not_follow_naming_the_row():
    book = book_with_coupon(stock=1)
    book.credit_patrol("v1", "p1", valid_s=HOUR_S, t_s=1.0)
    book.redeem("req-1", "v1", "coupon-10", t_s=2.0)
    rows = book.rows()  # item, item, entry 1, entry 2 (debit), redemption
    with pytest.raises(PointsJournalCorrupt, match=r"^entry 1: v1 has 0, \+10 cannot leave 11$"):
        rebuild(tampered(rows, 2, balance_after=11))
    with pytest.raises(PointsJournalCorrupt, match=r"^entry 1: expected entry 3 next$"):
        rebuild(rows + [rows[2]])
    with pytest.raises(PointsJournalCorrupt, match=r"^redemption req-1: entry 2 is not its debit$"):
        rebuild(tampered(rows, 4, points=5))
    with pytest.raises(PointsJournalCorrupt, match=r"^redemption req-1: journaled twice$"):
        rebuild(rows + [rows[4]])


def test_undo_to_forgets_a_step_whose_journal_write_failed():
    book = book_with_coupon(stock=1)
    book.credit_patrol("v1", "p1", valid_s=HOUR_S, t_s=1.0)
    mark = book.mark()
    book.redeem("req-1", "v1", "coupon-10", t_s=2.0)
    book.undo_to(mark)
    assert book.balance("v1") == 10 and book.stock() == {"coupon-10": 1} and book.redemption("req-1") is None
    assert book.redeem("req-1", "v1", "coupon-10", t_s=3.0).outcome.accepted


def test_a_row_keeps_its_type_on_the_wire_and_a_damaged_one_is_refused_naming_the_field():
    row = Redemption("req-1", "v1", "coupon-10", 1, RedemptionStatus.OUT_OF_STOCK, 2.0, reason="0 left")
    assert msgspec.json.decode(msgspec.json.encode(row), type=PointsRow) == row
    assert msgspec.json.decode(msgspec.json.encode(row))["type"] == "redemption"
    damaged = msgspec.msgpack.encode({**msgspec.to_builtins(row), "type": "redemption", "quantity": "one"})
    with pytest.raises(ProtocolError, match=r"^quantity: Expected `int`, got `str`$"):
        decode_row(damaged)
    with pytest.raises(ProtocolError, match=r"^not a points row"):
        decode_row(b"\xc1")


# -- any sequence --------------------------------------------------------------------------------------------------

VOLUNTEERS = st.sampled_from(["v1", "v2", "v3"])
REFS = st.sampled_from(["a", "b", "c", "d"])
OPERATIONS = st.one_of(
    st.tuples(st.just("patrol"), VOLUNTEERS, REFS, st.floats(0, 10 * HOUR_S)),
    st.tuples(st.just("credit"), VOLUNTEERS, st.sampled_from([PointsReason.TIP_ACCEPTED,
                                                              PointsReason.EMERGENCY_HANDLED,
                                                              PointsReason.SOS_FALSE]), REFS),
    st.tuples(st.just("restock"), st.sampled_from(["coupon-10", "credit-5"]), st.integers(-3, 3)),
    st.tuples(st.just("redeem"), st.sampled_from(["r1", "r2", "r3", "r4", "r5"]), VOLUNTEERS,
              st.sampled_from(["coupon-10", "credit-5", "nothing"]), st.integers(-1, 3)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(OPERATIONS, max_size=40), st.integers(-100, 0))
def test_any_sequence_keeps_balances_and_stock_at_or_above_zero_and_equal_to_the_journal(operations, penalty):
    book = book_with_coupon(stock=2)
    book.rules = PointsRules(sos_false=penalty)
    book.put_item("credit-5", name="Phone credit", category=ItemCategory.PHONE_CREDIT, price=5, t_s=0.0)
    added = {"coupon-10": 2, "credit-5": 0}
    for t_s, op in enumerate(operations, 1):
        match op:
            case ("patrol", volunteer, ref, valid_s):
                try:
                    book.credit_patrol(volunteer, ref, valid_s=valid_s, t_s=t_s)
                except CreditConflict:
                    pass
            case ("credit", volunteer, reason, ref):
                book.credit(volunteer, reason, ref, t_s=t_s)
            case ("restock", item, add):
                try:
                    book.restock(item, add, t_s=t_s)
                    added[item] += add
                except ShopRefused:
                    pass
            case ("redeem", request_id, volunteer, item, quantity):
                book.redeem(request_id, volunteer, item, quantity=quantity, t_s=t_s)
        assert all(balance >= 0 for balance in book.balances().values())
        assert all(stock >= 0 for stock in book.stock().values())
    for volunteer, balance in book.balances().items():
        assert balance == sum(e.delta for e in book.entries(volunteer))
    accepted = [r for r in book.rows() if isinstance(r, Redemption) and r.accepted]
    spent = {item: sum(r.quantity for r in accepted if r.item_id == item) for item in added}
    assert book.stock() == {item: added[item] - spent[item] for item in added}
    again = rebuild(journal_round_trip(book.rows()))
    assert (again.balances(), again.stock(), again.entries()) == (book.balances(), book.stock(), book.entries())
