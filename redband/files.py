"""Writing the files people keep: the broker's files and the operators' users file. The content is made by pure
functions in ``engine/`` (``mqtt_provision.broker_files``, ``operators.with_operator``); this module only writes it,
with the modes secrets need (0600)."""

from __future__ import annotations

from pathlib import Path

from actors.atomic_file import write_atomically
from engine.mqtt_provision import STALE_FILES, BrokerFiles, file_entries
from engine.operators import Operator, Role, with_operator
from engine.tomlconf import read_text
from engine.topology import City


def write_broker_files(files: BrokerFiles, out_dir: Path) -> list[Path]:
    """Write ``mosquitto.conf``, the dynamic-security file and ``credentials.csv`` (secrets 0600) into ``out_dir``,
    with the ``data`` directory Mosquitto persists into; an earlier version's ``passwd``/``acl`` are removed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "data").mkdir(exist_ok=True)
    for stale in STALE_FILES:
        (out_dir / stale).unlink(missing_ok=True)
    written = []
    for name, text, mode in file_entries(files):
        path = out_dir / name
        write_atomically(path, text, mode)
        written.append(path)
    return written


def add_operator(path: Path, *, name: str, role: Role, scope: str, password: str,
                 city: City | None = None) -> Operator:
    """Add (or replace) one operator in the users file (0600), creating it if needed; a broken file is refused."""
    text = read_text(path) if path.exists() else None
    new_text, added = with_operator(text, file=str(path), name=name, role=role, scope=scope, password=password,
                                    city=city)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, new_text, 0o600)
    return added
