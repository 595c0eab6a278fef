"""An evening in a city's communities, planned from a seed: visitors pressing a unit's number at door panels and how
the unit's residents' phones will answer, visitor passes and the codes visitors type, doors held open or forced, and
thrown-object cameras. Pure and deterministic; what the engine should count is in ``truth`` (figure → value, the
names of ``simulation.scenario_community.FIGURES``).

Everything is on the delivery grid (``deliver_every_s``). Each door serves one visitor at a time (``door_gap_s``
apart), so a call's answer, the door's open and close never mix with the next visitor's. A few doors are kept
apart for the held-open and forced alarms and see no visitor.

- A visit: ``door.visitor`` {unit: the door's unit, snapshot}. Each verified resident of the unit answers
  ``open`` (``open_p``), ``deny`` (``deny_p``) or lets it ring, ``delay_s`` after the ring (on the grid, before the
  60 s miss). The earliest answer wins (the smaller draw within a grid slot); answers in the same slot go in one
  batch and the later ones are refused (``answered`` after an open, ``unknown_call`` after a deny, which ended the
  call); answers in later slots are withdrawn when the phone is told ``visitor_call.answered``. Nobody answering:
  missed. A unit with no verified resident rings nobody (``no_residents``).
- ``unverified_tries`` units with an unverified resident beside a verified one: that phone answers ``open`` first
  (refused ``unverified``) and tries to issue a visitor pass (refused).
- Passes: verified residents issue ``visitor.pass``; the visitor types the code (learnt from
  ``visitor_pass.issued``) at the door: in the window (opened), after it (``expired``), twice with one use
  (opened, ``used_up``), at another door (``wrong_door``), before it (``not_yet``); and ``unknown`` codes nobody
  issued (5 digits: the engine's are 6).
- Thrown objects: ``episodes`` of 1..n reports from one camera and facade, each within ``gap_s`` (< 10 min) of the
  last: one incident each, the rest joined; ``again`` of them recur on the same camera and facade more than 10 min
  later (a new incident), ``other_facade`` are seen by the same camera on another facade at the same time.
- Notices to door screens: ``simulation.community_notices`` (``notices``, its truth merged into ``truth``).
- Every community door and camera heartbeats at the period the engine expects (``simulation.heartbeats``).
"""

from __future__ import annotations

import math
import random
import zlib
from bisect import bisect_left, insort

from engine.city_model import City, Device
from engine.grids import grid_of
from engine.hosting.config import HostConfig
from engine.hosting.throws import JOIN_S
from engine.hosting.visitors import RING_S
from engine.policy import PolicySet
from protocols import DeviceKind, EventKind
from protocols.device import DeviceMessage, make_message
from protocols.kinds import IncidentKind
from simulation.community_notices import NoticePlan
from simulation.community_tables import CommunityTable, Decision, PassPlan, PassVisit, Visit
from simulation.heartbeats import heartbeat_period_s
from simulation.scenario_community import FIGURES

FACADES = ("north", "south", "east", "west")


