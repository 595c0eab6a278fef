"""The console's points and shop (issue 14): queries — a volunteer's ledger and monthly statement, leaderboards per
team, street or volunteer, the shops' stock — and the street offices' administration — restock, put an item, redeem
for a volunteer at the counter. Documented in ``docs/console-protocol.md``.

Each precinct host keeps its own shop: a shop is named by its host (``shop`` in ``points_shops``). The command
center sees and administers every shop and volunteer; a station sees the volunteers, teams and shops of its precinct
and may redeem for its volunteers. An administrative message is answered ``points_result``; a refusal names the
field and the reason (``item: out of stock: …``, ``volunteer: insufficient balance: …``, ``request: conflict: …``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from protocols.points import ItemCategory

Name = Annotated[str, Meta(min_length=1, max_length=128)]
ItemId = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
Month = Annotated[str, Meta(pattern=r"^$|^[0-9]{4}-(0[1-9]|1[0-2])$")]


# -- client → server ---------------------------------------------------------------------------------------------

class PointsQuery(Struct, tag="points", forbid_unknown_fields=True):
    """``what``: ``ledger`` (``volunteer``, ``before``, ``limit``), ``statement`` (``volunteer``, ``month``),
    ``board`` (``by`` team | street | volunteer, ``month``: empty for all time), ``shops``."""

    what: Literal["ledger", "statement", "board", "shops"]
    volunteer: Annotated[str, Meta(max_length=128)] = ""
    month: Month = ""
    by: Literal["team", "street", "volunteer"] = "team"
    before: Annotated[int, Meta(ge=1)] | None = None
    limit: Annotated[int, Meta(ge=1, le=200)] = 50


class RestockCommand(Struct, tag="restock", forbid_unknown_fields=True):
    """Command center: ``add`` more of an item of a shop (negative: written off, never below zero)."""

    id: int
    shop: Name
    item: ItemId
    add: Annotated[int, Meta(ge=-100_000, le=100_000)]


class PutItemCommand(Struct, tag="put_item", forbid_unknown_fields=True):
    """Command center: a new item of a shop (no stock yet), or its name, category or price changed."""

    id: int
    shop: Name
    item: ItemId
    name: Name
    category: ItemCategory
    price: Annotated[int, Meta(ge=1, le=10_000_000)]


class RedeemCommand(Struct, tag="redeem", forbid_unknown_fields=True):
    """An operator redeems for a volunteer at the office, in the shop of the volunteer's host. ``request``: an id
    the console makes once per redemption and sends again on a retry (a retry is answered as the first time)."""

    id: int
    request: Annotated[str, Meta(min_length=1, max_length=64)]
    volunteer: Name
    item: ItemId
    quantity: Annotated[int, Meta(ge=1, le=100)] = 1


# -- server → client ---------------------------------------------------------------------------------------------

class EntryView(Struct):
    entry: int
    t_s: float
    reason: str
    ref: str
    delta: int
    balance: int


class ItemView(Struct):
    id: str
    name: str
    category: str
    price: int
    stock: int


class BoardRowView(Struct):
    rank: int
    key: str
    name: str
    points: int
    patrol_hours: float
    volunteers: int


class ShopView(Struct):
    shop: str
    """The shop's host: name it in ``restock`` and ``put_item``."""
    precincts: list[str]
    items: list[ItemView]


class PointsLedger(Struct, tag="points_ledger"):
    volunteer: str
    name: str
    team: str
    balance: int
    entries: list[EntryView]
    """Newest first; ``before`` the last entry's ``entry`` for the next page."""
    more: bool


class PointsStatement(Struct, tag="points_statement"):
    volunteer: str
    month: str
    opening: int
    earned: int
    spent: int
    closing: int
    patrol_hours: float
    entries: list[EntryView]


class PointsBoard(Struct, tag="points_board"):
    by: str
    month: str
    rows: list[BoardRowView]


class PointsShops(Struct, tag="points_shops"):
    shops: list[ShopView]


class PointsResult(Struct, tag="points_result"):
    """The answer to ``restock``, ``put_item`` or ``redeem`` (``id`` echoed). Refused: ``ok`` false, ``field`` and
    ``reason`` say why, ``code`` names the refusal (``unknown_volunteer``, ``out_of_stock``, ``insufficient_balance``,
    ``conflict``, ``unknown_item``, ``refused``, ``out_of_jurisdiction``, ``unavailable``)."""

    id: int
    action: str
    ok: bool
    field: str = ""
    reason: str = ""
    code: str = ""
    item: ItemView | None = None
    points: int = 0
    balance: int | None = None


POINTS_REQUESTS = (PointsQuery, RestockCommand, PutItemCommand, RedeemCommand)
POINTS_ANSWERS = (PointsLedger, PointsStatement, PointsBoard, PointsShops, PointsResult)
