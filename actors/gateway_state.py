"""What the console gateway keeps across its own restarts, beside the journals (the shared storage every actor of an
engine needs already, ``actors/engine_files.py``).

- ``console.pickle``: the token secret and the operators file's text, written by the driver that starts the engine
  (mode 0600: the secret signs every console token) and read by the gateway at every start. A driver that attaches
  to a running engine keeps the file as it is: the gateway's tokens stay good.
- ``console-revocations.json``: the tokens logged out and not yet expired, rewritten at each logout. With a lasting
  secret a revoked token would be good again after a restart without it (``engine/revocations.py`` says why).

Every write is atomic (a temporary file renamed over the old one): a crash leaves the old file or the new one.

An engine whose journal is on PostgreSQL keeps both there instead (``actors/gateway_state_pg.py``), so that a gateway
restarted on another node finds them: :func:`write_console_state` and :func:`open_console_state` take the journal
directory or the journal's URL and choose.
"""

from __future__ import annotations

import json
import pickle
import secrets
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

from actors.atomic_file import write_atomically
from actors.journal_pg_schema import is_url
from engine.revocations import Revocation, Revocations

FILE_NAME = "console.pickle"
REVOCATIONS_FILE = "console-revocations.json"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, data, 0o600)


def write_console_files(state_dir: str | Path, users_text: str, *, keep: bool = False) -> str:
    """Write a fresh secret and the operators' text; with ``keep`` (a driver attaching to a running engine) an
    existing file is left as it is. A fresh start forgets the previous run's revocations with its secret.
    Returns the path the gateway starts from."""
    path = Path(state_dir) / FILE_NAME
    if keep and path.exists():
        return str(path)
    _write(path, pickle.dumps({"secret": secrets.token_bytes(32), "users": users_text}))
    (Path(state_dir) / REVOCATIONS_FILE).unlink(missing_ok=True)
    return str(path)


def read_console_files(path: str | Path) -> tuple[bytes, str]:
    """The secret and the operators' text (written by this engine's driver: trusted)."""
    with open(path, "rb") as f:
        data = pickle.load(f)
    return data["secret"], data["users"]


class LastingRevocations(Revocations):
    """Revocations read from ``path`` at start and written back at every revoke."""

    def __init__(self, path: str | Path, *, now_s: float) -> None:
        super().__init__()
        self.path = Path(path)
        if self.path.exists():
            rows = json.loads(self.path.read_text(encoding="utf-8"))
            self.restore([Revocation(**row) for row in rows], now_s=now_s)

    def revoke(self, claims, *, now_s: float) -> Revocation | None:
        revoked = super().revoke(claims, now_s=now_s)
        rows = [asdict(row) for row in self.entries(now_s)]
        _write(self.path, json.dumps(rows, separators=(",", ":")).encode())
        return revoked


class ConsoleState(NamedTuple):
    secret: bytes
    users: str
    revocations: Revocations
    label: str
    """Where the operators were read from, for an error about them."""


def write_console_state(where: str | Path, users_text: str, *, keep: bool = False) -> None:
    """:func:`write_console_files` in the journal directory ``where``, or the same in PostgreSQL when ``where`` is
    the journal's URL."""
    if is_url(str(where)):
        from actors.gateway_state_pg import write_console_rows

        write_console_rows(str(where), users_text, keep=keep)
    else:
        write_console_files(where, users_text, keep=keep)


def open_console_state(where: str | Path, *, now_s: float) -> ConsoleState:
    """What a gateway starts from, from the journal directory or the journal's URL ``where``."""
    if is_url(str(where)):
        from actors.gateway_state_pg import LABEL, PgRevocations, read_console_rows

        secret, users = read_console_rows(str(where))
        return ConsoleState(secret, users, PgRevocations(str(where), now_s=now_s), LABEL)
    secret, users = read_console_files(Path(where) / FILE_NAME)
    return ConsoleState(secret, users, LastingRevocations(Path(where) / REVOCATIONS_FILE, now_s=now_s), FILE_NAME)
