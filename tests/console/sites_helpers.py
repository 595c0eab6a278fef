"""A module-scoped engine and console gateway for the site views' tests (community, kiosk hall, notices), with a
guard room operator for community C0001 and a grid worker of its grid beside conftest's cc, p1, p2; events sent as
the devices would; a site opened in the browser's Sites tab."""

from __future__ import annotations

import time

import pytest

from engine.operators import Role, load_operators
from protocols.batch import Ingest
from protocols.device import make_message
from redband.files import add_operator
from tests.console.conftest import PASSWORD, _console
from tests.console.test_browser import open_console

COMMUNITY, OTHER_COMMUNITY, HALL = "C0001", "C0002", "K0001"  # C0001 and K0001 are P1's, C0002 P2's
GRID = "P1-north-east-grid"  # C0001's grid (K0001 is in P1's north-west grid)
SITES_REFRESH_MS = 500
"""How often an open site is asked again here (2 s in the product): each step of the site views' tests waits for it."""


@pytest.fixture(scope="module")
def sites_console(ray_session, tmp_path_factory):
    made = _console(tmp_path_factory.mktemp("sites"))
    console = next(made)
    add_operator(console.users, name="cguard", role=Role.GUARD_ROOM, scope=COMMUNITY, password=PASSWORD,
                 city=console.city)
    add_operator(console.users, name="gw", role=Role.GRID_WORKER, scope=GRID, password=PASSWORD, city=console.city)
    console.gateway.operators.update(load_operators(console.users, city=console.city))
    try:
        yield console
    finally:
        made.close()


class Devices:
    """Events sent as the city's devices would, each with the next seq of its device."""

    def __init__(self, console) -> None:
        self.console, self.seq = console, {}

    def send(self, device: str, kind: str, data: dict | None = None):
        self.seq[device] = seq = self.seq.get(device, 0) + 1
        result = self.console.engine.ingest([Ingest(device, make_message(kind, seq=seq, ts=int(time.time() * 1000),
                                                                         data=data))])
        assert result.refused == 0 and not result.not_taken, result
        return result


def open_site(browser, console, operator: str, site: str, shown: str):
    """A page logged in as ``operator`` with ``site`` opened in the Sites tab, once ``shown`` matches."""
    page = open_console(browser, console, operator, settings={"REDBAND_SITES_REFRESH_MS": SITES_REFRESH_MS})
    page.click("#tab-sites")
    page.click(f"#sites-list button[data-site='{site}']")
    page.wait_for_selector(shown, timeout=10_000)
    return page
