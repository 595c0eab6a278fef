"""Notices for door screens, the pure part (``protocols/notices.py`` is the vocabulary): what a site's notice holds
(:class:`NoticeRow`, snapshotted by the host), the checks of a post (each refusal names its field, raised before
anything changes), a notice's state and view, and a site's board.

A notice's state follows what the host's timers did, not the clock (so a restarted host, before its first deadline
fires, shows what its journal holds): ``scheduled`` until its start timer fired (or it was posted in force),
``active`` until its end timer fired (``expired``) or it was withdrawn.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Final

import msgspec

from engine.errors import RedbandError
from engine.topology import City
from protocols.device_schema import PLAIN_TEXT_PATTERN, PROSE_PATTERN
from protocols.kinds import DeviceKind, SiteKind
from protocols.notices import (MAX_BOARD_BYTES, MAX_TEXT, MAX_TITLE, MAX_WINDOW_S, BoardNotice, NoticeLevel,
                               NoticeRefusal, NoticeState, NoticeView, PostNotice, SiteBoard, building_of_unit,
                               encode_board)

MAX_OPEN_PER_SITE: Final = 50
"""Notices scheduled or in force at one site; the next post is refused ``too_many``."""
MAX_KEPT_PER_SITE: Final = 200
"""Notices a host keeps per site, ended ones too (the oldest ended one is forgotten for a new one)."""


class NoticeRefused(RedbandError):
    """A notice request refused: ``reason`` (a :class:`NoticeRefusal`), the message naming the field."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = NoticeRefusal(reason)
        self.message = message
        super().__init__(message)

    def __reduce__(self):
        return type(self), (self.reason.value, self.message)


class NoticeRow(msgspec.Struct, array_like=True):
    id: str
    site: str
    author: str
    text: str
    title: str
    level: str
    valid_from_s: float
    valid_until_s: float
    buildings: list[str]
    units: list[str]
    posted_s: float
    started: bool = False
    """Its start passed (posted in force, or its start timer fired)."""
    ended_s: float | None = None
    """When its end timer retired it (expired)."""
    withdrawn_s: float | None = None
    withdrawn_by: str = ""
    withdraw_reason: str = ""
    shown: list[str] = msgspec.field(default_factory=list)
    """Doors that reported ``notice.shown``, in order."""

    @property
    def open(self) -> bool:
        """Scheduled or in force."""
        return self.ended_s is None and self.withdrawn_s is None

    @property
    def on_board(self) -> bool:
        return self.open and self.started


@dataclass(slots=True)
class SiteDoors:
    """What a community's notices may target: its door screens (door id → building), buildings and units."""

    doors: dict[str, str] = field(default_factory=dict)
    buildings: set[str] = field(default_factory=set)
    units: set[str] = field(default_factory=set)


def communities(city: City) -> dict[str, SiteDoors]:
    """The communities of a host's city slice, with their doors, buildings (the doors' units) and residents' units."""
    out = {s.id: SiteDoors() for s in city.sites.values() if s.kind is SiteKind.COMMUNITY}
    for device in city.devices.values():
        if device.kind == DeviceKind.DOOR and device.site_id in out:
            site = out[device.site_id]
            site.doors[device.id] = device.unit
            site.buildings.add(device.unit)
    for resident in city.residents.values():
        if resident.site_id in out:
            out[resident.site_id].units.add(resident.unit)
    return out


def state_of(row: NoticeRow) -> NoticeState:
    if row.withdrawn_s is not None:
        return NoticeState.WITHDRAWN
    if row.ended_s is not None:
        return NoticeState.EXPIRED
    return NoticeState.ACTIVE if row.started else NoticeState.SCHEDULED


def refuse(reason: NoticeRefusal, message: str) -> NoticeRefused:
    return NoticeRefused(reason.value, message)


