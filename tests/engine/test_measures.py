"""Fixed-bucket histograms and NAK reason labels (``engine/measures.py``)."""

from __future__ import annotations

import pytest

from engine.measures import Histogram, empty, reason_label
from protocols.replies import RETRY_LATER


def test_a_value_on_a_bound_counts_in_that_bound_and_above_the_last_in_the_overflow():
    h = Histogram(bounds=(0.01, 0.1))
    for value in (0.005, 0.01, 0.05, 0.1, 3.0):
        h.observe(value)
    b = h.snapshot()
    assert b.counts == (2, 2, 1)
    assert b.count == 5 and b.sum == pytest.approx(3.165)
    assert b.cumulative() == [(0.01, 2), (0.1, 4), (float("inf"), 5)]


def test_snapshots_of_two_processes_add_up_and_other_buckets_are_refused():
    a, b = Histogram(bounds=(1.0,)), Histogram(bounds=(1.0,))
    a.observe(0.5)
    b.observe(2.0)
    merged = a.snapshot().merged(b.snapshot())
    assert merged.counts == (1, 1) and merged.sum == 2.5
    with pytest.raises(ValueError, match=r"^bounds: cannot merge"):
        merged.merged(empty())
    with pytest.raises(ValueError, match=r"^bounds: expected increasing"):
        Histogram(bounds=(2.0, 1.0))


@pytest.mark.parametrize(("reason", "label"), [
    ("data.zone: expected str, got int", "data.zone"),
    ("device_id: unknown device 'ghost-1'", "device_id"),
    (f"{RETRY_LATER}: host h0 restarting", "unavailable"),
    ("payload: malformed JSON", "payload"),
    ("the device said something odd", "other"),
    ("a b c: spaces are no field", "other"),
])
def test_a_nak_is_labelled_by_the_field_its_reason_names(reason, label):
    assert reason_label(reason) == label
