"""The kiosk hall at a host (engine/hosting/kiosk_domain.py): sessions and the theory exam, bookings by phone and
their codes, no-shows, consumables' tickets, the figures at the desk, and a restart that keeps the bookings."""

from __future__ import annotations

import pytest

from engine.citygen import CitySpec
from engine.errors import JournalUnavailable
from engine.journal import MemoryJournal
from protocols.kinds import AckStatus, IncidentKind, Level
from protocols.kiosk import KioskFigures, KioskQueue, QueueRow
from tests.engine.helpers import Pair

T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC, the start of a slot
SLOT = 1800
TWO_HALLS = CitySpec(precincts=1, communities=2, schools=0, kiosk_halls=2, volunteers=4, doors_per_community=2,
                     cameras_per_community=1, residents_per_door=2, seed=3)


def _pair(spec: CitySpec = TWO_HALLS, **kw) -> Pair:
    return Pair(spec, now_s=T0, **kw)


def _devices(pair: Pair, kind: str) -> list[str]:
    return sorted(d.id for d in pair.city.devices.values() if d.kind == kind)


def _hall_of(pair: Pair, kiosk: str) -> str:
    return pair.city.devices[kiosk].site_id


def _commands(pair: Pair, device: str) -> list[tuple[str, dict]]:
    return [(c.command, c.args) for c in pair.host.device_commands if c.device_id == device]


def _nak(result) -> str:
    [ack] = result.acks
    assert ack.status is AckStatus.NAK
    return ack.reason


def _book(pair: Pair, phone: str, hall: str, slot: float, service: str = "ee.passport_first"):
    result = pair.send(phone, "kiosk.book", {"service": service, "hall": hall, "slot": int(slot)})
    assert result.refused == 0, result.acks
    return _commands(pair, phone)[-1]


def test_the_city_has_kiosk_halls_with_kiosks():
    pair = _pair()
    kiosks = _devices(pair, "kiosk")
    halls = {_hall_of(pair, k) for k in kiosks}
    assert len(halls) == 2 and all(pair.city.sites[h].kind == "kiosk_hall" for h in halls)


def test_a_slot_takes_its_capacity_and_refuses_the_next_as_overbooked():
    pair = _pair()
    hall = _hall_of(pair, _devices(pair, "kiosk")[0])
    phones = _devices(pair, "resident_phone") + _devices(pair, "volunteer_phone")
    slot = T0 + 4 * SLOT
    codes = set()
    for phone in phones[:6]:
        command, args = _book(pair, phone, hall, slot)
        assert command == "kiosk.booked" and args["slot"] == slot and args["until"] == slot + SLOT
        codes.add(args["code"])
    assert len(codes) == 6
    assert _book(pair, phones[6], hall, slot) == ("kiosk.book.refused", {
        "reason": "overbooked", "service": "ee.passport_first", "hall": hall, "slot": int(slot)})
    assert _book(pair, phones[6], hall, slot + SLOT)[0] == "kiosk.booked"  # the next slot has room
    again = _book(pair, phones[0], hall, slot)  # a retried booking gets its booking back, no second one
    assert again[0] == "kiosk.booked" and again[1]["code"] in codes
    figures = pair.host.ask(KioskFigures(hall=hall), now_s=pair.now_s)
    assert figures.bookings == 7


def test_a_phone_holds_a_bounded_number_of_bookings_until_their_slots_end():
    pair = _pair()
    hall = _hall_of(pair, _devices(pair, "kiosk")[0])
    phone = _devices(pair, "resident_phone")[0]
    for n in range(4):
        assert _book(pair, phone, hall, T0 + (n + 1) * SLOT)[0] == "kiosk.booked"
    assert _book(pair, phone, hall, T0 + 9 * SLOT)[1]["reason"] == "too_many"
    pair.advance(T0 + 2 * SLOT)  # the first slot ended (a no-show): room for one more
    assert _book(pair, phone, hall, T0 + 9 * SLOT)[0] == "kiosk.booked"
    assert _book(pair, phone, hall, T0 + 10 * SLOT)[1]["reason"] == "too_many"


def test_bookings_refused_by_reason_and_bad_requests_naming_the_field():
    pair = _pair()
    hall = _hall_of(pair, _devices(pair, "kiosk")[0])
    phone = _devices(pair, "resident_phone")[0]
    assert _book(pair, phone, hall, T0 + SLOT, "nothing")[1]["reason"] == "unknown_service"
    assert _book(pair, phone, hall, T0 + SLOT, "vd.fine_payment")[1]["reason"] == "not_bookable"
    assert _book(pair, phone, hall, T0 - SLOT)[1]["reason"] == "past"
    assert _book(pair, phone, hall, T0 + 30 * 86_400)[1]["reason"] == "too_far"
    reason = _nak(pair.send(phone, "kiosk.book", {"service": "ee.passport_first", "hall": hall, "slot": int(T0) + 60}))
    assert reason.startswith("data.slot:")
    reason = _nak(pair.send(phone, "kiosk.book", {"service": "ee.passport_first", "hall": "K9", "slot": int(T0)}))
    assert reason.startswith("data.hall:")


