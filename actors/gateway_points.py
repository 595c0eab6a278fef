"""The console's points and shop (``protocols/console_points.py``): queries and the offices' administration, put to
the hosts' desks (``actors/engine_desk.py``; requests in ``protocols/points_desk.py``).

A volunteer's ledger, statement and redemptions go to the host of the volunteer's phone; a shop is its host's;
a leaderboard is asked of every precinct host (a station: its precinct's) and merged. Scope: the command center sees
and administers everything; a station sees its precinct's volunteers, boards and shops and may redeem for its
volunteers; a guard room or a grid worker has no points. Every administrative message is audited, done or refused,
and a refusal names the field and the reason."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import ray

from actors.engine_desk import ask_device_host, ask_every_host, ask_host
from actors.gateway_fanout import ConsoleSession
from actors.gateway_http import Audit
from engine.errors import RedbandError
from engine.operators import Role
from engine.points_boards import street_of
from engine.points_errors import ShopRefused
from engine.points_views import merge_boards
from engine.topology import City
from protocols.console import Error
from protocols.console_points import (POINTS_REQUESTS, BoardRowView, EntryView, ItemView, PointsBoard, PointsLedger,
                                      PointsQuery, PointsResult, PointsShops, PointsStatement, PutItemCommand,
                                      RedeemCommand, RestockCommand, ShopView)
from protocols.points import Redemption, RedemptionStatus, ShopItem
from protocols.points_desk import (BoardBy, Leaderboard, Ledger, MonthStatement, PutItem, Redeem, Restock,
                                   ShopStock)

__all__ = ["POINTS_REQUESTS", "GatewayPoints"]

log = logging.getLogger(__name__)

_FIELD_OF_STATUS = {RedemptionStatus.OUT_OF_STOCK: "item", RedemptionStatus.UNKNOWN_ITEM: "item",
                    RedemptionStatus.INSUFFICIENT_BALANCE: "volunteer", RedemptionStatus.CONFLICT: "request",
                    RedemptionStatus.INVALID: "quantity"}
MAX_STATEMENT_ENTRIES = 200
"""A statement shows the month's newest entries, at most this many (its sums count them all)."""
_RAY_DOWN = (ray.exceptions.ActorUnavailableError, ray.exceptions.ActorDiedError, ray.exceptions.GetTimeoutError)


