"""Tips (issue 14): a volunteer's ``patrol.clue`` is a low-priority incident in the station's review queue; the station
accepts it (points for its volunteer, once), rejects it with a reason, or promotes it to a dispatchable incident (a P1
is offered to the nearest unit at once). Only a tip under review takes these actions. The phone hears the verdict
(``tip.reviewed``). Pure lifecycle first, then through a host."""

from __future__ import annotations

import pytest

from engine.errors import InvalidTransition, NotAuthorized, UnknownIncident
from engine.incident import NewIncident, open_incident
from protocols import IncidentState, Level, TimelineEvent
from protocols.kinds import DeviceKind, IncidentKind
from protocols.points import PointsReason
from protocols.records import ACTIONS_BY_STATE, TIP_ACTIONS, Action, OperatorCommand, Tip, TipVerdict
from tests.engine.helpers import Pair
from tests.engine.test_authority import CC, GUARD
from tests.engine.test_incident import POLICIES, TARGETS, act, raise_school_panic

TIP = Tip(category="suspicious", text="a man trying car doors", photo="photos/7.jpg", reporter="V1")


def raise_tip(now_s=0.0):
    new = NewIncident("box#1", IncidentKind.PATROL_CLUE, "phone", "", "P1", "h0", seq=1, tip=TIP)
    record, _ = open_incident(new, policy=POLICIES.for_incident(IncidentKind.PATROL_CLUE), targets=TARGETS.get,
                              now_s=now_s)
    return record


def cmd(action, level=Level.POLICE_STATION, target="P1-station", **kw):
    return OperatorCommand(action, "box#1", "officer", level, target, **kw)


def test_a_tip_waits_in_the_station_queue_at_low_priority_with_what_it_says():
    record = raise_tip()
    assert record.notified == ("P1-station",) and record.priority == 4 and record.tip == TIP
    assert record.state is IncidentState.RAISED and record.deadline_s == 300.0


@pytest.mark.parametrize("path", [[], ["acknowledge"]], ids=["raised", "acknowledged"])
def test_accept_ends_the_review_with_a_line_naming_the_verdict_and_the_note(path):
    record = act(raise_tip(), *[cmd(a) for a in path])
    done = act(record, cmd("accept", note="good catch"))
    line = done.timeline[-1]
    assert (line.event, line.level, line.target, line.actor, line.note) == (
        TimelineEvent.TIP_ACCEPTED, Level.POLICE_STATION, "P1-station", "officer", "good catch")
    assert done.state is IncidentState.CLOSED and done.deadline_s is None
    assert done.tip.verdict is TipVerdict.ACCEPTED and done.disposition == "tip accepted: good catch"


def test_reject_needs_a_reason_and_names_it():
    with pytest.raises(InvalidTransition, match="note: rejecting a tip needs a reason"):
        act(raise_tip(), cmd("reject", note="  "))
    done = act(raise_tip(), cmd("reject", note="a cat, not a burglar"))
    assert (done.timeline[-1].event, done.timeline[-1].note) == (TimelineEvent.TIP_REJECTED, "a cat, not a burglar")
    assert done.state is IncidentState.CLOSED and done.tip.verdict is TipVerdict.REJECTED
    assert done.tip.reason == "a cat, not a burglar"


def test_promote_makes_an_acknowledged_incident_of_the_given_priority_default_two():
    default = act(raise_tip(), cmd("promote", note="send someone"))
    assert (default.state, default.priority, default.acked_by) == (IncidentState.ACKNOWLEDGED, 2, "officer")
    assert (default.timeline[-1].event, default.timeline[-1].note) == (TimelineEvent.TIP_PROMOTED, "P2: send someone")
    assert act(raise_tip(), cmd("promote", priority=1)).priority == 1
    with pytest.raises(InvalidTransition, match="priority: a promoted tip is priority 1, 2 or 3, not 4"):
        act(raise_tip(), cmd("promote", priority=4))