def test_a_code_is_checked_at_a_kiosk_of_its_hall_in_its_slot_once():
    pair = _pair()
    kiosks = _devices(pair, "kiosk")
    here = kiosks[0]
    elsewhere = next(k for k in kiosks if _hall_of(pair, k) != _hall_of(pair, here))
    slot = T0 + 2 * SLOT
    code = _book(pair, _devices(pair, "resident_phone")[0], _hall_of(pair, here), slot)[1]["code"]

    def typed(kiosk: str, typed_code: str = code) -> tuple[str, dict]:
        assert pair.send(kiosk, "kiosk.code", {"code": typed_code}).refused == 0
        return _commands(pair, kiosk)[-1]

    assert typed(here, "00000000" if code != "00000000" else "11111111")[1]["reason"] == "unknown"
    assert typed(here)[1] == {"code": code, "reason": "too_early"}
    pair.advance(slot - 900)  # the policy takes a code 15 minutes early
    assert typed(elsewhere)[1]["reason"] == "wrong_hall"
    assert typed(here) == ("kiosk.code.ok", {"code": code, "service": "ee.passport_first", "slot": int(slot)})
    assert typed(here)[1]["reason"] == "used"
    late = _book(pair, _devices(pair, "resident_phone")[1], _hall_of(pair, here), slot)[1]["code"]
    pair.host.advance(now_s=slot + SLOT - 0.5)
    pair.now_s = slot + SLOT  # the slot's end is due but not yet run: the code is too late
    assert pair.send(here, "kiosk.code", {"code": late}).refused == 0
    assert _commands(pair, here)[-1][1]["reason"] == "too_late"


def test_a_slot_that_ends_with_bookings_unused_counts_no_shows_and_forgets_them():
    pair = _pair()
    kiosk = _devices(pair, "kiosk")[0]
    hall = _hall_of(pair, kiosk)
    phones = _devices(pair, "resident_phone")
    slot = T0 + SLOT
    codes = [_book(pair, phone, hall, slot)[1]["code"] for phone in phones[:3]]
    pair.advance(slot + 60)
    pair.send(kiosk, "kiosk.code", {"code": codes[0]})
    assert _commands(pair, kiosk)[-1][0] == "kiosk.code.ok"
    pair.advance(slot + SLOT)
    figures = pair.host.ask(KioskFigures(hall=hall, day="2026-01-01"), now_s=pair.now_s)
    assert (figures.bookings, figures.codes_taken, figures.no_shows) == (3, 1, 2)
    pair.send(kiosk, "kiosk.code", {"code": codes[1]})
    assert _commands(pair, kiosk)[-1][1]["reason"] == "unknown"  # forgotten with its slot


def test_sessions_and_the_theory_exam_are_counted_per_day_service_and_category():
    pair = _pair()
    kiosk = _devices(pair, "kiosk")[0]
    hall = _hall_of(pair, kiosk)
    sessions = [("vd.theory_exam", "done", 2400, "passed", 95), ("vd.theory_exam", "done", 2000, "passed", 89),
                ("vd.theory_exam", "done", 2600, "passed", 90), ("hh.move_in", "done", 500, "passed", None),
                ("hh.move_in", "abandoned", 100, "failed", None), ("ee.passport_renewal", "failed", 300, "skipped", None)]
    for service, outcome, duration, face, score in sessions:
        data = {"service": service, "outcome": outcome, "duration_s": duration, "face_check": face}
        if score is not None:
            data["score"] = score
        assert pair.send(kiosk, "kiosk.session", data).refused == 0
    figures = pair.host.ask(KioskFigures(hall=hall, day="2026-01-01"), now_s=pair.now_s)
    assert figures.served == 4 and figures.sessions == 6
    assert figures.served_by_service == {"vd.theory_exam": 3, "hh.move_in": 1}
    assert figures.served_by_category == {"vehicles": 3, "household": 1}
    assert figures.served_by_day == {"2026-01-01": 4}
    assert figures.outcomes == {"done": 4, "abandoned": 1, "failed": 1}
    assert figures.average_session_s == 7900 / 6
    assert (figures.exam_passed, figures.exam_failed, figures.face_failed) == (2, 1, 1)
    assert figures.exam_pass_rate == 2 / 3
    assert pair.host.ask(KioskFigures(day="2026-01-02"), now_s=pair.now_s).sessions == 0


