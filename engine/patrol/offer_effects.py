"""What one step of a dispatch (``engine.patrol.offers``) returns: the candidates and place it works with, and its
effects as data, for the host to journal, apply to its unit tracker and send to phones and consoles."""

from __future__ import annotations

from dataclasses import dataclass

from protocols.patrol import UnitState


@dataclass(frozen=True, slots=True)
class Candidate:
    unit_id: str
    distance_m: float | None = None


@dataclass(frozen=True, slots=True)
class Place:
    lat: float
    lon: float
    label: str = ""


@dataclass(frozen=True, slots=True)
class UnitStateSet:
    unit_id: str
    state: UnitState


@dataclass(frozen=True, slots=True)
class OfferSent:
    """A command to the unit's phone or radio: the incident, where, how far, the cameras nearby, until when."""

    unit_id: str
    incident_id: str
    place: Place
    distance_m: float | None
    cameras: tuple[str, ...]
    expires_s: float


@dataclass(frozen=True, slots=True)
class OfferDeclined:
    unit_id: str
    incident_id: str


@dataclass(frozen=True, slots=True)
class OfferExpired:
    unit_id: str
    incident_id: str


@dataclass(frozen=True, slots=True)
class OfferWithdrawn:
    """An operator cancelled or reassigned while the offer stood: the phone drops it."""

    unit_id: str
    incident_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class AwaitingOperator:
    incident_id: str
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True, slots=True)
class NoneAvailable:
    incident_id: str
    tried: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TaskAssigned:
    unit_id: str
    incident_id: str
    place: Place
    distance_m: float | None


@dataclass(frozen=True, slots=True)
class TaskCancelled:
    unit_id: str
    incident_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class UnitOnScene:
    unit_id: str
    incident_id: str


@dataclass(frozen=True, slots=True)
class TaskDone:
    unit_id: str
    incident_id: str


@dataclass(frozen=True, slots=True)
class CheckInMissed:
    unit_id: str
    incident_id: str
    due_s: float
    missed: int
    """Check-ins missed in a row."""


Effect = (UnitStateSet | OfferSent | OfferDeclined | OfferExpired | OfferWithdrawn | AwaitingOperator | NoneAvailable
          | TaskAssigned | TaskCancelled | UnitOnScene | TaskDone | CheckInMissed)
