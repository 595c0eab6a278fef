"""The change stream (engine.hosting.changes)."""

from __future__ import annotations

from engine.hosting.changes import Change, ChangeStream
from engine.hosting.stats import Counters
from tests.engine.host_parts import make_record


def test_a_change_says_where_its_new_entries_start():
    stream = ChangeStream(max_changes=10, counters=Counters())
    before, after = make_record(2), make_record(3, 2)
    stream.add(before, None)
    stream.add(after, before)
    assert stream.take() == [Change(before, 0), Change(after, 2)]
    assert stream.take() == []


def test_a_full_stream_drops_the_oldest_and_counts_it():
    counters = Counters()
    stream = ChangeStream(max_changes=2, counters=counters)
    records = [make_record(1, v) for v in (1, 2, 3)]
    for record in records:
        stream.add(record, None)
    assert [c.record.version for c in stream.take()] == [2, 3]
    assert counters.changes_dropped == 1


def test_a_step_taken_back_removes_only_its_own_changes():
    stream = ChangeStream(max_changes=10, counters=Counters())
    stream.add(make_record(1, 1), None)
    stream.keep()
    stream.add(make_record(1, 2), None)
    stream.add(make_record(1, 3), None)
    stream.take_back()
    assert [c.record.version for c in stream.take()] == [1]
    stream.take_back()  # nothing added since: nothing to take back
    assert stream.take() == []
