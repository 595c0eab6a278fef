"""The points ledger and shop as they are journaled and shown: rows a host appends, outcomes a phone gets back,
statements and leaderboards a console displays.

A host journals :data:`PointsRow` values, append-only, in the order the engine produced them (one sequence for the
whole book); ``engine.points.rebuild`` folds them back into the same balances, stock and remembered requests.
Every row carries the state *after* it (``balance_after``, ``stock_after``) so a rebuild can check the journal
as it reads it. Points are whole numbers; the rules that make them live in ``engine/points_rules.py``.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec
from msgspec import Struct

from protocols.errors import ProtocolError


class PointsReason(StrEnum):
    """Why a ledger entry moved a balance."""

    PATROL = "patrol"
    """Valid patrol time, pro-rata (``ref``: the patrol id; ``valid_s``: the valid duration)."""
    TIP_ACCEPTED = "tip_accepted"
    """A tip the station accepted (``ref``: the tip's incident id)."""
    EMERGENCY_HANDLED = "emergency_handled"
    """An emergency the volunteer helped handle (``ref``: the incident id)."""
    SOS_FALSE = "sos_false"
    """A volunteer SOS closed as a false alarm (``ref``: the incident id); a penalty, never below a zero balance."""
    REDEMPTION = "redemption"
    """Points spent in the shop (``ref``: the redemption's request id)."""

    @property
    def is_earning(self) -> bool:
        """Counted on leaderboards (everything but spending)."""
        return self is not PointsReason.REDEMPTION


class ItemCategory(StrEnum):
    COUPON = "coupon"
    PHONE_CREDIT = "phone_credit"
    GOODS = "goods"


class RedemptionStatus(StrEnum):
    """The closed set of outcomes of a redemption request."""

    ACCEPTED = "accepted"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    OUT_OF_STOCK = "out_of_stock"
    UNKNOWN_ITEM = "unknown_item"
    INVALID = "invalid"
    """A quantity below one, or no request id or volunteer: nothing to decide."""
    CONFLICT = "conflict"
    """The request id was used before for a different request: refused, and never journaled (the first outcome
    stays the answer for that id)."""


class LedgerEntry(Struct, frozen=True, tag="entry"):
    """One movement of one volunteer's balance. ``entry_id`` counts 1, 2, 3… over the whole book.

    ``rule_points`` is what the rule asked for; ``delta`` what was applied. They differ only for a penalty larger
    than the balance: the balance stops at zero and the rest is forgiven, never owed.
    """

    entry_id: int
    volunteer_id: str
    delta: int
    reason: PointsReason
    ref: str
    t_s: float
    balance_after: int
    rule_points: int = 0
    valid_s: float = 0.0
    """``patrol`` only: the valid patrol duration credited."""


class ShopItem(Struct, frozen=True):
    """An item of the points shop, with the stock left."""

    id: str
    name: str
    category: ItemCategory
    price: int
    stock: int


class ItemRow(Struct, frozen=True, tag="item"):
    """An item put in the shop, changed or restocked by an administrator: the item as it is after the change."""

    item: ShopItem
    t_s: float
    actor: str = ""


class Redemption(Struct, frozen=True, tag="redemption"):
    """The outcome of a redemption request: what a phone is answered, and (except ``conflict``) what is journaled
    so that a retry with the same ``request_id`` gets this same answer and never a second debit.

    ``accepted``: ``points`` (price × quantity) were debited by ledger entry ``entry_id`` (journaled just before
    this row), leaving ``balance_after`` and ``stock_after``. Otherwise ``reason`` says why, in words.
    """

    request_id: str
    volunteer_id: str
    item_id: str
    quantity: int
    status: RedemptionStatus
    t_s: float
    points: int = 0
    entry_id: int = 0
    balance_after: int = 0
    stock_after: int = 0
    reason: str = ""

    @property
    def accepted(self) -> bool:
        return self.status is RedemptionStatus.ACCEPTED


PointsRow = LedgerEntry | ItemRow | Redemption
"""What the journal stores for the points book, in order. Tagged (``type``: entry, item, redemption) for msgspec."""

_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(PointsRow)


def encode_row(row: PointsRow) -> bytes:
    """A row as the journal stores it (msgpack, tagged)."""
    return _ENCODER.encode(row)


def decode_row(blob: bytes) -> PointsRow:
    """A journaled row back; :class:`ProtocolError` names what is wrong with a damaged one."""
    try:
        return _DECODER.decode(blob)
    except msgspec.ValidationError as exc:
        message, _, at = str(exc).partition(" - at `$")
        raise ProtocolError(at.rstrip("`").lstrip("."), message) from exc
    except msgspec.DecodeError as exc:
        raise ProtocolError("", f"not a points row: {exc}") from exc


class Statement(Struct, frozen=True):
    """One volunteer's month: ``closing_balance == opening_balance + credits + debits``. Months are UTC; an entry
    belongs to the month its ``t_s`` falls in (``start_s`` inclusive, ``end_s`` exclusive)."""

    volunteer_id: str
    month: str
    """``YYYY-MM``."""
    start_s: float
    end_s: float
    opening_balance: int
    credits: int
    debits: int
    """Zero or negative."""
    closing_balance: int
    patrol_hours: float
    entries: tuple[LedgerEntry, ...]


class LeaderboardRow(Struct, frozen=True):
    """A place on a leaderboard of volunteers, teams or streets. Equal points share a rank (1, 2, 2, 4), and ties
    are listed by ``key``."""

    rank: int
    key: str
    name: str
    points: int
    """Points earned in the period (penalties subtract; spending does not)."""
    patrol_hours: float
    volunteers: int
