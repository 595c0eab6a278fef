"""Which journal a host opens, and where an engine's actors start from: a journal directory (SQLite, one file per
host), a PostgreSQL URL (``actors/journal_postgres.py``), or neither (in memory: a throwaway run).

The host actor is given one string, ``journal``: the URL when the engine has ``journal_url``, else its ``journal_dir``.
With a URL, what the actors start from (``actors/engine_files.py``) is kept in PostgreSQL too, so a host restarted on
another node needs nothing from the node it left.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from actors.engine_files import FILE_NAME, has_engine_rows, write_engine_files, write_engine_rows
from actors.journal_pg_schema import JournalUrlError, check_url, is_url, redact, scrub
from engine.audit import host_index
from engine.journal import Journal, MemoryJournal
from engine.placement import Placement
from engine.policy import PolicySet
from engine.topology import City

OPTION = "journal (--journal, EngineOptions.journal_url)"


def journal_of(journal_dir: str | None, journal_url: str | None) -> str | None:
    """What the host actors are given: the URL if there is one (checked), else the directory."""
    if journal_url:
        check_url(journal_url, OPTION)
        return journal_url
    return journal_dir


def open_journal(journal: str | None, host_id: str) -> Journal:
    """``host_id``'s journal; a PostgreSQL one takes the host over (its next epoch)."""
    index = host_index(host_id)  # this host's part of the audit ids
    if is_url(journal):
        from actors.journal_postgres import PostgresJournal

        return PostgresJournal(journal, host_id, host_index=index)
    if journal:
        from actors.journal_sqlite import SqliteJournal

        return SqliteJournal(Path(journal) / f"{host_id}.sqlite", host_index=index)
    return MemoryJournal(host_index=index)


def journal_label(journal: str | None, host_id: str) -> str:
    """Where ``host_id``'s journal is, for logs and ``redband status`` (a URL without its password)."""
    if is_url(journal):
        return f"{redact(journal)} (host {host_id})"
    return str(Path(journal) / f"{host_id}.sqlite") if journal else ""


def start_from(journal: str | None, attached: bool, city: City, policies: PolicySet,
               placement: Placement) -> str | None:
    """Where the actors start from: written now, unless an engine being attached to has it already. None without a
    journal (the actors are given their share of the city itself). An unreachable server is refused naming the
    option."""
    if is_url(journal):
        try:
            if not (attached and has_engine_rows(journal)):
                write_engine_rows(journal, city, policies, placement)
        except psycopg.OperationalError as exc:
            why = scrub(" ".join(str(exc).split()), journal)
            raise JournalUrlError(f"{OPTION}: cannot reach {redact(journal)}: {why}") from None
        return journal
    if journal:
        path = Path(journal) / FILE_NAME
        return str(path) if attached and path.exists() else write_engine_files(journal, city, policies, placement)
    return None
