"""The tip review queue in the system Chromium: a station's operator opens the Tips tab, sees the volunteers' tips
raised through the engine (category, text, reporter, photo reference), rejects one with a reason (the button waits
for it) and accepts another; a panic never shows the review buttons."""

from __future__ import annotations

import pytest

from tests.console.test_browser import panic, row, shot
from tests.console.test_console_layout import open_at, wait_until
from tests.console.test_tips import tip

pytestmark = [pytest.mark.ray, pytest.mark.browser]


def tip_row(incident_id: str) -> str:
    return f"#tips-queue tbody tr[data-id='{incident_id}']"


def test_the_station_reviews_tips_from_the_tips_queue(browser, console):  # noqa: F811
    page = open_at(browser, console, "p1")
    alarm = panic(console, "P1")
    page.wait_for_selector(row(alarm), timeout=10_000)
    page.click(row(alarm))
    assert page.is_hidden("#tip-review")  # not a tip: no review

    first, phone, volunteer = tip(console, "P1", seq=1, text="a man trying car doors")
    second, _, _ = tip(console, "P1", seq=2, text="a light left on in the school")
    page.click("#queue-tips")
    page.wait_for_selector(tip_row(second), timeout=10_000)
    assert page.is_hidden("#queue") and page.is_visible("#tips-queue")
    wait_until(page, "() => document.querySelector('#queue-tips').textContent === 'Tips (2)'")
    cells = page.locator(tip_row(first)).inner_text()
    assert "suspicious" in cells and "a man trying car doors" in cells and volunteer in cells
    assert "photos/1.jpg" in cells

    page.click(tip_row(second))
    page.wait_for_selector("#tip-review:not([hidden])", timeout=5_000)
    assert page.is_enabled("#act-accept") and page.is_enabled("#act-promote")
    assert page.is_disabled("#act-reject")  # a rejection needs its reason typed
    shot(page, "tips-queue")
    page.fill("#tip-note", "the caretaker's office, not a break-in")
    page.click("#act-reject")
    page.wait_for_selector(tip_row(second), state="detached", timeout=10_000)
    wait_until(page, f"() => window.redband.state.incidents.get({second!r}).tip.verdict === 'rejected'")

    page.click(tip_row(first))
    wait_until(page, "() => document.querySelector('#tip-note').value === ''")  # nothing carries over
    page.click("#act-accept")
    page.wait_for_selector(tip_row(first), state="detached", timeout=10_000)
    wait_until(page, f"() => window.redband.state.incidents.get({first!r}).state === 'closed'")
    page.wait_for_selector("#tips-empty:not([hidden])", timeout=5_000)
    assert page.text_content("#queue-tips") == "Tips"
    page.click("#queue-all")  # back to every open incident: the panic, and no word about tips
    page.wait_for_selector(row(alarm), timeout=5_000)
    assert page.is_hidden("#tips-queue") and page.is_hidden("#tips-empty")
    assert page.errors == []
