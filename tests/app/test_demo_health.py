"""`redband demo --keep` through a real Mosquitto and a real engine, with a short heartbeat (2 s, 3 misses: offline
after 6 s of silence) so several offline periods pass in seconds: the shipped city's doors, cameras, panic boxes and
kiosks heartbeat, so no healthy device is ever reported offline; a device the demo silences is, and a whole site
silenced is one ``site.offline`` (its devices' own folded into it), withdrawn when the site reports again. The
city's police cars and foot officers and some volunteers are on duty, and the P1 alarms' offers are answered through
the broker: a unit sees a task through (en route, on scene, done) and is back on duty. The community and kiosk hall
nearest the school live through the broker meanwhile (issue 15): a visitor call rings only verified phones and is
answered, the notice posted at the start is shown (receipts recorded), kiosk sessions are counted."""

from __future__ import annotations

import random
import threading

import pytest

from actors.broker import free_port
from actors.engine_desk import ask_site_host, site_notices
from protocols.kinds import IncidentKind
from protocols.kiosk import KioskFigures
from protocols.notices import NoticeQuery
from redband.demo import Demo
from simulation.demo_community import LifeConfig
from simulation.patrol_phones import PhoneConfig
from simulation.scenario import load_scenario
from simulation.shipped import DEMO_SCENARIO, shipped
from tests.mqtt.helpers import wait_until

INTERVAL_S, MISSES = 2.0, 3
OFFLINE_AFTER_S = INTERVAL_S * MISSES
HEALTHY_PERIODS = 2
"""Offline periods the healthy city runs through before anything is silenced (the first with every device heard
from, and one more in the steady state)."""
DARK_SITE = "C0003"


def _health(engine) -> tuple[int, int, int, int]:
    stats = engine.statistics()
    return (sum(s.devices_supervised for s in stats), sum(s.devices_online for s in stats),
            sum(s.devices_offline for s in stats), sum(s.sites_offline for s in stats))


def _effects(engine, name: str) -> int:
    return sum(s.dispatch_effects.get(name, 0) for s in engine.statistics())


def _units(engine) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in engine.statistics():
        for state, n in s.units_by_state.items():
            out[state] = out.get(state, 0) + n
    return out


def _open(engine, kind: IncidentKind, *, site_id: str | None = None, device_id: str | None = None) -> list:
    return [r for r in engine.open_incidents() if r.kind is kind and site_id in (None, r.site_id)
            and device_id in (None, r.device_id)]


