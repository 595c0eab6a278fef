"""Notices for a community's door screens: the desk requests (``protocols/desk.py``) that post, withdraw and list them,
the closed set of refusals, and the retained *board* door screens read.

Desk requests, each asked of the host that holds the site (``actors/engine_desk.py``: ``post_notice``,
``withdraw_notice``, ``site_notices``), answered by ``engine/hosting/notices.py``:

- :class:`PostNotice` → :class:`NoticeView`. ``notice`` is the caller's id for it and makes the request idempotent:
  the same request again answers the same notice; the same id with other content is refused ``id_taken``.
- :class:`WithdrawNotice` → :class:`NoticeView` (state ``withdrawn``).
- :class:`NoticeQuery` → :class:`NoticeList`: the site's notices (newest first) with their state and their delivery
  receipts per door screen (``shown``: the doors that reported ``notice.shown``; ``pending``: the targeted doors
  that have not).

A refusal raises ``engine.notices.NoticeRefused`` (a ``RedbandError``) with ``reason`` (a :class:`NoticeRefusal`)
and a message naming the field (``"valid_until_s: the window ends in the past"``). Times are epoch seconds.

The board (engine → door screens, retained on ``rb/v1/site/{site}/notice``, JSON): the site's notices in force now,
each with its targets. It is published whenever that set changes (a post that is in force, the start of a scheduled
notice, an expiry, a withdrawal). **No notice in force: the retained message is cleared** (a zero-length retained
payload, the MQTT way: a screen that connects later gets nothing; a connected screen gets the empty payload and
shows no notice). A door screen shows a notice when its targets are empty (the whole community), or its building
(the door's ``unit``) is among ``buildings``, or one of ``units`` is in its building (``unit`` itself, or the part
before the first ``-``: unit ``3-1203`` is in building ``3``); it then reports ``notice.shown {notice}`` once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final

import msgspec
from msgspec import Meta, Struct, field

from protocols.errors import ProtocolError

MAX_TEXT: Final = 2000
MAX_TITLE: Final = 120
MAX_TARGETS: Final = 200
"""Buildings, and units, named by one notice."""
MAX_WINDOW_S: Final = 31 * 86_400
MAX_BOARD_BYTES: Final = 12_000
"""A site's board as published (JSON, UTF-8): the broker takes packets of at most 16,384 bytes
(``engine/mqtt_provision.py``) and disconnects a client that sends a larger one, which for the bridge is the alarm
lane's connection, its device commands with it."""
"""A notice is in force at most this long, and starts at most this far ahead."""

NoticeId = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:@-]+$")]
SiteId = Annotated[str, Meta(min_length=1, max_length=128)]
Name = Annotated[str, Meta(min_length=1, max_length=128)]
Target = Annotated[str, Meta(min_length=1, max_length=64)]
Text = Annotated[str, Meta(min_length=1, max_length=MAX_TEXT, pattern=r"^[^\x00]*$")]
Title = Annotated[str, Meta(max_length=MAX_TITLE, pattern=r"^[^\x00]*$")]
Time = Annotated[float, Meta(ge=0, le=2**40)]
Role = Annotated[str, Meta(max_length=128)]


class NoticeLevel(StrEnum):
    INFO = "info"
    WARNING = "warning"
    URGENT = "urgent"


class NoticeState(StrEnum):
    SCHEDULED = "scheduled"
    """Posted; its window has not begun."""
    ACTIVE = "active"
    """In force: on the site's board."""
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class NoticeRefusal(StrEnum):
    """Why a desk request about notices was refused (the closed set)."""

    UNKNOWN_SITE = "unknown_site"
    """``site``: no community of that id on the host asked."""
    WINDOW_INVERTED = "window_inverted"
    """``valid_until_s`` not after ``valid_from_s``."""
    WINDOW_PAST = "window_past"
    """``valid_until_s`` not after now."""
    WINDOW_TOO_LONG = "window_too_long"
    """In force longer than ``MAX_WINDOW_S``, or starting more than ``MAX_WINDOW_S`` ahead."""
    UNKNOWN_BUILDING = "unknown_building"
    UNKNOWN_UNIT = "unknown_unit"
    TEXT_EMPTY = "text_empty"
    """Empty or only white space."""
    TEXT_TOO_LONG = "text_too_long"
    TEXT_INVALID = "text_invalid"
    """A NUL, another control character or a direction override in the text or the title (a line break: text only),
    a title over ``MAX_TITLE``, or an unknown ``level``."""
    NOT_FOUND = "not_found"
    """``notice``: no notice of that id at that site."""
    ALREADY_WITHDRAWN = "already_withdrawn"
    ALREADY_EXPIRED = "already_expired"
    """A withdrawal of a notice whose window has ended."""
    ID_TAKEN = "id_taken"
    """``notice``: the id names another notice (other text, window or targets)."""
    TOO_MANY = "too_many"
    """The site already has ``MAX_OPEN_PER_SITE`` notices scheduled or in force (``engine/notices.py``)."""
    BOARD_TOO_LARGE = "board_too_large"
    """With this notice, the site's board (every notice scheduled or in force) would be over ``MAX_BOARD_BYTES``."""