def test_a_session_naming_what_the_catalogue_lacks_is_refused_by_field():
    pair = _pair()
    kiosk = _devices(pair, "kiosk")[0]
    cases = [({"service": "hh.nothing", "outcome": "done"}, "data.service:"),
             ({"service": "hh.move_in", "outcome": "ok"}, "data.outcome:"),
             ({"service": "hh.move_in", "outcome": "done", "face_check": "maybe"}, "data.face_check:"),
             ({"service": "hh.move_in", "outcome": "done", "score": 50}, "data.score:"),
             ({"service": "vd.theory_exam", "outcome": "done"}, "data.score:")]
    for data, field in cases:
        assert _nak(pair.send(kiosk, "kiosk.session", data)).startswith(field)
    assert pair.host.ask(KioskFigures(), now_s=pair.now_s).sessions == 0


def _tickets(pair: Pair, kiosk: str) -> list:
    return [r for r in pair.host.incidents.values() if r.device_id == kiosk and r.kind is IncidentKind.KIOSK_FAULT]


def test_a_low_supply_opens_one_maintenance_ticket_withdrawn_when_refilled():
    pair = _pair()
    kiosk = _devices(pair, "kiosk")[0]
    pair.send(kiosk, "kiosk.supplies", {"paper": 60, "card": 50})
    assert _tickets(pair, kiosk) == []
    pair.send(kiosk, "kiosk.supplies", {"paper": 12})
    [ticket] = _tickets(pair, kiosk)
    assert ticket.level is Level.MAINTENANCE and "paper 12%" in ticket.timeline[0].note
    for data in ({"paper": 8}, {"paper": 5, "card": 3}, {"card": 60}):
        pair.send(kiosk, "kiosk.supplies", data)
        assert [t.id for t in _tickets(pair, kiosk)] == [ticket.id] and _tickets(pair, kiosk)[0].repeats == 0
    figures = pair.host.ask(KioskFigures(hall=_hall_of(pair, kiosk)), now_s=pair.now_s)
    assert figures.open_tickets == 1
    pair.send(kiosk, "kiosk.supplies", {"paper": 100})
    assert _tickets(pair, kiosk) == []  # withdrawn
    assert pair.host.ask(KioskFigures(), now_s=pair.now_s).open_tickets == 0
    pair.send(kiosk, "kiosk.supplies", {"card": 2})
    [again] = _tickets(pair, kiosk)
    assert again.id != ticket.id


def test_a_refill_leaves_a_ticket_a_fault_joined_open():
    pair = _pair()
    kiosk = _devices(pair, "kiosk")[0]
    pair.send(kiosk, "kiosk.supplies", {"paper": 3})
    pair.send(kiosk, "kiosk.fault", {"code": "printer_jam"})
    [ticket] = _tickets(pair, kiosk)
    assert ticket.repeats == 1
    pair.send(kiosk, "kiosk.supplies", {"paper": 90})
    assert [t.id for t in _tickets(pair, kiosk)] == [ticket.id]


def test_kiosk_sos_goes_to_the_station():
    pair = _pair()
    kiosk = _devices(pair, "kiosk")[0]
    result = pair.send(kiosk, "kiosk.sos")
    record = pair.host.incidents[result.acks[0].incident_id]
    assert record.level is Level.POLICE_STATION and record.priority == 1


def test_a_restart_keeps_bookings_figures_and_supplies():
    journal = MemoryJournal()
    pair = _pair(journal=journal)
    kiosk = _devices(pair, "kiosk")[0]
    hall = _hall_of(pair, kiosk)
    phones = _devices(pair, "resident_phone")
    slot = T0 + SLOT
    codes = [_book(pair, phone, hall, slot)[1]["code"] for phone in phones[:2]]
    pair.send(kiosk, "kiosk.session", {"service": "hh.move_in", "outcome": "done", "duration_s": 400})
    pair.send(kiosk, "kiosk.supplies", {"paper": 4})
    pair.restart()
    pair.advance(slot)
    pair.send(kiosk, "kiosk.code", {"code": codes[0]})
    assert _commands(pair, kiosk)[-1][0] == "kiosk.code.ok"
    pair.restart()
    pair.send(kiosk, "kiosk.code", {"code": codes[0]})
    assert _commands(pair, kiosk)[-1][1]["reason"] == "used"
    pair.advance(slot + SLOT)  # the slot's end was armed again by the restart
    figures = pair.host.ask(KioskFigures(hall=hall), now_s=pair.now_s)
    assert (figures.bookings, figures.codes_taken, figures.no_shows, figures.served) == (2, 1, 1, 1)
    pair.send(kiosk, "kiosk.supplies", {"paper": 90})
    assert _tickets(pair, kiosk) == []


