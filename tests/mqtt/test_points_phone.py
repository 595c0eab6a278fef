"""A volunteer phone spends its points through the real broker (issue 14): it sees a task through (50 points),
redeems an item of its street office's shop with ``points.redeem`` and gets ``points.redeemed``; a retry with the same
request id gets the same answer and no second debit; ``points.query`` is answered with ``points.statement``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from actors.engine_desk import ask_device_host
from protocols.points import ItemCategory
from protocols.points_desk import Ledger, PutItem, Restock
from protocols.replies import decode_command
from tests.mqtt.helpers import Inbox, PatrolPhone, message, pub, wait_until

pytestmark = [pytest.mark.ray, pytest.mark.mqtt]

def next_command(commands: Inbox, name: str):
    """The next command ``name`` on the phone's cmd topic (task commands before it are passed over, at most 5)."""
    for _ in range(6):
        (payload,) = commands.read(1)
        command = decode_command(payload)
        if command.cmd == name:
            return command
    raise AssertionError(f"no {name} among the phone's commands")


def test_a_phone_redeems_an_item_and_a_retry_gets_the_same_answer_without_a_second_debit(broker, engine):
    on_patrol = PatrolPhone(broker, engine)
    phone, commands, evt = on_patrol.phone, on_patrol.commands, on_patrol.evt
    volunteer = next(v.id for v in broker.city.volunteers.values() if v.phone_id == phone)
    ack = on_patrol.box_alarm(broker)
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
