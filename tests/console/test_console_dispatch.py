"""The units layer and dispatch in the system Chromium: a station's operator sees its volunteers on the map in their
state's colour (an offered one unlike an available one, a stale one faded), selects a P2 door alarm, gets the
recommendation, offers it to the nearest unit, sees the dispatch "offered" with the cameras nearby, reassigns it to the
next unit and cancels it.

The engine keeps virtual time here (started at the wall clock), so a position can be made 400 s old without waiting:
the hosts' clocks are moved on by ``advance_to`` while the gateway and the browser run in real time."""

from __future__ import annotations

import time

import pytest

from engine.citygen import generate_city
from engine.operators import Role, load_operators
from engine.policy import default_policies
from protocols.batch import Ingest
from protocols.device import make_message
from redband.files import add_operator
from tests.console.conftest import PASSWORD, SPEC, Console, start_gateway
from tests.console.test_browser import row
from tests.console.test_console_layout import SCREENSHOTS, open_at, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.browser]

M_LAT = 1 / 111_195.0
STALE_AFTER_S = 400.0
UNIT_MAP_EVERY_MS = 1000
"""How often the units map is asked again here (3 s in the product): the test waits for three of its refreshes."""


@pytest.fixture
def virtual_console(ray_session, tmp_path):
    from actors.runtime import Engine, EngineOptions

    city = generate_city(SPEC)
    users = tmp_path / "users.toml"
    for name, role, scope in (("cc", Role.COMMAND_CENTER, ""), ("p1", Role.STATION, "P1")):
        add_operator(users, name=name, role=role, scope=scope, password=PASSWORD, city=city)
    start_s = time.time()
    engine = Engine(city, default_policies(), EngineOptions(precinct_hosts=1, realtime=False,
                                                           journal_dir=str(tmp_path / "journal"))).start(start_s=start_s)
    gateway = start_gateway(engine, load_operators(users, city=city))
    try:
        yield Console(engine, gateway, city, users), start_s
    finally:
        gateway.stop()
        engine.stop()


def patrol(console, phone: str, near, north_m: float, at_s: float) -> None:
    ts = int(at_s * 1000)
    result = console.engine.ingest([
        Ingest(phone, make_message("patrol.start", seq=1, ts=ts)),
        Ingest(phone, make_message("patrol.position", seq=2, ts=ts, data={
            "lat": near.lat + north_m * M_LAT, "lon": near.lon, "accuracy_m": 5.0}))])
    assert result.accepted == 2


def dot(unit: str) -> str:
    return f"document.querySelector(\"#unit-layer [data-id='{unit}']\")"


def test_a_station_sees_its_units_by_state_offers_a_p2_to_the_nearest_reassigns_and_cancels(browser, virtual_console):  # noqa: F811
    console, start_s = virtual_console
    door = console.city.devices[console.device_in("P1", "door")]
    stale, near, far = sorted(d.id for d in console.city.devices.values()
                              if d.kind == "volunteer_phone" and d.precinct_id == "P1")[:3]
    patrol(console, stale, door, 50.0, start_s)  # the nearest, but its position will be 400 s old
    console.engine.advance_to(start_s + STALE_AFTER_S)
    patrol(console, near, door, 100.0, start_s + STALE_AFTER_S)
    patrol(console, far, door, 250.0, start_s + STALE_AFTER_S)
    incident = console.engine.ingest([Ingest(door.id, make_message("door.forced", seq=1, ts=1))]).acks[0].incident_id

    page = open_at(browser, console, "p1", settings={"REDBAND_UNIT_MAP_EVERY_MS": UNIT_MAP_EVERY_MS})
    page.wait_for_selector(row(incident), timeout=10_000)
    wait_until(page, "document.querySelectorAll('#unit-layer .unit').length === 3")
    assert page.evaluate(f"{dot(stale)}.getAttribute('class')") == "unit s-available stale"
    assert page.evaluate(f"{dot(near)}.getAttribute('class')") == "unit s-available"
    assert float(page.evaluate(f"getComputedStyle({dot(stale)}).opacity")) < 0.5  # faded
    assert page.evaluate(f"getComputedStyle({dot(near)}).opacity") == "1"
    legend = page.text_content("#map-legend")  # in the server's words
    assert "unit available" in legend and "unit offered a task" in legend and "position stale" in legend
    page.wait_for_selector("#figures dt:text-is('Patrols under way')", timeout=10_000)

    page.click(row(incident))
    assert "P2" in page.text_content("#detail-kind")
    wait_until(page, "document.getElementById('dispatch-state').dataset.state === 'none'")
    page.click("#act-units")
    page.wait_for_selector("#units li.chosen button.offer", timeout=10_000)
    chosen = page.locator("#units li.chosen").all_inner_texts()
    assert [near in chosen[0], far in chosen[1]] == [True, True] and not any(stale in t for t in chosen)
    assert page.locator("#cameras li").count() >= 1  # the cameras within 200 m, or the word that there are none
    page.click(f"#units li.chosen button.offer[data-unit='{near}']")

    wait_until(page, f"document.getElementById('dispatch-state').dataset.state === 'offering' && "
                     f"document.getElementById('dispatch-state').dataset.unit === '{near}'")
    assert page.text_content("#dispatch-state").startswith("Offered a task: " + near)
    wait_until(page, f"{dot(near)}.getAttribute('class') === 'unit s-offered'")  # the map's next refresh
    fills = page.evaluate(f"[getComputedStyle({dot(near)}).fill, getComputedStyle({dot(far)}).fill]")
    assert fills[0] != fills[1]  # offered and available are told apart by colour
    assert page.is_enabled("#act-cancel-dispatch") and page.is_enabled("#act-reassign")
    page.screenshot(path=str(SCREENSHOTS / "station-dispatch.png"))

    assert page.text_content(f"#units li.chosen button.offer[data-unit='{far}']") == "Reassign here"
    page.click(f"#units li.chosen button.offer[data-unit='{far}']")
    wait_until(page, f"document.getElementById('dispatch-state').dataset.unit === '{far}'")
    wait_until(page, f"{dot(far)}.getAttribute('class') === 'unit s-offered' && "
                     f"{dot(near)}.getAttribute('class') === 'unit s-available'")
    page.fill("#dispatch-reason", "the guard checked: a false alarm")
    page.click("#act-cancel-dispatch")
    wait_until(page, "document.getElementById('dispatch-state').dataset.state === 'cancelled'")
    page.wait_for_selector("#toast:not(.bad)", timeout=5_000)
    wait_until(page, f"{dot(far)}.getAttribute('class') === 'unit s-available'")
    assert page.is_disabled("#act-cancel-dispatch")
    assert "OfferWithdrawn" in page.text_content("#dispatch-log")
    assert page.errors == []
