"""The points shop: items with their stock, and every redemption request's outcome remembered by request id.

The shop decides an outcome from the balance it is told and its own stock; it never changes anything until the
book applies the rows (so a refused or conflicting request leaves it as it was). Stock never goes below zero.
"""

from __future__ import annotations

from engine.points_errors import PointsJournalCorrupt, ShopRefused
from protocols.points import ItemCategory, ItemRow, Redemption, RedemptionStatus, ShopItem

MAX_STOCK = 1_000_000
MAX_PRICE = 10_000_000


class Shop:
    __slots__ = ("_items", "_requests")

    def __init__(self) -> None:
        self._items: dict[str, ShopItem] = {}
        self._requests: dict[str, Redemption] = {}

    def item(self, item_id: str) -> ShopItem | None:
        return self._items.get(item_id)

    def items(self) -> list[ShopItem]:
        """Every item, by category then price then id (the order a phone lists them)."""
        return sorted(self._items.values(), key=lambda i: (i.category.value, i.price, i.id))

    def stock(self) -> dict[str, int]:
        return {item_id: item.stock for item_id, item in self._items.items()}

    def prior(self, request_id: str) -> Redemption | None:
        """The outcome already given to ``request_id``, if any."""
        return self._requests.get(request_id)

    def requests(self) -> dict[str, Redemption]:
        return dict(self._requests)

    # -- administration: rows to apply ------------------------------------------------------------------------

    def put_row(self, item_id: str, *, name: str, category: ItemCategory, price: int, t_s: float,
                actor: str = "") -> ItemRow:
        """A new item (no stock yet) or a changed one (its stock kept)."""
        if not item_id or not name:
            raise ShopRefused("an item needs an id and a name")
        if not 1 <= price <= MAX_PRICE:
            raise ShopRefused(f"item {item_id}: price must be 1..{MAX_PRICE} points, got {price}")
        current = self._items.get(item_id)
        stock = current.stock if current else 0
        return ItemRow(ShopItem(item_id, name, ItemCategory(category), price, stock), t_s, actor)

    def restock_row(self, item_id: str, add: int, *, t_s: float, actor: str = "") -> ItemRow:
        """``add`` more in stock (negative: written off, never below zero)."""
        current = self._items.get(item_id)
        if current is None:
            raise ShopRefused(f"unknown item {item_id!r}")
        stock = current.stock + add
        if not 0 <= stock <= MAX_STOCK:
            raise ShopRefused(f"item {item_id}: stock {current.stock} {add:+d} must stay within 0..{MAX_STOCK}")
        return ItemRow(ShopItem(current.id, current.name, current.category, current.price, stock), t_s, actor)

    def apply_item(self, row: ItemRow) -> None:
        if row.item.stock < 0 or row.item.price < 1:
            raise PointsJournalCorrupt(f"item {row.item.id}: stock {row.item.stock}, price {row.item.price}")
        self._items[row.item.id] = row.item

    # -- redemptions --------------------------------------------------------------------------------------------

    def decide(self, request_id: str, volunteer_id: str, item_id: str, quantity: int, *, balance: int,
               next_entry_id: int, t_s: float) -> Redemption:
        """The outcome of a new request (the caller has checked ``request_id`` is new)."""

        def refuse(status: RedemptionStatus, reason: str, points: int = 0) -> Redemption:
            stock = item.stock if item else 0
            return Redemption(request_id, volunteer_id, item_id, quantity, status, t_s, points=points,
                              balance_after=balance, stock_after=stock, reason=reason)

        item = self._items.get(item_id)
        if quantity < 1:
            return refuse(RedemptionStatus.INVALID, f"quantity must be at least 1, got {quantity}")
        if item is None:
            return refuse(RedemptionStatus.UNKNOWN_ITEM, f"no item {item_id!r} in the shop")
        points = item.price * quantity
        if item.stock < quantity:
            return refuse(RedemptionStatus.OUT_OF_STOCK, f"{item.name}: {item.stock} left, {quantity} asked", points)
        if balance < points:
            return refuse(RedemptionStatus.INSUFFICIENT_BALANCE,
                          f"{item.name} × {quantity} costs {points} points, the balance is {balance}", points)
        return Redemption(request_id, volunteer_id, item_id, quantity, RedemptionStatus.ACCEPTED, t_s,
                          points=points, entry_id=next_entry_id, balance_after=balance - points,
                          stock_after=item.stock - quantity)

    def apply_redemption(self, row: Redemption) -> None:
        if row.status is RedemptionStatus.CONFLICT:
            raise PointsJournalCorrupt(f"redemption {row.request_id}: a conflict is never journaled")
        if row.request_id in self._requests:
            raise PointsJournalCorrupt(f"redemption {row.request_id}: journaled twice")
        if row.accepted:
            item = self._items.get(row.item_id)
            if item is None or item.stock - row.quantity != row.stock_after or row.stock_after < 0:
                have = item.stock if item else "no item"
                raise PointsJournalCorrupt(f"redemption {row.request_id}: stock {have} − {row.quantity} "
                                           f"cannot leave {row.stock_after}")
            self._items[item.id] = ShopItem(item.id, item.name, item.category, item.price, row.stock_after)
        self._requests[row.request_id] = row


def same_request(first: Redemption, volunteer_id: str, item_id: str, quantity: int) -> bool:
    return (first.volunteer_id, first.item_id, first.quantity) == (volunteer_id, item_id, quantity)


def conflict(first: Redemption, volunteer_id: str, item_id: str, quantity: int, *, t_s: float) -> Redemption:
    """The answer to a request id reused for a different request: refused, naming what the id was used for."""
    reason = (f"request id {first.request_id!r} was already used by {first.volunteer_id} for "
              f"{first.quantity} × {first.item_id} ({first.status.value}); use a new request id")
    return Redemption(first.request_id, volunteer_id, item_id, quantity, RedemptionStatus.CONFLICT, t_s,
                      reason=reason)
