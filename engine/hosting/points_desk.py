"""The points desk of a host (``protocols/points_desk.py``): a volunteer's ledger and statement, the host's part of
a leaderboard, its shop's stock, and the office's administration — restock, put an item, redeem for a volunteer.

A handler refuses (raises) before it changes anything: a volunteer this host does not hold is
:class:`UnknownVolunteer`; a shop change the book refuses is ``ShopRefused`` (unknown item, stock below zero). A
redemption's refusal (out of stock, insufficient balance, a reused request id) is an outcome, journaled like a
phone's, except a conflict. Every change is staged with the step, so it is journaled before the answer leaves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.errors import RedbandError
from engine.points_boards import street_board, team_board, volunteer_board
from engine.points_ledger import month_bounds
from engine.points_views import ledger_page
from protocols.points import Redemption, ShopItem, Statement
from protocols.points_desk import (Board, BoardBy, Leaderboard, Ledger, LedgerPage, MonthStatement, PutItem, Redeem,
                                   Restock, ShopStock, ShopView)

if TYPE_CHECKING:
    from engine.hosting.points import HostPoints

_BOARDS = {BoardBy.TEAM: team_board, BoardBy.STREET: street_board, BoardBy.VOLUNTEER: volunteer_board}


class UnknownVolunteer(RedbandError):
    def __init__(self, volunteer: str) -> None:
        self.volunteer = volunteer
        super().__init__(f"volunteer: unknown volunteer {volunteer!r}")

    def __reduce__(self):
        return type(self), (self.volunteer,)


class PointsRequestRefused(RedbandError):
    """A request the desk cannot answer as asked (a malformed month); names the field."""


def points_requests(points: HostPoints) -> dict:
    def volunteer(name: str) -> str:
        if not points.holds(name):
            raise UnknownVolunteer(name)
        return name

    def bounds(month: str) -> dict:
        if not month:
            return {}
        try:
            since_s, until_s = month_bounds(month)
        except ValueError as exc:  # malformed, or a year no calendar month ends in (9999-12)
            reason = str(exc) if str(exc).startswith("month:") else f"month: {month!r}: {exc}"
            raise PointsRequestRefused(reason) from None
        return {"since_s": since_s, "until_s": until_s}

    def ledger(request: Ledger, now_s: float) -> LedgerPage:
        entries, more = ledger_page(points.book.entries(volunteer(request.volunteer)), before=request.before,
                                    limit=request.limit)
        return LedgerPage(request.volunteer, points.book.balance(request.volunteer), entries, more)

    def statement(request: MonthStatement, now_s: float) -> Statement:
        if not request.month:
            raise PointsRequestRefused("month: required (YYYY-MM)")
        bounds(request.month)
        return points.book.statement(volunteer(request.volunteer), request.month)

    def board(request: Leaderboard, now_s: float) -> Board:
        rows = _BOARDS[request.by](points.book.entries(), points.city, **bounds(request.month))
        return Board(request.by, request.month, tuple(rows))

    def stock(request: ShopStock, now_s: float) -> ShopView:
        return ShopView("", tuple(points.book.items()))

    def restock(request: Restock, now_s: float) -> ShopItem:
        row = points.book.restock(request.item, request.add, t_s=now_s, actor=request.actor)
        points.staging.points((row,))
        return row.item

    def put_item(request: PutItem, now_s: float) -> ShopItem:
        row = points.book.put_item(request.item, name=request.name, category=request.category, price=request.price,
                                   t_s=now_s, actor=request.actor)
        points.staging.points((row,))
        return row.item

    def redeem(request: Redeem, now_s: float) -> Redemption:
        return points.redeem(request.request, volunteer(request.volunteer), request.item, request.quantity, now_s)

    return {Ledger: ledger, MonthStatement: statement, Leaderboard: board, ShopStock: stock, Restock: restock,
            PutItem: put_item, Redeem: redeem}
