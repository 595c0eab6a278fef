"""What the points book shows outside the host: a page of a ledger, leaderboards merged over hosts, and the
payloads of the phone's answers (``points.redeemed``, ``points.statement``: ``docs/devices.md``). Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from protocols.points import LeaderboardRow, LedgerEntry, Redemption, Statement

STATEMENT_ENTRIES = 20
"""At most this many entries in a phone's ``points.statement`` (the newest of the month)."""


def ledger_page(entries: Sequence[LedgerEntry], *, before: int | None, limit: int
                ) -> tuple[tuple[LedgerEntry, ...], bool]:
    """Newest first: the ``limit`` entries older than entry id ``before`` (all, if None), and whether more follow."""
    older = [e for e in entries if before is None or e.entry_id < before]
    older.sort(key=lambda e: e.entry_id, reverse=True)
    return tuple(older[:limit]), len(older) > limit


def merge_boards(boards: Iterable[Sequence[LeaderboardRow]], *, limit: int | None = None) -> list[LeaderboardRow]:
    """One leaderboard from those of several hosts (each with its own volunteers): points, hours and volunteers
    summed by key, ranked again (equal points share a rank, ties by key)."""
    points: dict[str, int] = {}
    hours: dict[str, float] = {}
    members: dict[str, int] = {}
    names: dict[str, str] = {}
    for board in boards:
        for row in board:
            points[row.key] = points.get(row.key, 0) + row.points
            hours[row.key] = hours.get(row.key, 0.0) + row.patrol_hours
            members[row.key] = members.get(row.key, 0) + row.volunteers
            names.setdefault(row.key, row.name)
    order = sorted(points, key=lambda k: (-points[k], k))
    rows: list[LeaderboardRow] = []
    for place, key in enumerate(order[:limit] if limit is not None else order, 1):
        rank = rows[-1].rank if rows and rows[-1].points == points[key] else place
        rows.append(LeaderboardRow(rank, key, names[key], points[key], round(hours[key], 2), members[key]))
    return rows


def redeemed_args(request: str, outcome: Redemption, balance: int) -> dict:
    """The ``points.redeemed`` command's args: the phone's own request id, the outcome, the balance now."""
    return {"request": request, "item": outcome.item_id, "quantity": outcome.quantity,
            "status": outcome.status.value, "points": outcome.points, "balance": balance, "reason": outcome.reason}


def statement_args(statement: Statement) -> dict:
    """The ``points.statement`` command's args: the month's sums and its newest entries (at most 20)."""
    newest = statement.entries[-STATEMENT_ENTRIES:]
    return {"month": statement.month, "opening": statement.opening_balance, "earned": statement.credits,
            "spent": -statement.debits, "closing": statement.closing_balance,
            "patrol_hours": statement.patrol_hours, "more": len(statement.entries) - len(newest),
            "entries": [{"t_s": e.t_s, "reason": e.reason.value, "ref": _public_ref(e), "delta": e.delta,
                         "balance": e.balance_after} for e in newest]}


def _public_ref(entry: LedgerEntry) -> str:
    """A redemption's ref is ``<volunteer>/<request>``: the phone knows its request by the part after the slash."""
    return entry.ref.partition("/")[2] if entry.reason.value == "redemption" and "/" in entry.ref else entry.ref
