"""Points and the shop through the real gateway (issue 14): the command center lists the shops and administers
them, a station redeems for a volunteer of its precinct (a retry is answered as the first time, with no second
debit), ledgers, statements and leaderboards per team and street, refusals naming the field, everything audited."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from protocols.batch import Ingest
from protocols.console import AuditQuery, AuditRows, Error
from protocols.console_points import (PointsBoard, PointsLedger, PointsQuery, PointsResult, PointsShops,
                                      PointsStatement, PutItemCommand, RedeemCommand, RestockCommand)
from protocols.device import make_message
from tests.console.test_gateway import panic, session
from tests.console.test_units import on_patrol_near

pytestmark = pytest.mark.ray


def earn_an_emergency(console, precinct: str) -> str:
    """A volunteer of ``precinct`` is offered a P1 panic, sees it through and earns 50 points; their id."""
    box = console.device_in(precinct)
    phone = on_patrol_near(console, box, precinct)
    incident = panic(console, precinct)
    now_ms = int(time.time() * 1000)
    for seq, answer in enumerate(("accept", "arrived", "done"), 3):
        result = console.engine.ingest([Ingest(phone, make_message(
            "patrol.task", seq=seq, ts=now_ms, data={"incident": incident, "answer": answer}))])
        assert result.refused == 0, result.acks
    return next(v.id for v in console.city.volunteers.values() if v.phone_id == phone)


def ask(client, message, answer_type, what: str):
    before = len(client.received)
    client.send(message)
    return client.until(lambda m: isinstance(m, answer_type) and m in client.received[before:]
                        and (not hasattr(m, "id") or not hasattr(message, "id") or m.id == message.id), what=what)


def test_the_command_center_administers_the_shop_and_a_station_redeems_for_its_volunteer(console):
    cc, p1, p2 = session(console, "cc"), session(console, "p1"), session(console, "p2")
    shops = ask(cc, PointsQuery("shops"), PointsShops, "the shops")
    (shop,) = shops.shops
    assert shop.shop == "h0" and shop.precincts == ["P1", "P2"]
    assert {i.id: i.stock for i in shop.items}["umbrella"] == 20
    put = ask(cc, PutItemCommand(1, "h0", "badge", "Patrol badge", "goods", 20), PointsResult, "the new item")
    assert put.ok and (put.item.id, put.item.stock) == ("badge", 0)
    assert ask(cc, RestockCommand(2, "h0", "badge", 1), PointsResult, "the restock").item.stock == 1
    unknown = ask(cc, RestockCommand(3, "h0", "hat", 1), PointsResult, "a refused restock")
    assert (unknown.ok, unknown.field, unknown.code) == (False, "item", "refused") and "unknown item" in unknown.reason
    station = ask(p1, RestockCommand(4, "h0", "badge", 5), PointsResult, "a station's restock")
    assert (station.ok, station.field, station.code) == (False, "shop", "out_of_jurisdiction")

    volunteer = earn_an_emergency(console, "P1")
    deadline = time.monotonic() + 30
    while ask(p1, PointsQuery("ledger", volunteer=volunteer), PointsLedger, "the ledger").balance != 50:
        assert time.monotonic() < deadline, "the emergency's 50 points never arrived"
    first = ask(p1, RedeemCommand(5, "desk-1", volunteer, "badge"), PointsResult, "the redemption")
    assert (first.ok, first.points, first.balance) == (True, 20, 30)
    again = ask(p1, RedeemCommand(6, "desk-1", volunteer, "badge"), PointsResult, "the retry")
    assert (again.ok, again.points, again.balance) == (True, 20, 30)
    gone = ask(p1, RedeemCommand(7, "desk-2", volunteer, "badge"), PointsResult, "the last badge gone")
    assert (gone.ok, gone.field, gone.code) == (False, "item", "out_of_stock") and gone.reason.startswith("out of stock")
    poor = ask(cc, RedeemCommand(8, "desk-3", volunteer, "umbrella"), PointsResult, "too poor")
    assert (poor.field, poor.code) == ("volunteer", "insufficient_balance")
    reused = ask(cc, RedeemCommand(9, "desk-1", volunteer, "umbrella"), PointsResult, "a reused request id")
    assert (reused.field, reused.code) == ("request", "conflict")
    other = ask(p2, RedeemCommand(10, "desk-4", volunteer, "umbrella"), PointsResult, "another precinct's")
    assert (other.field, other.code) == ("volunteer", "out_of_jurisdiction")
    nobody = ask(cc, RedeemCommand(11, "desk-5", "nobody", "umbrella"), PointsResult, "an unknown volunteer")
    assert (nobody.field, nobody.code) == ("volunteer", "unknown_volunteer") and "'nobody'" in nobody.reason

    ledger = ask(cc, PointsQuery("ledger", volunteer=volunteer), PointsLedger, "the ledger")
    assert ledger.balance == 30 and [(e.reason, e.ref, e.delta) for e in ledger.entries][0] == ("redemption",
                                                                                                "desk-1", -20)
    month = datetime.now(UTC).strftime("%Y-%m")
    statement = ask(cc, PointsQuery("statement", volunteer=volunteer, month=month), PointsStatement, "statement")
    assert (statement.earned, statement.spent, statement.closing) == (50, 20, 30)
    team = console.city.volunteers[volunteer].team_id
    board = ask(cc, PointsQuery("board", by="team", month=month), PointsBoard, "the teams")
    assert (board.rows[0].key, board.rows[0].points, board.rows[0].rank) == (team, 50, 1)
    streets = ask(cc, PointsQuery("board", by="street"), PointsBoard, "the streets")
    street = console.city.teams[team].street or console.city.teams[team].precinct_id
    assert [(r.key, r.points) for r in streets.rows][0] == (street, 50)
    theirs = ask(p2, PointsQuery("board", by="team"), PointsBoard, "P2's teams")
    assert team not in {r.key for r in theirs.rows} and all(r.points == 0 for r in theirs.rows)
    refused = ask(p2, PointsQuery("ledger", volunteer=volunteer), Error, "another precinct's ledger")
    assert "volunteer" in refused.reason and "not a volunteer of your precinct" in refused.reason

    trail = ask(cc, AuditQuery(limit=100), AuditRows, "the audit trail")
    seen = {(r.actor, r.action, r.outcome) for r in trail.rows}
    assert {("cc", "put_item", "ok"), ("cc", "restock", "ok"), ("cc", "restock", "refused"),
            ("p1", "restock", "refused"), ("p1", "redeem", "ok"), ("p1", "redeem", "refused")} <= seen
