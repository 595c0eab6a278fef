"""The Points tab in the system Chromium (issue 14): the command center sees the leaderboards per team and street,
a volunteer's ledger and statement, the shop with its stock; it restocks an item and redeems one for a volunteer
at the office; a refusal names the field; a station has no Points tab."""

from __future__ import annotations

import pytest

from tests.console.test_browser import shot
from protocols.console_points import PointsResult, PutItemCommand
from tests.console.test_console_layout import box, open_at, wait_until
from tests.console.test_gateway import session
from tests.console.test_points_console import ask, earn_an_emergency

pytestmark = [pytest.mark.ray, pytest.mark.browser]


def stock_of(page, item: str) -> str:
    return page.locator(f"#points-shop-rows tr[data-item='{item}'] td.stock").inner_text()


def test_the_command_center_sees_boards_ledgers_and_the_shop_and_restocks_and_redeems(browser, console):  # noqa: F811
    volunteer = earn_an_emergency(console, "P1")  # 50 points
    badge = PutItemCommand(1, "h0", "badge", "Patrol badge", "goods", 20)
    assert ask(session(console, "cc"), badge, PointsResult, "a new item, none in stock").ok
    team = console.city.teams[console.city.volunteers[volunteer].team_id]
    station = open_at(browser, console, "p1")
    assert station.locator("#tab-points").is_hidden()
    page = open_at(browser, console, "cc")
    page.click("#tab-points")
    assert page.locator("#points-view").is_visible() and page.locator("#incidents-view").is_hidden()
    page.wait_for_selector("#points-shop-rows tr[data-item='umbrella']", timeout=10_000)
    assert stock_of(page, "umbrella") == "20"
    wait_until(page, f"() => document.querySelector('#points-board-team tr td:nth-child(3)')?.textContent === '50'")
    assert team.name in page.locator("#points-board-team tr").first.inner_text()
    assert "50" in page.locator("#points-board-street tr").first.inner_text()

    assert stock_of(page, "badge") == "0"
    page.fill("#restock-item", "badge")
    page.fill("#restock-add", "1")
    page.click("#restock-button")
    wait_until(page, "() => document.querySelector(\"#points-shop-rows tr[data-item='badge'] td.stock\")"
                     "?.textContent === '1'")
    page.fill("#redeem-volunteer", volunteer)
    page.fill("#redeem-item", "badge")
    page.click("#redeem-button")
    wait_until(page, "() => document.querySelector('#points-result')?.textContent.startsWith('redeem 1 × badge')")
    assert page.locator("#points-result").get_attribute("data-code") == "ok"
    assert page.locator("#points-result").inner_text().endswith("balance 30")
    wait_until(page, "() => document.querySelector(\"#points-shop-rows tr[data-item='badge'].sold-out\")")

    page.fill("#points-volunteer", volunteer)
    page.click("#points-show")
    wait_until(page, "() => document.querySelectorAll('#points-ledger-rows tr').length === 2")
    assert page.locator("#points-who").get_attribute("data-balance") == "30"
    ledger = page.locator("#points-ledger-rows tr").all_inner_texts()
    assert "redemption" in ledger[0] and "-20" in ledger[0] and "+50" in ledger[1]
    wait_until(page, "() => document.querySelector('#points-statement')?.textContent.includes('earned 50')")

    page.fill("#redeem-item", "umbrella")
    page.click("#redeem-button")
    wait_until(page, "() => document.querySelector('#points-result')?.textContent.startsWith('redeem 1 × umbrella')")
    assert page.locator("#points-result").get_attribute("data-code") == "insufficient_balance"
    assert "volunteer: insufficient balance" in page.locator("#points-result").inner_text()
    view, shop = box(page, "#points-view"), box(page, ".points-col:last-child")
    assert shop["x"] + shop["width"] <= view["x"] + view["width"] + 1  # the shop column is on screen
    shot(page, "points")
    assert page.errors == [] and station.errors == []
