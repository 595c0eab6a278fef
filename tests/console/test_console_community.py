"""The community view, the notice composer and the grid filter in the system Chromium (issue 15): a station opens
its community in the Sites tab and sees a visitor call ring, then end denied (and counted in its grid's figures); a
door open; opens another remotely (refused without a reason, then audited with it); posts a notice to one
building (an unknown building refused by name), sees its receipt when the door screen reports it shown, withdraws it;
the grid filter narrows the site list and the incident queue to one zone; a community's guard room sees only its own
community, a grid worker its grid's."""

from __future__ import annotations

import pytest

from tests.console.sites_helpers import COMMUNITY, HALL, Devices, open_site, sites_console  # noqa: F401 - engine
from tests.console.test_browser import open_console, row, shot
from tests.console.test_console_layout import wait_until

pytestmark = [pytest.mark.ray, pytest.mark.browser]

DOOR1 = "#community-doors tr[data-door='C0001-door1']"


def js(selector: str, test: str = "") -> str:
    """An expression true once ``selector`` matches (and its element passes ``test``, written with ``e``)."""
    return f"() => {{ const e = document.querySelector({selector!r}); return !!e{' && (' + test + ')' if test else ''}; }}"


def test_a_station_sees_a_call_ring_and_end_a_door_open_and_posts_and_withdraws_a_notice(browser, sites_console):  # noqa: F811
    devices = Devices(sites_console)
    page = open_site(browser, sites_console, "p1", COMMUNITY, DOOR1)
    assert page.text_content(f"{DOOR1} .door-state") == "closed"
    assert page.locator("#kiosk-view").is_hidden() and "P1 north-east grid" in page.text_content("#community-place")

    devices.send("C0001-door1", "door.visitor", {"unit": "1", "snapshot": "snap/d1.jpg"})
    wait_until(page, js("#community-calls tr[data-outcome='open'] .outcome", "e.textContent === 'ringing'"))
    call = page.get_attribute("#community-calls tr[data-outcome='open']", "data-call")
    devices.send("C0001-u1-r1-phone", "visitor.answer", {"call": call, "answer": "deny"})
    wait_until(page, js(f"#community-calls tr[data-call='{call}'][data-outcome='denied'] .by",
                        "e.textContent === 'C0001-u1-r1'"))
    assert page.text_content("#community-figures dd[data-figure='denied']") == "1"
    wait_until(page, js("#grid-figures tr.community[data-id='C0001'] .visitor_calls", "e.textContent === '1'"))
    assert page.text_content("#grid-figures tr.grid[data-id='P1-north-east-grid'] .visitor_calls") == "1"
    devices.send("C0001-door1", "door.opened", {"open": True})
    wait_until(page, js(f"{DOOR1} .door-state", "e.textContent.startsWith('open since')"))
    devices.send("C0001-door1", "door.opened", {"open": False})
    page.click("#community-doors tr[data-door='C0001-door2'] button.open-door")  # no reason: refused by name
    wait_until(page, js("#toast.bad", "e.textContent.startsWith('open C0001-door2: refused')"))
    page.fill("#open-door-reason", "courier for unit 2, resident called the guard room")
    page.click("#community-doors tr[data-door='C0001-door2'] button.open-door")
    wait_until(page, js("#toast:not(.bad)", "e.textContent === 'open C0001-door2: done'"))
    assert any(r.actor == "p1" and r.target == "C0001-door2" and "courier for unit 2" in r.reason
               for r in sites_console.engine.audit_rows(50))

    page.wait_for_selector("#notices-panel:not([hidden])", timeout=10_000)
    page.fill("#notice-text", "Water off in building 1 from 14:00 to 16:00")
    page.select_option("#notice-to", "buildings")
    page.fill("#notice-targets", "9")
    page.click("#notice-post")
    wait_until(page, js("#notice-result", "e.dataset.code === 'unknown_building'"))
    assert "buildings: no building '9'" in page.text_content("#notice-result")
    page.fill("#notice-targets", "1")
    page.click("#notice-post")
    wait_until(page, js("#notice-result", "e.dataset.code === 'ok'"))
    notice = "#community-notices tr.notice-active"
    wait_until(page, js(f"{notice} .receipts", "e.textContent === '0 shown / 1 pending'"))  # door 1's screen only
    assert "buildings 1" in page.text_content(notice)
    devices.send("C0001-door1", "notice.shown", {"notice": page.get_attribute(notice, "data-notice")})
    wait_until(page, js(f"{notice} .receipts", "e.textContent === '1 shown / 0 pending'"))
    wait_until(page, js("#community-figures dd[data-figure='notices_in_force']", "e.textContent === '1'"))
    shot(page, "community-view")
    page.click(f"{notice} button.withdraw")
    wait_until(page, js("#community-notices tr.notice-withdrawn"))
    assert page.query_selector(notice) is None
    assert page.errors == []


def test_the_grid_filter_narrows_the_sites_and_the_queue_and_a_guard_or_grid_worker_sees_its_own_only(browser, sites_console):  # noqa: F811
    devices = Devices(sites_console)
    forced = devices.send("C0001-door2", "door.forced", {}).acks[0].incident_id  # P1 north-east grid
    panic = devices.send("S0001-panic1", "school.panic", {}).acks[0].incident_id  # P1 north-west grid
    page = open_console(browser, sites_console, "p1")
    page.wait_for_selector(row(forced), timeout=10_000)
    page.wait_for_selector(row(panic), timeout=10_000)
    page.select_option("#grid-filter", "P1 north-west grid")
    wait_until(page, f"() => !document.querySelector(\"{row(forced)}\")")
    assert page.query_selector(row(panic)) is not None
    page.click("#tab-sites")
    assert [b.get_attribute("data-site") for b in page.query_selector_all("#sites-list button")] == [HALL]
    page.select_option("#grid-filter", "")
    assert [b.get_attribute("data-site") for b in page.query_selector_all("#sites-list button")] == [COMMUNITY, HALL]
    page.click("#tab-incidents")
    page.wait_for_selector(row(forced), timeout=5_000)
    guard = open_site(browser, sites_console, "cguard", COMMUNITY, DOOR1)
    assert [b.get_attribute("data-site") for b in guard.query_selector_all("#sites-list button")] == [COMMUNITY]
    worker = open_console(browser, sites_console, "gw")  # a grid worker of C0001's grid: its sites only
    worker.click("#tab-sites")
    assert [b.get_attribute("data-site") for b in worker.query_selector_all("#sites-list button")] == [COMMUNITY]
    worker.wait_for_selector("#grid-figures tr.grid[data-id='P1-north-east-grid']", timeout=10_000)
    assert worker.query_selector("#grid-figures tr[data-id='P1-north-west-grid']") is None
    assert page.errors == [] and guard.errors == [] and worker.errors == []
