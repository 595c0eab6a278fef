"""Issue 14's phone surfaces attacked as an outsider would: what a hostile or broken phone sends is refused by name
(a NAK naming the field) or answered, never allowed to fail its host's step (which would roll back the batch of
every other device with it) or to grow the host without bound."""

from __future__ import annotations

from dataclasses import replace

import msgpack
import pytest

from engine.citygen import CitySpec
from engine.hosting.dispatch_desk import UnitOutOfPrecinct
from engine.hosting.points_desk import PointsRequestRefused
from protocols.desk import OfferUnit
from protocols.dispatch_desk import Reassign
from protocols.points_desk import BoardBy, Leaderboard, MonthStatement
from protocols.device import decode_device_message, make_message
from protocols.errors import ProtocolError
from protocols.kinds import AckStatus, IncidentKind
from tests.engine.helpers import SMALL, Pair

NOW_S = 1_780_000_000.0


def _packed(kind: str, data: dict, **envelope) -> bytes:
    return msgpack.packb({"seq": 1, "ts": 1, "kind": kind, "data": data, **envelope})


@pytest.mark.parametrize(("payload", "field"), [
    (_packed("patrol.position", {"lat": float("nan"), "lon": 0.0}), "data.lat"),
    (_packed("patrol.position", {"lat": 0.0, "lon": float("-inf")}), "data.lon"),
    (_packed("patrol.position", {"lat": 1e308, "lon": 0.0}), "data.lat"),
    (_packed("patrol.position", {"lat": 0.0, "lon": 0.0, "accuracy_m": -1.0}), "data.accuracy_m"),
    (_packed("patrol.position", {"lat": 0.0, "lon": 0.0, "accuracy_m": float("nan")}), "data.accuracy_m"),
    (_packed("patrol.clue", {"text": "x", "lat": float("inf")}), "data.lat"),
    (_packed("patrol.sos", {"lon": float("nan")}), "data.lon"),
    (_packed("points.redeem", {"request": "r" * 10_240, "item": "umbrella"}), "payload"),  # 10 KB: over the 4 KB limit
    (_packed("points.redeem", {"request": "r" * 65, "item": "umbrella"}), "data.request"),
    (_packed("points.redeem", {"request": "r\x00", "item": "umbrella"}), "data.request"),
    (_packed("points.redeem", {"request": "r", "item": "u\u202e"}), "data.item"),
    (_packed("points.redeem", {"request": "r", "item": "umbrella", "quantity": 0}), "data.quantity"),
    (_packed("points.redeem", {"request": "r", "item": "umbrella", "quantity": -1}), "data.quantity"),
    (_packed("points.redeem", {"request": "r", "item": "umbrella", "quantity": 2**63}), "data.quantity"),
    (_packed("points.query", {"month": "2026-13"}), "data.month"),
    (_packed("patrol.task", {"incident": "x#1", "answer": "steal"}), "data.answer"),
    (_packed("patrol.task", {"incident": "x" * 200, "answer": "accept"}), "data.incident"),
    (_packed("patrol.start", {"volunteer": "v\u202e"}), "data.volunteer"),
    (_packed("heartbeat", {}, ts=2**53 + 1), "ts"),
    (_packed("heartbeat", {}, ts=-1), "ts"),
])
def test_a_hostile_phone_payload_is_refused_naming_its_field(payload, field):
    with pytest.raises(ProtocolError) as refused:
        decode_device_message(payload)
    assert refused.value.field == field, str(refused.value)


@pytest.fixture
def pair():
    return Pair(now_s=NOW_S)


@pytest.mark.parametrize("month", ["0000-01", "9999-12", "0001-01", "3000-01"])
def test_a_month_no_clock_can_hold_is_refused_naming_the_field(month):
    with pytest.raises(ProtocolError) as refused:
        make_message("points.query", seq=1, ts=0, data={"month": month})
    assert refused.value.field == "data.month" and "YYYY-MM" in str(refused.value)


@pytest.mark.parametrize("month", ["1970-01", "1999-12", "2026-12", "2999-12"])
def test_a_month_of_the_calendar_is_answered_with_its_statement(pair, month):
    phone = pair.device("volunteer_phone")
    result = pair.send(phone, "points.query", {"month": month})
    assert result.accepted == 1
    assert [c.args["month"] for c in pair.host.device_commands if c.command == "points.statement"] == [month]


def _phones(pair, n):
    return sorted(d.id for d in pair.city.devices.values() if d.kind == "volunteer_phone")[:n]


