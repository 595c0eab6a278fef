"""The console in the system Chromium, driven by Playwright, as duty officers would use it.
Screenshots of each view go to ``test-artifacts/console/``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from protocols.batch import Ingest
from protocols.console import LABELS
from protocols.device import make_message
from tests.console.conftest import ESCALATE_AFTER_S, PASSWORD

pytestmark = [pytest.mark.ray, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
def open_console(browser, console, name: str, width: int = 1500, height: int = 850, stale_after_ms: int | None = None,
                 settings: dict[str, int] | None = None):
    """A page logged in as ``name`` and live; page errors collected in ``page.errors`` (every browser test uses it).
    ``stale_after_ms``: the console's silence before it reconnects (5 s in the product); ``settings``: other timings of
    the console's a test shortens, each a ``window.REDBAND_*`` global set before the page loads (the audit tab's,
    the Sites tab's and the units map's refresh periods: ``REDBAND_AUDIT_LIVE_EVERY_MS``, ``REDBAND_SITES_REFRESH_MS``,
    ``REDBAND_UNIT_MAP_EVERY_MS``)."""
    # motion pinned on: a browser whose system asks for reduced motion would stop the pulses the tests check
    page = browser.new_page(viewport={"width": width, "height": height}, reduced_motion="no-preference")
    if stale_after_ms is not None:
        page.add_init_script(f"window.REDBAND_STALE_AFTER_MS = {int(stale_after_ms)};")
    for key, value in (settings or {}).items():
        page.add_init_script(f"window.{key} = {int(value)};")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(console.gateway.url)
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_selector("#status.live", timeout=10_000)
    page.errors = errors
    return page


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def computed(page, selector: str, prop: str) -> str:
    """A CSS property of the first element matching ``selector``, found and read in one evaluation: an element
    handle taken first may be a row or label the console has replaced since (detached, it reads as "")."""
    return page.evaluate("([s, p]) => { const e = document.querySelector(s); return e && getComputedStyle(e)[p]; }",
                         [selector, prop])


def row(incident_id: str) -> str:
    return f"#queue tbody tr[data-id='{incident_id}']"


def panic(console, precinct: str, seq: int = 1) -> str:
    box = console.device_in(precinct)
    return console.engine.ingest([Ingest(box, make_message("school.panic", seq=seq, ts=1))]).acks[0].incident_id


def test_a_station_sees_its_panic_at_once_and_acknowledges_with_one_key(browser, console):
    station_a, station_b = open_console(browser, console, "p1"), open_console(browser, console, "p2")
    incident = panic(console, "P1")
    station_a.wait_for_selector(row(incident), timeout=1_000)  # within 1 s of the alarm
    # the queue shows the labels the welcome carried (protocols/kinds.py), not the wire values
    assert station_a.text_content(f"{row(incident)} .state") == LABELS.states["raised"] == "Raised"
    assert station_a.text_content(f"{row(incident)} .kind") == LABELS.kinds["school.panic"] == "School panic"
    level = station_a.evaluate(f"window.redband.state.incidents.get('{incident}').level")
    assert station_a.text_content(f"{row(incident)} .level") == LABELS.levels[level]
    assert "School panic · Raised" in station_a.text_content("#detail-title")
    assert station_a.text_content(f"{row(incident)} .countdown").endswith("s")  # counting down
    assert "Police station: notified" in station_a.text_content("#chain")
    shot(station_a, "station-a-raised")
    station_a.keyboard.press("a")
    station_a.wait_for_selector(f"{row(incident)}.state-acknowledged", timeout=5_000)
    assert station_a.text_content(f"{row(incident)} .countdown") == "—"  # the countdown stopped
    assert "acknowledged by p1" in station_a.text_content("#chain")
    shot(station_a, "station-a-acknowledged")
    # station B never sees it, and its forged acknowledgement is refused (and audited)
    assert station_b.query_selector(row(incident)) is None
    station_b.evaluate(f"window.redband.send({{type: 'command', id: 99, action: 'acknowledge', incident: '{incident}'}})")
    station_b.wait_for_selector("#toast.bad", timeout=5_000)
    shot(station_b, "station-b-forged-ack-refused")
    assert station_b.query_selector(row(incident)) is None
    assert any(r.actor == "p2" and r.outcome == "refused" and r.target == incident
               for r in console.engine.audit_rows(100))
    assert station_a.errors == [] and station_b.errors == []


def test_the_command_center_sees_an_incident_escalate_and_its_audit(browser, console):
    cc = open_console(browser, console, "cc")
    incident = panic(console, "P2")
    cc.wait_for_selector(row(incident), timeout=10_000)
    cc.wait_for_selector(f"{row(incident)} .level:text-is('Command center')", timeout=(ESCALATE_AFTER_S + 5) * 1000)
    cc.click(row(incident))
    assert "Command center: notified" in cc.text_content("#chain")
    cc.wait_for_selector("#figures dt:text-is('Devices reporting')", timeout=5_000)  # the engine's counters
    # device health: the supervision's own numbers (read with the panel in one evaluation: a heartbeat redraws it)
    figures, shown = cc.evaluate("[window.redband.state.engine, document.getElementById('figures').textContent]")
    assert f"{figures['devices_online']} of {figures['devices_supervised']} supervised" in shown
    shot(cc, "command-center-escalated")
    cc.click("#tab-audit")
    cc.wait_for_selector("#audit:not([hidden]) td:text-is('escalated')", timeout=5_000)
    shot(cc, "command-center-audit")


def test_closing_needs_a_disposition_and_the_map_selects(browser, console):
    # the command center: no console of the guard room or station is open, so the P1 is escalated to it at once, and
    # a lower level may no longer close it
    page = open_console(browser, console, "cc")
    incident = panic(console, "P1")
    page.wait_for_selector(row(incident), timeout=10_000)
    page.click(f"#map .incident[data-id='{incident}']")
    for button in ("#act-acknowledge", "#act-resolve"):
        page.click(button)
        page.wait_for_selector("#toast:not(.bad)", timeout=5_000)
        page.evaluate("document.getElementById('toast').hidden = true")
    page.wait_for_selector(f"{row(incident)}.state-resolved", timeout=5_000)
    assert page.is_disabled("#act-close")  # no disposition yet
    shot(page, "close-without-disposition-disabled")
    page.fill("#disposition", "drill")
    page.click("#act-close")
    page.wait_for_selector("#confirm:not([hidden])", timeout=5_000)  # closing a P1 asks first
    page.click("#confirm-yes")
    page.wait_for_selector(row(incident), state="detached", timeout=5_000)  # closed: off the queue


def test_the_stale_banner_shows_when_the_server_goes_quiet_and_a_resync_matches_the_server(browser, console):
    page = open_console(browser, console, "p1", stale_after_ms=2_000)  # 5 s in the product; heartbeats every 1 s
    first = panic(console, "P1")
    page.wait_for_selector(row(first), timeout=10_000)
    console.gateway.pause()  # no deltas, no heartbeats
    kiosk = console.device_in("P1", "kiosk")
    console.engine.ingest([Ingest(kiosk, make_message("kiosk.sos", seq=1, ts=1))])
    page.wait_for_selector("#stale:not([hidden])", timeout=8_000)
    shot(page, "stale-banner")
    console.gateway.pause(False)
    page.wait_for_selector("#stale", state="hidden", timeout=15_000)
    page.wait_for_selector(row(f"{kiosk}#1"), timeout=5_000)
    deadline = time.monotonic() + 15
    while True:  # the queue on screen equals the server's open incidents for P1
        shown = set(page.evaluate("() => [...document.querySelectorAll('#queue tbody tr')].map(r => r.dataset.id)"))
        server = {r.id for r in console.gateway.incidents.values() if r.precinct_id == "P1" and r.is_open}
        if shown == server or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # polling the page against a deadline
    assert shown == server and len(server) == 2
    assert page.errors == []


def test_sound_needs_a_click_and_offline_devices_are_greyed(browser, console_supervised):
    console = console_supervised
    page = open_console(browser, console, "p1")
    assert page.is_visible("#sound-warning")  # the operator is told P1 alarms are silent for now
    page.click("#sound")
    page.wait_for_selector("#sound-warning", state="hidden", timeout=5_000)
    assert page.text_content("#sound") == "Sound on"
    kiosk = console.device_in("P1", "kiosk")
    console.engine.ingest([Ingest(kiosk, make_message("heartbeat", seq=1, ts=1))])  # then silence
    site = console.city.devices[kiosk].site_id  # one line per site with its offline devices
    page.wait_for_selector(f"#health li[data-site='{site}']:has-text('offline')", timeout=5_000)
    assert console.city.sites[site].name in page.text_content(f"#health li[data-site='{site}']")
    assert "offline" in page.get_attribute(f"#map .device[data-id='{kiosk}']", "class")
    shot(page, "device-health-offline")
    assert page.errors == []
