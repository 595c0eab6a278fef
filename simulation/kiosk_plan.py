"""A week (or any period) of an unmanned police station's kiosk hall, planned from a seed: the sessions of each kiosk
one after the other, services drawn by the catalogue's mix, face checks (some failing), the driving-theory exam's
scores around the pass mark; bookings made by phone ahead of the session (some slots booked past their capacity,
some bookings nobody comes for), the codes typed at the kiosk (some mistyped, some too early, some typed again after
use); consumables running down with every session (paper for each, card stock for vehicles and exit-entry) and the
technician's rounds refilling them, but once a kiosk's round is missed (a paper-out ticket, refilled
``refill_after_s`` later); heartbeats; one SOS. Pure and deterministic.

Messages reach the engine in batches every ``deliver_every_s`` (each keeps its own stamp): the plan works on the
times the engine will see (the batch's), and its ground truth (``KioskTruth``) follows the engine's documented rules
on those times: a slot's capacity, ``max_per_phone`` holdings, a code taken from ``early_s`` before its slot to its
end, once. A code typed at a kiosk is known only once the engine has answered the booking (``kiosk.booked``): the
plan gives its seq and time with the booking's index (``Typing``), the run fills the code in
(``simulation/kiosk_users.py``).
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict

from engine.kiosk.catalogue import Catalogue, Service
from protocols import EventKind
from protocols.device import DeviceMessage, make_message
from simulation.kiosk_table import KioskTruth, KiosksTable, Request, Typing
from simulation.kiosk_truth import count

MISTYPED = "1234567"
"""A code no booking has (codes are 8 digits)."""
PAPER_PER_SESSION, CARD_PER_SESSION = 0.3, 0.6
"""Percent of a kiosk's paper each served session prints; card stock of a served vehicles or exit-entry session."""
ROUND_AT = {"paper": 30.0, "card": 25.0}
"""The technician's round refills a supply at or below this (above the catalogue's thresholds: no ticket)."""
CARD_CATEGORIES = frozenset({"vehicles", "exit_entry"})


