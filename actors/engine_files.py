"""What an engine's actors are started from, kept on disk beside the journals.

A Ray actor that restarts is given its constructor arguments again; arguments too big to travel inline (a city is)
live in the object store, owned by the driver that created the actor. A driver that died (a detached engine whose
``redband run`` was killed) takes them along, and the actor could never restart again. So an engine with a journal
directory writes its city, policies and placement there once, and its hosts and bridges read them at every start:
the same shared storage their journals already need.
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
    """The city, policies and placement an engine's actors start from (written by this engine: trusted)."""
    with open(path, "rb") as f:
        return pickle.load(f)
