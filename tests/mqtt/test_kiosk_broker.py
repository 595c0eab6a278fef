"""Kiosk bookings through the real broker (issue 15): phones book a kiosk hall's slot with ``kiosk.book`` and get
``kiosk.booked`` with a code, the slot's next booking beyond its capacity is refused ``overbooked`` by name, and the
code typed at a kiosk of the hall is answered ``kiosk.code.ok`` once, then ``used``."""

from __future__ import annotations

import time

import pytest

from actors.engine_desk import ask_device_host
from protocols.kiosk import KioskFigures
from protocols.replies import decode_command
from tests.mqtt.helpers import Inbox, pub, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.mqtt]
SLOT_S = 1800


def message(seq: int, kind: str, **data) -> dict:
    return {"seq": seq, "ts": int(time.time() * 1000), "kind": kind, "data": data}


def test_phones_book_a_slot_up_to_its_capacity_and_the_code_is_taken_once_at_the_kiosk(broker, engine):
    kiosk = broker.device("kiosk", 0)
    hall = broker.city.devices[kiosk].site_id
    phones = sorted(d.id for d in broker.city.devices.values() if d.kind in ("resident_phone", "volunteer_phone"))
    assert len(phones) >= 7
    now = int(time.time())
    slot = now // SLOT_S * SLOT_S  # the slot under way, or the next when this one ends within 2 minutes: both
    if slot + SLOT_S - now < 120:  # take a code now (from 15 minutes before a slot until its end)
        slot += SLOT_S
    book = {"service": "ee.passport_first", "hall": hall, "slot": slot}
    first = Inbox(broker, phones[0], f"rb/v1/dev/{phones[0]}/cmd")
    last = Inbox(broker, phones[6], f"rb/v1/dev/{phones[6]}/cmd")
    kiosk_cmd = Inbox(broker, kiosk, f"rb/v1/dev/{kiosk}/cmd")
    assert first.subscribed and last.subscribed and kiosk_cmd.subscribed

    for phone in phones[:6]:
        assert pub(broker, phone, f"rb/v1/dev/{phone}/evt", message(1, "kiosk.book", **book)).returncode == 0
    booked = decode_command(first.read(1)[0])
    assert booked.cmd == "kiosk.booked" and booked.args["slot"] == slot and booked.args["hall"] == hall
    wait_until(lambda: ask_device_host(engine, kiosk, KioskFigures(hall=hall)).bookings == 6, timeout_s=20,
               what="six bookings at the hall")
    pub(broker, phones[6], f"rb/v1/dev/{phones[6]}/evt", message(1, "kiosk.book", **book))
    refused = decode_command(last.read(1)[0])
    assert (refused.cmd, refused.args["reason"]) == ("kiosk.book.refused", "overbooked")

    evt = f"rb/v1/dev/{kiosk}/evt"
    pub(broker, kiosk, evt, message(1, "kiosk.code", code=booked.args["code"]))
    ok = decode_command(kiosk_cmd.read(1)[0])
    assert (ok.cmd, ok.args["code"], ok.args["service"]) == ("kiosk.code.ok", booked.args["code"],
                                                             "ee.passport_first")
    pub(broker, kiosk, evt, message(2, "kiosk.code", code=booked.args["code"]))
    used = decode_command(kiosk_cmd.read(1)[0])
    assert (used.cmd, used.args["reason"]) == ("kiosk.code.refused", "used")
    assert ask_device_host(engine, kiosk, KioskFigures(hall=hall)).codes_taken == 1
