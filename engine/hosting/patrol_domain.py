"""The red-armband patrol as one domain of a host (``engine/hosting/domain.py``): volunteers' patrols and the unit
tracker (``patrol.py``), nearest-unit dispatch (``dispatch.py``), points and the shop (``points.py``), the review of
tips (``tips.py``) and the volunteers' figures (``patrol_figures.py``).

Patrols and dispatches outlive an assembly (they are re-attached to the new scheduler and reloaded from their
snapshots); the points book is rebuilt from the journal's points rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.city_model import City
from engine.hosting.dispatch import DISPATCH, Dispatches
from engine.hosting.domain import Assembly
from engine.hosting.intake import Route
from engine.hosting.patrol import PATROL_TICK, Patrols
from engine.hosting.patrol_figures import figures_desk
from engine.hosting.points import HostPoints
from engine.hosting.staging import JournalStaging
from engine.hosting.tips import TipReviews
from engine.incident import DeviceCommand
from engine.journal import Journal
from engine.scheduler import DeadlineScheduler
from protocols import EventKind


class PatrolDomain:
    def __init__(self, city: City, *, staging: JournalStaging, send: Callable[[DeviceCommand, float], None],
                 is_cc: bool) -> None:
        self.city = city
        self._send = send
        self.patrols = Patrols(city, staging=staging)
        self.dispatches = Dispatches(city=city, units=lambda: self.patrols.units, scheduler=DeadlineScheduler(),
                                     send=send, staging=staging)
        self.points = HostPoints(city, staging=staging, send=send, shop=not is_cc)
        self.patrols.on_ended = self.points.patrol_ended
        self.dispatches.on_done = self.points.task_done

    def assemble(self, *, scheduler: DeadlineScheduler, store) -> Assembly:
        patrols, dispatches = self.patrols, self.dispatches
        patrols.attach(scheduler)
        dispatches.attach(scheduler)
        return Assembly(
            routes={EventKind.PATROL_START: Route(patrols.start),
                    EventKind.PATROL_POSITION: Route(patrols.position, newest_only=True),
                    EventKind.PATROL_STOP: Route(patrols.stop),
                    EventKind.PATROL_TASK: Route(dispatches.answer),
                    **self.points.routes()},
            timers={PATROL_TICK: patrols, DISPATCH: dispatches},
            desk=(dispatches.requests(store.owned), self.points.requests(), figures_desk(self, store)),
            observers=(TipReviews(self.points, send=self._send, then=dispatches.incident_changed),))

    def snapshotted(self) -> tuple:
        return self.patrols, self.dispatches

    def load(self, journal: Journal) -> None:
        self.points.load(journal)

    def statistics(self) -> dict[str, Any]:
        return {"patrols": self.patrols.figures(), "units_by_state": self.patrols.units.count_by_state(),
                "dispatch_effects": dict(self.dispatches.effects)}
