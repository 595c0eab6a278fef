"""The volunteer phones' and the station operator's side of a run with emergencies: ``task.offer`` device commands
answered by an :class:`~simulation.patrol_plan.OfferPolicy`, the accepted task seen through, the incident closed,
and tips reviewed. Pure: the run hands in what the engine sent and schedules what comes back.

- A ``task.offer`` is answered ``accept`` or ``decline`` after the policy's delay, or never (the offer expires and
  the engine offers the next candidate). An offer the operator made by hand (:meth:`Phones.overdue`) is accepted.
- An accepted task: ``check_in`` a minute later, ``arrived`` after walking the offer's distance (at ``walk_mps``,
  between ``travel_s``), ``done`` after ``on_scene_s``; then the station's operator resolves and closes the
  incident (``operator_after_s`` and twice that after ``done``).
- A P1 alarm nobody accepted in ``fallback_after_s`` (every candidate declined or let the offer expire): the
  operator offers it by hand to the nearest available unit (the run asks the host's desk).
- A tip (``patrol.clue``): the station accepts it ``review_after_s`` after it was raised when its category is one
  of ``accept``, else rejects it with a reason.

Answers go out as the phone's ``patrol.task`` events; their seq is given when they are sent (the run numbers the
phone's later messages after it).
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass

from msgspec import Struct

from engine.city_model import City
from protocols import Level
from protocols.records import Action, OperatorCommand
from simulation.patrol_plan import OfferPolicy


class TipReview(Struct, forbid_unknown_fields=True):
    after_s: float = 120.0
    accept: tuple[str, ...] = ("hazard", "suspicious")
    """Categories the station accepts; a tip of any other is rejected."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PhoneConfig:
    check_in_after_s: float = 60.0
    walk_mps: float = 1.4
    travel_s: tuple[float, float] = (60.0, 600.0)
    on_scene_s: tuple[float, float] = (120.0, 300.0)
    operator_after_s: float = 30.0
    fallback_after_s: float = 240.0
    grid_s: float = 0.0
    """The answers after the first (check in, arrived, done) and the operator's acts go on this grid, like the plan's
    batched messages (0: at their own times); accept and decline keep theirs, the offer's 30 s is tight."""

    def on_grid(self, t: float) -> float:
        return math.ceil(t / self.grid_s - 1e-9) * self.grid_s if self.grid_s else t


@dataclass(frozen=True, slots=True)
class Answer:
    at_s: float
    device_id: str
    incident: str
    answer: str


@dataclass(frozen=True, slots=True)
class Operate:
    at_s: float
    command: OperatorCommand


@dataclass(slots=True)
class Tally:
    """What the phones and the operator did: the ground truth of the dispatch figures."""

    offers: int = 0
    accepted: int = 0
    declined: int = 0
    unanswered: int = 0
    done: int = 0
    by_hand: int = 0
    tips_accepted: int = 0
    tips_rejected: int = 0

    def figures(self) -> dict[str, float]:
        return {"offers_sent": float(self.offers), "offers_declined": float(self.declined),
                "offers_expired": float(self.unanswered)}


