"""The journal conformance tests' backends: each test that takes ``journal_backend`` runs on SQLite (a file in the
test's temporary directory) and on a real PostgreSQL (a schema of the test's own on the session's server,
``tests/postgres.py``). ``open`` opens a host's journal again on the same store, as a restarted host would."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class JournalBackend:
    name: str
    where: str
    """The SQLite journals' directory, or the PostgreSQL URL (with the test's schema)."""
    refused: type[Exception]
    """What a write raises while ``refuse_writes(True)``."""
    bad_row: type[Exception]
    """What a write with a NULL where a value must be raises."""

    def open(self, host: str = "h0", *, host_index: int = 0):
        if self.name == "sqlite":
            from actors.journal_sqlite import SqliteJournal

            return SqliteJournal(Path(self.where) / f"{host}.sqlite", host_index=host_index)
        from actors.journal_postgres import PostgresJournal

        return PostgresJournal(self.where, host, host_index=host_index)


@pytest.fixture(params=["sqlite", "postgres"])
def journal_backend(request, tmp_path) -> JournalBackend:
    if request.param == "sqlite":
        return JournalBackend("sqlite", str(tmp_path), sqlite3.OperationalError, sqlite3.IntegrityError)
    import psycopg

    server = request.getfixturevalue("postgres_server")
    return JournalBackend("postgres", server.fresh_url(), psycopg.errors.ReadOnlySqlTransaction,
                          psycopg.errors.NotNullViolation)
