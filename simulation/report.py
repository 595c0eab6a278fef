"""Timelines and expectations of a scenario run: pure functions over rows."""

from __future__ import annotations

from dataclasses import dataclass, field

from protocols.records import IncidentRecord


@dataclass(frozen=True, slots=True)
class TimelineRow:
    t_s: float
    incident: str
    kind: str
    event: str
    level: str
    target: str
    actor: str = ""
    note: str = ""

    def public(self) -> dict:
        return {"t_s": self.t_s, "incident": self.incident, "kind": self.kind, "event": self.event,
                "level": self.level, "target": self.target}


@dataclass(frozen=True, slots=True)
class ExpectationResult:
    name: str
    passed: bool
    detail: str
    skipped: bool = False

    @property
    def verdict(self) -> str:
        return "SKIP" if self.skipped else "PASS" if self.passed else "FAIL"


@dataclass(slots=True)
class RunResult:
    scenario: str
    timeline: list[TimelineRow] = field(default_factory=list)
    expectations: list[ExpectationResult] = field(default_factory=list)
    events_sent: int = 0
    events_accounted: int = 0
    refusals: list[str] = field(default_factory=list)
    duplicates: int = 0
    """Messages the engine had seen already (acked again, never raised twice)."""
    faults: list[str] = field(default_factory=list)
    """Faults the driver carried out (host kills, broker kills and restarts), with their times."""
    fault_marks: list[tuple[float, str]] = field(default_factory=list)
    """(run time s, short label) of each fault carried out, for the plots."""
    load: list = field(default_factory=list)
    """What each load process published (``--mqtt`` with load phases)."""
    metrics: dict = field(default_factory=dict)
    """Latency percentiles, throughput over time and the checker's verdict (``simulation/metrics.py``)."""
    tables: dict[str, list[dict]] = field(default_factory=dict)
    """Volunteer figures per grouping (team, street, community) from the engine's counters, one row per group."""
    notes: list[str] = field(default_factory=list)
    """What the run's scripted operator did besides the scenario's responders (an offer made by hand)."""

    @property
    def lost(self) -> int:
        return self.events_sent - self.events_accounted

    @property
    def passed(self) -> bool:
        return all(e.passed for e in self.expectations)

    def to_json(self) -> dict:
        return {
            "passed": self.passed,
            "expectations": [{"name": e.name, "passed": e.passed, "skipped": e.skipped, "detail": e.detail}
                             for e in self.expectations],
            "timeline": [row.public() for row in self.timeline],
            "events_sent": self.events_sent,
            "events_accounted": self.events_accounted,
            "lost": self.lost,
            "refusals": list(self.refusals),
            "duplicates": self.duplicates,
            "metrics": self.metrics,
            "load_processes": self.load,
            "faults": self.faults,
            "fault_marks": [{"t_s": t, "label": label} for t, label in self.fault_marks],
            "figures_by": self.tables,
            "notes": self.notes,
        }


def rows_of(record: IncidentRecord, new_from: int, *, t0_s: float = 0.0) -> list[TimelineRow]:
    return [
        TimelineRow(round(e.t_s - t0_s, 3), record.id, record.kind.value, e.event.value,
                    e.level.value if e.level else "", e.target, e.actor, e.note)
        for e in record.timeline[new_from:]
    ]


def format_row(row: TimelineRow) -> str:
    who = f" by {row.actor}" if row.actor and row.actor != "system" and row.event != "raised" else ""
    note = f"  ({row.note})" if row.note else ""
    return f"t={row.t_s:8.2f}s  {row.incident:<28} {row.kind:<16} {row.event:<12} {row.level:<15} {row.target}{who}{note}"


def check_expectations(expectations, timeline: list[TimelineRow], *, lost: int, slack_s: float = 0.0,
                       end_s: float | None = None) -> list[ExpectationResult]:
    """Check each expectation against the timeline. One timed after the run's end (``--until``) cannot be
    judged: it is reported as skipped, not passed."""
    results = []
    for ex in expectations:
        if end_s is not None and ex.at_s is not None and ex.at_s - ex.tolerance_s > end_s:
            results.append(ExpectationResult(ex.name, True, f"skipped: expected at {ex.at_s}s, after this run "
                                             f"ends at {end_s:g}s", skipped=True))
            continue
        matches = [
            row for row in timeline
            if row.event == ex.event
            and (ex.level is None or row.level == ex.level)
            and (ex.target is None or row.target == ex.target)
            and (ex.kind is None or row.kind == ex.kind)
        ]
        what = " ".join(filter(None, [ex.event, ex.level and f"level={ex.level}", ex.target and f"target={ex.target}",
                                      ex.kind and f"kind={ex.kind}"]))
        if ex.never:
            passed = not matches
            detail = f"no {what}" if passed else f"{what} at t={matches[0].t_s}s ({matches[0].incident})"
        else:
            timed = matches
            if ex.at_s is not None:
                tolerance = ex.tolerance_s + slack_s
                timed = [row for row in matches if abs(row.t_s - ex.at_s) <= tolerance]
            if ex.count is not None:
                passed = len(timed) == ex.count
            else:
                passed = bool(timed)
            seen = ", ".join(f"{row.t_s}s" for row in matches[:5]) or "never"
            want = f" at {ex.at_s}s ± {ex.tolerance_s + slack_s:g}s" if ex.at_s is not None else ""
            count = f" x{ex.count}" if ex.count is not None else ""
            detail = f"expected {what}{want}{count}; seen at: {seen}"
        results.append(ExpectationResult(ex.name, passed, detail))
    results.append(ExpectationResult("no event lost", lost == 0, f"lost = {lost}"))
    return results


TABLE_COLUMNS = ("group", "registered", "patrols", "valid_hours", "emergencies", "tips_open", "points")


def format_tables(tables: dict[str, list[dict]], *, limit: int = 10) -> list[str]:
    """Text lines of the volunteer figures per grouping: the ``limit`` groups with the most patrols, then the total."""
    lines = []
    for by, rows in tables.items():
        lines.append(f"figures per {by} ({len(rows)} groups; the {min(limit, len(rows))} with most patrols):")
        lines.append("  " + "  ".join(f"{c:>12}" if i else f"{c:<28}" for i, c in enumerate(TABLE_COLUMNS)))
        top = sorted(rows, key=lambda r: (-r["patrols"], r["group"]))[:limit]
        total = {"group": "total", **{c: round(sum(r[c] for r in rows), 2) for c in TABLE_COLUMNS[1:]}}
        for row in [*top, total]:
            lines.append("  " + "  ".join(f"{row[c]:>12}" if i else f"{str(row[c])[:28]:<28}"
                                          for i, c in enumerate(TABLE_COLUMNS)))
    return lines
