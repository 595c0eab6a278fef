"""The points ledger: append-only entries, each volunteer's balance, earnings keyed by what earned them, and
monthly statements.

Balances never go below zero: a debit is taken only when the balance covers it (the shop checks before it asks),
and a penalty larger than the balance is cut to the balance (``delta`` vs ``rule_points`` on the entry).
"""

from __future__ import annotations

from datetime import UTC, datetime

from engine.points_errors import PointsJournalCorrupt
from protocols.points import LedgerEntry, PointsReason, Statement

EarningKey = tuple[str, PointsReason, str]
"""(volunteer id, reason, reference): one entry at most per key."""


class Ledger:
    """Entries in the order they were applied; balances and keys derived from them."""

    __slots__ = ("_entries", "_balances", "_by_key", "_by_volunteer")

    def __init__(self) -> None:
        self._entries: list[LedgerEntry] = []
        self._balances: dict[str, int] = {}
        self._by_key: dict[EarningKey, LedgerEntry] = {}
        self._by_volunteer: dict[str, list[LedgerEntry]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def balance(self, volunteer_id: str) -> int:
        return self._balances.get(volunteer_id, 0)

    def balances(self) -> dict[str, int]:
        return dict(self._balances)

    def entries(self, volunteer_id: str | None = None) -> list[LedgerEntry]:
        """Every entry (or one volunteer's), in the order applied."""
        return list(self._entries if volunteer_id is None else self._by_volunteer.get(volunteer_id, ()))

    def find(self, volunteer_id: str, reason: PointsReason, ref: str) -> LedgerEntry | None:
        return self._by_key.get((volunteer_id, reason, ref))

    def next_entry(self, volunteer_id: str, reason: PointsReason, ref: str, points: int, *, t_s: float,
                   valid_s: float = 0.0) -> LedgerEntry:
        """The entry that would move ``volunteer_id`` by ``points`` (not applied). A debit beyond the balance is
        cut to the balance, so the entry never leaves it below zero."""
        balance = self.balance(volunteer_id)
        delta = max(points, -balance)
        return LedgerEntry(len(self._entries) + 1, volunteer_id, delta, reason, ref, t_s, balance + delta,
                           rule_points=points, valid_s=valid_s)

    def apply(self, entry: LedgerEntry) -> None:
        """Append ``entry``; it must be the next one and agree with the balance it says it leaves."""
        balance = self.balance(entry.volunteer_id)
        key = (entry.volunteer_id, entry.reason, entry.ref)
        if entry.entry_id != len(self._entries) + 1:
            raise PointsJournalCorrupt(f"entry {entry.entry_id}: expected entry {len(self._entries) + 1} next")
        if entry.balance_after != balance + entry.delta or entry.balance_after < 0:
            raise PointsJournalCorrupt(f"entry {entry.entry_id}: {entry.volunteer_id} has {balance}, "
                                       f"{entry.delta:+d} cannot leave {entry.balance_after}")
        if key in self._by_key:
            raise PointsJournalCorrupt(f"entry {entry.entry_id}: {entry.reason.value} {entry.ref!r} of "
                                       f"{entry.volunteer_id} is already entry {self._by_key[key].entry_id}")
        self._entries.append(entry)
        self._balances[entry.volunteer_id] = entry.balance_after
        self._by_key[key] = entry
        self._by_volunteer.setdefault(entry.volunteer_id, []).append(entry)

    def statement(self, volunteer_id: str, month: str) -> Statement:
        return statement(self._by_volunteer.get(volunteer_id, ()), volunteer_id, month)


def month_bounds(month: str) -> tuple[float, float]:
    """``YYYY-MM`` → the month's first second and the next month's first second, in UTC epoch seconds."""
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"month: expected YYYY-MM, got {month!r}") from None
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start.timestamp(), end.timestamp()


def month_of(t_s: float) -> str:
    """The UTC month (``YYYY-MM``) that ``t_s`` falls in."""
    return datetime.fromtimestamp(t_s, UTC).strftime("%Y-%m")


def statement(entries, volunteer_id: str, month: str) -> Statement:
    """``volunteer_id``'s statement for ``month`` from their entries. Balances are sums of deltas by time, so a
    month's closing is the next month's opening even when an entry was journaled after a later one."""
    start_s, end_s = month_bounds(month)
    opening = credits = debits = 0
    patrol_s = 0.0
    inside: list[LedgerEntry] = []
    for entry in entries:
        if entry.volunteer_id != volunteer_id:
            continue
        if entry.t_s < start_s:
            opening += entry.delta
        elif entry.t_s < end_s:
            inside.append(entry)
            if entry.delta >= 0:
                credits += entry.delta
            else:
                debits += entry.delta
            if entry.reason is PointsReason.PATROL:
                patrol_s += entry.valid_s
    inside.sort(key=lambda e: (e.t_s, e.entry_id))
    return Statement(volunteer_id, month, start_s, end_s, opening, credits, debits, opening + credits + debits,
                     round(patrol_s / 3600.0, 2), tuple(inside))
