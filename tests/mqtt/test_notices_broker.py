"""Notices through the real broker: notices posted at the desk are retained on the site's notice topic (a door screen
that subscribes afterwards gets the board), a door panel's notice.shown is a receipt (an unknown notice NAKed by
name), and expiry then withdrawal take them off: the last one gone, a fresh subscriber gets nothing."""

from __future__ import annotations

import subprocess
import time

import pytest

from actors.engine_desk import post_notice, site_notices, withdraw_notice
from engine.mqtt_provision import SIMULATOR_USER
from protocols.notices import NoticeQuery, NoticeState, PostNotice, WithdrawNotice, decode_board
from tests.mqtt.helpers import CLI_TIMEOUT_S, Inbox, _auth, pub, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.mqtt]

SITE, DOOR = "C0001", "C0001-door1"  # building "1"


def retained(broker) -> list[str] | None:
    """What a door screen connecting now gets: the ids on the site's retained board, or None (no retained message)."""
    cmd = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-V", "mqttv5", "-q", "1",
           "-t", f"rb/v1/site/{SITE}/notice", *_auth(broker, SIMULATOR_USER), "--retained-only", "-C", "1", "-W", "1",
           "-N", "-F", "%p\n"]
    done = subprocess.run(cmd, capture_output=True, timeout=CLI_TIMEOUT_S)
    payload = done.stdout.rstrip(b"\n")
    board = decode_board(payload) if payload else None
    return None if board is None else [n.id for n in board.notices]


def message(seq: int, kind: str, **data) -> dict:
    return {"seq": seq, "ts": int(time.time() * 1000), "kind": kind, "data": data}


def test_notices_are_retained_shown_and_removed_by_expiry_and_withdrawal(broker, engine):
    now = time.time()
    view = post_notice(engine, PostNotice("epidemic-1", "op-cc", SITE, "Masks in the lifts, please",
                                          valid_until_s=now + 600, title="Health"))
    assert view.state is NoticeState.ACTIVE and view.pending == (DOOR, "C0001-door2")
    post_notice(engine, PostNotice("lift-1", "op-cc", SITE, "Lift 1 out of order", valid_until_s=now + 4,
                                   buildings=("1",)))
    # a door screen that connects after the posts gets the board (retained)
    wait_until(lambda: retained(broker) == ["epidemic-1", "lift-1"], timeout_s=15, what="the retained board")
    screen = Inbox(broker, DOOR, f"rb/v1/site/{SITE}/notice")
    assert screen.subscribed, screen.error  # the door may read its site's notices

    acks = Inbox(broker, DOOR, f"rb/v1/dev/{DOOR}/ack")
    pub(broker, DOOR, f"rb/v1/dev/{DOOR}/evt", message(1, "notice.shown", notice="epidemic-1"))
    pub(broker, DOOR, f"rb/v1/dev/{DOOR}/evt", message(2, "notice.shown", notice="ghost"))
    (nak,) = acks.read_json(1)
    assert not nak["ok"] and nak["reason"] == f"data.notice: unknown notice 'ghost' at {SITE}"

    def notice(name):
        return next(n for n in site_notices(engine, NoticeQuery(SITE)).notices if n.notice == name)
    wait_until(lambda: notice("epidemic-1").shown == (DOOR,), timeout_s=10, what="the receipt")
    assert notice("epidemic-1").pending == ("C0001-door2",)

    wait_until(lambda: retained(broker) == ["epidemic-1"], timeout_s=15, what="lift-1 to expire off the board")
    assert notice("lift-1").state is NoticeState.EXPIRED
    withdraw_notice(engine, WithdrawNotice(SITE, "epidemic-1", "op-cc", "over"))
    wait_until(lambda: retained(broker) is None, timeout_s=15, what="the retained board to be cleared")
    stats = {k: sum(s.notices.get(k, 0) for s in engine.statistics()) for k in ("posted", "expired", "withdrawn",
                                                                                  "receipts")}
    assert stats == {"posted": 2, "expired": 1, "withdrawn": 1, "receipts": 1}
