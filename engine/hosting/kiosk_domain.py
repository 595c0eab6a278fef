"""The unmanned police station's kiosk halls as one domain of a host (``engine/hosting/domain.py``): the sessions
kiosks report (``kiosk.session``, counted per day, service and category, with the theory exam's pass or fail), the
bookings phones make (``kiosk.book``) and the codes typed at kiosks (``kiosk.code``), no-shows when a booked slot
ends (timer kind ``kiosk.slot``), and consumables (``kiosk.supplies``): a maintenance ticket (a ``kiosk.fault``
incident) once when a supply goes low, withdrawn when it is refilled. ``kiosk.fault`` itself (a report) and
``kiosk.sos`` (an alarm to the station's chain, ``engine/default_policies.toml``) are the core's.

The catalogue of services and the hall's policy: ``engine/kiosk/default_services.toml``. Everything this domain
keeps is in the journal's snapshots (``engine/hosting/kiosk_rows.py``), so a restart or a refused step keeps the
bookings, the day figures and the supplies' state.

A booking is held by the host of the phone that makes it, for a hall of that host: a phone booking a hall another
host holds is refused naming ``data.hall``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from engine.entities import DeviceEntity, SeqVerdict
from engine.hosting.domain import Assembly
from engine.hosting.intake import Route
from engine.hosting import kiosk_rows as rows
from engine.hosting.kiosk_health import hall_health
from engine.hosting.phone_limits import WrongCodes
from engine.hosting.staging import JournalStaging
from engine.incident import DeviceCommand, system_cancel
from engine.journal import Journal
from engine.kiosk.bookings import Booking, Bookings
from engine.kiosk.catalogue import Catalogue, default_catalogue
from engine.kiosk.figures import DayFigures, HallFigures
from engine.kiosk.supplies import low_supplies
from engine.policy import PolicySet
from engine.scheduler import DeadlineScheduler
from engine.topology import City
from protocols import EventKind
from protocols.device import DeviceMessage
from protocols.kinds import AckStatus, IncidentKind, SiteKind
from protocols.kiosk import (KioskFigures, KioskFiguresAnswer, KioskHealth, KioskQueue, KioskQueueAnswer,
                             QueueRow)

SLOT_END: Final = "kiosk.slot"
OUTCOMES: Final = ("done", "abandoned", "failed")
FACE_CHECKS: Final = ("passed", "failed", "skipped")


def _nak(reason: str) -> SeqVerdict:
    return SeqVerdict(AckStatus.NAK, reason)


class KioskDomain:
    def __init__(self, city: City, *, staging: JournalStaging, send: Callable[[DeviceCommand, float], None],
                 policies: PolicySet, catalogue: Catalogue | None = None,
                 devices: Callable[[], Mapping[str, DeviceEntity]] = dict) -> None:
        self.city = city
        self.staging = staging
        self._send = send
        self.policies = policies
        self.catalogue = catalogue or default_catalogue()
        self.halls = frozenset(s.id for s in city.sites.values() if s.kind is SiteKind.KIOSK_HALL)
        self.bookings = Bookings(self.catalogue)
        self.wrong = WrongCodes()
        """The kiosks' refused booking codes, for the lockout (``engine/hosting/phone_limits.WrongCodes``)."""
        self.figures = HallFigures()
        self.low: dict[str, rows.LowRow] = {}
        self.levels: dict[str, rows.LevelsRow] = {}
        """Kiosk → its supplies at its last report (the hall's health)."""
        self._devices = devices
        """The host's device entities now (the roster is made anew by a rebuild): whether a kiosk is online."""
        self._scheduler: DeadlineScheduler | None = None
        self._store = None

    # -- the domain ----------------------------------------------------------------------------------

    def assemble(self, *, scheduler: DeadlineScheduler, store) -> Assembly:
        self._scheduler, self._store = scheduler, store
        self._arm()
        return Assembly(
            routes={EventKind.KIOSK_SESSION: Route(self.session), EventKind.KIOSK_BOOK: Route(self.book),
                    EventKind.KIOSK_CODE: Route(self.code),
                    EventKind.KIOSK_SUPPLIES: Route(self.supplies, newest_only=True)},
            timers={SLOT_END: self},
            desk=({KioskFigures: lambda request, now_s: self.answer(request.hall, request.day),
                   KioskQueue: lambda request, now_s: self.queue(request.hall, request.limit),
                   KioskHealth: lambda request, now_s: self.health(request.hall)},))

    def snapshotted(self) -> tuple:
        return (self,)

    def load(self, snapshots: dict[str, bytes] | Journal) -> None:
        """From the journal's snapshots (a start, or a rebuild after a refused step); the domain's ``load(journal)``
        has nothing more to read."""
        if not isinstance(snapshots, dict):
            return
        kept = rows.read(snapshots)
        self.bookings.load(kept.bookings)
        self.figures.load(kept.days)
        self.low = kept.low
        self.levels = kept.levels
        self._arm()

    def statistics(self) -> dict[str, Any]:
        """Nothing in ``HostStats`` yet: the hall's figures are asked at the desk (``KioskFigures``)."""
        return {}

    def _arm(self) -> None:
        if self._scheduler is None:
            return
        for key, codes in self.bookings.per_slot.items():
            if codes:
                booking = self.bookings.by_code[codes[0]]
                self._scheduler.schedule((SLOT_END, key), self.bookings.slot_end_s(booking.slot_s))

    # -- sessions ------------------------------------------------------------------------------------

    def session(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> SeqVerdict | None:
        data = message.data
        service = self.catalogue.services.get(data.service)
        if service is None:
            return _nak(f"data.service: unknown service {data.service!r} (not in the kiosk catalogue)")
        if data.outcome not in OUTCOMES:
            return _nak(f"data.outcome: expected one of {', '.join(OUTCOMES)}, got {data.outcome!r}")
        if data.face_check not in FACE_CHECKS:
            return _nak(f"data.face_check: expected one of {', '.join(FACE_CHECKS)}, got {data.face_check!r}")
        if data.score is not None and not service.exam:
            return _nak(f"data.score: service {service.id!r} has no exam")
        passed = None
        if service.exam and data.outcome == "done":
            if data.score is None:
                return _nak(f"data.score: required for the exam {service.id!r} when it is done")
            passed = data.score >= self.catalogue.policy.pass_mark
        row = self._day(entity.device.site_id or "", now_s)
        self.figures.session(row, service=service.id, outcome=data.outcome, duration_s=data.duration_s,
                             face_failed=data.face_check == "failed", passed=passed)
        self._stage_day(row)
        return None

    # -- bookings ------------------------------------------------------------------------------------

    def book(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> SeqVerdict | None:
        data = message.data
        if data.hall not in self.halls:
            return _nak(f"data.hall: no kiosk hall {data.hall!r} here")
        slot_s = self.catalogue.policy.slot_s
        if data.slot % slot_s:
            return _nak(f"data.slot: {data.slot} is not the start of a slot (slots are {slot_s} s from "
                        f"multiples of {slot_s})")
        phone = entity.device.id
        known = len(self.bookings.by_code)
        outcome = self.bookings.book(data.service, data.hall, data.slot, phone, now_s)
        if not isinstance(outcome, Booking):
            self._refused(data.hall, now_s, "book_refused", outcome.value)
            self._send(DeviceCommand(phone, "kiosk.book.refused", {
                "reason": outcome.value, "service": data.service, "hall": data.hall, "slot": data.slot}), now_s)
            return None
        if len(self.bookings.by_code) > known:  # a new booking (a retried one is answered again)
            self._stage_booking(outcome)
            row = self._day(outcome.hall, outcome.slot_s)
            row.bookings += 1
            self._stage_day(row)
            assert self._scheduler is not None
            self._scheduler.schedule((SLOT_END, outcome.slot_key), self.bookings.slot_end_s(outcome.slot_s))
        self._send(DeviceCommand(phone, "kiosk.booked", {
            "code": outcome.code, "slot": outcome.slot_s, "until": self.bookings.slot_end_s(outcome.slot_s),
            "hall": outcome.hall, "service": outcome.service}), now_s)
        return None

    def code(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> SeqVerdict | None:
        code, kiosk = message.data.code, entity.device
        hall = kiosk.site_id or ""
        locked = self.wrong.refusal(kiosk.id, now_s, "kiosk")
        if locked is not None:  # a kiosk guessing codes: none taken, right or wrong, for the rest of the hour
            self._refused(hall, now_s, "code_refused", "locked_out")
            return SeqVerdict(AckStatus.NAK, locked)
        verdict = self.bookings.check(code, hall, now_s)
        if not isinstance(verdict, Booking):
            self._refused(hall, now_s, "code_refused", verdict.value)
            self._send(DeviceCommand(kiosk.id, "kiosk.code.refused", {"code": code, "reason": verdict.value}), now_s)
            if self.wrong.refused(kiosk.id, now_s):
                self.staging.audit(now_s, kiosk.id, "kiosk.code", hall, "locked_out", role="kiosk", scope=hall,
                                   reason=f"{self.wrong.per_window} wrong codes within the hour: no code taken for "
                                          f"{self.wrong.locked_for_s(kiosk.id, now_s)} s")
            return None
        booking = self.bookings.use(code, now_s)
        self._stage_booking(booking)
        row = self._day(booking.hall, booking.slot_s)
        row.codes_taken += 1
        self._stage_day(row)
        self._send(DeviceCommand(kiosk.id, "kiosk.code.ok", {
            "code": code, "service": booking.service, "slot": booking.slot_s}), now_s)
        return None

    def deadline(self, key: str, due_s: float, at_s: float) -> int:
        """A booked slot ended: its bookings are forgotten, the unused ones counted as no-shows."""
        gone = self.bookings.slot_passed(key)
        if not gone:
            return 0
        for booking in gone:
            self.staging.snapshot(rows.BOOKING + booking.code, None)
        no_shows = sum(1 for b in gone if b.used_s is None)
        if no_shows:
            row = self._day(gone[0].hall, gone[0].slot_s)
            row.no_shows += no_shows
            self._stage_day(row)
        return 1

    # -- consumables ---------------------------------------------------------------------------------

    def supplies(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> SeqVerdict | None:
        device, data = entity.device, message.data
        before = self.low.get(device.id)
        was = frozenset(before.supplies) if before else frozenset()
        levels = {"paper": data.paper, "card": data.card}
        last = self.levels.get(device.id)
        kept = rows.LevelsRow(data.paper if data.paper is not None else (last.paper if last else None),
                              data.card if data.card is not None else (last.card if last else None), now_s)
        self.levels[device.id] = kept
        self.staging.snapshot(rows.LEVELS + device.id, rows.encode(kept))
        low = low_supplies(levels, self.catalogue.policy.low, was)
        if low == was:
            return None
        store = self._store
        if not low:
            assert before is not None
            del self.low[device.id]
            self.staging.snapshot(rows.LOW + device.id, None)
            record = store.get(before.incident)
            if before.own and record is not None and record.is_active and record.repeats == before.repeats:
                policy = self.policies.for_incident(record.kind, device.kind)
                updated, effects = system_cancel(record, reason="supplies refilled", policy=policy, now_s=now_s)
                store.store(updated, record, effects, now_s)
            return None
        if before is None:
            note = "supplies low: " + ", ".join(f"{s} {levels[s]:g}%" for s in sorted(low) if levels.get(s) is not None)
            existing = store.open_id(device.id, IncidentKind.KIOSK_FAULT)
            incident_id = store.raise_or_repeat(device, IncidentKind.KIOSK_FAULT, now_s, seq=message.seq, note=note,
                                                incident_id=f"{device.id}/supplies#{message.seq}")
            row = rows.LowRow(sorted(low), incident_id, store.get(incident_id).repeats, existing is None)
        else:
            row = rows.LowRow(sorted(low), before.incident, before.repeats, before.own)
        self.low[device.id] = row
        self.staging.snapshot(rows.LOW + device.id, rows.encode(row))
        return None

    # -- figures -------------------------------------------------------------------------------------

    def answer(self, hall: str | None, day: str | None) -> KioskFiguresAnswer:
        """The figures of ``hall`` (None: every hall here) on ``day`` (None: every day kept). Changes nothing."""
        services = self.catalogue.services
        total: dict[str, Any] = {"served_by_day": {}, "served_by_service": {}, "served_by_category": {},
                                 "outcomes": {}, "book_refused": {}, "code_refused": {}}
        numbers = ("sessions", "session_s", "face_failed", "exam_passed", "exam_failed", "bookings", "codes_taken",
                   "no_shows")
        for name in numbers:
            total[name] = 0
        for row in self.figures.select(hall, day):
            for name in numbers:
                total[name] += getattr(row, name)
            for service, n in row.served.items():
                category = services[service].category if service in services else ""
                for into, key in (("served_by_day", row.day), ("served_by_service", service),
                                  ("served_by_category", category)):
                    total[into][key] = total[into].get(key, 0) + n
            for into in ("outcomes", "book_refused", "code_refused"):
                for key, n in getattr(row, into).items():
                    total[into][key] = total[into].get(key, 0) + n
        served = sum(total["served_by_service"].values())
        return KioskFiguresAnswer(hall, day, served=served, open_tickets=self._open_tickets(hall), **total)

    def queue(self, hall: str, limit: int) -> KioskQueueAnswer:
        """The hall's booked slots not ended yet, soonest first (codes are never shown)."""
        rows = []
        for codes in self.bookings.per_slot.values():
            booked = [self.bookings.by_code[c] for c in codes]
            if not booked or booked[0].hall != hall:
                continue
            first = booked[0]
            service = self.catalogue.services.get(first.service)
            rows.append(QueueRow(first.slot_s, first.service, len(booked),
                                 sum(1 for b in booked if b.used_s is not None),
                                 self.catalogue.capacity(service) if service else 0))
        rows.sort(key=lambda r: (r.slot, r.service))
        return KioskQueueAnswer(hall, rows[:limit], more=max(0, len(rows) - limit))

    def health(self, hall: str):
        """The health of ``hall``'s kiosks (``engine/hosting/kiosk_health.py``). Changes nothing."""
        return hall_health(hall, city=self.city, halls=self.halls, entities=self._devices(), levels=self.levels,
                           low=self.low, store=self._store)

    def _open_tickets(self, hall: str | None) -> int:
        if self._store is None:
            return 0
        halls = self.halls if hall is None else {hall}
        return sum(1 for r in self._store.open_incidents()
                   if r.kind is IncidentKind.KIOSK_FAULT and r.site_id in halls and r.host_id == self._store.host_id)

    # -- inside --------------------------------------------------------------------------------------

    def _day(self, hall: str, t_s: float) -> DayFigures:
        row, dropped = self.figures.of(hall, t_s)
        for gone_hall, gone_day in dropped:
            self.staging.snapshot(rows.day_key(gone_hall, gone_day), None)
        return row

    def _refused(self, hall: str, now_s: float, into: str, reason: str) -> None:
        row = self._day(hall, now_s)
        counts = getattr(row, into)
        counts[reason] = counts.get(reason, 0) + 1
        self._stage_day(row)

    def _stage_day(self, row: DayFigures) -> None:
        self.staging.snapshot(rows.day_key(row.hall, row.day), rows.encode(row))

    def _stage_booking(self, booking: Booking) -> None:
        self.staging.snapshot(rows.BOOKING + booking.code, rows.encode(booking))


__all__ = ["KioskDomain", "SLOT_END"]
