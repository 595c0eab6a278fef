"""The smart-security community as one domain of a host (``engine/hosting/domain.py``): visitor calls
(``visitors.py``), visitor passes (``visitor_passes.py``), thrown objects (``throws.py``) and doors held open
(``doors.py``), with their counters (``community_rows.Figures``).

Calls, passes, throw joins and the counters outlive an assembly: they are reloaded from their snapshots
(``community_rows.py``) and the calls' deadlines set again on the new scheduler. A door's open-since time is not kept
(a restarted host starts a door's held-open timer at its next ``door.opened``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.city_model import City
from engine.hosting import community_rows as rows
from engine.hosting.community_view import CommunityView
from engine.hosting.domain import Assembly
from engine.hosting.doors import HELD_OPEN, Doors
from engine.hosting.intake import Route
from engine.hosting.staging import JournalStaging
from engine.hosting.throws import Throws
from engine.hosting.visitor_passes import VisitorPasses
from engine.hosting.visitors import VISITOR_CALL_TIMER, VisitorCalls
from engine.incident import DeviceCommand
from engine.journal import Journal
from engine.scheduler import DeadlineScheduler
from protocols import EventKind


class CommunityDomain:
    def __init__(self, city: City, *, staging: JournalStaging, send: Callable[[DeviceCommand, float], None]) -> None:
        self.city = city
        self.figures = rows.Figures(staging)
        self.calls = VisitorCalls(city, send=send, staging=staging, figures=self.figures)
        self.passes = VisitorPasses(city, send=send, staging=staging, figures=self.figures)
        self.throws = Throws(staging=staging, figures=self.figures)
        self.doors: Doors | None = None
        self.view = CommunityView(open_calls=lambda: self.calls.open,
                                  open_doors=lambda site: self.doors.open_since(site) if self.doors else {})
        self.calls.on_end = self.view.ended

    def assemble(self, *, scheduler: DeadlineScheduler, store) -> Assembly:
        self.doors = doors = Doors(policies=store.policies, scheduler=scheduler, store=store)
        calls = self.calls
        calls.attach(scheduler)
        self.throws.attach(store)

        def door_opened(entity, message, now_s: float) -> None:
            doors.opened(entity, message, now_s)
            calls.door_opened(entity, message, now_s)

        return Assembly(
            routes={EventKind.DOOR_OPENED: Route(door_opened, newest_only=True),
                    EventKind.DOOR_VISITOR: Route(calls.call),
                    EventKind.VISITOR_ANSWER: Route(calls.answer),
                    EventKind.VISITOR_PASS: Route(self.passes.issue),
                    EventKind.DOOR_CODE: Route(self.passes.code),
                    EventKind.CAMERA_THROW: Route(lambda *_: None, raises=self.throws.raise_or_join)},
            timers={HELD_OPEN: doors, VISITOR_CALL_TIMER: calls},
            desk=(self.passes.requests(), self.view.requests()))

    def snapshotted(self) -> tuple:
        return self.figures, self.calls, self.passes, self.throws

    def load(self, journal: Journal) -> None:
        """Everything of the community comes back from its snapshots (``snapshotted``); the view's recent calls from
        the audit trail."""
        self.view.load(journal)

    def statistics(self) -> dict[str, Any]:
        return {"community": {**self.figures.counts, "calls_open": len(self.calls.open),
                              "passes_kept": len(self.passes.passes)}}
