"""The timer loop: each deadline to the part that owns its kind, retried if it raises (engine.hosting.deadlines)."""

from __future__ import annotations

from collections import deque

import pytest

from engine.hosting.config import HostConfig
from engine.hosting.deadlines import Deadlines
from engine.hosting.stats import Counters
from engine.scheduler import DeadlineScheduler


class Owner:
    """Fires every deadline (or raises the first ``failures`` times) and remembers how it was called."""

    def __init__(self, *, failures: int = 0, hit: int = 1) -> None:
        self.calls: list[tuple[str, float, float]] = []
        self.failures = failures
        self.hit = hit

    def deadline(self, subject: str, due_s: float, at_s: float) -> int:
        self.calls.append((subject, due_s, at_s))
        if len(self.calls) <= self.failures:
            raise RuntimeError("a bug in a handler")
        return self.hit


def _deadlines(owners: dict, *, exact: bool = True, measured=frozenset()) -> tuple[Deadlines, Counters, deque]:
    counters, lateness = Counters(), deque()
    runner = Deadlines(HostConfig("h0", exact_deadlines=exact, deadline_retry_s=1.0), scheduler=DeadlineScheduler(),
                       owners=owners, counters=counters, lateness_s=lateness, measured=measured)
    return runner, counters, lateness


def test_each_due_deadline_goes_to_the_owner_of_its_kind_in_due_order():
    a, b = Owner(), Owner(hit=0)
    runner, counters, _ = _deadlines({"a": a, "b": b})
    runner.scheduler.schedule(("a", "x"), 2.0)
    runner.scheduler.schedule(("b", "y"), 1.0)
    runner.scheduler.schedule(("a", "later"), 9.0)
    runner.scheduler.schedule(("nobody", "z"), 1.5)  # a kind no part owns: dropped, not fired
    assert runner.run(5.0) == 1
    assert a.calls == [("x", 2.0, 2.0)] and b.calls == [("y", 1.0, 1.0)]
    assert counters.deadlines_fired == 1 and runner.next_due_s() == 9.0


def test_in_real_time_a_late_deadline_is_handled_as_of_now_and_its_lateness_measured():
    owner = Owner()
    runner, _, lateness = _deadlines({"i": owner, "s": Owner()}, exact=False, measured=frozenset({"i"}))
    runner.scheduler.schedule(("i", "x"), 2.0)
    runner.scheduler.schedule(("s", "y"), 2.0)
    runner.run(2.25)
    assert owner.calls == [("x", 2.0, 2.25)] and list(lateness) == [0.25]


def test_a_deadline_whose_handling_raises_is_counted_and_retried_as_the_deadline_it_stands_for():
    flaky, fine = Owner(failures=1), Owner()
    runner, counters, _ = _deadlines({"f": flaky, "g": fine})
    runner.scheduler.schedule(("f", "x"), 1.0)
    runner.scheduler.schedule(("g", "y"), 1.0)
    assert runner.run(1.0) == 1  # the other deadline still fired
    assert counters.deadline_errors == 1 and runner.next_due_s() == 2.0
    assert runner.run(2.0) == 1
    assert flaky.calls == [("x", 1.0, 1.0), ("x", 1.0, 1.0)]  # the retry stands for the deadline due at 1.0


def test_a_deadline_moved_by_a_handler_that_then_failed_stands():
    runner, _, _ = _deadlines({})

    class MovesThenFails:
        def deadline(self, subject, due_s, at_s):
            runner.scheduler.schedule(("m", subject), 50.0)
            raise RuntimeError("after moving it")

    runner.owners["m"] = MovesThenFails()
    runner.scheduler.schedule(("m", "x"), 1.0)
    runner.run(1.0)
    assert runner.scheduler.due_of(("m", "x")) == 50.0


@pytest.mark.parametrize("exact", [True, False])
def test_nothing_fires_before_it_is_due(exact):
    owner = Owner()
    runner, _, _ = _deadlines({"a": owner}, exact=exact)
    runner.scheduler.schedule(("a", "x"), 3.0)
    assert runner.run(2.9) == 0 and owner.calls == []
