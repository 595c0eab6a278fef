"""The engine's directory: one small named actor per engine namespace that says what the engine is made of.

Hosts and bridges are named actors (``host:<id>``, ``bridge:<id>:<lanes>``) that anyone in the namespace finds by
name. The directory adds what names cannot tell: which engine runs in the namespace (its city and hosts, so a second
``redband run`` re-attaches to it instead of starting another), and how often each host and bridge has started
(a restart is a start after the first), for ``redband status``.

It holds soft state only: restarted itself, it forgets the start counts, and the engine's description is written
again by the next ``redband run`` that attaches.
"""

from __future__ import annotations

import time

import ray

DIRECTORY_NAME = "directory"


@ray.remote(num_cpus=0, max_restarts=-1)
class Directory:
    def __init__(self) -> None:
        self._engine: dict | None = None
        self._starts: dict[str, list[dict]] = {}

    def describe(self, engine: dict) -> dict:
        """Record the engine of this namespace, unless one is recorded: returns the one in force."""
        if self._engine is None:
            self._engine = dict(engine, described_at=time.time())
        return self._engine

    def engine(self) -> dict | None:
        return self._engine

    def started(self, name: str, where: dict) -> None:
        """A host or bridge process started (or started again): where, and when."""
        starts = self._starts.setdefault(name, [])
        starts.append(dict(where, at=time.time(), number=starts[-1].get("number", len(starts)) + 1 if starts else 1))
        del starts[:-20]  # the recent starts are enough to see a host that keeps failing

    def starts(self) -> dict[str, list[dict]]:
        return self._starts

    def forget(self) -> None:
        """The engine was stopped: the namespace is free for another."""
        self._engine = None
        self._starts = {}


def announce_start(namespace: str | None, name: str, where: dict) -> None:
    """Tell the namespace's directory that ``name`` started (fire and forget: a missing directory is no reason for
    a host not to start)."""
    if namespace is None:
        return
    try:
        ray.get_actor(DIRECTORY_NAME, namespace=namespace).started.remote(name, where)
    except ValueError:
        pass
