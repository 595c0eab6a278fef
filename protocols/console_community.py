"""The console's community view and grid filter: figures per community and per grid, and a guard's remote door open.

Client → server:

- ``{"type": "community_figures", "grid": "", "site": ""}``: the figures of the communities the operator sees
  (a grid worker: its grid; a guard room: its site; a station: its precinct; the command center: all), narrowed to
  one grid or one site when given. Answered :class:`CommunityFigures`; a grid or site outside the operator's
  jurisdiction (or unknown) is answered ``{"type": "error", "reason": "community_figures.grid: ..."}``.
- ``{"type": "open_door", "id": 7, "door": "C0001-door1", "reason": "courier, resident called the guard room"}``:
  open a door remotely. Answered ``{"type": "result", "id": 7, "ok": true}``, or ``ok: false`` with ``error`` naming
  the field and ``code`` one of :class:`OpenDoorRefusal` (the gateway's own checks) or the engine's error type
  (``UnknownDevice``, ``Unavailable``). Every outcome is an audit row (action ``open_door`` for refusals; the
  door's host writes the accepted one as ``device.command`` with the operator, role, scope and reason). The door is
  sent ``open_door`` {by: operator, reason} on its ``cmd`` topic.

Grid ids: ``welcome.map.sites[].grid`` (the id) beside ``zone`` (its name); see ``protocols/community_figures.py``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final

from msgspec import Meta, Struct

from protocols.community_figures import FiguresRow

REASON_MAX_CHARS: Final = 200
"""The longest reason an operator may give for a remote open."""


class CommunityFiguresRequest(Struct, tag="community_figures", forbid_unknown_fields=True):
    """Figures per community and per grid, within the operator's jurisdiction (narrowed to ``grid`` / ``site``)."""

    grid: Annotated[str, Meta(max_length=128)] = ""
    site: Annotated[str, Meta(max_length=128)] = ""


class CommunityFigures(Struct, tag="community_figures"):
    """The answer: ``communities`` a row per site (kind community, school or kiosk_hall), ``grids`` a row per grid
    adding up its sites in this answer, both sorted by id. ``notices``: false while the engine keeps no notice
    board (every row's ``notices`` is then null)."""

    grid: str
    site: str
    communities: list[FiguresRow]
    grids: list[FiguresRow]
    server_s: float
    notices: bool = False


class OpenDoor(Struct, tag="open_door", forbid_unknown_fields=True):
    """A remote door open by an operator (a guard room for its site, a grid worker for its grid, a station for its
    precinct, the command center anywhere), with the reason the audit keeps (1-200 characters, not blank)."""

    id: int
    door: Annotated[str, Meta(max_length=128)]
    reason: Annotated[str, Meta(max_length=2048)] = ""
    """Checked by the gateway (a missing, blank or too long reason is a named refusal, not a decoding error)."""


class OpenDoorRefusal(StrEnum):
    """The ``code`` of a remote open the gateway refuses itself."""

    BAD_REASON = "BadReason"
    """``reason`` missing, blank, longer than ``REASON_MAX_CHARS``, or with a control character or a direction
    override."""
    NOT_A_DOOR = "NotADoor"
    UNKNOWN_DEVICE = "UnknownDevice"
    OUT_OF_JURISDICTION = "OutOfJurisdiction"
    TOO_MANY = "TooMany"
    """The operator's remote opens of the last minute are at their limit (``engine/remote_open.OpenPace``)."""


COMMUNITY_REQUESTS: Final = (CommunityFiguresRequest, OpenDoor)
COMMUNITY_ANSWERS: Final = (CommunityFigures,)
