import pytest

from engine.errors import InvalidTransition, NotAuthorized
from engine.incident import DeviceCommand, NewIncident, Notify, apply_command, deadline_passed, open_incident, repeat
from engine.policy import default_policies
from protocols import IncidentState, Level, TimelineEvent
from protocols.kinds import IncidentKind
from protocols.records import Action, OperatorCommand

POLICIES = default_policies()
TARGETS = {Level.GUARD_ROOM: "S1-guard", Level.POLICE_STATION: "P1-station", Level.COMMAND_CENTER: "CC",
           Level.MAINTENANCE: "P1-maint"}


def raise_school_panic(now_s=0.0, targets=TARGETS):
    new = NewIncident("box#1", IncidentKind.SCHOOL_PANIC, "box", "S1", "P1", "h0", seq=1)
    return open_incident(new, policy=POLICIES.for_incident(IncidentKind.SCHOOL_PANIC), targets=targets.get,
                         now_s=now_s)


def cmd(action, level=Level.POLICE_STATION, target="P1-station", **kw):
    return OperatorCommand(action, "box#1", "officer", level, target, **kw)


def act(record, *commands, now_s=1.0):
    for command in commands:
        record, _ = apply_command(record, command, policy=POLICIES.for_incident(record.kind), now_s=now_s)
    return record


def test_school_alarm_reaches_guard_and_station_at_once():
    record, effects = raise_school_panic(now_s=5.0)
    notified = [(e.level, e.target, e.t_s) for e in record.timeline if e.event is TimelineEvent.NOTIFIED]
    assert notified == [(Level.GUARD_ROOM, "S1-guard", 5.0), (Level.POLICE_STATION, "P1-station", 5.0)]
    assert {e.target for e in effects if isinstance(e, Notify)} == {"S1-guard", "P1-station"}
    assert record.deadline_s == 35.0 and record.state is IncidentState.RAISED


def test_school_panic_sounds_the_siren_and_duress_stays_silent():
    _, effects = raise_school_panic()
    assert DeviceCommand("box", "siren", {"on": True, "incident": "box#1"}) in effects
    new = NewIncident("box#2", IncidentKind.SCHOOL_DURESS, "box", "S1", "P1", "h0", seq=2)
    record, effects = open_incident(new, policy=POLICIES.for_incident(IncidentKind.SCHOOL_DURESS),
                                    targets=TARGETS.get, now_s=0)
    assert not any(isinstance(e, DeviceCommand) for e in effects)
    assert record.silent
    assert {e.target for e in effects} == {"P1-station", "CC"}


def test_no_ack_escalates_to_command_center_then_reminds():
    record, _ = raise_school_panic()
    record, effects = deadline_passed(record, policy=POLICIES.for_incident(record.kind), targets=TARGETS.get,
                                      now_s=30.0)
    assert [e.event for e in record.timeline[-2:]] == [TimelineEvent.ESCALATED, TimelineEvent.NOTIFIED]
    assert record.level is Level.COMMAND_CENTER and record.deadline_s == 90.0
    assert effects == [Notify("CC", Level.COMMAND_CENTER, "box#1")]
    record, effects = deadline_passed(record, policy=POLICIES.for_incident(record.kind), targets=TARGETS.get,
                                      now_s=90.0)
    assert record.timeline[-1].event is TimelineEvent.REMINDER and record.deadline_s == 150.0
    assert effects == [Notify("CC", Level.COMMAND_CENTER, "box#1", reminder=True)]


def test_deadline_before_its_time_is_refused():
    record, _ = raise_school_panic()
    with pytest.raises(InvalidTransition, match=r"deadline is at 30.0"):
        deadline_passed(record, policy=POLICIES.for_incident(record.kind), targets=TARGETS.get, now_s=29.9)


def test_level_without_an_entity_is_skipped():
    targets = {Level.POLICE_STATION: "P1-station", Level.COMMAND_CENTER: "CC"}  # no guard room
    new = NewIncident("cam#1", IncidentKind.CAMERA_THROW, "cam", "K1", "P1", "h0", seq=1)
    record, effects = open_incident(new, policy=POLICIES.for_incident(IncidentKind.CAMERA_THROW),
                                    targets=targets.get, now_s=0)
    assert record.notified == ("P1-station",) and record.step == 1


def test_acknowledgement_stops_escalation():
    record, _ = raise_school_panic()
    record = act(record, cmd(Action.ACKNOWLEDGE))
    assert record.state is IncidentState.ACKNOWLEDGED and record.deadline_s is None
    assert (record.acked_by, record.acked_level) == ("officer", Level.POLICE_STATION)
    with pytest.raises(InvalidTransition, match=r"already acknowledged by officer at police_station"):
        act(record, cmd(Action.ACKNOWLEDGE, Level.GUARD_ROOM, "S1-guard"))


