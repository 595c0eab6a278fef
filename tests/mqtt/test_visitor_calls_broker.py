"""A visitor call through the real broker: the door panel's door.visitor rings the unit's verified resident's phone,
the unverified resident's answer is refused by name, the verified one opens, the door gets open_door and its
door.opened ends the call opened. The panels and phones use the fast path (door.visitor, visitor.answer and door.code
on the alarm topic, ahead of the telemetry); the same kinds on the event topic still work (older devices), and a
non-urgent kind on the alarm topic is refused by name."""

from __future__ import annotations

import time

import pytest

from protocols.replies import decode_command
from tests.mqtt.helpers import Inbox, pub, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.mqtt]

DOOR = "C0001-door1"
VERIFIED, UNVERIFIED = "C0001-u1-r1-phone", "C0001-u1-r2-phone"  # seed 5: unit 1's r1 verified, r2 not


def message(seq: int, kind: str, **data) -> dict:
    return {"seq": seq, "ts": int(time.time() * 1000), "kind": kind, "data": data}


def community(engine, name: str) -> int:
    return sum(s.community.get(name, 0) for s in engine.statistics())


def test_a_visitor_call_rings_the_verified_phone_which_opens_and_the_door_confirms(broker, engine):
    residents = {r.phone_id: r.verified for r in broker.city.residents.values() if r.site_id == "C0001"}
    assert (residents[VERIFIED], residents[UNVERIFIED]) == (True, False)
    phone_cmds = Inbox(broker, VERIFIED, f"rb/v1/dev/{VERIFIED}/cmd")
    door_cmds = Inbox(broker, DOOR, f"rb/v1/dev/{DOOR}/cmd")
    refusals = Inbox(broker, UNVERIFIED, f"rb/v1/dev/{UNVERIFIED}/ack")
    assert phone_cmds.subscribed and door_cmds.subscribed and refusals.subscribed

    assert pub(broker, DOOR, f"rb/v1/dev/{DOOR}/alarm", message(1, "door.visitor", unit="1",
                                                               snapshot="snap/1.jpg")).returncode == 0
    ring = decode_command(phone_cmds.read(1)[0])
    assert ring.cmd == "visitor_call" and ring.args["door"] == DOOR and ring.args["snapshot"] == "snap/1.jpg"
    call = ring.args["call"]

    pub(broker, UNVERIFIED, f"rb/v1/dev/{UNVERIFIED}/evt", message(1, "visitor.answer", call=call, answer="open"))
    (nak,) = refusals.read_json(1)
    assert not nak["ok"] and nak["reason"] == "data.call: unverified resident: may not answer or open"

    pub(broker, VERIFIED, f"rb/v1/dev/{VERIFIED}/alarm", message(1, "visitor.answer", call=call, answer="open"))
    opened = decode_command(door_cmds.read(1)[0])
    assert (opened.cmd, opened.args) == ("open_door", {"by": "C0001-u1-r1", "call": call})

    pub(broker, DOOR, f"rb/v1/dev/{DOOR}/evt", message(2, "door.opened", open=True))
    wait_until(lambda: community(engine, "opened") == 1, timeout_s=20, what="the call ended opened")
    assert community(engine, "refused_unverified") == 1 and community(engine, "missed") == 0


def test_a_pass_opens_the_door_once_then_an_expired_pass_is_refused_by_name(broker, engine):
    phone_cmds = Inbox(broker, VERIFIED, f"rb/v1/dev/{VERIFIED}/cmd")
    door_cmds = Inbox(broker, DOOR, f"rb/v1/dev/{DOOR}/cmd")
    phone_acks = Inbox(broker, VERIFIED, f"rb/v1/dev/{VERIFIED}/ack")
    assert phone_cmds.subscribed and door_cmds.subscribed and phone_acks.subscribed
    # a non-urgent kind on the alarm topic (the fast path) is refused by name, before any host sees it
    pub(broker, VERIFIED, f"rb/v1/dev/{VERIFIED}/alarm", message(1, "visitor.pass", request="p-0",
                                                                 valid_until=1, uses=1, door=DOOR))
    assert phone_acks.read_json(1) == [{"ok": False, "seq": 1,
                                        "reason": "kind: visitor.pass must be published on the evt topic, not alarm"}]
    until_ms = int(time.time() * 1000) + 3000
    pub(broker, VERIFIED, f"rb/v1/dev/{VERIFIED}/evt", message(1, "visitor.pass", request="p-1",
                                                               valid_until=until_ms, uses=5, door=DOOR))
    issued = decode_command(phone_cmds.read(1)[0])
    assert issued.cmd == "visitor_pass.issued" and issued.args["valid_until"] == until_ms
    code = issued.args["code"]
    pub(broker, DOOR, f"rb/v1/dev/{DOOR}/alarm", message(1, "door.code", code=code))  # the fast path
    opened = decode_command(door_cmds.read(1)[0])
    assert (opened.cmd, opened.args) == ("open_door", {"by": "C0001-u1-r1", "pass": code})
    wait_until(lambda: time.time() * 1000 > until_ms + 200, timeout_s=10, what="the pass's window to end")
    pub(broker, DOOR, f"rb/v1/dev/{DOOR}/evt", message(2, "door.code", code=code))  # an older panel: still served
    refused = decode_command(door_cmds.read(1)[0])
    assert (refused.cmd, refused.args) == ("door.code.refused", {"code": code, "reason": "expired"})
