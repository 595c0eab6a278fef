"""The points book: volunteers earn points by rule and spend them in the shop; every change is a journal row.

A host calls the book with the time as an argument and journals the rows each call returns, in order, in the same
step; after a restart :func:`rebuild` folds the journaled rows back into the same balances, stock and remembered
requests (both paths apply rows through :meth:`PointsBook.apply`). A step whose journal write failed is undone with
:meth:`PointsBook.undo_to` (a mark taken before the step).

Guarantees: balances and stock never go below zero; earning is idempotent by (volunteer, reason, reference); a
redemption is idempotent by request id (a retry gets the first outcome and no second debit; the same id with other
content is refused as ``conflict``); requests are decided one at a time, so of two requests for the last item
exactly one is accepted and the other is ``out_of_stock``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from engine.points_errors import CreditConflict, InvalidCredit, PointsJournalCorrupt
from engine.points_ledger import Ledger
from engine.points_rules import PointsRules
from engine.points_shop import Shop, conflict, same_request
from protocols.points import (ItemCategory, ItemRow, LedgerEntry, PointsReason, PointsRow, Redemption,
                              RedemptionStatus, ShopItem, Statement)

__all__ = ["Credited", "PointsBook", "Redeemed", "rebuild"]

_SAME_DURATION_S = 1e-6


@dataclass(frozen=True, slots=True)
class Credited:
    """The entry for an earning; ``rows`` to journal (empty for a duplicate, which changed nothing)."""

    entry: LedgerEntry
    rows: tuple[PointsRow, ...]
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class Redeemed:
    """The answer to a redemption request; ``rows`` to journal (empty for a replay or a conflict)."""

    outcome: Redemption
    rows: tuple[PointsRow, ...]
    replay: bool = False


class PointsBook:
    """The ledger and the shop of one city (or one street office), with the rules that make points."""

    __slots__ = ("rules", "_ledger", "_shop", "_rows")

    def __init__(self, rules: PointsRules | None = None) -> None:
        self.rules = rules or PointsRules()
        self._ledger = Ledger()
        self._shop = Shop()
        self._rows: list[PointsRow] = []

    # -- earning ------------------------------------------------------------------------------------------------

    def credit_patrol(self, volunteer_id: str, patrol_id: str, *, valid_s: float, t_s: float) -> Credited:
        """Points for a patrol's valid duration, pro-rata by ``rules.patrol_hour``."""
        return self.credit(volunteer_id, PointsReason.PATROL, patrol_id, t_s=t_s, valid_s=valid_s)

    def credit(self, volunteer_id: str, reason: PointsReason, ref: str, *, t_s: float,
               valid_s: float = 0.0) -> Credited:
        """Points for ``reason`` (a patrol, an accepted tip, a handled emergency, a false SOS) by the rules.

        The same (volunteer, reason, ``ref``) again returns the first entry and changes nothing; for a patrol with
        a different ``valid_s`` it raises :class:`CreditConflict` instead. A penalty takes at most the balance.
        """
        reason, t_s, valid_s = PointsReason(reason), float(t_s), float(valid_s)
        if reason is PointsReason.REDEMPTION:
            raise InvalidCredit("redemptions go through redeem()")
        if not volunteer_id or not ref:
            raise InvalidCredit(f"{reason.value}: a credit needs a volunteer and a reference")
        if reason is PointsReason.PATROL and not (math.isfinite(valid_s) and valid_s >= 0):
            raise InvalidCredit(f"patrol {ref}: valid_s must be a finite duration ≥ 0, got {valid_s}")
        if reason is not PointsReason.PATROL:
            valid_s = 0.0
        first = self._ledger.find(volunteer_id, reason, ref)
        if first is not None:
            if abs(first.valid_s - valid_s) > _SAME_DURATION_S:
                raise CreditConflict(f"patrol {ref} of {volunteer_id} was credited for {first.valid_s:.0f} s "
                                     f"(entry {first.entry_id}), now {valid_s:.0f} s")
            return Credited(first, (), duplicate=True)
        entry = self._ledger.next_entry(volunteer_id, reason, ref, self.rules.points_for(reason, valid_s=valid_s),
                                        t_s=t_s, valid_s=valid_s)
        self.apply(entry)
        return Credited(entry, (entry,))

    # -- the shop -----------------------------------------------------------------------------------------------

    def put_item(self, item_id: str, *, name: str, category: ItemCategory, price: int, t_s: float,
                 actor: str = "") -> ItemRow:
        """Add an item (with no stock) or change its name, category or price (its stock kept). The row to journal."""
        row = self._shop.put_row(item_id, name=name, category=category, price=price, t_s=float(t_s), actor=actor)
        self.apply(row)
        return row

    def restock(self, item_id: str, add: int, *, t_s: float, actor: str = "") -> ItemRow:
        """``add`` more of an item (negative: written off; never below zero). The row to journal."""
        row = self._shop.restock_row(item_id, add, t_s=float(t_s), actor=actor)
        self.apply(row)
        return row

    def redeem(self, request_id: str, volunteer_id: str, item_id: str, *, t_s: float,
               quantity: int = 1) -> Redeemed:
        """Spend points on ``quantity`` of an item. Never raises for what a phone may send: every refusal is an
        outcome with its reason (``RedemptionStatus``).

        An accepted request journals two rows: the debit (a ledger entry, ``ref`` = ``request_id``), then the
        outcome. A refused one journals the outcome, so a retry gets the same answer.
        """
        t_s = float(t_s)
        first = self._shop.prior(request_id)
        if first is not None:
            if same_request(first, volunteer_id, item_id, quantity):
                return Redeemed(first, (), replay=True)
            return Redeemed(conflict(first, volunteer_id, item_id, quantity, t_s=t_s), ())
        if not request_id or not volunteer_id:
            reason = "a redemption needs a request id and a volunteer"
            return Redeemed(Redemption(request_id, volunteer_id, item_id, quantity, RedemptionStatus.INVALID,
                                       t_s, reason=reason), ())
        outcome = self._shop.decide(request_id, volunteer_id, item_id, quantity,
                                    balance=self._ledger.balance(volunteer_id),
                                    next_entry_id=len(self._ledger) + 1, t_s=t_s)
        rows: tuple[PointsRow, ...] = (outcome,)
        if outcome.accepted:
            debit = self._ledger.next_entry(volunteer_id, PointsReason.REDEMPTION, request_id, -outcome.points,
                                            t_s=t_s)
            rows = (debit, outcome)
        for row in rows:
            self.apply(row)
        return Redeemed(outcome, rows)

    # -- applying rows (live and on rebuild) --------------------------------------------------------------------

    def apply(self, row: PointsRow) -> None:
        """Apply one journaled row; raises :class:`PointsJournalCorrupt` when it does not follow from the book."""
        match row:
            case LedgerEntry():
                self._ledger.apply(row)
            case ItemRow():
                self._shop.apply_item(row)
            case Redemption():
                if row.accepted:
                    self._check_debit(row)
                self._shop.apply_redemption(row)
            case _:
                raise TypeError(f"not a points row: {type(row).__name__}")
        self._rows.append(row)

    def _check_debit(self, row: Redemption) -> None:
        entries = self._ledger.entries()
        debit = entries[row.entry_id - 1] if 0 < row.entry_id <= len(entries) else None
        if (debit is None or debit.reason is not PointsReason.REDEMPTION or debit.ref != row.request_id
                or debit.delta != -row.points or debit.volunteer_id != row.volunteer_id):
            raise PointsJournalCorrupt(f"redemption {row.request_id}: entry {row.entry_id} is not its debit")

    def mark(self) -> int:
        """A point to come back to with :meth:`undo_to` (take it before a step)."""
        return len(self._rows)

    def undo_to(self, mark: int) -> None:
        """Forget every row applied after ``mark`` (their journal write failed)."""
        rows = self._rows[:mark]
        self._ledger, self._shop, self._rows = Ledger(), Shop(), []
        for row in rows:
            self.apply(row)

    # -- reading ------------------------------------------------------------------------------------------------

    def balance(self, volunteer_id: str) -> int:
        return self._ledger.balance(volunteer_id)

    def balances(self) -> dict[str, int]:
        return self._ledger.balances()

    def entries(self, volunteer_id: str | None = None) -> list[LedgerEntry]:
        return self._ledger.entries(volunteer_id)

    def statement(self, volunteer_id: str, month: str) -> Statement:
        """``volunteer_id``'s statement for ``month`` (``YYYY-MM``, UTC)."""
        return self._ledger.statement(volunteer_id, month)

    def item(self, item_id: str) -> ShopItem | None:
        return self._shop.item(item_id)

    def items(self) -> list[ShopItem]:
        return self._shop.items()

    def stock(self) -> dict[str, int]:
        return self._shop.stock()

    def redemption(self, request_id: str) -> Redemption | None:
        return self._shop.prior(request_id)

    def rows(self) -> list[PointsRow]:
        """Every row applied, in order: what the journal holds."""
        return list(self._rows)


def rebuild(rows: Iterable[PointsRow], *, rules: PointsRules | None = None) -> PointsBook:
    """The book the journaled ``rows`` describe (raises :class:`PointsJournalCorrupt` at the first that does not
    follow)."""
    book = PointsBook(rules)
    for row in rows:
        book.apply(row)
    return book
