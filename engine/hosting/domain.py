"""A *domain* of a host: a group of parts that joins the host core as one — the red-armband patrol (patrols,
dispatches, points, tips), later the community and the kiosk hall. The core keeps one list of domains and, at every
assembly (a start, or a rebuild after a refused step), asks each for an :class:`Assembly`: the routes of the device
events it owns, the owners of its timer kinds, its desk tables and its observers of the incident store. So a new
domain is a module of its own plus one entry in ``HostCore.__init__``'s list, not edits all over the core.

What a domain keeps across a refused step is its own business: it is rebuilt from the journal by ``load`` (and, for
snapshotted parts, by ``snapshotted``), and re-attached to the new scheduler by ``assemble``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.hosting.intake import Route
from engine.journal import Journal
from engine.scheduler import DeadlineScheduler
from protocols import EventKind
from protocols.records import IncidentRecord

Observer = Callable[[IncidentRecord, IncidentRecord | None, float], None]


@dataclass(slots=True)
class Assembly:
    routes: dict[EventKind, Route] = field(default_factory=dict)
    timers: dict[str, Any] = field(default_factory=dict)
    """Timer kind → the part that owns its deadlines (``deadline(key, due_s, at_s) -> int``)."""
    desk: tuple[Mapping[type, Callable], ...] = ()
    observers: tuple[Observer, ...] = ()
    """Told of every change the incident store stores for an incident this host owns, in order."""


class Domain(Protocol):
    def assemble(self, *, scheduler: DeadlineScheduler, store) -> Assembly: ...

    def snapshotted(self) -> tuple: ...

    def load(self, journal: Journal) -> None: ...

    def statistics(self) -> dict[str, Any]: ...


def merge(assemblies: list[Assembly]) -> Assembly:
    """One assembly of several domains; two domains claiming the same event kind or timer kind is a bug."""
    whole = Assembly()
    for part in assemblies:
        for name, mine, theirs in (("event", whole.routes, part.routes), ("timer", whole.timers, part.timers)):
            clash = mine.keys() & theirs.keys()
            if clash:
                raise ValueError(f"two domains claim the {name} kinds {sorted(map(str, clash))}")
            mine.update(theirs)
        whole.desk += part.desk
        whole.observers += part.observers
    return whole


def chain(observers: tuple[Observer, ...]) -> Observer | None:
    if not observers:
        return None
    if len(observers) == 1:
        return observers[0]

    def tell_all(record: IncidentRecord, before: IncidentRecord | None, now_s: float) -> None:
        for observer in observers:
            observer(record, before, now_s)
    return tell_all