def test_a_reviewed_tip_and_any_other_incident_refuse_the_review_actions():
    promoted = act(raise_tip(), cmd("promote"))
    for action in TIP_ACTIONS:
        with pytest.raises(InvalidTransition, match="the tip was already reviewed: promoted"):
            act(promoted, cmd(action, note="again"))
    assert act(promoted, cmd("dispatch", unit="car 7")).state is IncidentState.DISPATCHED  # a dispatchable incident
    panic, _ = raise_school_panic()
    with pytest.raises(InvalidTransition, match=r"only a tip \(patrol.clue\) is reviewed; this is a school.panic"):
        act(panic, cmd("accept"))


@pytest.mark.parametrize("state", [IncidentState.RAISED, IncidentState.ACKNOWLEDGED])
def test_the_transition_table_holds_for_a_tip_under_review(state):
    record = raise_tip() if state is IncidentState.RAISED else act(raise_tip(), cmd("acknowledge"))
    for action in Action:
        try:
            act(record, cmd(action, unit="car 7", disposition="done", note="why", priority=2,
                            to_level=Level.POLICE_STATION, **CC))
            allowed = True
        except InvalidTransition:
            allowed = False
        assert allowed == (action in ACTIONS_BY_STATE[state]), (state, action)


def test_authority_a_guard_room_may_not_review_and_a_station_may_not_end_what_the_command_center_holds():
    with pytest.raises(NotAuthorized, match="S1-guard was never notified"):
        act(raise_tip(), cmd("accept", **GUARD))
    held = act(raise_tip(), cmd("acknowledge", **CC))
    with pytest.raises(NotAuthorized, match="held at command_center: police_station may not accept"):
        act(held, cmd("accept"))
    assert act(held, cmd("reject", note="duplicate", **CC)).state is IncidentState.CLOSED


# -- through a host ----------------------------------------------------------------------------------------------

M_LAT = 1 / 111_195.0


def _phones(pair: Pair) -> list[str]:
    return sorted(d.id for d in pair.host.city.devices.values() if d.kind is DeviceKind.VOLUNTEER_PHONE)


def _volunteer(pair: Pair, phone: str) -> str:
    return next(v.id for v in pair.host.city.volunteers.values() if v.phone_id == phone)


def _station(pair: Pair, record) -> dict:
    return dict(level=Level.POLICE_STATION, target=pair.city.precincts[record.precinct_id].station_id)


def _tip(pair: Pair, phone: str, now_s: float, **data):
    pair.now_s = now_s
    result = pair.send(phone, "patrol.clue", {"text": "a man trying car doors", "category": "suspicious",
                                              "photo": "photos/7.jpg", **data})
    return pair.host.incident(result.acks[0].incident_id)


def _review(pair: Pair, record, action: str, now_s: float = 100.0, **kw):
    command = OperatorCommand(Action(action), record.id, "officer", **_station(pair, record), **kw)
    return pair.host.command(command, now_s=now_s)


def _reviewed(pair: Pair) -> list:
    return [c for c in pair.host.device_commands if c.command == "tip.reviewed"]


def test_a_phone_tip_carries_its_words_place_photo_and_volunteer_into_the_station_queue():
    pair = Pair()
    phone = _phones(pair)[0]
    record = _tip(pair, phone, 10.0, lat=31.91, lon=117.31)
    assert record.kind is IncidentKind.PATROL_CLUE and record.priority == 4
    assert record.tip == Tip("suspicious", "a man trying car doors", "photos/7.jpg", _volunteer(pair, phone))
    assert (record.lat, record.lon) == (31.91, 117.31)
    assert record.notified == (pair.city.precincts[record.precinct_id].station_id,)


