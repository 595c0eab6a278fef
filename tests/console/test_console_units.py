"""The dispatch recommendation in the system Chromium: a station's operator selects a P1 panic and asks for units;
the nearest volunteer still available is listed with its distance, the one the engine already offered it to is
listed as busy, in words from the server's labels."""

from __future__ import annotations

import time

import pytest

from protocols.batch import Ingest
from protocols.device import make_message
from tests.console.test_browser import panic, row
from tests.console.test_console_layout import open_at, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.browser]

M_LAT = 1 / 111_195.0


def test_the_station_sees_the_recommended_units_with_distances_and_reasons(browser, console):  # noqa: F811
    box = console.city.devices[console.device_in("P1")]
    phones = sorted(d.id for d in console.city.devices.values()
                    if d.kind == "volunteer_phone" and d.precinct_id == "P1")[:2]
    now_ms = int(time.time() * 1000)
    for n, phone in enumerate(phones, start=1):  # 100 m and 200 m north of the school's panic box
        console.engine.ingest([
            Ingest(phone, make_message("patrol.start", seq=1, ts=now_ms)),
            Ingest(phone, make_message("patrol.position", seq=2, ts=now_ms, data={
                "lat": box.lat + 100 * n * M_LAT, "lon": box.lon, "accuracy_m": 5.0}))])
    page = open_at(browser, console, "p1")
    incident = panic(console, "P1")  # a P1: offered at once to the nearest phone
    page.wait_for_selector(row(incident), timeout=10_000)
    page.click(row(incident))
    page.click("#act-units")
    page.wait_for_selector("#units li.chosen", timeout=10_000)
    chosen = page.locator("#units li.chosen").all_inner_texts()
    assert len(chosen) == 1 and phones[1] in chosen[0] and "Volunteer" in chosen[0] and " m" in chosen[0]
    wait_until(page, f"() => [...document.querySelectorAll('#units li.passed')].some(li => "
                     f"li.textContent.includes('{phones[0]}'))")
    passed = next(t for t in page.locator("#units li.passed").all_inner_texts() if phones[0] in t)
    assert "busy" not in passed and "offered" not in passed  # labels, not the wire values
    assert "100 m" in passed or "99 m" in passed or "101 m" in passed
    assert page.errors == []
