"""The kiosk hall's figures a host's desk answers (``protocols/desk.py``): people served per day, per service and per
category, the average session time, the theory exam's pass rate, bookings, no-shows and open maintenance tickets.
Answered by ``engine/hosting/kiosk_domain.py``; the driver may ask every host and add the answers up with
:func:`merge`."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct, field

Day = Annotated[str, Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]


class KioskFigures(Struct, frozen=True, forbid_unknown_fields=True):
    """Figures of one kiosk hall (None: every hall of the host) on one UTC day ``YYYY-MM-DD`` (None: every day the
    host keeps)."""

    hall: Annotated[str, Meta(min_length=1, max_length=128)] | None = None
    day: Day | None = None


class KioskFiguresAnswer(Struct, frozen=True):
    hall: str | None
    day: str | None
    served: int = 0
    """Sessions that ended ``done``."""
    served_by_day: dict[str, int] = field(default_factory=dict)
    served_by_service: dict[str, int] = field(default_factory=dict)
    served_by_category: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    sessions: int = 0
    session_s: float = 0.0
    face_failed: int = 0
    exam_passed: int = 0
    exam_failed: int = 0
    bookings: int = 0
    codes_taken: int = 0
    no_shows: int = 0
    book_refused: dict[str, int] = field(default_factory=dict)
    """Reason (overbooked, too_many, past, too_far, not_bookable, unknown_service) → bookings refused, counted on
    the day they were asked for."""
    code_refused: dict[str, int] = field(default_factory=dict)
    """Reason (unknown, wrong_hall, too_early, too_late, used) → codes typed at a kiosk and refused, on that day."""
    open_tickets: int = 0
    """Maintenance tickets (``kiosk.fault`` incidents) of the hall's kiosks still open."""

    @property
    def average_session_s(self) -> float:
        return self.session_s / self.sessions if self.sessions else 0.0

    @property
    def exam_pass_rate(self) -> float | None:
        taken = self.exam_passed + self.exam_failed
        return self.exam_passed / taken if taken else None


def merge(answers) -> KioskFiguresAnswer | None:
    """Answers of several hosts added up (None for no answer)."""
    answers = list(answers)
    if not answers:
        return None
    total: dict = {"hall": answers[0].hall, "day": answers[0].day}
    for answer in answers:
        for name in KioskFiguresAnswer.__struct_fields__[2:]:
            value = getattr(answer, name)
            if isinstance(value, dict):
                into = total.setdefault(name, {})
                for key, n in value.items():
                    into[key] = into.get(key, 0) + n
            else:
                total[name] = total.get(name, 0) + value
    return KioskFiguresAnswer(**total)


class KioskQueue(Struct, frozen=True, forbid_unknown_fields=True):
    """A hall's booked slots that have not ended (the hall view's queue of bookings), soonest first."""

    hall: Annotated[str, Meta(min_length=1, max_length=128)]
    limit: Annotated[int, Meta(ge=1, le=1000)] = 200


class QueueRow(Struct, frozen=True):
    slot: int
    """The slot's start (epoch seconds)."""
    service: str
    booked: int
    taken: int
    """Bookings whose code was taken at a kiosk."""
    capacity: int


class KioskQueueAnswer(Struct, frozen=True):
    hall: str
    rows: list[QueueRow]
    more: int = 0
    """Rows left out past ``limit``."""


class KioskHealth(Struct, frozen=True, forbid_unknown_fields=True):
    """The health of a kiosk hall's kiosks, for the console's kiosk hall view: each kiosk online or not, its
    consumables' last reported levels, and its open maintenance tickets and SOS alarms. Answered by the host that
    holds the hall (the host of any of its kiosks, ``ask_device_host``); any other host answers no kiosks, so asking
    every host and keeping the answer with kiosks works too. Changes nothing."""

    hall: Annotated[str, Meta(min_length=1, max_length=128)]


class KioskState(Struct, frozen=True):
    kiosk: str
    """The kiosk's device id."""
    label: str
    online: bool | None
    """False while the engine holds it offline (missed heartbeats); None: not heard from since the host started."""
    last_seen_s: float | None
    """When the kiosk was last heard from (epoch seconds; None: not heard from)."""
    paper: float | None = None
    """Percent of paper at its last ``kiosk.supplies`` report (None: never reported)."""
    card: float | None = None
    """Percent of card stock at its last report (None: never reported)."""
    supplies_at_s: float | None = None
    """When the kiosk last reported its supplies."""
    low: list[str] = field(default_factory=list)
    """Supplies at or below the catalogue's thresholds (a maintenance ticket is open for them)."""
    tickets: list[str] = field(default_factory=list)
    """Ids of the kiosk's open ``kiosk.fault`` incidents (maintenance tickets: low supplies, reported faults)."""
    sos: list[str] = field(default_factory=list)
    """Ids of the kiosk's open ``kiosk.sos`` incidents."""


class KioskHealthAnswer(Struct, frozen=True):
    hall: str
    kiosks: list[KioskState] = field(default_factory=list)
    """The hall's kiosks in id order (empty: this host does not hold the hall)."""

    @property
    def online(self) -> int:
        return sum(1 for k in self.kiosks if k.online)

    @property
    def open_tickets(self) -> int:
        return sum(len(k.tickets) for k in self.kiosks)

    @property
    def open_sos(self) -> int:
        return sum(len(k.sos) for k in self.kiosks)
