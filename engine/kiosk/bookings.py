"""Bookings made by phone at a kiosk hall: slots of the policy's length (starting at multiples of it, UTC) with a
capacity per hall, service and slot; a code the resident types at a kiosk of the hall; a slot that ends with a
booking unused counts a no-show. Pure: the host's part (``engine/hosting/kiosk_domain.py``) journals each booking as
a snapshot and times each booked slot's end.

Refusals are reasons, not errors (the phone is answered with them): ``BookRefusal`` and ``CodeRefusal``."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from enum import StrEnum

from msgspec import Struct, structs

from engine.kiosk.catalogue import Catalogue


class BookRefusal(StrEnum):
    OVERBOOKED = "overbooked"
    """The slot is full for the service at the hall (or the host keeps its most bookings)."""
    UNKNOWN_SERVICE = "unknown_service"
    NOT_BOOKABLE = "not_bookable"
    PAST = "past"
    """The slot has ended."""
    TOO_FAR = "too_far"
    """The slot starts further ahead than the policy's ``book_ahead_days``."""
    TOO_MANY = "too_many"
    """The phone holds the policy's ``max_per_phone`` bookings already."""


class CodeRefusal(StrEnum):
    UNKNOWN = "unknown"
    WRONG_HALL = "wrong_hall"
    TOO_EARLY = "too_early"
    TOO_LATE = "too_late"
    USED = "used"


class Booking(Struct, frozen=True, array_like=True):
    code: str
    hall: str
    service: str
    slot_s: int
    """Start of the slot (epoch seconds)."""
    phone: str
    made_s: float
    used_s: float | None = None

    @property
    def slot_key(self) -> str:
        return slot_key(self.hall, self.service, self.slot_s)


def slot_key(hall: str, service: str, slot_s: int) -> str:
    return f"{hall}|{service}|{slot_s}"


def new_code() -> str:
    return f"{secrets.randbelow(10**8):08d}"


class Bookings:
    def __init__(self, catalogue: Catalogue, *, make_code: Callable[[], str] = new_code) -> None:
        self.catalogue = catalogue
        self.make_code = make_code
        self.by_code: dict[str, Booking] = {}
        self.per_slot: dict[str, list[str]] = {}  # slot key → codes booked
        self.per_phone: dict[str, int] = {}

    def load(self, bookings: Iterable[Booking]) -> None:
        self.by_code, self.per_slot, self.per_phone = {}, {}, {}
        for booking in bookings:
            self._keep(booking)

    def slot_end_s(self, slot_s: int) -> int:
        return slot_s + self.catalogue.policy.slot_s

    def booked(self, hall: str, service: str, slot_s: int) -> int:
        return len(self.per_slot.get(slot_key(hall, service, slot_s), ()))

    def book(self, service_id: str, hall: str, slot_s: int, phone: str, now_s: float) -> Booking | BookRefusal:
        """A booking, or why not. ``slot_s`` is a slot's start (the caller checked it is one). The same phone
        booking the same slot again is given its booking back (a retried request)."""
        policy = self.catalogue.policy
        service = self.catalogue.services.get(service_id)
        if service is None:
            return BookRefusal.UNKNOWN_SERVICE
        if not service.bookable:
            return BookRefusal.NOT_BOOKABLE
        if self.slot_end_s(slot_s) <= now_s:
            return BookRefusal.PAST
        if slot_s > now_s + policy.book_ahead_days * 86_400:
            return BookRefusal.TOO_FAR
        key = slot_key(hall, service_id, slot_s)
        codes = self.per_slot.get(key, [])
        for code in codes:
            if self.by_code[code].phone == phone:
                return self.by_code[code]
        if self.per_phone.get(phone, 0) >= policy.max_per_phone:
            return BookRefusal.TOO_MANY
        if len(codes) >= self.catalogue.capacity(service) or len(self.by_code) >= policy.max_bookings:
            return BookRefusal.OVERBOOKED
        code = self.make_code()
        while code in self.by_code:
            code = self.make_code()
        booking = Booking(code, hall, service_id, slot_s, phone, now_s)
        self._keep(booking)
        return booking

    def check(self, code: str, hall: str, now_s: float) -> Booking | CodeRefusal:
        """Whether ``code`` typed at a kiosk of ``hall`` is taken now (nothing changes)."""
        booking = self.by_code.get(code)
        if booking is None:
            return CodeRefusal.UNKNOWN
        if booking.hall != hall:
            return CodeRefusal.WRONG_HALL
        if booking.used_s is not None:
            return CodeRefusal.USED
        if now_s < booking.slot_s - self.catalogue.policy.early_s:
            return CodeRefusal.TOO_EARLY
        if now_s >= self.slot_end_s(booking.slot_s):
            return CodeRefusal.TOO_LATE
        return booking

    def use(self, code: str, now_s: float) -> Booking:
        booking = structs.replace(self.by_code[code], used_s=now_s)
        self.by_code[code] = booking
        return booking

    def slot_passed(self, key: str) -> list[Booking]:
        """The slot ended: its bookings are forgotten; returned, the used and the unused (no-shows)."""
        gone = [self.by_code.pop(code) for code in self.per_slot.pop(key, ()) if code in self.by_code]
        for booking in gone:
            left = self.per_phone.get(booking.phone, 0) - 1
            if left > 0:
                self.per_phone[booking.phone] = left
            else:
                self.per_phone.pop(booking.phone, None)
        return gone

    def _keep(self, booking: Booking) -> None:
        self.by_code[booking.code] = booking
        self.per_slot.setdefault(booking.slot_key, []).append(booking.code)
        self.per_phone[booking.phone] = self.per_phone.get(booking.phone, 0) + 1
