"""What the kiosk hall's part of a host keeps in the journal's snapshots (``JournalBatch.snapshots``; the mechanism:
``engine/hosting/snapshot_rows.py``): one key per thing, its latest body (msgpack), None deleting it.

    kiosk/booking/<code>       Booking, when made and when its code is taken; deleted when its slot ends
    kiosk/day/<hall>/<day>     DayFigures of the hall that day, at every change; deleted past KEEP_DAYS
    kiosk/low/<device>         LowRow: the kiosk's supplies that are low and its ticket; deleted when refilled
    kiosk/levels/<device>      LevelsRow: the kiosk's supplies at its last report (the hall's health)
"""

from __future__ import annotations

from typing import Final

import msgspec

from engine.hosting.snapshot_rows import by_name, encode, under
from engine.kiosk.bookings import Booking
from engine.kiosk.figures import DayFigures

__all__ = ["BOOKING", "DAY", "LEVELS", "LOW", "LevelsRow", "LowRow", "Rows", "day_key", "encode", "read"]

BOOKING: Final = "kiosk/booking/"
DAY: Final = "kiosk/day/"
LOW: Final = "kiosk/low/"
LEVELS: Final = "kiosk/levels/"


class LowRow(msgspec.Struct, array_like=True):
    supplies: list[str]
    incident: str
    """The maintenance ticket (a ``kiosk.fault`` incident) raised when the first supply went low."""
    repeats: int
    """Its repeat count then: a fault the kiosk reported since joined it, so a refill does not withdraw it."""
    own: bool
    """The ticket was raised for the supplies (not an open fault they joined)."""


class LevelsRow(msgspec.Struct, array_like=True):
    paper: float | None
    card: float | None
    at_s: float
    """When the kiosk reported them (a supply left out of a report keeps its earlier level)."""


def day_key(hall: str, day: str) -> str:
    return f"{DAY}{hall}/{day}"


class Rows(msgspec.Struct):
    bookings: list[Booking] = msgspec.field(default_factory=list)
    days: list[DayFigures] = msgspec.field(default_factory=list)
    low: dict[str, LowRow] = msgspec.field(default_factory=dict)
    levels: dict[str, LevelsRow] = msgspec.field(default_factory=dict)


def read(snapshots: dict[str, bytes]) -> Rows:
    """Decode the kiosk keys of a journal's snapshots (other parts' keys are left alone)."""
    return Rows(bookings=under(snapshots, BOOKING, Booking), days=under(snapshots, DAY, DayFigures),
                low=by_name(snapshots, LOW, LowRow), levels=by_name(snapshots, LEVELS, LevelsRow))
