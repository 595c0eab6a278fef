"""One incident's dispatch as a pure state machine: offers to candidate units in order, then the accepted unit's
task. Every method takes ``now_s`` and returns a ``Step``: effects (data) and the one deadline to arm.

    awaiting_operator ─offer─▶ offering ─accept─▶ en_route ─arrive─▶ on_scene ─done─▶ done ─returned
          ▲   (not P1)            │  decline / timeout: the next candidate (P1) or back to the operator
          └────────── start ──────┤  nobody left: none_available (the operator offers by hand or gives candidates)
    cancel (an operator): cancelled from any open state; reassign: the unit is released, the next one offered

A P1 incident is offered automatically (``auto_priority``); the others wait for an operator to pick. An offer
stands ``offer_timeout_s`` (30 s); a unit on a task checks in every ``check_in_every_s`` (10 min), else
``CheckInMissed`` tells the console. Unit states travel as ``UnitStateSet`` effects: the host applies them to its
``UnitTracker`` (``apply_unit_states``) and journals them with the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from engine.errors import RedbandError
from engine.patrol.offer_effects import (AwaitingOperator, Candidate, CheckInMissed, Effect, NoneAvailable,
                                        OfferDeclined, OfferExpired, OfferSent, OfferWithdrawn, Place, TaskAssigned,
                                        TaskCancelled, TaskDone, UnitOnScene, UnitStateSet)
from engine.patrol.units import UnitTracker
from protocols.patrol import UNIT_TRANSITIONS, DispatchState, UnitState

DEFAULT_OFFER_TIMEOUT_S = 30.0
DEFAULT_CHECK_IN_EVERY_S = 600.0
AUTO_OFFER_PRIORITY = 1
"""Incidents of this priority or more urgent (a lower number) are offered without an operator."""

IsAvailable = Callable[[str], bool]
"""Whether a unit may be offered a task now (``UnitTracker.is_available``)."""


class OfferRefused(RedbandError):
    """A dispatch asked to do what its state does not allow (e.g. accept an offer that was never made or expired)."""

    def __init__(self, incident_id: str, state: str, action: str, reason: str) -> None:
        self.incident_id, self.state, self.action, self.reason = incident_id, state, action, reason
        super().__init__(f"dispatch of {incident_id}: cannot {action} when {state}: {reason}")

    def __reduce__(self):
        return type(self), (self.incident_id, self.state, self.action, self.reason)


@dataclass(frozen=True, slots=True)
class Step:
    effects: tuple[Effect, ...]
    deadline_s: float | None
    """The dispatch's one pending deadline (offer expiry or check-in), None when it waits for nobody."""


