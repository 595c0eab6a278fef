"""A kiosk hall's health at the desk (KioskHealth: online, supplies' levels, open tickets and SOS) and the refusals
counted per reason in the hall's figures (bookings refused, codes refused), kept over a restart."""

from __future__ import annotations

from engine.citygen import CitySpec
from protocols.kiosk import KioskFigures, KioskHealth
from tests.engine.helpers import Pair

T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC
SLOT = 1800
HALL = CitySpec(precincts=1, communities=1, schools=0, kiosk_halls=1, kiosks_per_hall=3, volunteers=8,
                doors_per_community=1, cameras_per_community=0, residents_per_door=1, seed=5)


def _setup() -> tuple[Pair, str, list[str], list[str]]:
    pair = Pair(HALL, now_s=T0)
    kiosks = sorted(d.id for d in pair.city.devices.values() if d.kind == "kiosk")
    phones = sorted(d.id for d in pair.city.devices.values() if d.kind == "volunteer_phone")
    return pair, pair.city.devices[kiosks[0]].site_id, kiosks, phones


def test_the_halls_health_shows_online_supplies_tickets_and_sos_per_kiosk():
    pair, hall, kiosks, _ = _setup()
    health = pair.host.ask(KioskHealth(hall), now_s=pair.now_s)
    assert [k.kiosk for k in health.kiosks] == kiosks and all(k.online is None for k in health.kiosks)
    pair.send(kiosks[0], "kiosk.supplies", {"paper": 60.5, "card": 50})
    pair.send(kiosks[0], "kiosk.supplies", {"paper": 12})  # low: a ticket; the card keeps its level
    pair.send(kiosks[1], "heartbeat")
    pair.send(kiosks[2], "kiosk.sos")
    health = pair.host.ask(KioskHealth(hall), now_s=pair.now_s)
    first, second, third = health.kiosks
    assert (first.paper, first.card, first.supplies_at_s, first.low) == (12.0, 50.0, T0, ["paper"])
    assert len(first.tickets) == 1 and first.online and first.last_seen_s == T0 and first.label == "Kiosk 1"
    assert second.online and second.paper is None and second.tickets == [] == second.sos
    assert len(third.sos) == 1 and (health.online, health.open_tickets, health.open_sos) == (3, 1, 1)
    pair.advance(T0 + 600)  # nothing heard for 10 minutes: offline
    assert pair.host.ask(KioskHealth(hall), now_s=pair.now_s).online == 0
    pair.send(kiosks[0], "kiosk.supplies", {"paper": 100})  # refilled: the ticket withdrawn
    pair.restart()
    first = pair.host.ask(KioskHealth(hall), now_s=pair.now_s).kiosks[0]
    assert (first.paper, first.card, first.low, first.tickets) == (100.0, 50.0, [], [])
    assert pair.host.ask(KioskHealth("K9999"), now_s=pair.now_s).kiosks == []


def test_refused_bookings_and_codes_are_counted_per_reason_and_kept_over_a_restart():
    pair, hall, kiosks, phones = _setup()
    slot = int(T0 + 4 * SLOT)
    for phone in phones[:7]:  # capacity 6: the seventh overbooked
        pair.send(phone, "kiosk.book", {"service": "ee.passport_first", "hall": hall, "slot": slot})
    pair.send(phones[7], "kiosk.book", {"service": "ee.passport_first", "hall": hall, "slot": int(T0 - SLOT)})
    code = next(c.args["code"] for c in pair.host.device_commands if c.command == "kiosk.booked")
    pair.advance(slot)
    for typed in (code, code, "99999999" if code != "99999999" else "88888888"):
        pair.send(kiosks[0], "kiosk.code", {"code": typed})
    pair.restart()
    figures = pair.host.ask(KioskFigures(hall=hall), now_s=pair.now_s)
    assert figures.book_refused == {"overbooked": 1, "past": 1}
    assert figures.code_refused == {"used": 1, "unknown": 1} and figures.codes_taken == 1 and figures.bookings == 6
