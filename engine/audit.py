"""The audit trail's rows, and how a page of it is asked for and put together across hosts.

One meaning per column: ``actor`` who did it (an operator, a device id, ``system``, a bridge), ``role`` the
actor's role (``command_center``, ``station``, ``guard_room``, ``device``, ``system``; empty when unknown, as for a
login under a name that does not exist), ``scope`` the actor's jurisdiction (a precinct or site id; empty for the
command center and the system), ``action``, ``target`` what it was done to (an incident, a device, a site, an
operator name, a token, a socket path), ``outcome`` how it ended (``ok``, ``refused``, ``unavailable``, ``failed``;
a supervision row says ``raised`` or ``folded``, a dead letter ``dead-lettered``) and ``reason`` why (a refusal's
cause, the operator's note; ``(from <address>)`` on what came over a socket).

Each host keeps its own trail (its journal), and each journal gives a row its ``id`` when it writes it: the row's
time in milliseconds times ``MAX_HOSTS`` plus the host's index (:func:`next_id`), or the journal's previous id plus
``MAX_HOSTS`` if that is larger. So ids are unique across hosts, increase within a journal, and newer rows have larger
ids across the whole trail (to the millisecond; a host writing more than a row per millisecond runs a little ahead
of its clock until it is quiet again). The trail an operator pages through is every journal's rows by id, newest
first; a page's cursor (``before``) is the id of its last row, and every journal answers with its rows below it.
Ids stay below 2**53, so a browser reads them exactly (until the year 2248).
"""

from __future__ import annotations

import heapq
import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from engine.placement import CC_HOST

MAX_HOSTS = 1024
"""Journals an id can tell apart (host index 0..1023)."""


def host_index(host_id: str) -> int:
    """A host's index in the ids: the command center's host 0, precinct host ``h<n>`` n + 1 (so a host added later
    takes a new index and the ids already written keep their meaning); any other name a stable hash."""
    if host_id == CC_HOST:
        return 0
    if host_id[:1] == "h" and host_id[1:].isdigit() and int(host_id[1:]) + 1 < MAX_HOSTS:
        return int(host_id[1:]) + 1
    return zlib.crc32(host_id.encode()) % MAX_HOSTS


def next_id(last_id: int, t_s: float, index: int) -> int:
    """The id of a row written at ``t_s`` by journal ``index`` whose previous row had ``last_id`` (0: none)."""
    by_time = max(0, math.floor(t_s * 1000)) * MAX_HOSTS + index
    return by_time if by_time > last_id else last_id + MAX_HOSTS


@dataclass(frozen=True, slots=True)
class AuditRow:
    """Who did what to what, when, and how it ended (the columns: see the module docstring)."""

    t_s: float
    actor: str
    role: str
    scope: str
    action: str
    target: str
    outcome: str
    reason: str = ""
    id: int = 0
    """Given by the journal that writes it (:func:`next_id`); 0 in a row being written."""


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """A page: the newest ``limit`` rows that match, with ids below ``before`` (None: from the newest). Text filters
    are exact; empty means any. ``since_s``/``until_s`` are inclusive."""

    limit: int = 50
    before: int | None = None
    actor: str = ""
    action: str = ""
    outcome: str = ""
    since_s: float | None = None
    until_s: float | None = None

    def matches(self, row: AuditRow) -> bool:
        return ((self.before is None or row.id < self.before) and (not self.actor or row.actor == self.actor)
                and (not self.action or row.action == self.action)
                and (not self.outcome or row.outcome == self.outcome)
                and (self.since_s is None or row.t_s >= self.since_s)
                and (self.until_s is None or row.t_s <= self.until_s))

    def sql_conditions(self, *, mark: str, id_column: str) -> tuple[list[str], list]:
        """The filter as SQL conditions (to join with AND) and their arguments, in the journal's placeholder
        ``mark`` (``?`` or ``%s``) with its row id in ``id_column``; the limit is the caller's."""
        where, args = [], []
        if self.before is not None:
            where.append(f"{id_column} < {mark}")
            args.append(self.before)
        for column in ("actor", "action", "outcome"):
            if value := getattr(self, column):
                where.append(f"{column} = {mark}")
                args.append(value)
        if self.since_s is not None:
            where.append(f"t_s >= {mark}")
            args.append(self.since_s)
        if self.until_s is not None:
            where.append(f"t_s <= {mark}")
            args.append(self.until_s)
        return where, args


@dataclass(frozen=True, slots=True)
class AuditPage:
    rows: list[AuditRow]
    """Newest first."""
    more: bool = False
    """Older rows match too."""


def newest_first(rows: Iterable[AuditRow], query: AuditFilter) -> AuditPage:
    """A journal's page from its rows (any order): what ``query`` matches, newest first, ``limit`` of them."""
    matching = heapq.nlargest(query.limit + 1, (r for r in rows if query.matches(r)), key=lambda r: r.id)
    return AuditPage(matching[:query.limit], len(matching) > query.limit)


def merge_pages(pages: Iterable[AuditPage], limit: int) -> AuditPage:
    """The trail's page from every journal's page for the same query: the newest ``limit`` rows, and ``more`` when
    any journal has rows left over."""
    pages = list(pages)
    rows = heapq.nlargest(limit + 1, (r for page in pages for r in page.rows), key=lambda r: r.id)
    return AuditPage(rows[:limit], len(rows) > limit or any(page.more for page in pages))
