"""A kiosk hall's figures per day (UTC): sessions per service and outcome, session time, exams passed and failed,
bookings made and refused, codes taken and refused, and no-shows. Kept per (hall, day), the newest ``KEEP_DAYS`` days per hall; pure (the
host's part journals a day's row whenever it changes)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from msgspec import Struct, field

KEEP_DAYS: Final = 62


def day_of(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, UTC).strftime("%Y-%m-%d")


class DayFigures(Struct, array_like=True):
    hall: str
    day: str
    served: dict[str, int] = field(default_factory=dict)
    """Service → sessions that ended ``done`` (people served)."""
    outcomes: dict[str, int] = field(default_factory=dict)
    """Outcome (done, abandoned, failed) → sessions."""
    session_s: float = 0.0
    """Seconds of every session, whatever its outcome."""
    sessions: int = 0
    face_failed: int = 0
    exam_passed: int = 0
    exam_failed: int = 0
    bookings: int = 0
    codes_taken: int = 0
    no_shows: int = 0
    book_refused: dict[str, int] = field(default_factory=dict)
    """Reason → bookings of the hall refused that day (``engine.kiosk.bookings.BookRefusal``)."""
    code_refused: dict[str, int] = field(default_factory=dict)
    """Reason → codes typed at the hall's kiosks refused that day (``engine.kiosk.bookings.CodeRefusal``)."""


class HallFigures:
    def __init__(self) -> None:
        self.days: dict[tuple[str, str], DayFigures] = {}

    def load(self, rows: list[DayFigures]) -> None:
        self.days = {(r.hall, r.day): r for r in rows}

    def of(self, hall: str, t_s: float) -> tuple[DayFigures, list[tuple[str, str]]]:
        """The hall's row for the day of ``t_s`` (made if new), and the keys of the rows that made too many."""
        key = (hall, day_of(t_s))
        row = self.days.get(key)
        dropped: list[tuple[str, str]] = []
        if row is None:
            row = self.days[key] = DayFigures(hall, key[1])
            mine = sorted(day for h, day in self.days if h == hall)
            for day in mine[:max(0, len(mine) - KEEP_DAYS)]:
                del self.days[(hall, day)]
                dropped.append((hall, day))
        return row, dropped

    def session(self, row: DayFigures, *, service: str, outcome: str, duration_s: float, face_failed: bool,
                passed: bool | None) -> None:
        row.sessions += 1
        row.session_s += duration_s
        row.outcomes[outcome] = row.outcomes.get(outcome, 0) + 1
        if outcome == "done":
            row.served[service] = row.served.get(service, 0) + 1
        row.face_failed += face_failed
        if passed is not None:
            row.exam_passed += passed
            row.exam_failed += not passed

    def select(self, hall: str | None, day: str | None) -> list[DayFigures]:
        return [r for (h, d), r in self.days.items() if (hall is None or h == hall) and (day is None or d == day)]
