"""The audit trail's query: one journal's page (the in-memory journal here; the SQLite one answers the same
contract in tests/actors/test_journal_sqlite.py), ids unique across hosts and in time order, and a page of the whole
trail put together from several journals, paged with nothing missed and nothing twice."""

from __future__ import annotations

import pytest

from engine.audit import MAX_HOSTS, AuditFilter, AuditPage, AuditRow, host_index, merge_pages, next_id
from engine.journal import JournalBatch, MemoryJournal


def row(t_s: float, actor: str = "cc", action: str = "login", outcome: str = "ok") -> AuditRow:
    return AuditRow(t_s, actor, "command_center", "", action, actor, outcome, "")


def journal_with(*batches: list[AuditRow], index: int = 0) -> MemoryJournal:
    journal = MemoryJournal(host_index=index)
    for rows in batches:
        journal.write(JournalBatch(audit=rows))
    return journal


def test_an_id_is_the_rows_millisecond_and_its_journal_and_grows_within_a_burst():
    assert next_id(0, 1.5, 3) == 1500 * MAX_HOSTS + 3
    assert next_id(1500 * MAX_HOSTS + 3, 1.5, 3) == 1500 * MAX_HOSTS + 3 + MAX_HOSTS  # same millisecond
    assert next_id(9000 * MAX_HOSTS + 3, 1.5, 3) == 9001 * MAX_HOSTS + 3  # a clock that went back
    assert next_id(0, 1.8e9, MAX_HOSTS - 1) < 2**53  # a browser reads it exactly


@pytest.mark.parametrize("host_id, index", [("cc", 0), ("h0", 1), ("h7", 8)])
def test_each_host_has_its_own_index(host_id, index):
    assert host_index(host_id) == index
    assert 0 <= host_index("elsewhere") < MAX_HOSTS and host_index("elsewhere") == host_index("elsewhere")


def test_a_journals_rows_get_ids_in_write_order_and_a_page_is_newest_first():
    journal = journal_with([row(1.0), row(3.0)], [row(3.0, "p1"), row(2.0)])
    page = journal.audit_page(AuditFilter(limit=10))
    assert [(r.t_s, r.actor) for r in page.rows] == [(2.0, "cc"), (3.0, "p1"), (3.0, "cc"), (1.0, "cc")]
    assert [r.id for r in page.rows] == sorted((r.id for r in page.rows), reverse=True)
    assert page.more is False  # (a row written after a later one comes first: ids follow the write order)


def test_pages_below_the_last_rows_id_cover_the_trail_once():
    journal = journal_with([row(float(t % 4)) for t in range(11)])  # many rows in the same millisecond
    everything = journal.audit_page(AuditFilter(limit=100)).rows
    assert len({r.id for r in everything}) == 11
    seen, before = [], None
    while True:
        page = journal.audit_page(AuditFilter(limit=3, before=before))
        seen += page.rows
        if not page.more:
            break
        before = page.rows[-1].id
    assert seen == everything


def test_filters_are_exact_and_the_time_range_inclusive():
    journal = journal_with([row(1.0, "p1", "login", "refused"), row(2.0, "p1", "login", "ok"),
                            row(3.0, "p10", "auth", "refused"), row(4.0, "cc", "audit", "ok")])
    ask = lambda **f: [r.t_s for r in journal.audit_page(AuditFilter(limit=10, **f)).rows]  # noqa: E731
    assert ask(actor="p1") == [2.0, 1.0]  # not p10
    assert ask(action="auth") == [3.0]
    assert ask(outcome="refused") == [3.0, 1.0]
    assert ask(since_s=2.0, until_s=3.0) == [3.0, 2.0]
    assert ask(actor="p1", outcome="ok") == [2.0]
    assert ask(actor="nobody") == []


def test_more_says_whether_older_matching_rows_exist():
    journal = journal_with([row(1.0, "p1"), row(2.0), row(3.0, "p1")])
    assert journal.audit_page(AuditFilter(limit=1, actor="p1")).more is True
    assert journal.audit_page(AuditFilter(limit=2, actor="p1")).more is False


def trail(journals: list[MemoryJournal], query: AuditFilter) -> AuditPage:
    """What ``Engine.audit_page`` does over Ray, with the journals at hand."""
    return merge_pages([j.audit_page(query) for j in journals], query.limit)


def test_the_whole_trail_pages_newest_first_across_journals_with_nothing_missed_or_twice():
    cc = journal_with([row(1.0), row(2.0), row(2.0), row(5.0)], index=0)
    h0 = journal_with([row(2.0, "p1"), row(3.0, "p1"), row(5.0, "p1")], [row(6.0, "p1")], index=1)
    h1 = journal_with([row(2.0, "p2")], index=2)
    journals = [cc, h0, h1]
    everything = trail(journals, AuditFilter(limit=100))
    assert len(everything.rows) == 9 and not everything.more and len({r.id for r in everything.rows}) == 9
    assert [r.t_s for r in everything.rows] == sorted((r.t_s for r in everything.rows), reverse=True)
    for limit in (1, 2, 4):
        seen, before = [], None
        while True:
            page = trail(journals, AuditFilter(limit=limit, before=before))
            seen += page.rows
            if not page.more:
                break
            before = page.rows[-1].id
        assert seen == everything.rows, limit


def test_the_trail_filters_in_every_journal_and_pages_on():
    journals = [journal_with([row(1.0, "p1"), row(4.0)]), journal_with([row(2.0, "p1"), row(3.0)], index=1)]
    page = trail(journals, AuditFilter(limit=1, actor="p1"))
    assert [(r.t_s, r.actor) for r in page.rows] == [(2.0, "p1")] and page.more
    older = trail(journals, AuditFilter(limit=1, actor="p1", before=page.rows[-1].id))
    assert [(r.t_s, r.actor) for r in older.rows] == [(1.0, "p1")] and not older.more