class PostNotice(Struct, frozen=True, forbid_unknown_fields=True):
    """An operator (command center, station, the community's guard room) posts a notice to a community's door screens.
    ``valid_from_s`` 0: now. Empty ``buildings`` and ``units``: the whole community."""

    notice: NoticeId
    operator: Name
    site: SiteId
    text: Text
    valid_until_s: Time
    valid_from_s: Time = 0.0
    title: Title = ""
    level: NoticeLevel = NoticeLevel.INFO
    buildings: Annotated[tuple[Target, ...], Meta(max_length=MAX_TARGETS)] = ()
    units: Annotated[tuple[Target, ...], Meta(max_length=MAX_TARGETS)] = ()
    role: Role = ""
    scope: Role = ""
    """The operator's role and scope (``engine/operators.py``) for the audit row; the gateway checks that the
    operator may post to the site (the host does not)."""


class WithdrawNotice(Struct, frozen=True, forbid_unknown_fields=True):
    """Take a notice off the door screens before its window ends (a scheduled one never starts)."""

    site: SiteId
    notice: NoticeId
    operator: Name
    reason: Annotated[str, Meta(max_length=500)] = ""
    role: Role = ""
    scope: Role = ""


class NoticeQuery(Struct, frozen=True, forbid_unknown_fields=True):
    """A site's notices, newest first (None: every state), at most ``limit``."""

    site: SiteId
    states: Annotated[tuple[NoticeState, ...], Meta(max_length=4)] | None = None
    limit: Annotated[int, Meta(ge=1, le=500)] = 100


class NoticeView(Struct, frozen=True):
    """A notice as the host holds it, with its state now and its delivery receipts."""

    notice: str
    site: str
    author: str
    text: str
    title: str
    level: NoticeLevel
    valid_from_s: float
    valid_until_s: float
    buildings: tuple[str, ...]
    units: tuple[str, ...]
    state: NoticeState
    posted_s: float
    withdrawn_s: float | None = None
    withdrawn_by: str = ""
    withdraw_reason: str = ""
    shown: tuple[str, ...] = ()
    """Door screens (door ids) that reported showing it, in the order they did."""
    pending: tuple[str, ...] = ()
    """Door screens it targets that have not reported it yet."""


class NoticeList(Struct, frozen=True):
    site: str
    now_s: float
    notices: list[NoticeView] = field(default_factory=list)
    more: int = 0
    """Notices left out by ``limit``."""


# -- the board door screens read ---------------------------------------------------------------------


class BoardNotice(Struct, frozen=True, omit_defaults=True):
    id: str
    text: str
    from_ts: int
    """Epoch ms."""
    until_ts: int
    title: str = ""
    level: str = "info"
    buildings: tuple[str, ...] = ()
    units: tuple[str, ...] = ()


class SiteBoard(Struct, frozen=True):
    """The notices of a site in force (never empty on the wire: no notice clears the retained message)."""

    site: str
    ts: int
    """When the board was made (epoch ms)."""
    notices: tuple[BoardNotice, ...]


NOTICE_BOARD: Final = "notice.board"
"""The name of a board in a host's device-command outbox (``engine/hosting/outboxes.py``)."""

_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(SiteBoard)


def encode_board(board: SiteBoard) -> bytes:
    """A board's retained payload; no notice in force: ``b""`` (clears the retained message)."""
    return _encoder.encode(board) if board.notices else b""


def decode_board(payload: bytes) -> SiteBoard | None:
    """None for the empty payload (no notice in force)."""
    if not payload:
        return None
    try:
        return _decoder.decode(payload)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ProtocolError("board", str(exc)) from exc


def building_of_unit(unit: str) -> str:
    """The building a unit is in: the part before the first ``-`` (``3-1203`` → ``3``; ``3`` → ``3``)."""
    return unit.split("-", 1)[0]


def shows_on(notice: BoardNotice, door_building: str) -> bool:
    """Whether a door screen of the building ``door_building`` (the door's ``unit``) shows ``notice``."""
    if not notice.buildings and not notice.units:
        return True
    return door_building in notice.buildings or any(building_of_unit(u) == door_building or u == door_building
                                                    for u in notice.units)