def test_a_flood_of_tips_from_one_phone_is_refused_by_name_past_six_a_minute_and_counted(pair):
    phone, other = _phones(pair, 2)
    taken = [pair.send(phone, "patrol.clue", {"text": f"saw {n}"}).acks[0] for n in range(6)]
    assert all(a.status is AckStatus.ACK and a.incident_id for a in taken)
    pair.advance(NOW_S + 30)
    (refused,) = pair.send(phone, "patrol.clue", {"text": "one more"}).acks
    assert refused.status is AckStatus.NAK and not refused.incident_id
    assert refused.reason.startswith("kind: too many patrol.clue") and "at most 6 in 60 s" in refused.reason
    tips = [r for r in pair.host.incidents.values() if r.kind is IncidentKind.PATROL_CLUE]
    assert len(tips) == 6 and pair.host.statistics().rate_limited == 1
    (again,) = pair.send(phone, "patrol.clue", {"text": "saw 0"}, seq=1, ts_ms=int(NOW_S * 1000)).acks
    assert (again.status, again.incident_id) == (AckStatus.DUPLICATE, taken[0].incident_id)  # still its answer
    assert pair.send(other, "patrol.clue", {"text": "another phone"}).acks[0].status is AckStatus.ACK

    pair.advance(NOW_S + 61)  # the first tip has left the window: the refused one may come again, same bytes
    (later,) = pair.send(phone, "patrol.clue", {"text": "one more"}, seq=refused.seq,
                         ts_ms=int((NOW_S + 30) * 1000)).acks
    assert later.status is AckStatus.ACK and later.incident_id in pair.host.incidents


def test_a_flood_of_redemptions_is_refused_before_its_seq_is_taken_so_the_same_message_is_answered_later(pair):
    phone = pair.device("volunteer_phone")
    for n in range(10):
        assert pair.send(phone, "points.redeem", {"request": f"r-{n}", "item": "nothing"}).accepted == 1
    rows = len(pair.journal.points_rows())
    (refused,) = pair.send(phone, "points.redeem", {"request": "r-10", "item": "nothing"}).acks
    assert refused.status is AckStatus.NAK and refused.reason.startswith("kind: too many points.redeem")
    assert len(pair.journal.points_rows()) == rows  # nothing journaled for it
    pair.host.take_device_commands()
    pair.advance(NOW_S + 60)
    result = pair.send(phone, "points.redeem", {"request": "r-10", "item": "nothing"}, seq=refused.seq,
                       ts_ms=int(NOW_S * 1000))
    assert result.accepted == 1
    assert [c.args["request"] for c in pair.host.take_device_commands() if c.command == "points.redeemed"] == ["r-10"]


def test_a_resident_phone_or_a_door_may_not_patrol_or_spend_points(pair):
    for device in (pair.device("resident_phone"), pair.device("door")):
        kind = pair.city.devices[device].kind
        for event, data in (("patrol.start", {}), ("patrol.clue", {"text": "x"}),
                            ("points.redeem", {"request": "r", "item": "umbrella"}), ("points.query", {}),
                            ("patrol.task", {"incident": "x#1", "answer": "accept"})):
            (ack,) = pair.send(device, event, data).acks
            assert ack.status is AckStatus.NAK and ack.reason == f"kind: {event} is not sent by a {kind}"
    assert not pair.host.incidents and not pair.host.device_commands


M_LAT = 1 / 111_195.0


def test_a_station_s_reassignment_to_the_next_candidate_never_hands_its_incident_to_another_precinct_s_unit():
    """One host carries P1 and P2: P2's volunteer is the next nearest to P1's door alarm, but P1's station reassigning
    it to the next candidate may not send P2's unit (as it may not offer it by name); the command center may."""
    pair = Pair(CitySpec(precincts=2, communities=2, schools=0, kiosk_halls=0, volunteers=4, team_size=1,
                         doors_per_community=1, cameras_per_community=0, residents_per_door=1, seed=3), now_s=NOW_S)
    door = next(d for d in pair.city.devices.values() if d.kind == "door" and d.precinct_id == "P1")
    ours = next(d.id for d in pair.city.devices.values() if d.kind == "volunteer_phone" and d.precinct_id == "P1")
    theirs = next(d.id for d in pair.city.devices.values() if d.kind == "volunteer_phone" and d.precinct_id == "P2")
    incident = pair.send(door.id, "door.forced").acks[0].incident_id  # P2 priority: an operator offers it
    for n, phone in enumerate((ours, theirs), start=1):
        pair.send(phone, "patrol.start")
        pair.send(phone, "patrol.position", {"lat": door.lat + 100 * n * M_LAT, "lon": door.lon, "accuracy_m": 5})
    pair.host.ask(OfferUnit(incident, ours, "P1"), now_s=NOW_S)
    with pytest.raises(UnitOutOfPrecinct):
        pair.host.ask(Reassign(incident, theirs, "nearer", "P1"), now_s=NOW_S)
    view = pair.host.ask(Reassign(incident, None, "declined by phone", "P1"), now_s=NOW_S + 1)
    assert view.unit_id != theirs and view.state == "none_available"
    assert [c.args["incident"] for c in pair.host.device_commands
            if c.device_id == theirs and c.command == "task.offer"] == []
    pair.host.ask(OfferUnit(incident, ours, "P1"), now_s=NOW_S + 2)
    assert pair.host.ask(Reassign(incident, theirs, "command center", None), now_s=NOW_S + 3).unit_id == theirs


