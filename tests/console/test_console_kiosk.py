"""The kiosk hall view in the system Chromium (issue 15): a station opens its hall in the Sites tab and sees each
kiosk's health, the queue of bookings and today's figures change as the kiosks and phones report: a supplies report
below the threshold marks the kiosk low with a maintenance ticket, a refill clears it; a booking joins the queue; a
session done counts as served in its category."""

from __future__ import annotations

import math
import time

import pytest

from engine.kiosk.catalogue import default_catalogue
from tests.console.sites_helpers import HALL, Devices, open_site, sites_console  # noqa: F401 - the module's engine
from tests.console.test_browser import shot
from tests.console.test_console_layout import wait_until

pytestmark = [pytest.mark.ray, pytest.mark.browser]

KIOSK = "K0001-kiosk1"
ROW = f"#kiosk-health tr[data-kiosk='{KIOSK}']"


def text_is(selector: str, text: str) -> str:
    return f"() => document.querySelector({selector!r})?.textContent === {text!r}"


def test_a_station_sees_its_kiosk_halls_health_queue_and_served_today_change(browser, sites_console):  # noqa: F811
    devices = Devices(sites_console)
    page = open_site(browser, sites_console, "p1", HALL, ROW)
    assert page.locator("#community-view").is_hidden()
    assert page.locator("#kiosk-health tr").count() == 3
    assert page.text_content(f"{ROW} .tickets") == "none"

    devices.send(KIOSK, "kiosk.supplies", {"paper": 5.0, "card": 80.0})
    wait_until(page, text_is(f"{ROW} .paper", "5% (low)"))
    wait_until(page, text_is(f"{ROW} .tickets", "1 open"))
    assert page.text_content(f"{ROW} .card") == "80%" and page.text_content(f"{ROW} .kiosk-state") == "online"
    assert "low" in page.get_attribute(ROW, "class")
    wait_until(page, text_is("#kiosk-figures dd[data-figure='open_tickets']", "1"))
    shot(page, "kiosk-hall-paper-low")

    catalogue = default_catalogue()
    service = next(s for s in catalogue.services.values() if s.bookable)
    slot = int(math.ceil(time.time() / catalogue.policy.slot_s) + 1) * catalogue.policy.slot_s
    devices.send("C0001-u1-r1-phone", "kiosk.book", {"service": service.id, "hall": HALL, "slot": slot})
    queued = f"#kiosk-queue tr[data-slot='{slot}'][data-service='{service.id}']"
    wait_until(page, f"() => document.querySelector({queued!r} + ' .booked')?.textContent === "
                     f"'1 / {catalogue.capacity(service)}'")
    assert service.name in page.text_content(queued)

    done = next(s for s in catalogue.services.values() if not s.exam)
    served = f"#kiosk-served tr[data-category='{done.category}'] td.num"
    before = int(page.text_content(served))
    devices.send("K0001-kiosk2", "kiosk.session", {"service": done.id, "outcome": "done", "duration_s": 240.0,
                                                   "face_check": "passed"})
    wait_until(page, text_is(served, str(before + 1)))
    assert page.text_content("#kiosk-figures dd[data-figure='served']") == str(before + 1)
    assert page.text_content("#kiosk-figures dd[data-figure='average_session_s']") != "—"

    devices.send(KIOSK, "kiosk.supplies", {"paper": 95.0})  # refilled: the ticket is withdrawn
    wait_until(page, text_is(f"{ROW} .paper", "95%"))
    wait_until(page, text_is(f"{ROW} .tickets", "none"))
    assert "low" not in (page.get_attribute(ROW, "class") or "")
    shot(page, "kiosk-hall")
    assert page.errors == []