def test_a_step_the_journal_refuses_keeps_no_booking_and_a_refused_slot_end_fires_again():
    pair = _pair()
    kiosk = _devices(pair, "kiosk")[0]
    hall = _hall_of(pair, kiosk)
    phones = _devices(pair, "resident_phone")
    slot = T0 + SLOT
    code = _book(pair, phones[0], hall, slot)[1]["code"]
    pair.journal.fail_writes = OSError(28, "No space left on device")
    with pytest.raises(JournalUnavailable):
        pair.send(phones[1], "kiosk.book", {"service": "ee.passport_first", "hall": hall, "slot": int(slot)})
    assert _commands(pair, phones[1]) == []  # nothing said of a booking the journal does not hold
    assert pair.host.ask(KioskFigures(hall=hall), now_s=pair.now_s).bookings == 1
    with pytest.raises(JournalUnavailable):
        pair.advance(slot + SLOT)
    pair.journal.fail_writes = None
    pair.advance(slot + SLOT + 1)
    assert pair.host.ask(KioskFigures(hall=hall), now_s=pair.now_s).no_shows == 1
    pair.send(kiosk, "kiosk.code", {"code": code})
    assert _commands(pair, kiosk)[-1][1]["reason"] == "unknown"


def test_the_halls_queue_of_bookings_lists_slots_not_ended_soonest_first_without_codes():
    pair = _pair()
    kiosk = _devices(pair, "kiosk")[0]
    hall = _hall_of(pair, kiosk)
    other = next(_hall_of(pair, k) for k in _devices(pair, "kiosk") if _hall_of(pair, k) != hall)
    phones = _devices(pair, "resident_phone")
    code = _book(pair, phones[0], hall, T0 + SLOT)[1]["code"]
    _book(pair, phones[1], hall, T0 + SLOT)
    _book(pair, phones[2], hall, T0 + SLOT, "vd.theory_exam")
    _book(pair, phones[3], hall, T0)
    _book(pair, phones[4], other, T0)
    pair.advance(T0 + SLOT)
    pair.send(kiosk, "kiosk.code", {"code": code})
    queue = pair.host.ask(KioskQueue(hall), now_s=pair.now_s)
    assert queue.rows == [QueueRow(int(T0 + SLOT), "ee.passport_first", 2, 1, 6),
                          QueueRow(int(T0 + SLOT), "vd.theory_exam", 1, 0, 6)]  # the slot at T0 has ended
    assert pair.host.ask(KioskQueue(hall, limit=1), now_s=pair.now_s).more == 1


def test_codes_typed_at_a_kiosk_and_a_phones_bookings_are_rate_limited():
    pair = _pair()
    kiosk = _devices(pair, "kiosk")[0]
    hall = _hall_of(pair, kiosk)
    phone = _devices(pair, "resident_phone")[0]
    for n in range(10):
        assert pair.send(kiosk, "kiosk.code", {"code": f"{n:08d}"}).refused == 0
        assert pair.send(phone, "kiosk.book", {"service": "nothing", "hall": hall, "slot": int(T0)}).refused == 0
    assert _nak(pair.send(kiosk, "kiosk.code", {"code": "12345678"})).startswith("kind: too many kiosk.code")
    assert _nak(pair.send(phone, "kiosk.book", {"service": "nothing", "hall": hall, "slot": int(T0)})).startswith(
        "kind: too many kiosk.book")
    pair.advance(T0 + 60)
    assert pair.send(kiosk, "kiosk.code", {"code": "12345678"}).refused == 0


def test_a_kiosk_guessing_booking_codes_is_locked_out_after_twenty_wrong_in_an_hour_even_for_a_booked_code():
    pair = _pair()
    kiosk = _devices(pair, "kiosk")[0]
    hall = _hall_of(pair, kiosk)
    code = _book(pair, _devices(pair, "resident_phone")[0], hall, T0)[1]["code"]
    for n in range(20):
        pair.now_s = T0 + 7 * n  # within the ten a minute
        assert pair.send(kiosk, "kiosk.code", {"code": f"{n:08d}"}).refused == 0  # told kiosk.code.refused
    locked = _nak(pair.send(kiosk, "kiosk.code", {"code": code}))
    assert locked == "data.code: 20 wrong codes at this kiosk in the last hour: no code taken here for 3467 s"
    assert not [c for c in _commands(pair, kiosk) if c[0] == "kiosk.code.ok"]
    assert [(r.actor, r.outcome) for r in pair.journal.audit_rows() if r.action == "kiosk.code"] == [
        (kiosk, "locked_out")]
