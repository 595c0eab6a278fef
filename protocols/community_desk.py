"""A community's state at its host's desk (``protocols/desk.py``), for the console's community view: the doors
reported open (and since when), the visitor calls ringing or waiting for their door, the calls that ended recently
with their outcome, and the calls' counts by outcome. Answered by ``engine/hosting/community_view.py``; asked of the
host of the site's devices (``actors/gateway_community.py``).

Recent calls and their counts are the host's memory of its audit trail: rebuilt from the newest ``visitor_call`` audit
rows when the host starts (``RECENT_FROM_AUDIT`` of them), then kept as calls end.
"""

from __future__ import annotations

from typing import Annotated, Final

from msgspec import Meta, Struct, field

RECENT_KEPT: Final = 50
"""Recent ended calls kept per community."""
RECENT_FROM_AUDIT: Final = 2_000


class CommunityState(Struct, frozen=True, forbid_unknown_fields=True):
    """The state of one community (a site) held by the host asked."""

    site: Annotated[str, Meta(min_length=1, max_length=128)]
    recent: Annotated[int, Meta(ge=0, le=RECENT_KEPT)] = 20


class DoorOpen(Struct, frozen=True):
    door: str
    since_s: float


class CallRow(Struct):
    """A visitor call as the console shows it (``protocols/console_sites.py``): ``outcome`` empty while it rings
    (``answer`` empty) or waits for its door (``answer`` open)."""

    call: str
    door: str
    unit: str
    started_s: float
    answer: str = ""
    """"" ringing; ``open`` answered open (waiting for the door, or ``opened``); ``deny``."""
    by: str = ""
    latency_ms: float | None = None
    outcome: str = ""
    """"" while open; ``opened``, ``not_opened``, ``denied``, ``missed``."""
    ended_s: float | None = None


class CallView(CallRow, frozen=True):
    """A visitor call at the desk: the console's row and its door panel's snapshot (the console leaves it out)."""

    snapshot: str = ""


class CommunityStateAnswer(Struct, frozen=True):
    site: str
    doors_open: list[DoorOpen] = field(default_factory=list)
    calls_open: list[CallView] = field(default_factory=list)
    """Soonest started first."""
    calls_recent: list[CallView] = field(default_factory=list)
    """Newest ended first."""
    counts: dict[str, int] = field(default_factory=dict)
    """Calls ended by outcome (``opened``, ``not_opened``, ``denied``, ``missed``), as far as the host remembers."""
