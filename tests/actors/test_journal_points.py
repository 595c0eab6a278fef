"""The points book's rows in the journals (SQLite, and PostgreSQL where a test takes ``journal_backend``; no Ray): in
order across reopening, folded back into
the same book, a journal from before points opening without any, and refused or half-failed writes keeping nothing
of their batch and losing nothing written before."""

from __future__ import annotations

import sqlite3

import pytest

from actors.journal_sqlite import SqliteJournal
from engine.hosting.staging import JournalStaging
from engine.journal import AuditRow, JournalBatch
from engine.points import PointsBook
from engine.points_rules import PointsRules
from protocols.points import PointsReason, decode_row, encode_row
from tests.actors.journal_backends import journal_backend  # noqa: F401 (a fixture)
from tests.engine.test_journal_points import history, reloaded, state, write_step


@pytest.fixture
def journal(journal_backend):
    journal = journal_backend.open()
    yield journal
    journal.close()


def test_rows_come_back_in_order_and_rebuild_the_book_after_reopening(journal_backend):
    journal, staging, book = journal_backend.open(), JournalStaging(), PointsBook(PointsRules())
    steps = history(book)
    half = len(steps) // 2
    for rows in steps[:half]:
        write_step(journal, staging, rows)
    journal.close()

    journal = journal_backend.open()  # a restart half-way: the sequence carries on after what is there
    for rows in steps[half:]:
        write_step(journal, staging, rows)
    journal.close()

    reopened = journal_backend.open()
    assert reopened.points_rows() == [encode_row(row) for rows in steps for row in rows]
    assert [decode_row(body) for body in reopened.points_rows()] == book.rows()
    assert state(reloaded(reopened)) == state(book)
    if journal_backend.name == "sqlite":
        seqs = [seq for (seq,) in sqlite3.connect(f"{journal_backend.where}/h0.sqlite").execute(
            "SELECT seq FROM points_rows ORDER BY seq")]
        assert seqs == list(range(1, len(book.rows()) + 1))
    reopened.close()


def test_a_journal_from_before_points_opens_with_none_and_takes_them(tmp_path):
    path = tmp_path / "h0.sqlite"
    journal = SqliteJournal(path)
    journal.write(JournalBatch(audit=[AuditRow(1.0, "p1", "command_center", "", "login", "p1", "ok")]))
    journal.close()
    old = sqlite3.connect(path)  # the file as the journal wrote it before points existed: no points_rows table
    old.execute("DROP TABLE points_rows")
    old.commit()
    old.close()

    journal = SqliteJournal(path)
    assert journal.points_rows() == []
    assert [row.action for row in journal.audit_rows()] == ["login"]
    book = PointsBook(PointsRules())
    write_step(journal, JournalStaging(), list(book.credit("v1", PointsReason.TIP_ACCEPTED, "inc-1", t_s=2.0).rows))
    journal.close()
    reopened = SqliteJournal(path)
    assert state(reloaded(reopened)) == state(book)
    reopened.close()


def test_a_refused_write_loses_nothing_acknowledged_and_keeps_nothing_of_its_step(journal_backend):
    journal, staging, book = journal_backend.open(), JournalStaging(), PointsBook(PointsRules())
    for rows in history(book):
        write_step(journal, staging, rows)
    acknowledged, before = journal.points_rows(), state(book)

    journal.refuse_writes(True)
    mark = book.mark()
    redeemed = book.redeem("r6", "v2", "coupon-10", t_s=60.0)
    assert redeemed.outcome.accepted
    with pytest.raises(journal_backend.refused):
        write_step(journal, staging, list(redeemed.rows))
    book.undo_to(mark)
    staging.clear()
    assert journal.points_rows() == acknowledged
    assert state(book) == before == state(reloaded(journal))

    journal.refuse_writes(False)
    retried = book.redeem("r6", "v2", "coupon-10", t_s=61.0)
    write_step(journal, staging, list(retried.rows))
    journal.close()
    reopened = journal_backend.open()
    assert reopened.points_rows() == acknowledged + [encode_row(row) for row in retried.rows]
    assert state(reloaded(reopened)) == state(book)
    reopened.close()


def test_a_batch_failing_half_way_keeps_none_of_its_rows(journal, journal_backend):
    book = PointsBook(PointsRules())
    first = [encode_row(row) for row in book.credit("v1", PointsReason.TIP_ACCEPTED, "inc-1", t_s=1.0).rows]
    journal.write(JournalBatch(points=first))
    audit = AuditRow(2.0, "cc", "command_center", "", "points.credit", "v1", "ok")
    second = [encode_row(row) for row in book.credit("v1", PointsReason.EMERGENCY_HANDLED, "inc-2", t_s=2.0).rows]
    with pytest.raises(journal_backend.bad_row):  # the audit row and the first points row are in before the bad one
        journal.write(JournalBatch(audit=[audit], points=[*second, None]))  # type: ignore[list-item]
    assert journal.points_rows() == first
    assert journal.audit_rows() == []
    journal.write(JournalBatch(audit=[audit], points=second))  # the step again: the sequence has no gap
    assert journal.points_rows() == first + second
    assert state(reloaded(journal)) == state(book)