class KioskPlan:
    def __init__(self, table: KiosksTable, *, kiosks: list[str], hall: str, phones: list[str],
                 catalogue: Catalogue) -> None:
        if not kiosks:
            raise ValueError("hall: the hall has no kiosks")
        step = table.deliver_every_s
        if step and catalogue.policy.slot_s % step:
            raise ValueError(f"deliver_every_s: must divide the booking slot ({catalogue.policy.slot_s} s)")
        if table.duration[0] > table.duration[1]:
            raise ValueError("duration: give [lo, hi] with lo <= hi")
        self.table, self.kiosks, self.hall, self.phones, self.catalogue = table, kiosks, hall, phones, catalogue
        self.period_s = table.days * 86_400.0
        self.rng = random.Random(table.seed)
        self.messages: list[tuple[float, str, float, EventKind, dict]] = []
        """(delivery time, device, own time, kind, data); seqs are given per device in own-time order."""
        self.requests: list[Request] = []
        self.typings: list[Typing] = []
        self._typed: list[tuple[float, str, float, int | str]] = []  # (at, kiosk, own time, booking index | code)
        self.truth = KioskTruth()

    @property
    def end_s(self) -> float:
        """When every booked slot has ended (its no-shows counted) and the last message is in."""
        slots = [r.slot + self.catalogue.policy.slot_s for r in self.requests]
        return self.at(max([self.period_s + self.table.heartbeat_s, *slots]) + 1.0)

    def at(self, t: float) -> float:
        """When the engine sees a message of own time ``t``."""
        step = self.table.deliver_every_s
        return math.ceil(t / step - 1e-9) * step if step else t

    # -- the plan --------------------------------------------------------------------------------------

    def build(self) -> KioskPlan:
        sessions = self._sessions()
        self._bookings(sessions)
        self._supplies(sessions)
        if self.table.sos_at_s is not None:
            kiosk = self.kiosks[(self.table.sos_kiosk - 1) % len(self.kiosks)]
            self.messages.append((self.at(self.table.sos_at_s), kiosk, self.table.sos_at_s, EventKind.KIOSK_SOS, {}))
            self.truth.sos = 1
        self._heartbeats()
        self._number()
        count(self, sessions)
        return self

    def _services(self) -> tuple[list[Service], list[float]]:
        services = list(self.catalogue.services.values())
        if not self.table.mix:
            return services, [1.0] * len(services)
        unknown = set(self.table.mix) - set(self.catalogue.categories)
        if unknown:
            raise ValueError(f"mix: unknown categories {sorted(unknown)}")
        sizes = Counter(s.category for s in services)
        return services, [self.table.mix.get(s.category, 0.0) / sizes[s.category] for s in services]

    def _sessions(self) -> list[dict]:
        """Each kiosk's sessions one after the other, idle gaps drawn to fill the period."""
        t, rng = self.table, self.rng
        services, weights = self._services()
        out = []
        per_kiosk = [t.sessions // len(self.kiosks) + (k < t.sessions % len(self.kiosks))
                     for k in range(len(self.kiosks))]
        for kiosk, n in zip(self.kiosks, per_kiosk):
            drawn = rng.choices(services, weights, k=n)
            lengths = [round(s.typical_s * rng.uniform(*t.duration), 1) for s in drawn]
            idle = self.period_s - 60.0 - sum(lengths)
            if idle <= 0:
                raise ValueError(f"sessions: {n} sessions of a kiosk do not fit in {t.days:g} days")
            gaps = [rng.expovariate(1.0) for _ in range(n)]
            scale = idle / sum(gaps)
            start = 0.0
            for service, length, gap in zip(drawn, lengths, gaps):
                start += gap * scale
                out.append(self._session(kiosk, service, round(start, 1), length))
                end = out[-1]["end"]
                self.messages.append((self.at(end), kiosk, end, EventKind.KIOSK_SESSION, out[-1]["data"]))
                start += length
        return out

    def _session(self, kiosk: str, service: Service, start: float, length: float) -> dict:
        t, rng = self.table, self.rng
        face = "skipped"
        if service.face_check:
            face = "failed" if rng.random() < t.face_fail_p else "passed"
        outcome = "failed" if face == "failed" else ("abandoned" if rng.random() < t.abandon_p else "done")
        data: dict = {"service": service.id, "outcome": outcome, "duration_s": length, "face_check": face}
        if service.exam and outcome == "done":
            data["score"] = max(0, min(100, round(rng.gauss(*t.exam_score))))
        return {"kiosk": kiosk, "service": service, "start": start, "end": start + length, "data": data}

    def _bookings(self, sessions: list[dict]) -> None:
        t, rng, slot_s = self.table, self.rng, self.catalogue.policy.slot_s
        lo, hi = t.book_ahead_s
        booked = []
        for s in sessions:
            if not s["service"].bookable or rng.random() >= t.booked_p:
                continue
            seen = self.at(s["start"])
            slot = int(seen // slot_s * slot_s)
            made = slot - rng.uniform(lo, hi)
            if made < 1.0:
                continue
            s["booking"] = len(self.requests)
            booked.append(s)
            self._request(made, s["service"].id, slot)
        keys = Counter((r.service, r.slot) for r in self.requests)
        bookable = [x for x in self.catalogue.services.values() if x.bookable]
        full = rng.sample(booked, min(t.full_slots, len(booked)))
        for s in full:  # slots filled past capacity
            key = (s["service"].id, int(self.at(s["start"]) // slot_s * slot_s))
            last = max(r.at_s for r in self.requests if (r.service, r.slot) == key)
            extra = self.catalogue.capacity(s["service"]) - keys[key] + 2
            for n in range(extra):
                self._request(last + 1.0 + n, key[0], key[1])
            keys[key] += extra
        for _ in range(t.no_shows):
            slot = int(rng.uniform(4 * 3600, self.period_s - slot_s) // slot_s * slot_s)
            self._request(slot - rng.uniform(lo, hi) if slot > hi + 1 else slot - lo, rng.choice(bookable).id, slot)
        others = [s for s in booked if not any(s is f for f in full)]  # an early user's booking moves: not a full one
        picks = rng.sample(others, min(len(others), t.twice + t.mistyped + t.early))
        twice, mistyped, early = picks[:t.twice], picks[t.twice:t.twice + t.mistyped], picks[t.twice + t.mistyped:]
        for s in booked:
            if any(s is e for e in early):
                self._typed.append((0.0, s["kiosk"], s["start"] - 0.5, -1 - s["booking"]))  # placed below
                continue
            if any(s is m for m in mistyped):
                self._typed.append((self.at(s["start"] - 0.5), s["kiosk"], s["start"] - 0.5, MISTYPED))
            self._typed.append((self.at(s["start"]), s["kiosk"], s["start"], s["booking"]))
            if any(s is w for w in twice):
                self._typed.append((self.at(s["end"] + 0.5), s["kiosk"], s["end"] + 0.5, s["booking"]))
        self._early_slots(early)

    def _early_slots(self, early: list[dict]) -> None:
        """An early user's booking is for a slot more than ``early_s`` after the kiosk sees the code."""
        slot_s, early_s = self.catalogue.policy.slot_s, self.catalogue.policy.early_s
        fixed = []
        for at_s, kiosk, own, ref in self._typed:
            if isinstance(ref, int) and ref < 0:
                index = -1 - ref
                seen = self.at(own)
                slot = int((seen + early_s) // slot_s * slot_s) + slot_s
                request = self.requests[index]
                self.requests[index] = Request(min(request.at_s, slot - 3600.0), request.phone, request.service,
                                               slot, 0)
                fixed.append((seen, kiosk, own, index))
            else:
                fixed.append((at_s, kiosk, own, ref))
        self._typed = fixed

    def _request(self, made: float, service: str, slot: int) -> None:
        self.requests.append(Request(max(1.0, made), "", service, slot, 0))

    def _supplies(self, sessions: list[dict]) -> None:
        """After each session the kiosk reports its supplies; the technician's round refills one at or below
        ``ROUND_AT``. The paper-out kiosk's round is missed once after ``paper_out_after_s``: its paper runs down to
        the catalogue's threshold (a ticket), and the technician refills it ``refill_after_s`` later."""
        t, low = self.table, self.catalogue.policy.low.get("paper", 0)
        out_kiosk = self.kiosks[t.paper_out_kiosk - 1] if 0 < t.paper_out_kiosk <= len(self.kiosks) else None
        for kiosk in self.kiosks:
            level = {"paper": 100.0, "card": 100.0}
            state = "waiting" if kiosk == out_kiosk else "never"  # waiting → missed → ticket → over
            refill_at = None
            for s in sorted((x for x in sessions if x["kiosk"] == kiosk), key=lambda x: x["end"]):
                when = s["end"] + 1.0
                if state == "ticket" and when >= refill_at:
                    level["paper"], state = 100.0, "over"
                if s["data"]["outcome"] == "done":
                    level["paper"] = max(0.0, level["paper"] - PAPER_PER_SESSION)
                    if s["service"].category in CARD_CATEGORIES:
                        level["card"] = max(0.0, level["card"] - CARD_PER_SESSION)
                if level["card"] <= ROUND_AT["card"]:
                    level["card"] = 100.0
                if level["paper"] <= ROUND_AT["paper"]:
                    if state == "waiting" and when >= t.paper_out_after_s:
                        state = "missed"
                    if state == "missed" and level["paper"] <= low:
                        state, refill_at = "ticket", when + t.refill_after_s
                        self.truth.tickets += 1
                        self.messages.append((self.at(refill_at), kiosk, refill_at, EventKind.KIOSK_SUPPLIES,
                                              {"paper": 100.0}))
                        self.truth.figures["kiosk.tickets_withdrawn"] = 1.0
                    elif state not in ("missed", "ticket"):
                        level["paper"] = 100.0
                self.messages.append((self.at(when), kiosk, when, EventKind.KIOSK_SUPPLIES,
                                      {"paper": round(level["paper"], 1), "card": round(level["card"], 1)}))

    def _heartbeats(self) -> None:
        quiet = self.table.heartbeat_s
        own = defaultdict(list)
        for _, device, t, _, _ in self.messages:
            own[device].append(t)
        for s_at, kiosk, t, _ in self._typed:
            own[kiosk].append(t)
        for kiosk in self.kiosks:
            times = sorted(own[kiosk]) + [self.end_s]
            last = 0.0
            for t in times:
                while t - last > quiet:
                    last += quiet
                    self.messages.append((self.at(last), kiosk, last, EventKind.HEARTBEAT, {}))
                last = max(last, t)

    def _number(self) -> None:
        """Phones chosen for the requests (none holding ``max_per_phone`` or the same slot), seqs per device."""
        policy, rng = self.catalogue.policy, self.rng
        order = sorted(range(len(self.requests)), key=lambda i: (self.at(self.requests[i].at_s), i))
        held: dict[str, list[tuple[int, str, int]]] = defaultdict(list)  # phone → (slot end, service, slot)
        for i in order:
            r = self.requests[i]
            seen = self.at(r.at_s)
            for phone in rng.sample(self.phones, len(self.phones)):
                mine = held[phone] = [h for h in held[phone] if h[0] > seen]
                if len(mine) < policy.max_per_phone - 1 and all((s, sl) != (r.service, r.slot) for _, s, sl in mine):
                    break
            else:
                raise ValueError("no_shows: not enough phones to book with")
            mine.append((r.slot + policy.slot_s, r.service, r.slot))
            self.requests[i] = Request(r.at_s, phone, r.service, r.slot, 0)
        stream = [(self.at(at), device, own, kind, data) for at, device, own, kind, data in self.messages]
        stream += [(self.at(r.at_s), r.phone, r.at_s, EventKind.KIOSK_BOOK, {"index": i})
                   for i, r in enumerate(self.requests)]
        stream += [(at, kiosk, own, EventKind.KIOSK_CODE, {"ref": ref}) for at, kiosk, own, ref in self._typed]
        stream.sort(key=lambda m: (m[2], m[1]))
        seqs: Counter = Counter()
        self.events: list[tuple[float, str, DeviceMessage]] = []
        for at, device, own, kind, data in stream:
            seqs[device] += 1
            seq = seqs[device]
            if kind is EventKind.KIOSK_BOOK:
                r = self.requests[data["index"]]
                self.requests[data["index"]] = Request(r.at_s, r.phone, r.service, r.slot, seq)
                data = {"service": r.service, "hall": self.hall, "slot": r.slot}
            elif kind is EventKind.KIOSK_CODE:
                if isinstance(data["ref"], int):
                    self.typings.append(Typing(at, device, seq, own, data["ref"]))
                data = {"code": data["ref"] if isinstance(data["ref"], str) else "0"}
            self.events.append((at, device, make_message(kind, seq=seq, ts=int(own * 1000), data=data)))
        self.events.sort(key=lambda e: e[0])
