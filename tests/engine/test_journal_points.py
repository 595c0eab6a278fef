"""The points book's rows through the journal interface (the in-memory journal): staged with a step, written in its
batch, read back in order, and folded back into the same book. ``tests/actors/test_journal_points.py`` runs the same
history against SQLite."""

from __future__ import annotations

import pytest

from engine.hosting.staging import JournalStaging
from engine.journal import Journal, JournalBatch, MemoryJournal
from engine.points import PointsBook, rebuild
from engine.points_rules import PointsRules
from protocols.points import ItemCategory, PointsReason, PointsRow, RedemptionStatus, decode_row, encode_row

HOUR_S = 3600.0
REQUESTS = ("r1", "r2", "r3", "r4", "r5", "r6")  # r6: the request whose write fails, then its retry


def history(book: PointsBook) -> list[list[PointsRow]]:
    """A book's life as host steps, each step's rows (earning of every reason, a penalty with and without a balance,
    every redemption outcome a book journals, a replay that journals nothing, an administrator's restock)."""
    steps: list[list[PointsRow]] = [
        [book.put_item("coupon-10", name="Supermarket coupon", category=ItemCategory.COUPON, price=10, t_s=0.0),
         book.restock("coupon-10", 2, t_s=0.0, actor="admin"),
         book.put_item("credit-30", name="Phone credit", category=ItemCategory.PHONE_CREDIT, price=30, t_s=0.0),
         book.restock("credit-30", 1, t_s=0.0, actor="admin")],
        [*book.credit_patrol("v1", "patrol-1", valid_s=2 * HOUR_S, t_s=10.0).rows],
        [*book.credit("v2", PointsReason.TIP_ACCEPTED, "inc-tip", t_s=11.0).rows,
         *book.credit("v2", PointsReason.EMERGENCY_HANDLED, "inc-9", t_s=12.0).rows],
        [*book.credit("v2", PointsReason.SOS_FALSE, "inc-sos-1", t_s=13.0).rows,
         *book.credit("v3", PointsReason.SOS_FALSE, "inc-sos-2", t_s=13.0).rows],
    ]
    outcomes = []
    for request_id, volunteer_id, item_id in (("r1", "v1", "coupon-10"), ("r2", "v1", "credit-30"),
                                              ("r3", "v2", "credit-30"), ("r4", "v2", "credit-30"),
                                              ("r5", "v2", "bicycle")):
        redeemed = book.redeem(request_id, volunteer_id, item_id, t_s=20.0)
        outcomes.append(redeemed.outcome.status)
        steps.append(list(redeemed.rows))
    assert outcomes == [RedemptionStatus.ACCEPTED, RedemptionStatus.INSUFFICIENT_BALANCE, RedemptionStatus.ACCEPTED,
                        RedemptionStatus.OUT_OF_STOCK, RedemptionStatus.UNKNOWN_ITEM]
    replay = book.redeem("r1", "v1", "coupon-10", t_s=30.0)
    assert replay.replay
    steps.append(list(replay.rows))  # nothing to journal
    steps.append([book.restock("coupon-10", 3, t_s=40.0, actor="admin")])
    return steps


def state(book: PointsBook) -> tuple:
    """Everything a book answers: balances, entries, items with their stock, remembered requests, its rows."""
    return (book.balances(), book.entries(), book.items(), book.stock(),
            {request_id: book.redemption(request_id) for request_id in REQUESTS}, book.rows())


def write_step(journal: Journal, staging: JournalStaging, rows: list[PointsRow]) -> bool:
    """What a host's step does with the book's rows: stage them, take the batch, write it (if there is one)."""
    staging.points(rows)
    batch = staging.take()
    if batch is None:
        return False
    journal.write(batch)
    return True


def reloaded(journal: Journal) -> PointsBook:
    """What a restarted host does: every row in order, decoded, folded."""
    return rebuild((decode_row(body) for body in journal.points_rows()), rules=PointsRules())


def test_rows_written_in_batches_come_back_in_order():
    journal, staging, book = MemoryJournal(), JournalStaging(), PointsBook(PointsRules())
    steps = history(book)
    written = [write_step(journal, staging, rows) for rows in steps]
    assert written == [bool(rows) for rows in steps]  # a step without rows (the replay) writes no batch
    assert journal.writes == sum(written)
    assert journal.points_rows() == [encode_row(row) for rows in steps for row in rows]
    assert [decode_row(body) for body in journal.points_rows()] == book.rows()


def test_a_book_rebuilt_from_the_journal_equals_the_original():
    journal, staging, book = MemoryJournal(), JournalStaging(), PointsBook(PointsRules())
    for rows in history(book):
        write_step(journal, staging, rows)
    again = reloaded(journal)
    assert state(again) == state(book)
    assert again.balances() == {"v1": 10, "v2": 30, "v3": 0}
    assert again.stock() == {"coupon-10": 4, "credit-30": 0}
    assert again.redeem("r3", "v2", "credit-30", t_s=50.0).replay  # a retry after the restart: no second debit


def test_points_rows_ride_with_the_rest_of_the_step():
    staging = JournalStaging()
    book = PointsBook(PointsRules())
    staging.audit(1.0, "cc", "points.credit", "v1", "ok", role="command_center")
    staging.points(book.credit("v1", PointsReason.TIP_ACCEPTED, "inc-1", t_s=1.0).rows)
    staging.points(book.credit("v1", PointsReason.EMERGENCY_HANDLED, "inc-2", t_s=1.0).rows)
    batch = staging.take()
    assert batch is not None and [decode_row(body) for body in batch.points] == book.rows()
    assert [row.action for row in batch.audit] == ["points.credit"]
    assert staging.take() is None  # the staging is empty after

    staging.points(book.credit("v1", PointsReason.PATROL, "patrol-1", t_s=2.0, valid_s=HOUR_S).rows)
    staging.clear()  # a step forgotten (it raised half-way)
    assert staging.take() is None
    assert JournalBatch(points=[b"\x01"]) and not JournalBatch()


def test_a_failed_write_loses_nothing_acknowledged_and_keeps_nothing_of_its_step():
    journal, staging, book = MemoryJournal(), JournalStaging(), PointsBook(PointsRules())
    steps = history(book)
    for rows in steps:
        write_step(journal, staging, rows)
    acknowledged = journal.points_rows()
    before = state(book)

    journal.refuse_writes(True)
    mark = book.mark()
    redeemed = book.redeem("r6", "v2", "coupon-10", t_s=60.0)
    assert redeemed.outcome.accepted
    with pytest.raises(OSError):
        write_step(journal, staging, list(redeemed.rows))
    book.undo_to(mark)  # the host forgets the step, its book too
    staging.clear()
    assert journal.points_rows() == acknowledged
    assert state(book) == before == state(reloaded(journal))

    journal.refuse_writes(False)  # the phone retries the same request: decided afresh, once
    retried = book.redeem("r6", "v2", "coupon-10", t_s=61.0)
    assert retried.outcome.accepted and not retried.replay
    write_step(journal, staging, list(retried.rows))
    assert journal.points_rows() == acknowledged + [encode_row(row) for row in retried.rows]
    assert state(reloaded(journal)) == state(book)
    assert book.balance("v2") == 20 and book.stock()["coupon-10"] == 3