class CommunityPlan:
    """Raises ``ValueError`` naming the key at fault (``answers.delay_s: ...``)."""

    def __init__(self, table: CommunityTable, city: City, policies: PolicySet) -> None:
        self.table, self.city, self.policies = table, city, policies
        self.step = table.deliver_every_s
        self.end_s = table.start_s + table.period_s
        self.rng = random.Random(table.seed)
        self.visits: dict[str, Visit] = {}
        """Snapshot reference → the visit (the phones learn it from the ``visitor_call`` they are sent)."""
        self.passes: dict[tuple[str, str], PassPlan] = {}
        """(phone, request) → the pass and the visits made with its code."""
        self.truth: dict[str, float] = dict.fromkeys(FIGURES, 0.0)
        self._raw: list[tuple[float, str, EventKind, dict]] = []
        self._busy: dict[str, list[float]] = {}
        communities = {s.id for s in city.sites.values() if s.kind.value == "community"}
        devices = sorted((d for d in city.devices.values() if d.site_id in communities), key=lambda d: d.id)
        self.doors = [d for d in devices if d.kind is DeviceKind.DOOR]
        self.cameras = [d for d in devices if d.kind is DeviceKind.CAMERA]
        self.residents: dict[tuple[str, str], list] = {}
        for r in sorted(city.residents.values(), key=lambda r: r.id):
            self.residents.setdefault((r.site_id, r.unit), []).append(r)
        d = table.doors
        kept = d.held_open + d.held_short + d.forced
        if kept > len(self.doors) // 2:
            raise ValueError(f"doors: {kept} doors kept for alarms; the communities have {len(self.doors)}")
        self.kept = self.rng.sample(self.doors, kept)
        aside = {x.id for x in self.kept}
        self.usable = [x for x in self.doors if x.id not in aside]
        self._plan_visits()
        self._plan_passes()
        self._plan_doors()
        self._plan_throws()
        self._plan_heartbeats(devices)
        self.truth["doors_opened"] = self.truth.get("calls.opened", 0.0) + self.truth.get("codes.opened", 0.0)
        self.notices = NoticePlan(table.notices, city, self.doors, start_s=table.start_s, period_s=table.period_s,
                                  step=self.step, seed=table.seed)
        self.truth.update(self.notices.truth)
        self._grids()
        self.messages = self._numbered()
        """(at_s, device id, message), in time order, each device's seqs in that order."""

    def on_grid(self, t: float) -> float:
        return math.ceil(t / self.step - 1e-9) * self.step

    def _count(self, figure: str, n: float = 1.0) -> None:
        self.truth[figure] = self.truth.get(figure, 0.0) + n

    def _at_site(self, site: str, field: str, n: float = 1.0) -> None:
        """A figure of the site's row at the desk (``CommunityFiguresQuery``), and so of its grid's and the total."""
        self._count(f"site.{site}.{field}", n)

    def _grids(self) -> None:
        for key, n in list(self.truth.items()):
            if key.startswith("site."):
                _, site, field = key.split(".")
                self._count(f"grid.{grid_of(self.city.sites[site])}.{field}", n)
                self._count(f"desk.{field}", n)

    def _send(self, at_s: float, device: str, kind: EventKind, data: dict) -> None:
        self._raw.append((at_s, device, kind, data))

    def _free(self, door: str, t: float) -> bool:
        times, gap = self._busy.get(door, []), self.table.door_gap_s
        i = bisect_left(times, t - gap)
        return not (i < len(times) and times[i] < t + gap)

    def _book(self, pick, earliest: float, latest: float) -> tuple[Device, float]:
        """A door (``pick()``) free at a time in [earliest, latest] on the grid, booked."""
        if earliest > latest:
            raise ValueError("period_s: too short for the visits planned in it")
        for _ in range(200):
            door, t = pick(), self.on_grid(self.rng.uniform(earliest, latest))
            if t <= latest and self._free(door.id, t):
                insort(self._busy.setdefault(door.id, []), t)
                return door, t
        raise ValueError("visits: no free door; fewer visits, a longer period or a shorter door_gap_s")

    def _arrival(self) -> float:
        t = self.rng.triangular(0.0, 1.0, self.table.peak_at)
        return self.table.start_s + t * max(0.0, self.table.period_s - 120.0)

    # -- the parts of the evening --

    def _plan_visits(self) -> None:
        a = self.table.answers
        if a.delay_s[0] > a.delay_s[1] or a.delay_s[1] + self.step >= RING_S:
            raise ValueError(f"answers.delay_s: give [lo, hi] with hi + deliver_every_s under the {RING_S:g} s ring")
        if a.open_p + a.deny_p > 1:
            raise ValueError("answers.deny_p: open_p + deny_p over 1")
        doors_of = {(d.site_id, d.unit): d for d in self.usable}
        tries = [key for key, people in self.residents.items() if key in doors_of
                 and any(r.verified for r in people) and not all(r.verified for r in people)]
        tries = set(self.rng.sample(sorted(tries), min(a.unverified_tries, len(tries))))
        if len(tries) < a.unverified_tries:
            raise ValueError(f"answers.unverified_tries: only {len(tries)} units have an unverified resident beside "
                             "a verified one")
        for key in sorted(tries):  # the first visit of the evening to each of these units
            self._visit(*self._book(lambda: doors_of[key], self.table.start_s, self.end_s - 120), tried=True)
        for _ in range(self.table.visits - len(tries)):
            t = self._arrival()
            self._visit(*self._book(lambda: self.rng.choice(self.usable), t, t + 600))

    def _visit(self, door: Device, t: float, *, tried: bool = False) -> None:
        a, people = self.table.answers, self.residents.get((door.site_id, door.unit), [])
        snapshot = f"snap://{door.id}/{int(t * 1000)}"
        self._send(t, door.id, EventKind.DOOR_VISITOR, {"unit": door.unit, "snapshot": snapshot})
        decisions = []
        for r in people:
            if r.verified:
                roll = self.rng.random()
                answer = "open" if roll < a.open_p else "deny" if roll < a.open_p + a.deny_p else None
                decisions.append(Decision(r.phone_id, self.rng.uniform(*a.delay_s), answer))
        unverified = next((r.phone_id for r in people if not r.verified), "") if tried else ""
        self.visits[snapshot] = Visit(door.id, door.unit, t, decisions, unverified)
        if not decisions:
            self._count("calls.no_residents")
            return
        self._count("calls")
        self._at_site(door.site_id, "visitor_calls")
        if unverified:
            self._count("answers.refused.unverified")
            self._send(t, unverified, EventKind.VISITOR_PASS, {"request": f"try-{door.id}",
                                                               "valid_until": int((t + 3600) * 1000)})
            self._count("passes.refused.unverified")
        answering = sorted((self.on_grid(t + d.delay_s), d.delay_s) for d in decisions if d.answer)
        if not answering:
            self._count("calls.missed")
            self._at_site(door.site_id, "missed_calls")
            return
        first = min((d for d in decisions if d.answer), key=lambda d: d.delay_s)
        self._count("calls.opened" if first.answer == "open" else "calls.denied")
        late = sum(1 for slot, _ in answering[1:] if slot == answering[0][0])
        self._count("answers.refused.answered" if first.answer == "open" else "answers.refused.unknown_call", late)

    def _plan_passes(self) -> None:
        p, start = self.table.passes, self.table.start_s
        people = [r for key, rs in sorted(self.residents.items()) for r in rs if r.verified]
        usable = {(d.site_id, d.unit): d for d in self.usable}
        people = [r for r in people if (r.site_id, r.unit) in usable]
        bad = p.expired + p.used_up + p.wrong_door + p.not_yet
        if bad + p.by_desk > p.issued or p.issued > len(people):
            raise ValueError(f"passes.issued: {p.issued} passes for {bad} refusals and {p.by_desk} by the desk among "
                             f"{len(people)} residents")
        outcomes = (["expired"] * p.expired + ["used_up"] * p.used_up + ["wrong_door"] * p.wrong_door
                    + ["not_yet"] * p.not_yet)
        outcomes += ["opened"] * (p.issued - len(outcomes))
        site_doors: dict[str, list[Device]] = {}
        for d in self.usable:
            site_doors.setdefault(d.site_id, []).append(d)
        for n, (r, outcome) in enumerate(zip(self.rng.sample(people, p.issued), outcomes)):
            own = usable[(r.site_id, r.unit)]
            issued_s = self.on_grid(start + self.rng.uniform(0.0, self.table.period_s * 0.5))
            until_s = issued_s + self.rng.uniform(1800.0, 5400.0)
            plan = PassPlan(r.phone_id, f"pass-{n + 1:05d}")
            data = {"request": plan.request, "uses": 1}
            door = own if n % 2 else None  # every other pass opens any door of the community
            if outcome == "not_yet":
                data["valid_from"] = int((issued_s + 3600.0) * 1000)
                until_s = issued_s + 7200.0
                at = [(issued_s + 300.0, issued_s + 3000.0)]
            elif outcome == "expired":
                until_s = issued_s + 1200.0
                at = [(until_s + 60.0, until_s + 1800.0)]
            elif outcome == "used_up":
                at = [(issued_s + 120.0, issued_s + 900.0), (issued_s + 1200.0, until_s - 60.0)]
            else:
                at = [(issued_s + 120.0, until_s - 60.0)]
            if outcome == "wrong_door":
                door = own
                others = [d for d in site_doors[r.site_id] if d.id != own.id]
                pick = lambda others=others: self.rng.choice(others)  # noqa: E731
            elif door is not None:
                pick = lambda own=own: own  # noqa: E731
            else:
                pick = lambda r=r: self.rng.choice(site_doors[r.site_id])  # noqa: E731
            data["valid_until"] = int(until_s * 1000)
            data["door"] = door.id if door is not None else ""
            if n >= p.issued - p.by_desk:  # the last ones, opened in their window: the property desk issues them
                plan.desk, plan.desk_at_s = {"resident": r.id, "request": plan.request, "valid_until_s": until_s,
                                             "door": data["door"], "operator": f"{r.site_id}-guard-duty"}, issued_s
            else:
                self._send(issued_s, r.phone_id, EventKind.VISITOR_PASS, data)
            self._count("passes.issued")
            for i, (lo, hi) in enumerate(at):
                typed_door, t = self._book(pick, lo, min(hi, self.end_s - 60.0))
                result = "used_up" if outcome == "used_up" and i == 1 else "opened" if outcome == "used_up" else outcome
                plan.visits.append(PassVisit(t, typed_door.id, result))
                self._count(f"codes.{'opened' if result == 'opened' else 'refused.' + result}")
            self.passes[(r.phone_id, plan.request)] = plan
        for _ in range(p.unknown):
            door, t = self._book(lambda: self.rng.choice(self.usable), start + 60.0, self.end_s - 60.0)
            self._send(t, door.id, EventKind.DOOR_CODE, {"code": f"{self.rng.randrange(100_000):05d}"})
            self._count("codes.refused.unknown")

    def _plan_doors(self) -> None:
        d = self.table.doors
        trigger = self.policies.for_incident(IncidentKind.DOOR_HELD_OPEN, DeviceKind.DOOR).trigger_after_s or 0.0
        if d.held_open and d.held_open_s <= trigger:
            raise ValueError(f"doors.held_open_s: a door held open must stand open over the policy's {trigger:g} s")
        if d.held_short and d.held_short_s >= trigger:
            raise ValueError(f"doors.held_short_s: must be under the policy's {trigger:g} s")
        kept = iter(self.kept)
        for n, held_s in [(d.held_open, d.held_open_s), (d.held_short, d.held_short_s)]:
            for _ in range(n):
                door, t = next(kept), self.on_grid(self.rng.uniform(self.table.start_s, self.end_s - held_s - 300.0))
                self._at_site(door.site_id, "doors_held_open", 1.0 if held_s == d.held_open_s else 0.0)
                self._send(t, door.id, EventKind.DOOR_OPENED, {"open": True})
                self._send(self.on_grid(t + held_s), door.id, EventKind.DOOR_OPENED, {"open": False})
        for _ in range(d.forced):
            t = self.on_grid(self.rng.uniform(self.table.start_s, self.end_s - 300.0))
            door = next(kept)
            self._send(t, door.id, EventKind.DOOR_FORCED, {})
            self._at_site(door.site_id, "doors_forced")
        self.truth["held_open_incidents"] = float(d.held_open)
        self.truth["forced_incidents"] = float(d.forced)

    def _plan_throws(self) -> None:
        th = self.table.throws
        if th.repeats[0] > th.repeats[1] or th.gap_s[0] > th.gap_s[1] or th.gap_s[1] >= JOIN_S:
            raise ValueError(f"throws.gap_s: give [lo, hi] with hi under the {JOIN_S:g} s a repeat may join within")
        if th.episodes > len(self.cameras) or th.again + th.other_facade > th.episodes:
            raise ValueError(f"throws.episodes: {th.episodes} episodes over {len(self.cameras)} cameras "
                             f"(again + other_facade at most episodes)")
        span = (th.repeats[1] - 1) * th.gap_s[1]
        latest = self.end_s - span - 60.0
        for n, camera in enumerate(self.rng.sample(self.cameras, th.episodes)):
            facade = self.rng.choice(FACADES)
            last = self._episode(camera, facade, self.rng.uniform(self.table.start_s, latest - JOIN_S - 120.0))
            if n < th.again:
                self._episode(camera, facade, self.rng.uniform(last + JOIN_S + 60.0, max(last + JOIN_S + 60.0, latest)))
            elif n < th.again + th.other_facade:
                other = self.rng.choice([f for f in FACADES if f != facade])
                self._episode(camera, other, last - self.step)

    def _episode(self, camera: Device, facade: str, t: float) -> float:
        th, t = self.table.throws, self.on_grid(t)
        building, floor = f"Building {self.rng.randint(1, 20)}", self.rng.randint(3, 30)
        trajectory = self.rng.choice(("vertical", "parabolic"))
        for k in range(self.rng.randint(*th.repeats)):
            if k:
                t = self.on_grid(t + self.rng.uniform(max(th.gap_s[0], self.step), th.gap_s[1] - self.step))
            data = {"building": building, "facade": facade, "trajectory": trajectory,
                    "clip": f"clip://{camera.id}/{int(t * 1000)}"}
            data.update({"floor": floor} if k % 2 == 0 else {"floor_low": floor - 1, "floor_high": floor + 1})
            self._send(t, camera.id, EventKind.CAMERA_THROW, data)
            self._count("throw_incidents" if k == 0 else "throws_joined")
            self._at_site(camera.site_id, "throws")
        return t

    def _plan_heartbeats(self, devices: list[Device]) -> None:
        config = HostConfig("sim")
        for device in devices:
            if device.kind not in (DeviceKind.DOOR, DeviceKind.CAMERA):
                continue
            period = heartbeat_period_s(device, self.policies, interval_s=config.heartbeat_interval_s,
                                        misses=config.heartbeat_misses)
            period = max(self.step, math.floor(period / self.step) * self.step)
            t = self.on_grid(self.table.start_s + period * (zlib.crc32(device.id.encode()) % 1000) / 1000)
            while t <= self.end_s:
                self._send(t, device.id, EventKind.HEARTBEAT, {})
                t += period

    def _numbered(self) -> list[tuple[float, str, DeviceMessage]]:
        seqs: dict[str, int] = {}
        out = []
        for at_s, device, kind, data in sorted(self._raw, key=lambda e: e[0]):
            seqs[device] = seq = seqs.get(device, 0) + 1
            out.append((at_s, device, make_message(kind, seq=seq, ts=round(at_s * 1000), data=data)))
        return out
