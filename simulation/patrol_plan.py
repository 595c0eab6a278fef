"""Patrols of a city's volunteer phones over a simulated period, in send order, and how volunteers answer the
task offers the engine sends their phones. Pure and deterministic from a seed; the walks themselves are
``simulation.patrol_walk``'s.

    plan = PatrolPlan.from_city(city, count=433, start_s=t0, period_s=30 * 86400.0, seed=1)
    for sent in plan.messages():        # Sent(at_s, device_id, message), oldest first
        ...
    expected_hours = sum(t.valid_s for t in plan.truths.values()) / 3600   # once iterated to the end
"""

from __future__ import annotations

import heapq
import math
import random
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from engine.city_model import City, Device
from protocols import DeviceKind
from simulation.patrol_walk import BeatWalker, PatrolTruth, Sent, StreetGrid, WalkConfig

__all__ = ["Offer", "OfferPolicy", "PatrolPlan"]


class Offer(Protocol):
    """What an answer depends on: the unit offered and the incident (``engine.patrol.offer_effects.OfferSent``)."""

    @property
    def unit_id(self) -> str: ...
    @property
    def incident_id(self) -> str: ...


class PatrolPlan:
    """``count`` patrols of the given volunteer phones over ``[start_s, start_s + period_s)``, each of a length
    drawn from ``duration_s``; a phone patrols at most once per round (rounds split the period when there are
    more patrols than phones), so its patrols never overlap."""

    def __init__(self, phones: Sequence[Device], *, count: int, start_s: float, period_s: float, seed: int,
                 duration_s: tuple[float, float] = (2700.0, 10800.0), config: WalkConfig = WalkConfig(),
                 grid_for: Callable[[Device], StreetGrid] | None = None,
                 volunteer_of: Mapping[str, str] | None = None) -> None:
        if not phones:
            raise ValueError("a patrol plan needs at least one volunteer phone")
        self.phones, self.count, self.start_s, self.period_s = list(phones), count, start_s, period_s
        self.seed, self.duration_s, self.config = seed, duration_s, config
        self.grid_for = grid_for or (lambda d: StreetGrid.around(d.lat, d.lon))
        self.volunteer_of = volunteer_of or {}
        self.truths: dict[str, PatrolTruth] = {}
        """Filled as ``messages`` opens each patrol: complete once it has been iterated to the end."""

    @classmethod
    def from_city(cls, city: City, **options) -> PatrolPlan:
        """Patrols of ``city``'s volunteer phones, each on the grid of its precinct's bounds."""
        phones = [d for d in city.devices.values() if d.kind == DeviceKind.VOLUNTEER_PHONE]
        grids = {pid: StreetGrid.for_precinct(p) for pid, p in city.precincts.items()}
        names = {v.phone_id: v.id for v in city.volunteers.values()}
        return cls(phones, grid_for=lambda d: grids[d.precinct_id], volunteer_of=names, **options)

    def walkers(self) -> list[tuple[BeatWalker, Device]]:
        """The patrols, in start order: one walker each and the phone that walks it."""
        rng, n = random.Random(self.seed), len(self.phones)
        rounds = max(1, math.ceil(self.count / n))
        slot_s = self.period_s / rounds
        order, planned = rng.sample(range(n), n), []
        for k in range(self.count):
            phone, round_ = self.phones[order[k % n]], k // n
            length_s = min(rng.uniform(*self.duration_s), slot_s)
            started_s = self.start_s + round_ * slot_s + rng.uniform(0.0, slot_s - length_s)
            walker = BeatWalker(self.grid_for(phone), device_id=phone.id, team=phone.team_id or "",
                                volunteer=self.volunteer_of.get(phone.id, phone.id), started_s=started_s,
                                duration_s=length_s, seed=rng.getrandbits(64), config=self.config,
                                first_seq=round_ * 1_000_000, patrol_id=f"{phone.id}-p{round_ + 1}")
            planned.append((walker, phone))
        planned.sort(key=lambda pair: pair[0].started_s)
        return planned

    def messages(self) -> Iterator[Sent]:
        """Every message of every patrol in send order; a patrol's walk is made when its start comes up."""
        pending, heap, serial = self.walkers(), [], 0
        while pending or heap:
            if pending and (not heap or pending[0][0].started_s <= heap[0][0]):
                walker, phone = pending.pop(0)
                sent = iter(walker.run((phone.lat, phone.lon)))
                self.truths[walker.truth.patrol_id] = walker.truth
                first = next(sent)
                heapq.heappush(heap, (first.at_s, serial, first, sent))
                serial += 1
                continue
            _, order, item, rest = heapq.heappop(heap)
            yield item
            following = next(rest, None)
            if following is not None:
                heapq.heappush(heap, (following.at_s, order, following, rest))


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferPolicy:
    """How volunteers answer task offers: accept with ``accept_p`` after ``delay_s``, decline with ``decline_p``,
    else never answer (the offer expires). Deterministic per (seed, unit, incident), whatever the call order."""

    seed: int
    accept_p: float = 0.7
    decline_p: float = 0.2
    delay_s: tuple[float, float] = (3.0, 25.0)

    def answer_offer(self, offer: Offer, now_s: float) -> tuple[float, str | None]:
        """``(delay_s, answer)``: answer ("accept", "decline", or None for never) ``delay_s`` after ``now_s``."""
        key = f"{self.seed}/{offer.unit_id}/{offer.incident_id}".encode()
        rng = random.Random(zlib.crc32(key))
        roll, delay_s = rng.random(), rng.uniform(*self.delay_s)
        if roll < self.accept_p:
            return delay_s, "accept"
        return (delay_s, "decline") if roll < self.accept_p + self.decline_p else (math.inf, None)