def test_a_phone_no_volunteer_owns_cannot_patrol_in_another_volunteer_s_name():
    """A volunteer_phone of the city file that no volunteer lists says it is V00002's: its patrol is its own, under
    its device id, and earns nobody points; V00002's totals and balance are untouched."""
    pair = Pair(now_s=NOW_S)
    stray, owned = _phones(pair, 2)
    victim = next(v for v in pair.city.volunteers.values() if v.phone_id == owned)
    del pair.city.volunteers[next(v.id for v in pair.city.volunteers.values() if v.phone_id == stray)]
    pair.restart()
    pair.send(stray, "patrol.start", {"volunteer": victim.id, "team": "T-bogus"})
    site = pair.city.devices[stray]
    for n in range(0, 3700, 30):  # an hour of valid fixes, 30 s apart, walking north
        pair.now_s = NOW_S + n
        pair.send(stray, "patrol.position", {"lat": site.lat + n * 0.5 * M_LAT, "lon": site.lon, "accuracy_m": 5})
    pair.send(stray, "patrol.stop", {"volunteer": victim.id})
    patrols = pair.host.patrols
    assert patrols.ended == 1 and victim.id not in patrols.totals and set(patrols.totals) == {stray}
    assert "T-bogus" not in patrols.teams
    assert pair.host.points.book.balance(victim.id) == 0 and pair.host.points.book.balance(stray) == 0


def test_a_task_answer_that_fits_no_offer_to_the_phone_is_refused_by_name_and_changes_nothing():
    """Another phone accepting this phone's offer, an answer for an incident never offered (or of another host), or
    one its task's state does not allow: a NAK naming the field, the offer still the offered phone's."""
    pair = Pair(now_s=NOW_S)
    offered, other = _phones(pair, 2)
    door = pair.city.devices[pair.device("door")]
    incident = pair.send(door.id, "door.forced").acks[0].incident_id
    for n, phone in enumerate((offered, other), start=1):
        pair.send(phone, "patrol.start")
        pair.send(phone, "patrol.position", {"lat": door.lat + 100 * n * M_LAT, "lon": door.lon, "accuracy_m": 5})
    pair.host.ask(OfferUnit(incident, offered), now_s=NOW_S)

    (stolen,) = pair.send(other, "patrol.task", {"incident": incident, "answer": "accept"}).acks
    assert stolen.status is AckStatus.NAK and stolen.reason.startswith("data.answer: ")
    (unknown,) = pair.send(offered, "patrol.task", {"incident": "H9-door#1", "answer": "accept"}).acks
    assert unknown.status is AckStatus.NAK and unknown.reason.startswith("data.incident: ")
    assert "'H9-door#1'" in unknown.reason
    (early,) = pair.send(offered, "patrol.task", {"incident": incident, "answer": "done"}).acks
    assert early.status is AckStatus.NAK and early.reason.startswith("data.answer: ")
    assert pair.host.patrols.units.state_of(offered).value == "offered"
    assert pair.host.patrols.units.state_of(other).value == "available"
    result = pair.send(offered, "patrol.task", {"incident": incident, "answer": "accept"})
    assert (result.accepted, result.acks) == (1, [])
    assert pair.host.patrols.units.state_of(offered).value == "en_route"


