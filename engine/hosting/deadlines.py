"""The host's timers: every deadline due is handed to the part that owns its kind (``(kind, subject)`` keys in one
:class:`~engine.scheduler.DeadlineScheduler`). A handling that raises is counted, logged and tried again
``deadline_retry_s`` later as the deadline it stands for; one bad deadline never stops the others.

A kind of entity with timers of its own registers itself (a :class:`TimerOwner`) under its key kind; this
module does not change.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Hashable
from typing import Protocol

from engine.hosting.config import HostConfig
from engine.hosting.stats import Counters
from engine.scheduler import DeadlineScheduler

log = logging.getLogger(__name__)


class TimerOwner(Protocol):
    """A part with timers of its own, registered under its key kind."""

    def deadline(self, subject: str, due_s: float, at_s: float) -> int:
        """``subject``'s deadline due at ``due_s`` passed (handled as of ``at_s``): 1 if it still stood and was
        acted on, else 0."""


class Deadlines:
    def __init__(self, config: HostConfig, *, scheduler: DeadlineScheduler, owners: dict[str, TimerOwner],
                 counters: Counters, lateness_s: deque[float], measured: frozenset[str] = frozenset()) -> None:
        self.host_id = config.host_id
        self.exact = config.exact_deadlines
        self.retry_s = config.deadline_retry_s
        self.scheduler = scheduler
        self.owners = owners
        self.counters = counters
        self.lateness_s = lateness_s
        """How late each deadline of a ``measured`` kind fired (real time only)."""
        self.measured = measured
        self._retried: dict[Hashable, tuple[float, float]] = {}  # key being retried → (retry at, due it stands for)

    def next_due_s(self) -> float | None:
        return self.scheduler.next_due_s()

    def run(self, now_s: float) -> int:
        """Handle every deadline due at or before ``now_s``; returns how many fired."""
        fired = 0
        failed: list[tuple[Hashable, float]] = []
        for due_s, key in self.scheduler.drain_due(now_s):
            retry_at, original_due_s = self._retried.pop(key, (None, due_s))
            if retry_at == due_s:  # a retry is handled as the deadline it stands for (unless moved since)
                due_s = original_due_s
            try:
                fired += self._fire(key, due_s, now_s)
            except Exception:  # retried, counted and reported; one bad deadline never stops the others
                self.counters.deadline_errors += 1
                log.exception("host %s: handling deadline %r (due %.3f) failed; trying again in %.1f s",
                              self.host_id, key, due_s, self.retry_s, extra=_log_ids(self.host_id, key))
                failed.append((key, due_s))
        for key, due_s in failed:  # after the drain, so a failing deadline is not tried again in this same round
            if self.scheduler.due_of(key) is not None:
                continue  # the handler moved it before it failed: that deadline stands
            self._retried[key] = (now_s + self.retry_s, due_s)
            self.scheduler.schedule(key, now_s + self.retry_s)
        self.counters.deadlines_fired += fired
        return fired

    def _fire(self, key: Hashable, due_s: float, now_s: float) -> int:
        kind, subject = key  # type: ignore[misc]
        owner = self.owners.get(kind)
        if owner is None:
            return 0
        at_s = due_s if self.exact else max(due_s, now_s)
        hit = owner.deadline(subject, due_s, at_s)
        if hit and kind in self.measured and not self.exact:
            self.lateness_s.append(now_s - due_s)
        return hit


def _log_ids(host_id: str, key: Hashable) -> dict:
    """The ids a deadline's log line carries: its host's, and its incident's or device's (timer keys are
    ``(kind, subject)``: ``i`` an incident, ``s`` a supervised device)."""
    ids = {"host_id": host_id}
    if isinstance(key, tuple) and len(key) == 2 and key[0] in ("i", "s"):
        ids["incident_id" if key[0] == "i" else "device_id"] = str(key[1])
    return ids
