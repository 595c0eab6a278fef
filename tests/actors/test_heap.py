"""The actors' heap settling (actors/heap.py): what lives when an actor is built is left out of later full
collections, and a release puts it back, so that a state thrown away (a host's rollback) is collected again."""

from __future__ import annotations

import gc
import weakref

import pytest

from actors import heap


class Node:
    """A reference cycle: only the collector frees it."""

    def __init__(self) -> None:
        self.me = self


def walked(obj) -> bool:
    """Whether a full collection walks ``obj``."""
    return any(o is obj for o in gc.get_objects())


@pytest.fixture(autouse=True)
def unsettled():
    yield
    gc.unfreeze()  # the test process's collections as they were
    heap._released_at = None


def test_what_lives_when_settled_is_left_out_and_what_comes_after_is_collected_as_before():
    old = Node()
    heap.settle()
    assert gc.get_freeze_count() > 0 and not walked(old)
    new = Node()
    ref = weakref.ref(new)
    assert walked(new)
    del new
    gc.collect()
    assert ref() is None


def test_a_release_puts_the_settled_back_so_a_cycle_thrown_away_is_collected():
    gone = Node()
    ref = weakref.ref(gone)
    heap.settle()
    del gone
    gc.collect()
    assert ref() is not None  # settled: no collection frees it
    heap.release()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert ref() is None


def test_after_a_release_it_settles_again_once_quiet(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(heap.time, "monotonic", lambda: clock[0])
    heap.release()
    clock[0] += heap.SETTLE_AFTER_S - 0.1
    heap.settle_if_due()
    assert gc.get_freeze_count() == 0  # a release less than SETTLE_AFTER_S ago: not yet
    clock[0] += 0.1
    heap.settle_if_due()
    assert gc.get_freeze_count() > 0 and heap._released_at is None
