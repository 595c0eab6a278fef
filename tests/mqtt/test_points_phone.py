"""A volunteer phone spends its points through the real broker (issue 14): it sees a task through (50 points),
redeems an item of its street office's shop with ``points.redeem`` and gets ``points.redeemed``; a retry with the same
request id gets the same answer and no second debit; ``points.query`` is answered with ``points.statement``."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from actors.engine_desk import ask_device_host
from protocols.points import ItemCategory
from protocols.points_desk import Ledger, PutItem, Restock
from protocols.replies import decode_command
from tests.mqtt.helpers import Inbox, pub, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.mqtt]

M_LAT = 1 / 111_195.0


def message(seq: int, kind: str, **data) -> dict:
    return {"seq": seq, "ts": int(time.time() * 1000), "kind": kind, "data": data}


def next_command(commands: Inbox, name: str):
    """The next command ``name`` on the phone's cmd topic (task commands before it are passed over, at most 5)."""
    for _ in range(6):
        (payload,) = commands.read(1)
        command = decode_command(payload)
        if command.cmd == name:
            return command
    raise AssertionError(f"no {name} among the phone's commands")


def test_a_phone_redeems_an_item_and_a_retry_gets_the_same_answer_without_a_second_debit(broker, engine):
    phone = broker.device("volunteer_phone", 0)
    volunteer = next(v.id for v in broker.city.volunteers.values() if v.phone_id == phone)
    precinct = broker.city.devices[phone].precinct_id
    box = next(d for d in sorted(broker.city.devices.values(), key=lambda d: d.id)
               if d.kind == "panic_box" and d.precinct_id == precinct)
    commands = Inbox(broker, phone, f"rb/v1/dev/{phone}/cmd")
    assert commands.subscribed, commands.error
    evt = f"rb/v1/dev/{phone}/evt"
    assert pub(broker, phone, evt, message(1, "patrol.start")).returncode == 0
    pub(broker, phone, evt, message(2, "patrol.position", lat=box.lat + 100 * M_LAT, lon=box.lon, accuracy_m=5.0))
    wait_until(lambda: sum(s.units_by_state.get("available", 0) for s in engine.statistics()) == 1, timeout_s=20,
               what="the phone on patrol")
    acks = Inbox(broker, box.id, f"rb/v1/dev/{box.id}/ack")
    pub(broker, box.id, f"rb/v1/dev/{box.id}/alarm", message(1, "school.panic"))
    (ack,) = acks.read_json(1)
    assert decode_command(commands.read(1)[0]).cmd == "task.offer"
    for seq, answer in enumerate(("accept", "arrived", "done"), 3):
        pub(broker, phone, evt, message(seq, "patrol.task", incident=ack["incident"], answer=answer))
    wait_until(lambda: ask_device_host(engine, phone, Ledger(volunteer)).balance == 50, timeout_s=20,
               what="the emergency's 50 points")
    ask_device_host(engine, phone, PutItem("badge", "Patrol badge", ItemCategory.GOODS, 20, actor="office"))
    ask_device_host(engine, phone, Restock("badge", 1, actor="office"))

    pub(broker, phone, evt, message(6, "points.redeem", request="r-1", item="badge"))
    first = next_command(commands, "points.redeemed")
    assert {k: first.args[k] for k in ("request", "status", "points", "balance", "reason")} == {
        "request": "r-1", "status": "accepted", "points": 20, "balance": 30, "reason": ""}
    pub(broker, phone, evt, message(7, "points.redeem", request="r-1", item="badge"))  # the app's retry
    assert next_command(commands, "points.redeemed").args == first.args
    pub(broker, phone, evt, message(8, "points.redeem", request="r-2", item="badge"))
    assert next_command(commands, "points.redeemed").args["status"] == "out_of_stock"
    page = ask_device_host(engine, phone, Ledger(volunteer))
    assert page.balance == 30 and [e.delta for e in page.entries] == [-20, 50]  # one debit

    pub(broker, phone, evt, message(9, "points.query"))
    statement = next_command(commands, "points.statement")
    assert statement.args["month"] == datetime.now(UTC).strftime("%Y-%m")
    assert (statement.args["earned"], statement.args["spent"], statement.args["closing"]) == (50, 20, 30)