class Dispatch:
    """The offers and the task of one incident."""

    __slots__ = ("incident_id", "place", "priority", "candidates", "cameras", "offer_timeout_s", "check_in_every_s",
                 "auto_priority", "state", "unit_id", "deadline_s", "declined", "missed", "_next", "_started")

    def __init__(self, incident_id: str, *, place: Place, priority: int, candidates: Iterable[Candidate],
                 cameras: Iterable[str] = (), offer_timeout_s: float = DEFAULT_OFFER_TIMEOUT_S,
                 check_in_every_s: float = DEFAULT_CHECK_IN_EVERY_S, auto_priority: int = AUTO_OFFER_PRIORITY
                 ) -> None:
        self.incident_id, self.place, self.priority = incident_id, place, priority
        self.candidates, self.cameras = tuple(candidates), tuple(cameras)
        self.offer_timeout_s, self.check_in_every_s = offer_timeout_s, check_in_every_s
        self.auto_priority = auto_priority
        self.state = DispatchState.AWAITING_OPERATOR
        self.unit_id: str | None = None
        """The unit offered the incident, or working on it."""
        self.deadline_s: float | None = None
        self.declined: list[str] = []
        """Units that declined, let the offer expire or were taken off: never offered again automatically."""
        self.missed = 0
        self._next = 0
        self._started = False

    @property
    def automatic(self) -> bool:
        return self.priority <= self.auto_priority

    def start(self, *, now_s: float, is_available: IsAvailable) -> Step:
        """Offer the first available candidate (P1), or ask an operator to pick."""
        self._expect("start", DispatchState.AWAITING_OPERATOR)
        if self._started:
            raise OfferRefused(self.incident_id, self.state, "start", "already started")
        self._started = True
        return self._step(self._offer_next([], now_s, is_available, operator_picks=not self.automatic))

    def offer(self, unit_id: str, *, now_s: float, is_available: IsAvailable) -> Step:
        """An operator offers the incident to a unit of their choice (on the candidate list or not)."""
        self._expect("offer", DispatchState.AWAITING_OPERATOR, DispatchState.NONE_AVAILABLE)
        if not is_available(unit_id):
            raise OfferRefused(self.incident_id, self.state, "offer", f"unit {unit_id} is not available")
        return self._step(self._offer_to(unit_id, [], now_s))

    def accept(self, unit_id: str, *, now_s: float) -> Step:
        """The offered unit takes the task (at or before the offer's deadline): it is en route."""
        self._expect_offered("accept", unit_id)
        if now_s > self.deadline_s:
            raise OfferRefused(self.incident_id, self.state, "accept", f"the offer expired at {self.deadline_s}")
        self.state, self.deadline_s, self.missed = DispatchState.EN_ROUTE, now_s + self.check_in_every_s, 0
        return self._step([UnitStateSet(unit_id, UnitState.EN_ROUTE),
                           TaskAssigned(unit_id, self.incident_id, self.place, self._distance(unit_id))])

    def decline(self, unit_id: str, *, now_s: float, is_available: IsAvailable) -> Step:
        self._expect_offered("decline", unit_id)
        effects = self._release(OfferDeclined(unit_id, self.incident_id))
        return self._step(self._offer_next(effects, now_s, is_available, operator_picks=not self.automatic))

    def deadline_passed(self, *, now_s: float, is_available: IsAvailable) -> Step:
        """The offer timed out (the next candidate) or a check-in is overdue; before the deadline, nothing."""
        if self.deadline_s is None or now_s < self.deadline_s:
            return self._step([])
        unit_id = self.unit_id
        if self.state is DispatchState.OFFERING:
            effects = self._release(OfferExpired(unit_id, self.incident_id))
            return self._step(self._offer_next(effects, now_s, is_available, operator_picks=not self.automatic))
        self.missed += 1
        due_s, self.deadline_s = self.deadline_s, now_s + self.check_in_every_s
        return self._step([CheckInMissed(unit_id, self.incident_id, due_s, self.missed)])

    def check_in(self, unit_id: str, *, now_s: float) -> Step:
        """The unit on the task said it is fine: its next check-in is due a period from now."""
        self._expect_task("check in", unit_id, DispatchState.EN_ROUTE, DispatchState.ON_SCENE)
        self.deadline_s, self.missed = now_s + self.check_in_every_s, 0
        return self._step([])

    def arrive(self, unit_id: str, *, now_s: float) -> Step:
        self._expect_task("arrive", unit_id, DispatchState.EN_ROUTE)
        self.state, self.deadline_s, self.missed = DispatchState.ON_SCENE, now_s + self.check_in_every_s, 0
        return self._step([UnitStateSet(unit_id, UnitState.ON_SCENE), UnitOnScene(unit_id, self.incident_id)])

    def done(self, unit_id: str, *, now_s: float) -> Step:
        """The unit finished on scene: it is returning, the dispatch is over."""
        self._expect_task("finish", unit_id, DispatchState.ON_SCENE)
        self.state, self.deadline_s = DispatchState.DONE, None
        return self._step([UnitStateSet(unit_id, UnitState.RETURNING), TaskDone(unit_id, self.incident_id)])

    def returned(self, unit_id: str, *, now_s: float) -> Step:
        """The unit that did the task is back on patrol: available again."""
        self._expect_task("return", unit_id, DispatchState.DONE)
        self.unit_id = None  # said once: the unit is the tracker's again
        return self._step([UnitStateSet(unit_id, UnitState.AVAILABLE)])

    def cancel(self, *, now_s: float, reason: str) -> Step:
        """An operator calls the dispatch off: the unit offered or on the task is released."""
        self._expect("cancel", *_OPEN)
        effects = self._take_unit_off(reason)
        self.state, self.deadline_s = DispatchState.CANCELLED, None
        return self._step(effects)

    def reassign(self, *, now_s: float, is_available: IsAvailable, unit_id: str | None = None, reason: str = ""
                 ) -> Step:
        """An operator takes the incident off its unit and offers it to ``unit_id`` or, without one, to the next
        candidate. A reassignment to a unit that is not available changes nothing."""
        self._expect("reassign", *_OPEN)
        if unit_id is not None and (unit_id == self.unit_id or not is_available(unit_id)):
            raise OfferRefused(self.incident_id, self.state, "reassign", f"unit {unit_id} is not available")
        effects = self._take_unit_off(reason or "reassigned")
        if unit_id is not None:
            return self._step(self._offer_to(unit_id, effects, now_s))
        return self._step(self._offer_next(effects, now_s, is_available, operator_picks=False))

    def set_candidates(self, candidates: Iterable[Candidate], *, now_s: float, is_available: IsAvailable) -> Step:
        """A fresh recommendation for a dispatch that waits for an operator or found nobody: P1 offers at once."""
        self._expect("set candidates", DispatchState.AWAITING_OPERATOR, DispatchState.NONE_AVAILABLE)
        self.candidates, self._next = tuple(candidates), 0
        return self._step(self._offer_next([], now_s, is_available, operator_picks=not self.automatic))

    # -- inside --

    def _offer_next(self, effects: list[Effect], now_s: float, is_available: IsAvailable, *, operator_picks: bool
                    ) -> list[Effect]:
        if operator_picks:
            self.state, self.unit_id, self.deadline_s = DispatchState.AWAITING_OPERATOR, None, None
            left = tuple(c for c in self.candidates if c.unit_id not in self.declined)
            return [*effects, AwaitingOperator(self.incident_id, left)]
        while self._next < len(self.candidates):
            candidate = self.candidates[self._next]
            self._next += 1
            if candidate.unit_id not in self.declined and is_available(candidate.unit_id):
                return self._offer_to(candidate.unit_id, effects, now_s)
        self.state, self.unit_id, self.deadline_s = DispatchState.NONE_AVAILABLE, None, None
        return [*effects, NoneAvailable(self.incident_id, tuple(self.declined))]

    def _offer_to(self, unit_id: str, effects: list[Effect], now_s: float) -> list[Effect]:
        self.state, self.unit_id = DispatchState.OFFERING, unit_id
        self.deadline_s = now_s + self.offer_timeout_s
        return [*effects, UnitStateSet(unit_id, UnitState.OFFERED),
                OfferSent(unit_id, self.incident_id, self.place, self._distance(unit_id), self.cameras,
                          self.deadline_s)]

    def _release(self, ended: Effect) -> list[Effect]:
        """The offered unit is free again and is not asked again."""
        unit_id = self.unit_id
        self.declined.append(unit_id)
        self.unit_id, self.deadline_s = None, None
        return [ended, UnitStateSet(unit_id, UnitState.AVAILABLE)]

    def _take_unit_off(self, reason: str) -> list[Effect]:
        unit_id, state = self.unit_id, self.state
        if unit_id is None:
            return []
        if state is DispatchState.OFFERING:
            return self._release(OfferWithdrawn(unit_id, self.incident_id, reason))
        back = UnitState.RETURNING if state is DispatchState.ON_SCENE else UnitState.AVAILABLE
        self.declined.append(unit_id)
        self.unit_id, self.deadline_s = None, None
        return [TaskCancelled(unit_id, self.incident_id, reason), UnitStateSet(unit_id, back)]

    def _distance(self, unit_id: str) -> float | None:
        return next((c.distance_m for c in self.candidates if c.unit_id == unit_id), None)

    def _step(self, effects: list[Effect]) -> Step:
        return Step(tuple(effects), self.deadline_s)

    def _expect(self, action: str, *states: DispatchState) -> None:
        if self.state not in states:
            raise OfferRefused(self.incident_id, self.state, action, f"allowed when {', '.join(states)}")

    def _expect_offered(self, action: str, unit_id: str) -> None:
        self._expect(action, DispatchState.OFFERING)
        if unit_id != self.unit_id:
            raise OfferRefused(self.incident_id, self.state, action,
                               f"the offer stands for {self.unit_id}, not {unit_id}")

    def _expect_task(self, action: str, unit_id: str, *states: DispatchState) -> None:
        self._expect(action, *states)
        if unit_id != self.unit_id:
            raise OfferRefused(self.incident_id, self.state, action, f"the task is {self.unit_id}'s, not {unit_id}'s")


_OPEN = (DispatchState.AWAITING_OPERATOR, DispatchState.OFFERING, DispatchState.EN_ROUTE, DispatchState.ON_SCENE,
         DispatchState.NONE_AVAILABLE)


def apply_unit_states(units: UnitTracker, effects: Iterable[Effect]) -> list[str]:
    """Apply a step's unit state changes to the host's tracker (units it no longer holds are skipped); returns the
    units changed. A unit released (``available``) whose patrol or shift ended while it was offered or on the task
    goes off duty instead: a task never puts back on duty someone who went off it."""
    changed = []
    for effect in effects:
        if isinstance(effect, UnitStateSet) and effect.unit_id in units:
            state = effect.state
            if state is UnitState.AVAILABLE and units.is_leaving(effect.unit_id):
                if UnitState.OFF_DUTY not in UNIT_TRANSITIONS[units.state_of(effect.unit_id)]:
                    units.set_state(effect.unit_id, UnitState.AVAILABLE)  # en route, on scene: released first
                state = UnitState.OFF_DUTY
            units.set_state(effect.unit_id, state)
            changed.append(effect.unit_id)
    return changed
