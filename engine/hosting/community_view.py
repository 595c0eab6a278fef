"""A community as its console view sees it (``protocols/community_desk.py``): the doors open, the calls ringing, the
calls that ended recently with their outcome and the counts by outcome, per site.

Nothing here is journaled of its own: the ended calls are the visitor calls' audit rows (``visitors.py``), read back
from the journal when the host (re)builds and kept in memory as calls end. Answering changes nothing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping

from engine.audit import AuditFilter, AuditRow
from engine.hosting import community_rows as rows
from engine.journal import Journal
from protocols.community_desk import (RECENT_FROM_AUDIT, RECENT_KEPT, CallView, CommunityState, CommunityStateAnswer,
                                      DoorOpen)

CALL_ACTION = "visitor_call"
"""The audit action of a call that ended (``VisitorCalls._end``)."""


def _fields(reason: str) -> dict[str, str]:
    """``door=D unit=U answer=A started_s=S latency_ms=L`` → its fields (what is not ``k=v`` is left out)."""
    return dict(part.split("=", 1) for part in reason.split() if "=" in part)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "-") else None
    except ValueError:
        return None


def ended_view(row: AuditRow) -> CallView | None:
    """The call an audit row of ``visitor_call`` ended (None: not such a row)."""
    if row.action != CALL_ACTION:
        return None
    f = _fields(row.reason)
    started_s = _number(f.get("started_s"))
    answer = f.get("answer", "")
    return CallView(row.target, f.get("door", ""), f.get("unit", ""), started_s if started_s is not None else row.t_s,
                    "" if answer == "-" else answer, "" if row.actor == "system" else row.actor,
                    _number(f.get("latency_ms")), row.outcome, row.t_s)


class CommunityView:
    def __init__(self, *, open_calls: Callable[[], Mapping[str, rows.CallRow]],
                 open_doors: Callable[[str], dict[str, float]], keep: int = RECENT_KEPT) -> None:
        self._open_calls = open_calls
        self._open_doors = open_doors
        self.keep = keep
        self.recent: dict[str, deque[CallView]] = {}
        self.counts: dict[str, dict[str, int]] = {}

    def requests(self) -> dict[type, Callable]:
        return {CommunityState: self.answer}

    def ended(self, call: rows.CallRow, outcome: str, now_s: float) -> None:
        """A call ended (its audit row is staged in the same step)."""
        latency = (call.answered_s - call.started_s) * 1000 if call.by else None
        self._add(call.site, CallView(call.id, call.door, call.unit, call.started_s, call.answer, call.by,
                                      None if latency is None else round(latency), outcome, now_s, call.snapshot))

    def load(self, journal: Journal) -> None:
        """The recent calls from the journal's newest audit rows (a start, or a rebuild after a refused step)."""
        self.recent, self.counts = {}, {}
        page = journal.audit_page(AuditFilter(RECENT_FROM_AUDIT, action=CALL_ACTION))
        for row in reversed(page.rows):  # oldest first, as they ended
            view = ended_view(row)
            if view is not None and row.scope:
                self._add(row.scope, view)

    def answer(self, request: CommunityState, now_s: float) -> CommunityStateAnswer:
        site = request.site
        ringing = sorted((c for c in self._open_calls().values() if c.site == site), key=lambda c: c.started_s)
        calls = [CallView(c.id, c.door, c.unit, c.started_s, c.answer, c.by,
                          round((c.answered_s - c.started_s) * 1000) if c.by else None, "", None, c.snapshot)
                 for c in ringing]
        recent = list(self.recent.get(site, ()))[::-1][:request.recent]
        doors = [DoorOpen(d, s) for d, s in sorted(self._open_doors(site).items())]
        return CommunityStateAnswer(site, doors, calls, recent, dict(self.counts.get(site, {})))

    def _add(self, site: str, view: CallView) -> None:
        self.recent.setdefault(site, deque(maxlen=self.keep)).append(view)
        counts = self.counts.setdefault(site, {})
        counts[view.outcome] = counts.get(view.outcome, 0) + 1