def test_a_phone_whose_seqs_began_again_without_a_boot_id_ends_its_next_patrol_and_is_credited_for_it():
    """Patrol ids are ``<phone>#patrol@<seq>``: a phone that restarts its seqs without a boot id (allowed: a jump
    back of 64 or more) may start a patrol at a seq it used before. Its stop used to fail the host's step on every
    try (a credit of the same patrol id for another duration), never ending the patrol; both patrols earn now."""
    pair = Pair(now_s=NOW_S)
    phone = pair.device("volunteer_phone")
    volunteer = next(v.id for v in pair.city.volunteers.values() if v.phone_id == phone)
    site = pair.city.devices[phone]

    def patrol(started_s: float, minutes: int) -> None:
        pair.now_s = started_s
        pair.send(phone, "patrol.start", seq=5)
        for k, n in enumerate(range(0, minutes * 60 + 1, 30)):
            pair.now_s = started_s + n
            pair.send(phone, "patrol.position", {"lat": site.lat + n * 0.5 * M_LAT, "lon": site.lon,
                                                 "accuracy_m": 5}, seq=6 + k)
        assert pair.send(phone, "patrol.stop", seq=300).accepted == 1

    patrol(NOW_S, 60)
    for seq in range(301, 372):
        pair.send(phone, "heartbeat", seq=seq)
    patrol(NOW_S + 7200, 120)  # seq 5 again: 64 or more behind the newest, the phone's seqs began again
    assert pair.host.patrols.ended == 2 and phone not in pair.host.patrols.under_way
    patrols = [e for e in pair.host.points.book.entries(volunteer) if e.reason.value == "patrol"]
    assert [round(e.valid_s) for e in patrols] == [3600, 7200] and len({e.ref for e in patrols}) == 2
    pair.restart()
    assert pair.host.points.book.balance(volunteer) == sum(e.delta for e in patrols) == 30


@pytest.mark.parametrize("month", ["9999-12", "0000-01"])
def test_the_desk_refuses_a_month_past_the_calendar_naming_the_field(pair, month):
    volunteer = next(iter(pair.city.volunteers))
    for request in (MonthStatement(volunteer, month), Leaderboard(BoardBy.TEAM, month)):
        with pytest.raises(PointsRequestRefused, match=r"^month: "):
            pair.host.ask(request, now_s=NOW_S)


def test_a_phone_starting_patrol_after_patrol_is_refused_past_six_a_minute_so_it_cannot_fill_the_ledger(pair):
    phone = pair.device("volunteer_phone")
    for _ in range(6):
        assert pair.send(phone, "patrol.start").accepted == 1
        assert pair.send(phone, "patrol.stop").accepted == 1
    entries = len(pair.host.points.book.entries())
    (refused,) = pair.send(phone, "patrol.start").acks
    assert refused.status is AckStatus.NAK and refused.reason.startswith("kind: too many patrol.start")
    assert pair.host.patrols.ended == 6 and phone not in pair.host.patrols.under_way
    assert len(pair.host.points.book.entries()) == entries
    pair.advance(NOW_S + 60)
    assert pair.send(phone, "patrol.start", seq=refused.seq).accepted == 1


def test_a_phone_answering_bogus_calls_and_a_panel_ringing_in_a_loop_are_refused_past_ten_a_minute():
    """Urgent kinds ride the alarm lane (QoS 1): a refused visitor.answer is an audit row, a ring a journaled call
    that rings every phone of the unit. Past ten a minute from one device they are refused by name, unjournaled."""
    pair = Pair(replace(SMALL, residents_per_door=3), now_s=NOW_S)
    phone, door = "C0001-u2-r1-phone", "C0001-door2"
    for n in range(10):
        assert pair.send(phone, "visitor.answer", {"call": f"C0009-door1#call@{n}", "answer": "open"}).refused == 1
    audited = len(pair.journal.audit_rows())
    (limited,) = pair.send(phone, "visitor.answer", {"call": "C0009-door1#call@99", "answer": "open"}).acks
    assert limited.status is AckStatus.NAK and limited.reason.startswith("kind: too many visitor.answer")
    assert len(pair.journal.audit_rows()) == audited  # the flood past the limit writes nothing
    for _ in range(10):
        assert pair.send(door, "door.visitor", {"unit": "2"}).accepted == 1
    (rung_out,) = pair.send(door, "door.visitor", {"unit": "2"}).acks
    assert rung_out.status is AckStatus.NAK and rung_out.reason.startswith("kind: too many door.visitor")
    calls = {c.args["call"] for c in pair.host.take_device_commands() if c.command == "visitor_call"}
    assert len(calls) == 10
    # per device: the unit's other verified phone answers a real call
    assert pair.send("C0001-u2-r3-phone", "visitor.answer", {"call": min(calls), "answer": "deny"}).accepted == 1
