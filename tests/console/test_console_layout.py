"""The main console in the system Chromium, measured: element boxes at 1366×768 and 1920×1080 (no overlap, the
countdown column on screen, no page scroll), the queue's order and pulse, the actions each state allows, the keys,
inputs cleared on a new selection, reconnecting after silences, and the login screen after a 4001 close.
Screenshots of the command-center and station views go to ``test-artifacts/console/``; with
``REDBAND_SCREENSHOTS=docs`` to ``docs/screenshots/`` (how the docs' pictures are made), so a test run leaves the
working tree alone."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from protocols.batch import Ingest
from protocols.console import Logout
from protocols.device import make_message
from tests.console.client import ConsoleClient
from tests.console.conftest import PASSWORD
from tests.console.test_browser import computed, open_console, row

pytestmark = [pytest.mark.ray, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ("docs/screenshots" if os.environ.get("REDBAND_SCREENSHOTS") == "docs" else "test-artifacts/console")
PANELS = ("#queue-panel", "#detail-panel", "#side-panel")
ACTIONS = ("acknowledge", "dispatch", "on_scene", "resolve", "close", "cancel", "false_alarm", "hand_back")


def open_at(browser, console, name: str, width: int = 1366, height: int = 768, **kwargs):
    return open_console(browser, console, name, width, height, **kwargs)


def alarm(console, device: str, kind: str, seq: int = 1) -> str:
    return console.engine.ingest([Ingest(device, make_message(kind, seq=seq, ts=seq))]).acks[0].incident_id


def devices(console, kind: str) -> list[str]:
    return sorted(d.id for d in console.city.devices.values() if d.kind == kind)


def wait_until(page, expression: str, timeout_s: float = 10.0):
    """Poll a JavaScript expression until it is truthy, failing at the deadline (the console's CSP forbids the
    string evaluation ``page.wait_for_function`` relies on)."""
    deadline = time.monotonic() + timeout_s
    while not (value := page.evaluate(expression)):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout_s} s: {expression}")
        page.wait_for_timeout(100)  # polling against the deadline above
    return value


def box(page, selector: str) -> dict:
    """The first match's box on screen, found and measured in one evaluation: a handle taken first (as a locator's
    ``bounding_box`` takes one) may be a queue row the console has replaced since, which has no box."""
    found = page.evaluate("s => { const e = document.querySelector(s); "
                          "return e && JSON.parse(JSON.stringify(e.getBoundingClientRect())); }", selector)
    assert found is not None, f"{selector} has no box"
    return found


def overlaps(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def inside(inner: dict, outer: dict) -> bool:
    return (inner["x"] >= outer["x"] - 0.5 and inner["y"] >= outer["y"] - 0.5
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 0.5
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 0.5)


def queue_ids(page) -> list[str]:
    return page.eval_on_selector_all("#queue tbody tr", "rows => rows.map(r => r.dataset.id)")


def enabled(page) -> set[str]:
    """The action buttons enabled, read in one evaluation (a frame arriving between reads would mix two states)."""
    return set(page.evaluate("as => as.filter(a => !document.getElementById('act-' + a).disabled)", list(ACTIONS)))


def commands_sent(page) -> int:
    return page.evaluate("window.redband.state.nextId")


@pytest.mark.parametrize("width,height", [(1366, 768), (1920, 1080)])
def test_the_panels_fit_side_by_side_and_the_countdown_stays_on_screen(browser, console_supervised, width, height):
    console = console_supervised
    cc = open_at(browser, console, "cc", width, height)
    kiosk = devices(console, "kiosk")[0]
    console.engine.ingest([Ingest(kiosk, make_message("heartbeat", seq=1, ts=1))])  # then silence: offline
    panic = alarm(console, console.device_in("P1"), "school.panic")
    for n, door in enumerate(devices(console, "door")[:8]):
        alarm(console, door, "door.forced", seq=n + 1)
    offline = ("[...window.redband.state.incidents.values()]"
               f".find(i => i.kind === 'device.offline' && i.device_id === {kiosk!r})")
    wait_until(cc, f"!!{offline}", 10)
    long_id = cc.evaluate(f"{offline}.id")
    assert len(long_id) > 25  # "S0001-kiosk1#offline@1796235174516"
    cc.wait_for_selector(row(long_id), timeout=5_000)
    cc.click(row(panic))
    # device health: one line per site with open device.offline or site.offline incidents (read in one turn)
    lines, sites = cc.evaluate("""[[...document.querySelectorAll('#health li[data-site]')].map(l => l.dataset.site),
        [...window.redband.state.incidents.values()].filter(i => !isTerminal(i) &&
            ['device.offline', 'site.offline'].includes(i.kind)).map(i => i.site_id)]""")
    assert len(lines) == len(set(lines)) and set(lines) == set(sites)

    # the page itself does not scroll, either way; each panel scrolls on its own
    assert cc.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    assert cc.evaluate("document.documentElement.scrollHeight <= document.documentElement.clientHeight")
    for panel in PANELS:
        assert computed(cc, panel, "overflowY") == "auto"
        assert inside(box(cc, panel), {"x": 0, "y": 0, "width": width, "height": height})
    boxes = {panel: box(cc, panel) for panel in PANELS}
    for a, b in [(PANELS[0], PANELS[1]), (PANELS[0], PANELS[2]), (PANELS[1], PANELS[2])]:
        assert not overlaps(boxes[a], boxes[b]), (a, b, boxes)
    queue = box(cc, "#queue")
    assert queue["x"] + queue["width"] <= boxes["#detail-panel"]["x"]
    assert inside({**queue, "height": 1}, boxes["#queue-panel"])  # no wider than its panel

    # every row's Age and Escalates in cells are inside the queue's panel, the long id's row too (cells found and
    # measured in one evaluation: a row re-rendered between the two would measure as an empty box)
    cells = cc.evaluate("""() => [...document.querySelectorAll('#queue tbody td.age, #queue tbody td.countdown')]
        .map(c => ({box: JSON.parse(JSON.stringify(c.getBoundingClientRect())), cut: c.scrollWidth > c.clientWidth,
                    text: c.textContent}))""")
    assert cells
    for cell in cells:
        assert cell["box"]["x"] >= boxes["#queue-panel"]["x"]
        assert cell["box"]["x"] + cell["box"]["width"] <= boxes["#queue-panel"]["x"] + boxes["#queue-panel"]["width"]
    assert [c["text"] for c in cells if c["cut"]] == []  # ages and countdowns are read whole, never cut by an ellipsis
    countdown = f"{row(long_id)} td.countdown"
    cc.locator(countdown).scroll_into_view_if_needed()
    assert cc.is_visible(countdown)
    assert inside(box(cc, countdown), {"x": 0, "y": 0, "width": width, "height": height})
    assert inside(box(cc, countdown), box(cc, "#queue-panel"))
    # the long id: shortened in its row, whole in the tooltip and in the detail
    assert cc.get_attribute(row(long_id), "title") == long_id
    assert long_id not in cc.inner_text(row(long_id)) and "…" in cc.inner_text(row(long_id))
    cc.click(row(long_id))
    assert cc.text_content("#detail-id") == long_id
    selected = box(cc, "#queue tr.selected")
    assert inside({**selected, "height": 1}, boxes["#queue-panel"])  # never painted over another panel
    assert cc.errors == []

    if (width, height) == (1366, 768):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        cc.click(row(panic))
        cc.wait_for_selector("#figures dt:text-is('Devices reporting')", timeout=5_000)
        cc.screenshot(path=str(SCREENSHOTS / "command-center.png"))
        station = open_at(browser, console, "p1", width, height)
        station.wait_for_selector(row(panic), timeout=5_000)
        station.click(row(panic))
        station.screenshot(path=str(SCREENSHOTS / "station.png"))
        assert station.errors == []


def test_the_queue_puts_unacknowledged_first_then_priority_then_age_and_a_raised_p1_pulses(browser, console):
    cc = open_at(browser, console, "cc")
    older_p1 = alarm(console, console.device_in("P1"), "school.panic")
    cc.wait_for_selector(row(older_p1), timeout=5_000)
    door = alarm(console, console.device_in("P1", "door"), "door.forced")
    newer_p1 = alarm(console, console.device_in("P2"), "school.panic")
    for incident in (door, newer_p1):
        cc.wait_for_selector(row(incident), timeout=5_000)
    assert queue_ids(cc) == [older_p1, newer_p1, door]  # both P1s raised: the older first
    assert "pulse" in cc.get_attribute(row(older_p1), "class").split()
    assert computed(cc, f"{row(older_p1)} td", "animationName") == "rb-row-pulse"
    assert "pulse" not in cc.get_attribute(row(door), "class").split()  # a P2 does not pulse

    cc.click(row(older_p1))
    cc.keyboard.press("a")
    cc.wait_for_selector(f"{row(older_p1)}.state-acknowledged", timeout=5_000)
    # the acknowledged P1 goes below every unacknowledged incident, even a P2
    wait_until(cc, f"[...document.querySelectorAll('#queue tbody tr')].map(r => r.dataset.id).join() === "
                   f"{','.join([newer_p1, door, older_p1])!r}")
    assert "pulse" not in cc.get_attribute(row(older_p1), "class").split()
    # the row may be re-rendered under the check (a frame arrives): ask again until its cell has settled
    wait_until(cc, f"getComputedStyle(document.querySelector({row(older_p1) + ' td'!r})).animationName === 'none'")
    assert "pulse" in cc.get_attribute(row(newer_p1), "class").split()
    # ageing thresholds per priority, as the welcome's policies say
    ageing = cc.evaluate("window.redband.state.welcome.ageing")
    for priority, (warm, old) in ageing.items():
        ages = cc.evaluate(f"[{warm - 1}, {warm}, {old}].map(a => ageClass({{priority: {priority}}}, a))")
        assert ages == ["age-fresh", "age-warm", "age-old"], priority
    assert cc.errors == []


def test_only_the_actions_the_state_and_the_role_allow_are_enabled(browser, console):
    cc = open_at(browser, console, "cc")
    incident = alarm(console, console.device_in("P1"), "school.panic")
    cc.wait_for_selector(row(incident), timeout=5_000)
    cc.click(row(incident))
    assert enabled(cc) == {"acknowledge"}  # raised: no dispatch, no ending without a reason, no hand back yet
    cc.fill("#unit", "car 7")
    cc.fill("#disposition", "caller says it was a drill")
    assert enabled(cc) == {"acknowledge", "cancel", "false_alarm"}  # dispatch still needs an acknowledgement
    cc.select_option("#hand-back-level", "police_station")
    cc.fill("#hand-back-reason", "the station has it")
    assert "hand_back" in enabled(cc)
    cc.click(row(incident))  # the same incident: nothing is cleared
    assert cc.input_value("#unit") == "car 7"

    cc.click("#act-acknowledge")
    cc.wait_for_selector(f"{row(incident)}.state-acknowledged", timeout=5_000)
    cc.fill("#unit", "")
    assert "dispatch" not in enabled(cc)  # needs a unit
    cc.fill("#unit", "car 7")
    assert {"dispatch", "resolve", "cancel", "false_alarm"} <= enabled(cc)
    assert not {"acknowledge", "on_scene", "close"} & enabled(cc)

    cc.click("#act-resolve")
    cc.wait_for_selector(f"{row(incident)}.state-resolved", timeout=5_000)
    assert enabled(cc) == {"close"}  # resolved: only closing, with the disposition typed
    cc.fill("#disposition", "")
    assert enabled(cc) == set()
    cc.fill("#disposition", "drill")
    sent = commands_sent(cc)
    cc.click("#act-close")  # a P1: asked first, in the page
    cc.wait_for_selector("#confirm:not([hidden])", timeout=5_000)
    cc.click("#confirm-no")
    assert cc.is_hidden("#confirm") and commands_sent(cc) == sent
    cc.click("#act-close")
    cc.click("#confirm-yes")
    cc.wait_for_selector(row(incident), state="detached", timeout=5_000)  # closed: off the queue
    wait_until(cc, f"window.redband.state.incidents.get({incident!r}).state === 'closed'")
    assert "Closed" in cc.text_content("#detail-kind")
    assert enabled(cc) == set()  # nothing left to do on a closed incident
    assert cc.errors == []


def test_a_acknowledges_without_modifiers_only_and_inputs_clear_on_a_new_selection(browser, console):
    station = open_at(browser, console, "p1")
    assert station.is_hidden("#hand-back")  # the command center's only
    first = alarm(console, console.device_in("P1"), "school.panic")
    station.wait_for_selector(row(first), timeout=5_000)
    station.click(row(first))
    sent = commands_sent(station)
    for chord in ("Control+a", "Alt+a", "Meta+a", "Control+Shift+A"):
        station.keyboard.press(chord)
    station.click("#unit")
    station.keyboard.press("a")  # typing in a field is typing
    assert commands_sent(station) == sent
    assert station.input_value("#unit") == "a"
    assert "state-raised" in station.get_attribute(row(first), "class").split()

    second = alarm(console, console.device_in("P1", "door"), "door.forced")
    station.wait_for_selector(row(second), timeout=5_000)
    station.fill("#unit", "car 9")
    station.fill("#disposition", "wrong door")
    station.click(row(second))
    assert station.input_value("#unit") == "" and station.input_value("#disposition") == ""
    station.click(row(first))
    station.keyboard.press("a")
    station.wait_for_selector(f"{row(first)}.state-acknowledged", timeout=5_000)
    assert commands_sent(station) == sent + 1
    assert station.errors == []


def test_the_console_reconnects_after_each_silence_of_the_server(browser, console):
    page = open_at(browser, console, "p1", stale_after_ms=2_000)  # 5 s in the product; heartbeats every 1 s
    assert page.evaluate("STALE_AFTER_MS") == 2_000
    for n in (1, 2):
        console.gateway.pause()  # no heartbeats, no snapshot for a reconnecting console
        page.wait_for_selector("#stale:not([hidden])", timeout=10_000)
        # the reconnect itself gets only silence: it is given up and tried again, with the count shown
        wait_until(page, "window.redband.state.attempts >= 2", 20)
        assert "attempt" in page.text_content("#status")
        assert "live" not in page.get_attribute("#status", "class").split()
        console.gateway.pause(False)
        page.wait_for_selector("#status.live", timeout=20_000)
        page.wait_for_selector("#stale", state="hidden", timeout=5_000)
        incident = alarm(console, console.device_in("P1", "door"), "door.forced", seq=n)
        page.wait_for_selector(row(incident), timeout=5_000)  # live again: new changes arrive
    assert page.errors == []


def test_a_4001_close_returns_to_the_login_screen_with_its_reason_and_no_reconnect(browser, console):
    page = open_at(browser, console, "p1")
    token = page.evaluate("sessionStorage.getItem('redband.token')")
    other = ConsoleClient(console.ws, token)  # the same operator's token, elsewhere, logs out: every session ends
    try:
        other.until(lambda m: type(m).__name__ == "Snapshot", what="a snapshot")
        other.send(Logout())
    finally:
        other.close()
    page.wait_for_selector("#login:not([hidden])", timeout=10_000)
    assert page.is_hidden("#app")
    assert "logged out" in page.text_content("#login-error")
    assert page.evaluate("window.redband.state.ws") is None  # nothing reconnects
    assert page.evaluate("sessionStorage.getItem('redband.token')") is None

    page.fill("#username", "p1")  # and back in
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_selector("#status.live", timeout=10_000)
    page.click("#logout")  # the button: logout to the server, then the login screen
    page.wait_for_selector("#login:not([hidden])", timeout=5_000)
    assert "logged out" in page.text_content("#login-error")
    assert page.errors == []


def test_the_chain_shows_each_responders_delivery_and_the_timeline_reads_in_wall_clock_time(browser, console):
    station = open_at(browser, console, "p1")
    cc = open_at(browser, console, "cc")
    incident = alarm(console, console.device_in("P1"), "school.panic")
    station.wait_for_selector(row(incident), timeout=5_000)
    station.click(row(incident))
    police, guard = "#chain li[data-level='police_station']", "#chain li[data-level='guard_room']"
    station.wait_for_selector(f"{police} .step.delivered", timeout=5_000)  # this console's receipt
    station.wait_for_selector(f"{police} .step.seen", timeout=5_000)  # opened here
    assert station.query_selector(f"{police} .step.not-delivered") is None
    station.wait_for_selector(f"{guard} .step.not-delivered", timeout=5_000)  # no guard-room console is open
    red = computed(station, f"{guard} .step.not-delivered", "color")
    assert red == "rgb(255, 77, 79)"
    # every timeline line: wall-clock time and offset; the delivery lines among them
    raised_s = station.evaluate(f"window.redband.state.incidents.get({incident!r}).raised_s")
    # read in one evaluation: the timeline is redrawn with each change of the incident (its escalation, a receipt)
    clocks, offsets, count = station.evaluate("""() => [
        [...document.querySelectorAll('#timeline .clock')].map(c => c.textContent),
        [...document.querySelectorAll('#timeline .offset')].map(c => c.textContent),
        document.querySelectorAll('#timeline li').length]""")
    assert clocks[0] == time.strftime("%H:%M:%S", time.localtime(raised_s)) and offsets[0] == "+0s"
    assert len(clocks) == len(offsets) == count >= 4
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d", c) for c in clocks)
    assert all(re.fullmatch(r"\+(\d+m\d\ds|\d+s)", o) for o in offsets)
    for event in ("delivered", "seen", "not_delivered"):
        assert station.query_selector(f"#timeline li.ev-{event}") is not None, event
    # a run of reminders reads as one line with its count and its last time
    lines = station.evaluate("""(() => {
        const t = 1796000000, tl = [{t_s: t, event: "raised", level: null, target: "", actor: "x", note: ""}];
        for (let n = 1; n <= 7; n++)
            tl.push({t_s: t + 60 * n, event: "reminder", level: null, target: "", actor: "system", note: ""});
        tl.push({t_s: t + 500, event: "acknowledged", level: null, target: "", actor: "p1", note: ""});
        renderTimeline({raised_s: t, timeline: tl});
        const lines = [...document.querySelectorAll('#timeline li')].map(li => li.textContent);
        renderDetail();
        return lines; })()""")
    last = time.strftime("%H:%M:%S", time.localtime(1796000000 + 420))
    assert len(lines) == 3 and f"Reminder ×7, last {last}" in lines[1]

    # the command center hands it back down to the station, which may then end it
    cc.wait_for_selector(row(incident), timeout=5_000)
    cc.click(row(incident))
    assert cc.is_visible("#hand-back") and cc.is_disabled("#act-hand_back")
    cc.select_option("#hand-back-level", "police_station")
    cc.fill("#hand-back-reason", "the station is on it")
    cc.click("#act-hand_back")
    station.wait_for_selector("#timeline li.ev-handed_back", timeout=5_000)
    station.fill("#disposition", "pupil pressed it")
    wait_until(station, "!document.getElementById('act-false_alarm').disabled")
    assert cc.errors == [] and station.errors == []
