"""A real PostgreSQL for tests, from Debian's ``postgresql`` package (``make system-packages`` installs it): ``initdb``
into a temporary directory, ``pg_ctl`` on a free loopback port, trust auth for one user, stopped at the end.
PostgreSQL refuses to run as root: as root, its commands run as the ``postgres`` user the package creates.

Every test takes a fresh schema of its own (``Postgres.fresh_url``: the URL with ``options=-csearch_path=...``), so the
server is started once per session (``postgres_server`` in ``tests/conftest.py``).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from urllib.parse import quote

USER = "redband"


def bin_dir() -> str | None:
    """The newest installed server's binaries, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[-3]))
    return os.path.dirname(found[-1]) if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    def __init__(self) -> None:
        self.bin = bin_dir()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb): make system-packages")
        self.dir = tempfile.mkdtemp(prefix="redband-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = _free_port()
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, *args: str, timeout_s: float = 60.0) -> None:
        subprocess.run([*self._as, *args], check=True, timeout=timeout_s, capture_output=True, text=True)

    def start(self) -> "Postgres":
        self._run(f"{self.bin}/initdb", "-D", self.data, "-U", USER, "--auth=trust", "--no-sync", "-E", "UTF8",
                  "--locale=C")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.dir} "
                   "-c max_connections=200 -c shared_buffers=32MB -c fsync=on -c synchronous_commit=on")
        try:
            self._run(f"{self.bin}/pg_ctl", "-D", self.data, "-o", options, "-l", os.path.join(self.dir, "log"),
                      "-w", "-t", "60", "start", timeout_s=90.0)
        except subprocess.CalledProcessError as exc:
            log_path = os.path.join(self.dir, "log")
            log = open(log_path).read()[-2000:] if os.path.exists(log_path) else ""
            raise RuntimeError(f"pg_ctl start failed: {exc.stderr}\n{log}") from exc
        return self

    def url(self, schema: str | None = None) -> str:
        base = f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"
        return f"{base}?options={quote(f'-csearch_path={schema}')}" if schema else base

    def fresh_url(self) -> str:
        """A URL whose tables go to a new, empty schema."""
        import psycopg

        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f"CREATE SCHEMA {schema}")
        return self.url(schema)

    def stop(self) -> None:
        try:
            self._run(f"{self.bin}/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", timeout_s=60.0)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