def test_full_closed_loop_records_who_and_when():
    record, _ = raise_school_panic()
    record = act(record, cmd(Action.ACKNOWLEDGE), cmd(Action.DISPATCH, unit="car 7"), cmd(Action.ON_SCENE),
                 cmd(Action.RESOLVE), cmd(Action.CLOSE, disposition="drill"))
    assert record.state is IncidentState.CLOSED and record.disposition == "drill"
    events = [e.event.value for e in record.timeline]
    assert events[-5:] == ["acknowledged", "dispatched", "on_scene", "resolved", "closed"]
    assert all(e.actor == "officer" and e.level is Level.POLICE_STATION for e in record.timeline[-5:])


def test_closing_requires_a_disposition():
    record, _ = raise_school_panic()
    record = act(record, cmd(Action.ACKNOWLEDGE), cmd(Action.RESOLVE))
    with pytest.raises(InvalidTransition, match=r"^incident box#1: cannot close when resolved: closing requires a disposition$"):
        act(record, cmd(Action.CLOSE, disposition="  "))


def test_dispatch_names_a_unit_and_needs_acknowledgement():
    record, _ = raise_school_panic()
    with pytest.raises(InvalidTransition, match=r"cannot dispatch when raised"):
        act(record, cmd(Action.DISPATCH, unit="car 7"))
    record = act(record, cmd(Action.ACKNOWLEDGE))
    with pytest.raises(InvalidTransition, match=r"a dispatch names the unit sent"):
        act(record, cmd(Action.DISPATCH))


def test_false_alarm_and_cancel_end_the_incident_with_a_disposition():
    record, _ = raise_school_panic()
    with pytest.raises(InvalidTransition, match=r"a false alarm requires a disposition"):
        act(record, cmd(Action.FALSE_ALARM, disposition="  "))
    ended = act(record, cmd(Action.FALSE_ALARM, disposition="cat on the sensor"))
    assert ended.state is IncidentState.FALSE_ALARM and ended.disposition == "cat on the sensor"
    assert ended.deadline_s is None
    with pytest.raises(InvalidTransition, match=r"requires a disposition"):
        act(record, cmd(Action.CANCEL))
    assert act(record, cmd(Action.CANCEL, disposition="drill")).state is IncidentState.CANCELLED


def test_terminal_incident_refuses_everything():
    record, _ = raise_school_panic()
    record = act(record, cmd(Action.FALSE_ALARM, disposition="test"))
    for action in Action:
        with pytest.raises(InvalidTransition):
            act(record, cmd(action, disposition="x", unit="u"))


def test_actor_never_notified_may_not_act():
    record, _ = raise_school_panic()
    with pytest.raises(NotAuthorized, match=r"S9-guard was never notified"):
        act(record, cmd(Action.ACKNOWLEDGE, Level.GUARD_ROOM, "S9-guard"))
    with pytest.raises(NotAuthorized, match=r"notified as guard_room, not police_station"):
        act(record, cmd(Action.ACKNOWLEDGE, Level.POLICE_STATION, "S1-guard"))


def test_command_center_may_take_any_incident():
    record, _ = raise_school_panic()
    assert act(record, cmd(Action.ACKNOWLEDGE, Level.COMMAND_CENTER, "CC")).state is IncidentState.ACKNOWLEDGED


def test_repeat_counts_on_active_incident_only():
    record, _ = raise_school_panic()
    record = repeat(record, seq=4)
    assert record.repeats == 1 and record.seq == 4
    record = act(record, cmd(Action.FALSE_ALARM, disposition="test"))
    with pytest.raises(InvalidTransition, match=r"no longer active"):
        repeat(record, seq=5)


def test_every_change_bumps_version():
    record, _ = raise_school_panic()
    versions = [record.version]
    for command in (cmd(Action.ACKNOWLEDGE), cmd(Action.RESOLVE)):
        record = act(record, command)
        versions.append(record.version)
    assert versions == sorted(set(versions))


def test_engine_errors_survive_pickling():
    import pickle

    from engine.errors import ConfigError, Overloaded, UnknownIncident

    for err in (ConfigError("c.toml", 3, "sites[0].kind", "bad"), InvalidTransition("i", "raised", "close", "why"),
                NotAuthorized("i", "bob", "no"), UnknownIncident("i"), Overloaded("outbox", 10)):
        assert str(pickle.loads(pickle.dumps(err))) == str(err)
