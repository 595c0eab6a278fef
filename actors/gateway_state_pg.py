"""What the console gateway keeps across its own restarts, in the PostgreSQL journal's schema when the engine's journal
is there (``redband run --journal postgresql://...``): a gateway restarted on another node finds it there, as the
hosts find what they start from (``engine_files``). Tables made by ``actors/journal_pg_schema.py``.

- ``console_state``, one row: the token secret and the operators file's text. Written by the driver that starts the
  engine: a fresh secret, and the revocations deleted in the same transaction (the old secret's tokens are refused by
  signature now). A driver attaching to a running engine inserts the row only when it is missing (``ON CONFLICT DO
  NOTHING``: drivers at once agree on one secret) and otherwise leaves it as it is: the gateway's tokens stay good.
- ``console_revocations``: the tokens logged out and not yet expired (``engine/revocations.py``; an operator's
  watermark is a row with an empty token id). Each logout adds its row in one transaction that also deletes the
  expired ones, so the table holds what the gateway's memory holds and no more; read at every start.

A connection per call: a start or a logout is rare, and a connection that broke meanwhile is never reused.
"""

from __future__ import annotations

import secrets

from actors.journal_pg_schema import connect
from engine.operators import Claims
from engine.revocations import CAPACITY, Revocation, Revocations

ROW_NAME = "console"
SECRET_BYTES = 32
LABEL = "the journal database (table console_state)"
"""Where the operators were read from, for an error about them."""

_UPSERT_REVOCATION = (
    "INSERT INTO console_revocations (operator, token_id, issued_s, expires_s) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (operator, token_id) DO UPDATE SET issued_s = greatest(console_revocations.issued_s, "
    "excluded.issued_s), expires_s = greatest(console_revocations.expires_s, excluded.expires_s)")
_PRUNE = "DELETE FROM console_revocations WHERE expires_s <= %s"


def write_console_rows(url: str, users_text: str, *, keep: bool = False) -> None:
    """A fresh secret and the operators' text, the previous secret's revocations deleted; with ``keep`` (a driver
    attaching to a running engine) a row there already is left as it is."""
    row = (ROW_NAME, secrets.token_bytes(SECRET_BYTES), users_text)
    with connect(url) as db, db.transaction():
        if keep:
            db.execute("INSERT INTO console_state (name, secret, users) VALUES (%s, %s, %s) "
                       "ON CONFLICT (name) DO NOTHING", row)
            return
        db.execute("INSERT INTO console_state (name, secret, users) VALUES (%s, %s, %s) ON CONFLICT (name) "
                   "DO UPDATE SET secret = excluded.secret, users = excluded.users", row)
        db.execute("DELETE FROM console_revocations")


def read_console_rows(url: str) -> tuple[bytes, str]:
    """The secret and the operators' text (written by this engine's driver: trusted)."""
    with connect(url) as db:
        row = db.execute("SELECT secret, users FROM console_state WHERE name = %s", (ROW_NAME,)).fetchone()
    if row is None:
        raise FileNotFoundError(f"no console state in {LABEL}: the driver writes it before starting the gateway")
    return bytes(row[0]), row[1]


class PgRevocations(Revocations):
    """Revocations read from the journal's database at start (the expired deleted first) and added to it at every
    revoke, after memory: this gateway refuses the token at once, and a write that fails raises (the logout is
    answered with an error and logged, as a file that cannot be written is)."""

    def __init__(self, url: str, *, now_s: float, capacity: int = CAPACITY) -> None:
        super().__init__(capacity=capacity)
        self.url = url
        with connect(url) as db, db.transaction():
            db.execute(_PRUNE, (now_s,))
            rows = db.execute("SELECT token_id, operator, issued_s, expires_s FROM console_revocations").fetchall()
        self.restore([Revocation(*row) for row in rows], now_s=now_s)

    def revoke(self, claims: Claims, *, now_s: float) -> Revocation | None:
        row = super().revoke(claims, now_s=now_s)
        if row is not None:
            with connect(self.url) as db, db.transaction():
                db.execute(_UPSERT_REVOCATION, (row.operator, row.token_id, row.issued_s, row.expires_s))
                db.execute(_PRUNE, (now_s,))
        return row
