"""The demo's community and kiosk hall (``simulation.demo_community``, started as ``redband demo`` starts it) through
the real broker, quick: a visitor call rings only the unit's verified phone, which opens, and the door confirms; a
pass asked by a phone is typed at the panel and opens; the notice posted through the desk reaches the door screens as
the site's retained board and each screen of a targeted building reports it (the receipt recorded); a kiosk session
is counted in the hall's KioskFigures; every message of the life is acked, and the life ends with the fleet."""

from __future__ import annotations

import subprocess

import pytest

from actors.engine_desk import ask_device_host, site_notices
from protocols.kiosk import KioskFigures
from engine.mqtt_provision import SIMULATOR_USER
from protocols.notices import NoticeQuery, decode_board
from simulation.demo_community import LifeConfig, start_life
from simulation.mqtt_fleet import Fleet
from tests.mqtt.helpers import CLI_TIMEOUT_S, _auth, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.mqtt]

SITE = "C0001"
QUICK = LifeConfig(call_every_s=1.0, pass_every=2, session_every_s=1.0, answer_s=(0.2, 0.4), open_p=1.0, deny_p=0.0,
                   close_after_s=0.5, first_s=0.2)


def community(engine, name: str) -> int:
    return sum(s.community.get(name, 0) for s in engine.statistics())


def retained(broker, site: str) -> list[str]:
    """The notice ids on the site's board as the broker keeps it for a door screen that connects now."""
    cmd = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-V", "mqttv5", "-q", "1",
           "-t", f"rb/v1/site/{site}/notice", *_auth(broker, SIMULATOR_USER), "--retained-only", "-C", "1", "-W", "1",
           "-N", "-F", "%p\n"]
    payload = subprocess.run(cmd, capture_output=True, timeout=CLI_TIMEOUT_S).stdout.rstrip(b"\n")
    board = decode_board(payload) if payload else None
    return [] if board is None else [n.id for n in board.notices]


def test_the_demo_community_and_kiosk_hall_live_through_the_broker(broker, engine):
    city = broker.city
    kiosk = broker.device("kiosk", 0)
    hall = city.devices[kiosk].site_id
    acks = []
    with Fleet(broker.simulator, client_prefix="demo-life") as fleet:
        life, notice = start_life(fleet, engine, city, site=SITE, hall=hall, config=QUICK, operator="op-cc")
        doors = {d.id for d in life.doors}
        assert notice.buildings == ("1", "2") and set(notice.pending) == doors

        # a call rings the verified phones of the unit only, one opens, the door confirms
        wait_until(lambda: community(engine, "opened") >= 1, timeout_s=30,
                   what=lambda: f"a call opened: {engine.statistics()[0].community} {life.sent} {life.seen}")
        assert life.rung and all(city.residents[p.removesuffix("-phone")].verified for p in life.rung), life.rung
        assert life.seen["open_door"] >= 1 and life.sent["door.opened"] >= 1
        # a pass asked by a phone, its code typed at the panel, opens the door
        wait_until(lambda: community(engine, "code_opened") >= 1, timeout_s=30,
                   what=lambda: f"a pass's code opened: {engine.statistics()[0].community} {life.sent}")
        # the board retained on the site's notice topic, every targeted screen's receipt recorded
        wait_until(lambda: life.seen["retained board"] + life.seen["board"] >= 1, timeout_s=15,
                   what=lambda: f"a screen given the board: {life.seen}")
        # asked until it answers: a mosquitto_sub that did not get the retained board within its 1 s reads as none
        wait_until(lambda: retained(broker, SITE) == [notice.notice], timeout_s=15,
                   what=lambda: f"the board retained: {retained(broker, SITE)}")

        def shown():
            return next(n for n in site_notices(engine, NoticeQuery(SITE)).notices if n.notice == notice.notice).shown
        wait_until(lambda: set(shown()) == doors, timeout_s=30, what=lambda: f"receipts from {doors}: {shown()}")
        # a kiosk session counted in the hall's figures, the supplies reported
        wait_until(lambda: ask_device_host(engine, kiosk, KioskFigures(hall=hall)).sessions >= 1, timeout_s=30,
                   what="a kiosk session counted")
        assert life.sent["kiosk.supplies"] == len(life.kiosks)
        acks = fleet.take_acks()
    assert not fleet._thread.is_alive()  # the life's tasks ended with the fleet
    refused = [(device, ack.reason) for device, ack, _ in acks if not ack.ok]
    assert not refused, refused  # events taken are not acked; refusals are
    assert life.dropped == 0
