"""The console's site views (issue 15): a community (its doors with their state, cameras, visitor calls open and
recent with their outcome, its notices with their receipts, its figures) and a kiosk hall (each kiosk's health, the
queue of today's bookings, served today per category and the average session time), and the notice composer's
post and withdraw. Answered by ``actors/gateway_sites.py``.

Client → server:

- ``{"type": "community", "site": "C0001"}`` → :class:`CommunityView`;
- ``{"type": "kiosk_hall", "hall": "K0001"}`` → :class:`KioskHallView`;
- ``{"type": "post_notice", "id": 3, "site": ..., "text": ..., "valid_until_s": ..., ...}`` and
  ``{"type": "withdraw_notice", "id": 4, "site": ..., "notice": ..., "reason": ...}`` → :class:`NoticeResult`.

Scope: an operator asks only for a site it sees (the command center: every site; a station: its precinct's; a guard
room: its own; a grid worker: its grid's). A site outside it, unknown, or of the wrong kind is answered
``{"type": "error", "reason": "community.site: ..."}`` (``kiosk_hall.hall: ...``); a notice command so refused is a
``notice_result`` with ``ok`` false, ``field`` and ``code`` (``out_of_jurisdiction``, ``unknown_site``, a
``NoticeRefusal`` value, ``unavailable``). Every notice command is audited, done or refused.
"""

from __future__ import annotations

from typing import Annotated, Final

from msgspec import Meta, Struct, field

from protocols.community_desk import CallRow
from protocols.notices import MAX_TARGETS, NoticeLevel, NoticeView

SiteId = Annotated[str, Meta(min_length=1, max_length=128)]
Target = Annotated[str, Meta(min_length=1, max_length=64)]
Time = Annotated[float, Meta(ge=0, le=2**40)]


# -- client → server ---------------------------------------------------------------------------------------------

class CommunityQuery(Struct, tag="community", forbid_unknown_fields=True):
    site: SiteId


class KioskHallQuery(Struct, tag="kiosk_hall", forbid_unknown_fields=True):
    hall: SiteId


class PostNoticeCommand(Struct, tag="post_notice", forbid_unknown_fields=True):
    """A notice to a community's door screens. ``notice``: the console's id for it, sent again on a retry (the same
    notice is answered); ``valid_from_s`` 0: now; no ``buildings`` and no ``units``: the whole community."""

    id: int
    site: SiteId
    notice: Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:@-]+$")]
    text: Annotated[str, Meta(max_length=4000)]
    """Checked by the engine (empty, too long, a NUL: a named refusal, not a decoding error)."""
    valid_until_s: Time
    valid_from_s: Time = 0.0
    title: Annotated[str, Meta(max_length=400)] = ""
    level: NoticeLevel = NoticeLevel.INFO
    buildings: Annotated[list[Target], Meta(max_length=MAX_TARGETS)] = []
    units: Annotated[list[Target], Meta(max_length=MAX_TARGETS)] = []


class WithdrawNoticeCommand(Struct, tag="withdraw_notice", forbid_unknown_fields=True):
    id: int
    site: SiteId
    notice: Annotated[str, Meta(min_length=1, max_length=64)]
    reason: Annotated[str, Meta(max_length=500)] = ""


# -- server → client ---------------------------------------------------------------------------------------------

class DoorRow(Struct):
    door: str
    label: str
    building: str
    """The door's unit (its building)."""
    open: bool
    """Reported open (and not closed since)."""
    open_since_s: float | None
    offline: bool
    """A ``device.offline`` (or the site's ``site.offline``) incident is open for it."""
    alarms: list[str]
    """Kinds of its open incidents other than offline (``door.forced``, ``door.held_open``)."""


class CameraRow(Struct):
    camera: str
    label: str
    offline: bool
    alarms: list[str]


class CommunityView(Struct, tag="community_view"):
    site: str
    name: str
    address: str
    zone: str
    precinct: str
    server_s: float
    doors: list[DoorRow]
    cameras: list[CameraRow]
    calls_open: list[CallRow]
    calls_recent: list[CallRow]
    """Newest first."""
    figures: dict[str, int]
    """Calls by outcome, open incidents, doors open, devices offline; with the engine's community figures when the
    engine keeps them (``alarms``, ``visitor_calls``, ``missed_calls``, ``open_tickets``...)."""
    notices: list[NoticeView] | None = None
    """Newest first, with their receipts; None: the engine keeps no notices (the composer is hidden)."""
    buildings: list[str] = field(default_factory=list)
    """The buildings of the community (its doors' units), the composer's targets."""


class KioskRow(Struct):
    kiosk: str
    label: str
    online: bool | None
    """None: not heard from since its host started."""
    last_seen_s: float | None = None
    paper: float | None = None
    card: float | None = None
    low: list[str] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)
    """Open maintenance tickets (``kiosk.fault`` incidents)."""
    sos: list[str] = field(default_factory=list)


class QueueRowView(Struct):
    slot: int
    service: str
    service_name: str
    category: str
    booked: int
    taken: int
    capacity: int


class KioskHallView(Struct, tag="kiosk_hall_view"):
    hall: str
    name: str
    address: str
    zone: str
    day: str
    server_s: float
    kiosks: list[KioskRow]
    queue: list[QueueRowView]
    """Today's booked slots not ended, soonest first."""
    queue_more: int
    served: int
    served_by_category: dict[str, int]
    categories: dict[str, str]
    """Category id → its name."""
    sessions: int
    average_session_s: float
    bookings: int
    no_shows: int
    open_tickets: int
    exam_pass_rate: float | None = None


class NoticeResult(Struct, tag="notice_result"):
    """The answer to ``post_notice`` / ``withdraw_notice`` (``id`` echoed); refused: ``ok`` false with ``field``,
    ``reason`` and ``code``."""

    id: int
    action: str
    ok: bool
    field: str = ""
    reason: str = ""
    code: str = ""
    notice: NoticeView | None = None


SITES_REQUESTS: Final = (CommunityQuery, KioskHallQuery, PostNoticeCommand, WithdrawNoticeCommand)
SITES_ANSWERS: Final = (CommunityView, KioskHallView, NoticeResult)
