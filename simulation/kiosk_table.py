"""The ``[kiosks]`` table of a scenario (``simulation.kiosk_plan``) and what a plan is made of: booking requests, codes
typed at a kiosk, and the ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from msgspec import Meta, Struct


class KiosksTable(Struct, forbid_unknown_fields=True, frozen=True):
    sessions: Annotated[int, Meta(ge=1, le=1_000_000)]
    days: Annotated[float, Meta(gt=0, le=60)]
    seed: int = 1
    hall: str | None = None
    """The kiosk hall (None: the city's first hall with kiosks)."""
    deliver_every_s: Annotated[float, Meta(ge=0, le=1800)] = 900.0
    mix: dict[str, Annotated[float, Meta(ge=0)]] = {}
    """Category → weight of its sessions (services of a category equally likely); empty: every service alike."""
    duration: tuple[Annotated[float, Meta(gt=0)], Annotated[float, Meta(gt=0)]] = (0.4, 1.0)
    """A session lasts the service's ``typical_s`` times a factor drawn in [lo, hi]."""
    abandon_p: Annotated[float, Meta(ge=0, le=1)] = 0.04
    face_fail_p: Annotated[float, Meta(ge=0, le=1)] = 0.03
    exam_score: tuple[float, float] = (89.0, 6.0)
    """Mean and spread of the theory exam's scores (the pass mark is the catalogue's)."""
    booked_p: Annotated[float, Meta(ge=0, le=1)] = 0.3
    """Of the sessions of bookable services, those booked by phone ahead."""
    book_ahead_s: tuple[Annotated[float, Meta(ge=0)], Annotated[float, Meta(ge=0)]] = (7200.0, 259200.0)
    no_shows: Annotated[int, Meta(ge=0)] = 40
    full_slots: Annotated[int, Meta(ge=0)] = 8
    """Slots filled to capacity by more phones, two more refused overbooked (the fillers never come)."""
    twice: Annotated[int, Meta(ge=0)] = 15
    mistyped: Annotated[int, Meta(ge=0)] = 12
    early: Annotated[int, Meta(ge=0)] = 6
    """Booked users typing their code too early (refused); they are served without it and count as no-shows."""
    paper_out_kiosk: Annotated[int, Meta(ge=0)] = 3
    """The kiosk (1-based; 0: none) whose technician's round is missed once: its paper runs low, a ticket."""
    paper_out_after_s: Annotated[float, Meta(ge=0)] = 172800.0
    refill_after_s: Annotated[float, Meta(gt=0)] = 7200.0
    heartbeat_s: Annotated[float, Meta(gt=0)] = 900.0
    """A kiosk with nothing else to send in this long sends a heartbeat."""
    sos_at_s: Annotated[float, Meta(ge=0)] | None = None
    sos_kiosk: Annotated[int, Meta(ge=1)] = 1


@dataclass(frozen=True, slots=True)
class Typing:
    """A booking's code typed at a kiosk: the run sends it with the code the engine gave the booking."""

    at_s: float
    kiosk: str
    seq: int
    stamp_s: float
    booking: int
    """Index of the booking request (``KioskPlan.requests``) whose code is typed."""


@dataclass(slots=True)
class KioskTruth:
    """What the plan means the engine to count, in the names of ``simulation.scenario_kiosk``'s figures."""

    figures: dict[str, float] = field(default_factory=dict)
    tickets: int = 0
    sos: int = 0


@dataclass(frozen=True, slots=True)
class Request:
    at_s: float
    phone: str
    service: str
    slot: int
    seq: int
