"""What an engine's actors are started from, kept on disk beside the journals.

A Ray actor that restarts is given its constructor arguments again; arguments too big to travel inline (a city is)
live in the object store, owned by the driver that created the actor. A driver that died (a detached engine whose
``redband run`` was killed) takes them along, and the actor could never restart again. So an engine with a journal
directory writes its city, policies and placement there once, and its hosts and bridges read them at every start:
the same shared storage their journals already need. An engine whose journal is on PostgreSQL keeps them there instead
(table ``engine_files``, one row), and its actors are given the URL: ``read_engine_files`` reads either.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

from engine.placement import Placement
from engine.policy import PolicySet
from engine.topology import City

FILE_NAME = "engine.pickle"
ROW_NAME = "engine"


def write_engine_files(journal_dir: str | Path, city: City, policies: PolicySet, placement: Placement) -> str:
    """Write (atomically) what the actors start from; returns its path."""
    directory = Path(journal_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILE_NAME
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".engine-", delete=False) as out:
        pickle.dump((city, policies, placement), out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()
        os.fsync(out.fileno())
    os.replace(out.name, path)
    return str(path)


def read_engine_files(path: str | Path) -> tuple[City, PolicySet, Placement]:
    """The city, policies and placement an engine's actors start from (written by this engine: trusted), from the
    file, or from PostgreSQL when ``path`` is the journal's URL."""
    if str(path).startswith(("postgresql://", "postgres://")):
        from actors.journal_pg_schema import connect

        with connect(str(path)) as db:
            row = db.execute("SELECT body FROM engine_files WHERE name = %s", (ROW_NAME,)).fetchone()
        if row is None:
            raise FileNotFoundError(f"no engine files in the journal database (table engine_files, {ROW_NAME!r})")
        return pickle.loads(row[0])
    with open(path, "rb") as f:
        return pickle.load(f)


def write_engine_rows(url: str, city: City, policies: PolicySet, placement: Placement) -> None:
    """Write what the actors start from into the journal's database (one transaction)."""
    from actors.journal_pg_schema import connect

    body = pickle.dumps((city, policies, placement), protocol=pickle.HIGHEST_PROTOCOL)
    with connect(url) as db:
        db.execute("INSERT INTO engine_files (name, body) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE "
                   "SET body = excluded.body", (ROW_NAME, body))


def has_engine_rows(url: str) -> bool:
    from actors.journal_pg_schema import connect

    with connect(url) as db:
        return db.execute("SELECT 1 FROM engine_files WHERE name = %s", (ROW_NAME,)).fetchone() is not None
