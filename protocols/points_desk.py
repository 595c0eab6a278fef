"""Points requests put to a host's desk (``protocols/desk.py``): a volunteer's ledger and monthly statement,
leaderboards, the shop's stock, and the street office's administration (restock, put an item, redeem for a
volunteer at the counter).

A volunteer's requests go to the host of the volunteer's phone (``actors/engine_desk.ask_device_host``), which
holds the volunteer's points; every precinct host keeps its own shop (a street office's), so shop requests go to a
named host. A leaderboard is asked of every host and the answers merged (``engine/points_views.merge_boards``).
Answers are the book's own values (``protocols/points.py``); refusals the engine's errors.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from msgspec import Meta, Struct

from protocols.points import ItemCategory, LeaderboardRow, LedgerEntry, ShopItem

VolunteerId = Annotated[str, Meta(min_length=1, max_length=128)]
ItemId = Annotated[str, Meta(min_length=1, max_length=64)]
RequestId = Annotated[str, Meta(min_length=1, max_length=64)]
Actor = Annotated[str, Meta(max_length=128)]
Month = Annotated[str, Meta(pattern=r"^$|^[0-9]{4}-(0[1-9]|1[0-2])$")]
MAX_PAGE = 200
MAX_BOARD = 500
MAX_ADD = 100_000


class BoardBy(StrEnum):
    TEAM = "team"
    STREET = "street"
    VOLUNTEER = "volunteer"


class Ledger(Struct, frozen=True, forbid_unknown_fields=True):
    """A page of a volunteer's ledger, newest first; ``before``: the oldest entry id of the previous page."""

    volunteer: VolunteerId
    before: int | None = None
    limit: Annotated[int, Meta(ge=1, le=MAX_PAGE)] = 50


class LedgerPage(Struct, frozen=True):
    volunteer: str
    balance: int
    entries: tuple[LedgerEntry, ...]
    """Newest first."""
    more: bool


class MonthStatement(Struct, frozen=True, forbid_unknown_fields=True):
    """A volunteer's statement for ``month`` (``YYYY-MM``, UTC); answered with ``protocols.points.Statement``."""

    volunteer: VolunteerId
    month: Month


class Leaderboard(Struct, frozen=True, forbid_unknown_fields=True):
    """Teams, streets or volunteers ranked by the points earned (in ``month`` if given, else ever)."""

    by: BoardBy
    month: Month = ""
    limit: Annotated[int, Meta(ge=1, le=MAX_BOARD)] = 100


class Board(Struct, frozen=True):
    by: BoardBy
    month: str
    rows: tuple[LeaderboardRow, ...]


class ShopStock(Struct, frozen=True, forbid_unknown_fields=True):
    """The host's shop: every item with its stock."""


class ShopView(Struct, frozen=True):
    host: str
    items: tuple[ShopItem, ...]


class Restock(Struct, frozen=True, forbid_unknown_fields=True):
    """``add`` more of an item (negative: written off, never below zero); answered with the item after."""

    item: ItemId
    add: Annotated[int, Meta(ge=-MAX_ADD, le=MAX_ADD)]
    actor: Actor = ""


class PutItem(Struct, frozen=True, forbid_unknown_fields=True):
    """A new item (no stock yet) or a changed name, category or price (stock kept); answered with the item."""

    item: ItemId
    name: Annotated[str, Meta(min_length=1, max_length=128)]
    category: ItemCategory
    price: Annotated[int, Meta(ge=1, le=10_000_000)]
    actor: Actor = ""


class Redeem(Struct, frozen=True, forbid_unknown_fields=True):
    """An operator redeems for a volunteer at the office; answered with ``protocols.points.Redemption`` (a refusal
    is an outcome, like a phone's). ``request`` is the volunteer's request id space: the same id from the phone
    and the office is the same request."""

    request: RequestId
    volunteer: VolunteerId
    item: ItemId
    quantity: Annotated[int, Meta(ge=1, le=100)] = 1
    actor: Actor = ""