@pytest.mark.ray
@pytest.mark.mqtt
@pytest.mark.slow
def test_demo_devices_heartbeat_so_only_devices_really_silenced_are_reported_offline(ray_session, tmp_path):
    scenario = load_scenario(shipped(DEMO_SCENARIO))
    demo = Demo(scenario, out=tmp_path / "demo", every_s=5.0, port=free_port(), rng=random.Random(13),
                engine_options={"heartbeat_interval_s": INTERVAL_S, "heartbeat_misses": MISSES},
                task=PhoneConfig(check_in_after_s=2.0, travel_s=(1.0, 2.0), on_scene_s=(1.0, 2.0)),  # quick tasks
                life=LifeConfig(call_every_s=5.0, session_every_s=5.0))
    stop, ended = threading.Event(), {}

    def run() -> None:
        try:
            ended["rc"] = demo.run(until_s=2.0, keep=True, stop=stop)
        except BaseException as exc:  # reported by the test, not lost in the thread
            ended["error"] = exc

    thread = threading.Thread(target=run, name="demo", daemon=True)
    thread.start()
    try:
        wait_until(lambda: demo.keeping.is_set() or ended, timeout_s=240, what="the demo's keep phase")
        assert not ended, ended
        engine, beats = demo.stack.engine, demo.beats
        city = scenario.city
        fixed = len(beats)
        assert fixed == sum(1 for d in city.devices.values() if d.kind in ("door", "camera", "panic_box", "kiosk"))
        assert fixed > 700 and beats.period_s("S0001-panic1") == INTERVAL_S  # the scenario's device beats too

        # every fixed device reports, and keeps reporting for several offline periods: none is taken offline
        wait_until(lambda: _health(engine) == (fixed, fixed, 0, 0), timeout_s=30,
                   what=lambda: f"every fixed device supervised and online: {_health(engine)}")
        beats_per_period = round(OFFLINE_AFTER_S / INTERVAL_S)
        target = beats.sent + fixed * beats_per_period * HEALTHY_PERIODS
        wait_until(lambda: beats.sent >= target or ended, timeout_s=120,
                   what=f"{HEALTHY_PERIODS} offline periods of heartbeats")
        assert not ended, ended
        assert _health(engine) == (fixed, fixed, 0, 0)
        assert not [r for r in demo.raised if r[0] in ("device.offline", "site.offline")], demo.raised

        # a device that really falls silent is reported, alone
        lone = "C0002-cam1"
        site_devices = sorted(d.id for d in city.devices.values()
                              if d.site_id == DARK_SITE and d.kind in ("door", "camera", "panic_box", "kiosk"))
        assert len(site_devices) >= 2
        beats.silence([lone, *site_devices])  # and a whole site drops (a power cut)
        wait_until(lambda: _open(engine, IncidentKind.DEVICE_OFFLINE, device_id=lone), timeout_s=30,
                   what=f"{lone} reported offline")
        # the site: one incident, its devices' own folded into it
        wait_until(lambda: len(_open(engine, IncidentKind.SITE_OFFLINE, site_id=DARK_SITE)) == 1
                   and not _open(engine, IncidentKind.DEVICE_OFFLINE, site_id=DARK_SITE), timeout_s=30,
                   what=lambda: f"one site.offline for {DARK_SITE}: {_open(engine, IncidentKind.SITE_OFFLINE)}")
        wait_until(lambda: _health(engine) == (fixed, fixed - 1 - len(site_devices), 1 + len(site_devices), 1),
                   timeout_s=10, what=lambda: f"the figures counting them: {_health(engine)}")

        # the site reports again: its incident is withdrawn
        beats.hear(site_devices)
        wait_until(lambda: not _open(engine, IncidentKind.SITE_OFFLINE), timeout_s=30,
                   what=f"the site.offline of {DARK_SITE} withdrawn")
        wait_until(lambda: _health(engine) == (fixed, fixed - 1, 1, 0), timeout_s=30,
                   what=lambda: f"only {lone} offline: {_health(engine)}")
        wait_until(lambda: [r for r in demo.raised if r[0] == "site.offline"], timeout_s=10,
                   what="the demo saw the site incident")
        offline = {r[1] for r in demo.raised if r[0] == "device.offline"}
        assert lone in offline and offline <= {lone, *site_devices}, offline  # none from a healthy device
        assert [r[2] for r in demo.raised if r[0] == "site.offline"] == [DARK_SITE]

        # units on duty: every police unit of the city among them, each tracked by the engine
        police = {d.id for d in city.devices.values() if d.kind in ("police_car_terminal", "officer_radio")}
        assert len(police) == 30 and police <= set(demo.duty.units)
        on_duty = len(demo.duty)
        assert sum(n for state, n in _units(engine).items() if state != "off_duty") == on_duty, _units(engine)
        # the P1 alarms' offers (the school panic's, the keep phase's) answered: a task seen through
        wait_until(lambda: _effects(engine, "TaskDone") >= 1, timeout_s=90,
                   what=lambda: f"a task done: {engine.statistics()[0].dispatch_effects} {dict(demo.tasks.sent)}")
        assert _effects(engine, "TaskAssigned") >= 1 and _effects(engine, "UnitOnScene") >= 1
        assert demo.tasks.sent["accept"] >= 1 and demo.tasks.sent["done"] >= 1 and demo.tasks.dropped == 0

        # the community's visitor calls rang verified phones only and were answered; the notice shown; kiosk sessions
        life = demo.life
        wait_until(lambda: sum(s.community.get("opened", 0) for s in engine.statistics()) >= 1, timeout_s=30,
                   what=lambda: f"a visitor call opened: {life.sent} {life.seen}")
        assert life.rung and all(city.residents[p.removesuffix("-phone")].verified for p in life.rung), life.rung

        def posted():
            (notice,) = [n for n in site_notices(engine, NoticeQuery(life.site)).notices
                         if n.notice == demo.notice.notice]
            return notice

        # the door screens' receipts come when they come: waited for, as the kiosk sessions are
        notice = wait_until(lambda: (n := posted()).shown and n, timeout_s=30,
                            what=lambda: f"the notice shown: {posted()}")
        assert set(notice.shown) | set(notice.pending) == {d.id for d in life.doors if d.unit in notice.buildings}
        wait_until(lambda: ask_site_host(engine, life.hall, KioskFigures(hall=life.hall)).sessions >= 1, timeout_s=30,
                   what="a kiosk session")
        assert life.dropped == 0
    finally:
        stop.set()
        thread.join(timeout=120)
    assert not thread.is_alive() and "error" not in ended, ended