class Refused(Exception):
    def __init__(self, field: str, reason: str, code: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason, self.code = field, reason, code


def item_view(item: ShopItem) -> ItemView:
    return ItemView(item.id, item.name, item.category.value, item.price, item.stock)


def entry_view(e) -> EntryView:
    ref = e.ref.partition("/")[2] if e.reason.value == "redemption" and "/" in e.ref else e.ref
    return EntryView(e.entry_id, e.t_s, e.reason.value, ref, e.delta, e.balance_after)


class GatewayPoints:
    def __init__(self, engine, city: City, audit: Audit) -> None:
        self.engine, self.city, self.audit = engine, city, audit

    async def handle(self, console: ConsoleSession, message):
        if isinstance(message, PointsQuery):
            return await self.query(console, message)
        return await self.admin(console, message)

    # -- scope --------------------------------------------------------------------------------------------------

    def _precinct_of(self, volunteer_id: str) -> str:
        volunteer = self.city.volunteers[volunteer_id]
        return self.city.teams[volunteer.team_id].precinct_id

    def _volunteer(self, console: ConsoleSession, volunteer_id: str):
        j = console.jurisdiction
        volunteer = self.city.volunteers.get(volunteer_id)
        if volunteer is None:
            raise Refused("volunteer", f"unknown volunteer {volunteer_id!r}", "unknown_volunteer")
        if j.role is not Role.COMMAND_CENTER and self._precinct_of(volunteer_id) != j.scope:
            raise Refused("volunteer", f"{volunteer_id!r} is not a volunteer of your precinct", "out_of_jurisdiction")
        return volunteer

    def _hosts(self, console: ConsoleSession) -> list[str]:
        placement = self.engine.placement
        if console.jurisdiction.role is Role.COMMAND_CENTER:
            return list(placement.precinct_hosts)
        return list(placement.hosts_of_precinct.get(console.jurisdiction.scope, ()))

    def _in_scope(self, console: ConsoleSession, by: BoardBy):
        if console.jurisdiction.role is Role.COMMAND_CENTER:
            return None
        teams = [t for t in self.city.teams.values() if t.precinct_id == console.jurisdiction.scope]
        if by is BoardBy.TEAM:
            return {t.id for t in teams}
        if by is BoardBy.STREET:
            return {street_of(self.city, t.id) for t in teams}
        ids = {t.id for t in teams}
        return {v.id for v in self.city.volunteers.values() if v.team_id in ids}

    # -- queries ------------------------------------------------------------------------------------------------

    async def query(self, console: ConsoleSession, q: PointsQuery):
        if console.jurisdiction.role in (Role.GUARD_ROOM, Role.GRID_WORKER):
            return Error("points: the command center's and the stations' only")
        try:
            return await asyncio.to_thread(self._query, console, q)
        except Refused as refused:
            return Error(f"points: {refused}")
        except RedbandError as exc:
            return Error(f"points: {exc}")
        except _RAY_DOWN as exc:
            log.warning("console gateway: points %s: %s", q.what, type(exc).__name__)
            return Error("points: unavailable: a host did not answer; try again")

    def _query(self, console: ConsoleSession, q: PointsQuery):
        if q.what in ("ledger", "statement"):
            if not q.volunteer:
                raise Refused("volunteer", "required", "refused")
            volunteer = self._volunteer(console, q.volunteer)
            if q.what == "ledger":
                page = ask_device_host(self.engine, volunteer.phone_id, Ledger(volunteer.id, q.before, q.limit))
                return PointsLedger(volunteer.id, volunteer.name, volunteer.team_id, page.balance,
                                    [entry_view(e) for e in page.entries], page.more)
            month = q.month or datetime.now(UTC).strftime("%Y-%m")
            s = ask_device_host(self.engine, volunteer.phone_id, MonthStatement(volunteer.id, month))
            return PointsStatement(volunteer.id, month, s.opening_balance, s.credits, -s.debits, s.closing_balance,
                                   s.patrol_hours, [entry_view(e) for e in s.entries[-MAX_STATEMENT_ENTRIES:]])
        hosts = self._hosts(console)
        if q.what == "board":
            by = BoardBy(q.by)
            answers = ask_every_host(self.engine, Leaderboard(by, q.month, limit=500), hosts) if hosts else {}
            keep = self._in_scope(console, by)
            rows = [r for board in answers.values() for r in board.rows if keep is None or r.key in keep]
            merged = merge_boards([rows], limit=q.limit)
            return PointsBoard(by.value, q.month, [BoardRowView(r.rank, r.key, r.name, r.points, r.patrol_hours,
                                                                r.volunteers) for r in merged])
        answers = ask_every_host(self.engine, ShopStock(), hosts) if hosts else {}
        served = self.engine.placement.hosts_of_precinct
        return PointsShops([ShopView(host, sorted(p for p, hs in served.items() if host in hs),
                                     [item_view(i) for i in answers[host].items]) for host in sorted(answers)])

    # -- administration -----------------------------------------------------------------------------------------

    async def admin(self, console: ConsoleSession, m: RestockCommand | PutItemCommand | RedeemCommand) -> PointsResult:
        j, operator = console.jurisdiction, console.claims.operator
        action = m.__struct_config__.tag
        target = f"{m.volunteer} {m.item}×{m.quantity} ({m.request})" if isinstance(m, RedeemCommand) \
            else f"{m.shop} {m.item}"
        try:
            result = await asyncio.to_thread(self._admin, console, m, action)
        except Refused as refused:
            result = PointsResult(m.id, action, False, refused.field, refused.reason, refused.code)
        except ShopRefused as exc:
            field = "item" if "unknown item" in str(exc) else ("price" if "price" in str(exc) else "add")
            result = PointsResult(m.id, action, False, field, str(exc), "refused")
        except RedbandError as exc:
            result = PointsResult(m.id, action, False, "", str(exc), type(exc).__name__)
        except _RAY_DOWN as exc:
            log.warning("console gateway: %s by %s: %s", action, operator, type(exc).__name__)
            result = PointsResult(m.id, action, False, "", "unavailable: the host did not answer; the request may or "
                                  "may not be done, send it again", "unavailable")
        reason = f"{result.field}: {result.reason}" if not result.ok else (
            f"{result.points} points, balance {result.balance}" if isinstance(m, RedeemCommand) else
            f"stock {result.item.stock}" if result.item else "")
        await self.audit(operator, j.role.value, j.scope, action, target, "ok" if result.ok else "refused", reason)
        return result

    def _admin(self, console: ConsoleSession, m, action: str) -> PointsResult:
        operator = console.claims.operator
        if isinstance(m, RedeemCommand):
            volunteer = self._volunteer(console, m.volunteer)
            outcome: Redemption = ask_device_host(self.engine, volunteer.phone_id,
                                                  Redeem(m.request, volunteer.id, m.item, m.quantity, operator))
            if outcome.accepted:
                return PointsResult(m.id, action, True, points=outcome.points, balance=outcome.balance_after)
            return PointsResult(m.id, action, False, _FIELD_OF_STATUS.get(outcome.status, ""),
                                f"{outcome.status.value.replace('_', ' ')}: {outcome.reason}", outcome.status.value,
                                points=outcome.points)
        if console.jurisdiction.role is not Role.COMMAND_CENTER:
            raise Refused("shop", "the shops are administered by the command center", "out_of_jurisdiction")
        if m.shop not in self.engine.placement.precinct_hosts:
            raise Refused("shop", f"unknown shop {m.shop!r}", "refused")
        if isinstance(m, RestockCommand):
            item = ask_host(self.engine, m.shop, Restock(m.item, m.add, operator))
        else:
            item = ask_host(self.engine, m.shop, PutItem(m.item, m.name, m.category, m.price, operator))
        return PointsResult(m.id, action, True, item=item_view(item))
