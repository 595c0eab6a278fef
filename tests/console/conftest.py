"""An engine on Ray (no broker) with the console gateway on a free loopback port, and operators for it."""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.citygen import CitySpec, generate_city
from redband.files import add_operator, write_atomically
from engine.operators import Role, load_operators

SPEC = CitySpec(precincts=2, communities=2, schools=2, kiosk_halls=1, volunteers=4, doors_per_community=2,
                cameras_per_community=1, residents_per_door=2, seed=5)
PASSWORD = "correct horse"
ESCALATE_AFTER_S = 2.0


@dataclass
class Console:
    engine: object
    gateway: object
    city: object
    users: Path

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.gateway.port}/ws"

    @property
    def login_url(self) -> str:
        return f"ws://127.0.0.1:{self.gateway.port}/login"

    def device_in(self, precinct: str, kind: str = "panic_box") -> str:
        return sorted(d.id for d in self.city.devices.values() if d.kind == kind and d.precinct_id == precinct)[0]


def start_gateway(engine, operators, **options):
    """A console gateway on a free loopback port. ``free_port`` closes the port before the gateway binds it, and
    another process may take it meanwhile (a busy machine's outgoing connections draw from the same range): then
    another port, not a failed test."""
    from actors.broker import free_port
    from actors.console_gateway import ConsoleGateway

    for attempt in range(5):
        try:
            return ConsoleGateway(engine, operators, port=free_port(), **options).start()
        except RuntimeError as exc:
            if "address already in use" not in str(exc) or attempt == 4:
                raise


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="package")
def chromium():
    """One Chromium for the browser tests of this directory (a launch costs a second or two). Not for the session:
    Playwright's sync API keeps its event loop running in the main thread while it is open, and every later test
    that calls ``asyncio.run`` would fail ("cannot be called from a running event loop")."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--autoplay-policy=no-user-gesture-required"])
        yield browser
        browser.close()


@pytest.fixture
def browser(chromium):
    """The session's Chromium; the pages a test opened are closed after it (none keeps reconnecting to a gateway
    that is gone, or holds its memory, for the rest of the session)."""
    yield chromium
    for context in chromium.contexts:
        context.close()


@pytest.fixture
def console(ray_session, tmp_path):
    yield from _console(tmp_path)


@pytest.fixture
def console_supervised(ray_session, tmp_path):
    """Heartbeats every 0.5 s, offline after 2 missed: a silent device is reported within a second."""
    yield from _console(tmp_path, heartbeat_interval_s=0.5, heartbeat_misses=2)


@pytest.fixture
def console_patient(ray_session, tmp_path):
    """A P1 school panic escalates only after 10 minutes by its deadline: an escalation seen sooner is the
    delivery watch's (no console of a holder confirmed it)."""
    yield from _console(tmp_path, first_step_s=600, escalate_when_not_delivered=True)


@functools.cache
def operators_file() -> str:
    """The users file of ``cc``, ``p1``, ``p2`` and ``guard`` (P1's school's guard room), made once for the session:
    each ``add_operator`` hashes its password with argon2, about 0.5 s, 2 s for the four, for every console."""
    city = generate_city(SPEC)
    school_p1 = next(s.id for s in city.sites.values() if s.kind.value == "school" and s.precinct_id == "P1")
    with tempfile.TemporaryDirectory() as tmp:
        users = Path(tmp) / "users.toml"
        for name, role, scope in (("cc", Role.COMMAND_CENTER, ""), ("p1", Role.STATION, "P1"),
                                  ("p2", Role.STATION, "P2"), ("guard", Role.GUARD_ROOM, school_p1)):
            add_operator(users, name=name, role=role, scope=scope, password=PASSWORD, city=city)
        return users.read_text()


def _console(tmp_path, first_step_s: float = ESCALATE_AFTER_S, escalate_when_not_delivered: bool = False,
             **engine_options):
    """Unless asked, a school panic nobody's console confirmed is marked "not delivered" but not escalated for it
    (the shipped default for P1 is to escalate at once): most tests open only the consoles they watch."""
    from actors.runtime import Engine, EngineOptions
    from engine.policy import load_policy_set

    city = generate_city(SPEC)
    users = tmp_path / "users.toml"
    write_atomically(users, operators_file(), 0o600)
    policies = tmp_path / "policies.toml"  # escalation in 2 s, not 30, so a test can watch it happen
    policies.write_text('[policies."school.panic"]\npriority = 1\n'
                        f'escalate_when_not_delivered = {str(escalate_when_not_delivered).lower()}\nsteps = [\n'
                        f'  {{ notify = ["guard_room", "police_station"], ack_within_s = {first_step_s:g} }},\n'
                        '  { notify = ["command_center"], ack_within_s = 60 },\n]\n')
    engine = Engine(city, load_policy_set(policies), EngineOptions(precinct_hosts=1, realtime=True,
                                                                 journal_dir=str(tmp_path / "journal"),
                                                                 **engine_options)).start()
    gateway = start_gateway(engine, load_operators(users, city=city))
    try:
        yield Console(engine, gateway, city, users)
    finally:
        gateway.stop()
        engine.stop()
