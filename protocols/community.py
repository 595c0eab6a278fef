"""The smart-security community on the wire: what residents' phones and door panels are told, and the closed sets of
answers, outcomes and refusals (defined once; the engine, the simulator and the console import them).

Commands (engine → device, on ``cmd``):

- ``visitor_call`` {call, door, unit, snapshot, seq, until_s}: a visitor rings the unit (to each verified resident's
  phone);
- ``visitor_call.answered`` {call, by, answer}: another phone answered first (the call no longer rings here);
- ``visitor_call.missed`` {call}: nobody answered in time;
- ``visitor_call.ended`` {call, outcome}: to the door panel, a call that ended without an open (denied, missed);
- ``open_door`` {by, call | pass}: to the door (the same command an operator's remote open sends);
- ``visitor_pass.issued`` {request, code, door, valid_from, valid_until, uses}: to the resident's phone;
- ``door.code.refused`` {code, reason}: to the door panel.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final

from msgspec import Meta, Struct


class VisitorAnswer(StrEnum):
    OPEN = "open"
    DENY = "deny"


class CallOutcome(StrEnum):
    """How a visitor call ended (its audit row's outcome)."""

    OPENED = "opened"
    """Answered open, and the door reported itself open in time."""
    NOT_OPENED = "not_opened"
    """Answered open, but the door did not report itself open in time."""
    DENIED = "denied"
    MISSED = "missed"


class CodeRefusal(StrEnum):
    """Why a code typed at a door panel does not open it."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    NOT_YET = "not_yet"
    USED_UP = "used_up"
    WRONG_DOOR = "wrong_door"


VISITOR_CALL: Final = "visitor_call"
CALL_ANSWERED: Final = "visitor_call.answered"
CALL_MISSED: Final = "visitor_call.missed"
CALL_ENDED: Final = "visitor_call.ended"
OPEN_DOOR: Final = "open_door"
PASS_ISSUED: Final = "visitor_pass.issued"
CODE_REFUSED: Final = "door.code.refused"


Name = Annotated[str, Meta(min_length=1, max_length=128)]


class IssueVisitorPass(Struct, frozen=True, forbid_unknown_fields=True):
    """A desk request (``protocols/desk.py``; asked of the host of the resident's phone): a property desk issues a
    visitor pass on a verified resident's behalf, as the phone's ``visitor.pass`` would (times in epoch seconds;
    ``valid_from_s`` 0: now). The phone is told ``visitor_pass.issued`` too. Refused with ``PassRefused``."""

    resident: Name
    request: Annotated[str, Meta(min_length=1, max_length=64)]
    valid_until_s: Annotated[float, Meta(ge=0, le=2**40)]
    valid_from_s: Annotated[float, Meta(ge=0, le=2**40)] = 0.0
    uses: Annotated[int, Meta(ge=1, le=20)] = 1
    door: Annotated[str, Meta(max_length=128)] = ""
    operator: Annotated[str, Meta(max_length=128)] = ""
    """Who asked (the audit's actor); empty: the resident."""


class VisitorPassIssued(Struct, frozen=True):
    """The pass a desk request made (or the one the same request made before)."""

    code: str
    site: str
    door: str
    resident: str
    valid_from_s: float
    valid_until_s: float
    uses_left: int