def test_an_accepted_tip_earns_its_volunteer_the_points_once_journaled_and_the_phone_hears_it():
    pair = Pair()
    phone = _phones(pair)[0]
    volunteer = _volunteer(pair, phone)
    record = _tip(pair, phone, 10.0)
    done = _review(pair, record, "accept", note="good catch")
    assert done.state is IncidentState.CLOSED and done.tip.verdict is TipVerdict.ACCEPTED
    assert pair.host.points.book.balance(volunteer) == 20
    assert [e.reason for e in pair.host.points.book.entries(volunteer)] == [PointsReason.TIP_ACCEPTED]
    assert [(c.device_id, c.args) for c in _reviewed(pair)] == [(phone, {
        "incident": record.id, "verdict": "accepted", "reason": "good catch", "points": 20})]
    with pytest.raises(UnknownIncident):  # over: nothing to accept twice
        _review(pair, record, "accept")
    audit = [(r.action, r.target, r.outcome, r.reason) for r in pair.journal.audit if r.action == "accept"]
    assert audit == [("accept", record.id, "ok", "good catch"), ("accept", record.id, "refused", "unknown incident")]
    pair.restart()
    assert pair.host.points.book.balance(volunteer) == 20  # journaled with the step that accepted it


def test_a_rejection_without_a_reason_is_refused_and_with_one_earns_nothing():
    pair = Pair()
    phone = _phones(pair)[0]
    record = _tip(pair, phone, 10.0)
    with pytest.raises(InvalidTransition, match="note: rejecting a tip needs a reason"):
        _review(pair, record, "reject")
    assert pair.host.incident(record.id).state is IncidentState.RAISED and _reviewed(pair) == []
    _review(pair, record, "reject", note="a cat, not a burglar")
    assert pair.host.points.book.balance(_volunteer(pair, phone)) == 0
    assert [c.args for c in _reviewed(pair)] == [{"incident": record.id, "verdict": "rejected",
                                                  "reason": "a cat, not a burglar", "points": 0}]


def test_a_tip_promoted_to_p1_is_offered_at_once_to_the_nearest_volunteer_on_patrol_and_earns_its_points():
    pair = Pair()
    reporter, walker = _phones(pair)[:2]
    lat, lon = 31.9, 117.3
    pair.now_s = 1000.0
    pair.send(walker, "patrol.start", {})
    assert pair.send(walker, "patrol.position", {"lat": lat + 100 * M_LAT, "lon": lon, "accuracy_m": 5.0}).accepted
    record = _tip(pair, reporter, 1001.0, lat=lat, lon=lon)
    assert [c for c in pair.host.device_commands if c.command == "task.offer"] == []  # under review: nobody sent
    promoted = _review(pair, record, "promote", now_s=1002.0, priority=1, note="burglary in progress")
    assert (promoted.state, promoted.priority) == (IncidentState.ACKNOWLEDGED, 1)
    offers = [c for c in pair.host.device_commands if c.command == "task.offer"]
    assert [(c.device_id, c.args["incident"]) for c in offers] == [(walker, record.id)]
    assert 90 <= offers[0].args["distance_m"] <= 110
    assert pair.host.points.book.balance(_volunteer(pair, reporter)) == 20
    assert [c.args["verdict"] for c in _reviewed(pair)] == ["promoted"]


def test_a_tip_promoted_below_p1_waits_for_an_operator_and_a_non_tip_refuses_review():
    pair = Pair()
    record = _tip(pair, _phones(pair)[0], 10.0)
    assert _review(pair, record, "promote").priority == 2
    assert pair.host.dispatches.dispatches == {}
    box = pair.device("panic_box")
    pair.now_s = 20.0
    panic = pair.host.incident(pair.send(box, "school.panic", {}).acks[0].incident_id)
    with pytest.raises(InvalidTransition, match="only a tip"):
        _review(pair, panic, "accept")
    refused = [r for r in pair.journal.audit if r.target == panic.id and r.outcome == "refused"]
    assert refused and "only a tip" in refused[0].reason
