"""Revoked console tokens, kept until each would have expired anyway, in bounded memory.

A logout revokes its token by id (``Claims.token_id``). An entry is needed only until the token's own expiry (after
that the signature check refuses it as expired), so entries are dropped then, soonest first. The store is bounded:
when ``capacity`` live revocations are held, a further one does not push an older one out (that would make a revoked
token good again); it revokes instead every token of the same operator issued up to that one (a per-operator watermark,
kept until the latest expiry it covers). That errs towards logging the operator's other sessions out, never towards
letting a revoked token back in, and the watermarks are bounded by the number of operators.

Where it lives: in the console gateway's memory. An in-process gateway (the demo, ``redband/stack.py``, the tests)
signs with a secret it draws at start (``TokenSigner()``): restarted, it refuses every token of its previous life by
signature, revoked or not. The gateway actor of ``redband run`` keeps its secret across restarts, so it keeps the
revocations as long: ``entries()`` and ``restore()`` are the seam, written atomically at each logout
(``actors/gateway_state.LastingRevocations``), or the row ``revoke`` returns, added to PostgreSQL
(``actors/gateway_state_pg.PgRevocations``).

Pure: time comes in as ``now_s``.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from engine.operators import Claims

CAPACITY = 100_000
"""Live revocations held by id (a logout each; tokens last 8 h by default)."""


@dataclass(frozen=True, slots=True)
class Revocation:
    token_id: str
    operator: str
    issued_s: float
    expires_s: float


class Revocations:
    def __init__(self, *, capacity: int = CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"capacity: must be >= 1, got {capacity}")
        self.capacity = capacity
        self._by_id: dict[str, Revocation] = {}
        self._expiring: list[tuple[float, str]] = []  # (expiry, token id), soonest first
        self._watermarks: dict[str, tuple[float, float]] = {}  # operator → (issued up to, kept until)

    def __len__(self) -> int:
        return len(self._by_id)

    def revoke(self, claims: Claims, *, now_s: float) -> Revocation | None:
        """From now on ``claims``' token is refused, until it expires. A token expired already needs nothing.
        Returns what is now held for it (its own entry, or its operator's watermark as an entry with an empty token
        id), for a store that writes each revocation as it is made; None when nothing changed."""
        self.prune(now_s)
        if claims.expires_s > now_s and not self.is_revoked(claims, now_s=now_s):
            return self._add(Revocation(claims.token_id, claims.operator, claims.issued_s, claims.expires_s))
        return None

    def is_revoked(self, claims: Claims, *, now_s: float) -> bool:
        row = self._by_id.get(claims.token_id)
        if row is not None and row.expires_s > now_s:
            return True
        mark = self._watermarks.get(claims.operator)
        return mark is not None and mark[1] > now_s and claims.issued_s <= mark[0]

    def prune(self, now_s: float) -> int:
        """Forget what has expired; how many revocations by id were dropped."""
        dropped = 0
        while self._expiring and self._expiring[0][0] <= now_s:
            _, token_id = heapq.heappop(self._expiring)
            if self._by_id.pop(token_id, None) is not None:
                dropped += 1
        for operator in [o for o, (_, until) in self._watermarks.items() if until <= now_s]:
            del self._watermarks[operator]
        return dropped

    def entries(self, now_s: float) -> list[Revocation]:
        """What is held (a watermark as an entry with an empty token id), for a store that outlives the process."""
        self.prune(now_s)
        marks = [Revocation("", op, issued, until) for op, (issued, until) in self._watermarks.items()]
        return [*self._by_id.values(), *marks]

    def restore(self, rows: Iterable[Revocation], *, now_s: float) -> None:
        """Take back what ``entries`` gave (the expired left out), within the same bound."""
        for row in rows:
            if row.expires_s > now_s:
                self._add(row)

    def _add(self, row: Revocation) -> Revocation:
        if row.token_id and len(self._by_id) < self.capacity:
            self._by_id[row.token_id] = row
            heapq.heappush(self._expiring, (row.expires_s, row.token_id))
            return row
        issued, until = self._watermarks.get(row.operator, (row.issued_s, row.expires_s))
        self._watermarks[row.operator] = mark = (max(issued, row.issued_s), max(until, row.expires_s))
        return Revocation("", row.operator, *mark)