class Phones:
    def __init__(self, city: City, policy: OfferPolicy, *, alarms: dict[str, float],
                 config: PhoneConfig = PhoneConfig(), review: TipReview | None = None) -> None:
        self.city, self.policy, self.config, self.review = city, policy, config, review
        self.alarms = dict(alarms)
        """Alarm device id → when it raises its emergency."""
        self.tally = Tally()
        self.incident_of: dict[str, str] = {}
        """Alarm device → its incident (learnt from the engine's changes)."""
        self.accepted: set[str] = set()
        self._by_hand: set[str] = set()
        self._reviewed: set[str] = set()
        self._tried: set[str] = set()

    def listening(self, t: float) -> bool:
        """Whether an offer may be on its way to a phone now (the run takes device commands only then)."""
        window = self.config.fallback_after_s + 120.0
        return any(at <= t <= at + window and self.incident_of.get(d) not in self.accepted
                   for d, at in self.alarms.items())

    def commands(self, commands, t: float) -> list[Answer | Operate]:
        """What the phones do about the device commands the engine sent (others' commands are left alone)."""
        out: list[Answer | Operate] = []
        for command in commands:
            if command.command != "task.offer":
                continue
            incident, unit = command.args["incident"], command.device_id
            self.tally.offers += 1
            if incident in self._by_hand:
                self._by_hand.discard(incident)
                delay_s, answer = 5.0, "accept"
            else:
                delay_s, answer = self.policy.answer_offer(_Offer(unit, incident), t)
            if answer is None:
                self.tally.unanswered += 1
            elif answer == "decline":
                self.tally.declined += 1
                out.append(Answer(t + delay_s, unit, incident, "decline"))
            else:
                out += self._task(unit, incident, t + delay_s, command.args.get("distance_m"))
        return out

    def _task(self, unit: str, incident: str, at_s: float, distance_m) -> list[Answer | Operate]:
        cfg, rng = self.config, random.Random(zlib.crc32(f"{self.policy.seed}/{incident}".encode()))
        self.tally.accepted += 1
        lo, hi = cfg.travel_s
        arrive_s = cfg.on_grid(at_s + min(hi, max(lo, (distance_m or 0.0) / cfg.walk_mps)))
        done_s = cfg.on_grid(arrive_s + rng.uniform(*cfg.on_scene_s))
        station = self._station(unit)
        check_in_s = cfg.on_grid(at_s + cfg.check_in_after_s)
        task = [Answer(at_s, unit, incident, "accept"), Answer(check_in_s, unit, incident, "check_in"),
                Answer(arrive_s, unit, incident, "arrived"), Answer(done_s, unit, incident, "done")]
        if incident in self.accepted:  # a second phone took it (the first one's accept came too late): no second close
            return task
        self.accepted.add(incident)
        self.tally.done += 1
        operator = f"{station}-duty"
        return task + [
            Operate(done_s + cfg.operator_after_s,
                    OperatorCommand(Action.RESOLVE, incident, operator, Level.POLICE_STATION, station)),
            Operate(done_s + 2 * cfg.operator_after_s,
                    OperatorCommand(Action.CLOSE, incident, operator, Level.POLICE_STATION, station,
                                    disposition="handled"))]

    def _station(self, device_id: str) -> str:
        return self.city.precincts[self.city.devices[device_id].precinct_id].station_id

    def overdue(self, t: float) -> list[str]:
        """Incidents of alarms nobody accepted within ``fallback_after_s``: the operator offers them by hand now
        (each once; the run asks the desk and reports the offer with :meth:`offered_by_hand`)."""
        due = []
        for device, at in self.alarms.items():
            incident = self.incident_of.get(device)
            if (incident is not None and incident not in self.accepted and incident not in self._by_hand
                    and t >= at + self.config.fallback_after_s and incident not in self._tried):
                self._tried.add(incident)
                due.append(incident)
        return due

    def offered_by_hand(self, incident: str) -> None:
        self._by_hand.add(incident)
        self.tally.by_hand += 1

    def seen(self, record, t: float) -> list[Operate]:
        """An incident the engine reported new: an alarm's incident is remembered, a tip is reviewed."""
        if record.device_id in self.alarms:
            self.incident_of.setdefault(record.device_id, record.id)
        if self.review is None or record.kind.value != "patrol.clue" or record.id in self._reviewed:
            return []
        self._reviewed.add(record.id)
        station = self._station(record.device_id)
        category = record.tip.category if record.tip is not None else ""
        if category in self.review.accept:
            self.tally.tips_accepted += 1
            action, note = Action.ACCEPT, "thank you"
        else:
            self.tally.tips_rejected += 1
            action, note = Action.REJECT, "not for the police"
        return [Operate(t + self.review.after_s, OperatorCommand(action, record.id, f"{station}-duty",
                                                                 Level.POLICE_STATION, station, note=note))]


@dataclass(frozen=True, slots=True)
class _Offer:
    unit_id: str
    incident_id: str