def check_post(request: PostNotice, site: SiteDoors | None, now_s: float) -> tuple[float, list[str], list[str]]:
    """The notice's start (``valid_from_s`` 0: now) and its targets, sorted and without repeats; a refusal raises
    :class:`NoticeRefused` naming the field."""
    if site is None:
        raise refuse(NoticeRefusal.UNKNOWN_SITE, f"site: no community {request.site!r} on this host")
    text = request.text
    if not text.strip():
        raise refuse(NoticeRefusal.TEXT_EMPTY, "text: empty")
    if len(text) > MAX_TEXT:
        raise refuse(NoticeRefusal.TEXT_TOO_LONG, f"text: {len(text)} characters, at most {MAX_TEXT}")
    if "\x00" in text:
        raise refuse(NoticeRefusal.TEXT_INVALID, "text: contains a NUL character")
    if not re.match(PROSE_PATTERN, text):  # door screens are public: they must show what the operator sent
        raise refuse(NoticeRefusal.TEXT_INVALID, "text: contains a control character, a line separator or a "
                                                 "direction override")
    if len(request.title) > MAX_TITLE or not re.match(PLAIN_TEXT_PATTERN, request.title):
        raise refuse(NoticeRefusal.TEXT_INVALID, f"title: at most {MAX_TITLE} characters on one line, no NUL, "
                                                 f"control character or direction override")
    from_s = request.valid_from_s or now_s
    until_s = request.valid_until_s
    if not (math.isfinite(from_s) and math.isfinite(until_s)):
        raise refuse(NoticeRefusal.WINDOW_INVERTED, "valid_until_s: the window's times must be finite numbers")
    if until_s <= now_s:
        raise refuse(NoticeRefusal.WINDOW_PAST, f"valid_until_s: {until_s:.0f} is in the past (now {now_s:.0f})")
    if until_s <= from_s:
        raise refuse(NoticeRefusal.WINDOW_INVERTED,
                     f"valid_until_s: {until_s:.0f} is not after valid_from_s {from_s:.0f}")
    days = MAX_WINDOW_S // 86_400
    if from_s - now_s > MAX_WINDOW_S:
        raise refuse(NoticeRefusal.WINDOW_TOO_LONG, f"valid_from_s: starts more than {days} days ahead")
    if until_s - max(from_s, now_s) > MAX_WINDOW_S:
        raise refuse(NoticeRefusal.WINDOW_TOO_LONG, f"valid_until_s: in force more than {days} days")
    buildings, units = sorted(set(request.buildings)), sorted(set(request.units))
    unknown = [b for b in buildings if b not in site.buildings]
    if unknown:
        raise refuse(NoticeRefusal.UNKNOWN_BUILDING, f"buildings: no building {unknown[0]!r} in {request.site}")
    unknown = [u for u in units if u not in site.units]
    if unknown:
        raise refuse(NoticeRefusal.UNKNOWN_UNIT, f"units: no unit {unknown[0]!r} in {request.site}")
    try:
        NoticeLevel(request.level)
    except ValueError:
        raise refuse(NoticeRefusal.TEXT_INVALID, f"level: expected one of info, warning, urgent") from None
    return from_s, buildings, units


def same_post(row: NoticeRow, request: PostNotice, buildings: list[str], units: list[str]) -> bool:
    """Whether ``request`` asks for the notice ``row`` already is (the same request sent again)."""
    return (row.text == request.text and row.title == request.title and row.level == str(request.level)
            and row.valid_until_s == request.valid_until_s and row.buildings == buildings and row.units == units
            and (not request.valid_from_s or request.valid_from_s == row.valid_from_s))


def targets(row: NoticeRow, site: SiteDoors) -> list[str]:
    """The door screens that show ``row``: every door of the community, or those of its buildings and units."""
    if not row.buildings and not row.units:
        return sorted(site.doors)
    wanted = set(row.buildings) | {building_of_unit(u) for u in row.units} | set(row.units)
    return sorted(door for door, building in site.doors.items() if building in wanted)


def targets_door(row: NoticeRow, building: str) -> bool:
    if not row.buildings and not row.units:
        return True
    return building in row.buildings or any(u == building or building_of_unit(u) == building for u in row.units)


def view(row: NoticeRow, site: SiteDoors | None) -> NoticeView:
    shown = set(row.shown)
    pending = [d for d in targets(row, site) if d not in shown] if site is not None else []
    return NoticeView(row.id, row.site, row.author, row.text, row.title, NoticeLevel(row.level), row.valid_from_s,
                      row.valid_until_s, tuple(row.buildings), tuple(row.units), state_of(row), row.posted_s,
                      row.withdrawn_s, row.withdrawn_by, row.withdraw_reason, tuple(row.shown), tuple(pending))


def board(site_id: str, rows: list[NoticeRow], now_s: float) -> SiteBoard:
    """The site's notices in force, soonest started first (then by id)."""
    live = sorted((r for r in rows if r.on_board), key=lambda r: (r.valid_from_s, r.id))
    return SiteBoard(site_id, int(now_s * 1000), tuple(_on_board(r) for r in live))


def _on_board(r: NoticeRow) -> BoardNotice:
    return BoardNotice(r.id, r.text, int(r.valid_from_s * 1000), int(r.valid_until_s * 1000), r.title, r.level,
                       tuple(r.buildings), tuple(r.units))


def check_board_size(site_id: str, rows: list[NoticeRow], row: NoticeRow, now_s: float) -> None:
    """Refuse ``row`` (``board_too_large``, naming ``text``) if the site's board would be over ``MAX_BOARD_BYTES``
    were it and every other notice scheduled or in force on it at once."""
    size = len(encode_board(SiteBoard(site_id, int(now_s * 1000), tuple(_on_board(r) for r in rows if r.open)
                                      + (_on_board(row),))))
    if size > MAX_BOARD_BYTES:
        raise refuse(NoticeRefusal.BOARD_TOO_LARGE, f"text: the site's board would be {size} bytes with this notice "
                                                    f"and those scheduled or in force, at most {MAX_BOARD_BYTES}")
