"""benchmarks/call_ledger.py: visitor calls as the panels published them, matched to the commands the phones got."""

import pytest

from benchmarks.call_ledger import CallLedger


def test_each_phone_of_a_call_is_timed_once_and_a_call_counts_delivered_only_when_every_phone_rang():
    ledger = CallLedger()
    ledger.published("C1-door1#call@1", 100.0, ["p1", "p2"])
    ledger.published("C1-door2#call@1", 100.5, ["p3"])
    assert ledger.received("C1-door1#call@1", "p1", 100.010) == pytest.approx(10.0)
    assert not ledger.complete
    assert ledger.received("C1-door1#call@1", "p1", 100.020) is None  # a repeat: not timed again
    assert ledger.received("C1-door1#call@1", "p3", 100.020) is None  # a phone of another unit
    assert ledger.received("C9-door1#call@1", "p1", 100.020) is None  # a call never published
    assert ledger.received("C1-door2#call@1", "p3", 100.540) == pytest.approx(40.0)
    summary = ledger.summary()
    assert summary["calls"] == 2 and summary["calls_delivered_to_every_phone"] == 1 and summary["calls_lost"] == 1
    assert (summary["deliveries_expected"], summary["deliveries"], summary["deliveries_lost"]) == (3, 2, 1)
    assert (summary["repeats"], summary["unexpected"]) == (1, 2)
    assert summary["latency"]["count"] == 2 and summary["latency"]["max_ms"] == pytest.approx(40.0, abs=0.1)
    ledger.received("C1-door1#call@1", "p2", 100.030)
    assert ledger.complete and ledger.summary()["calls_lost"] == 0


def test_a_call_that_rings_nobody_or_is_published_twice_is_refused_by_name():
    ledger = CallLedger()
    with pytest.raises(ValueError, match="C1-door1#call@1: a call must ring at least one phone"):
        ledger.published("C1-door1#call@1", 1.0, [])
    ledger.published("C1-door1#call@1", 1.0, ["p1"])
    with pytest.raises(ValueError, match="published twice"):
        ledger.published("C1-door1#call@1", 2.0, ["p1"])
