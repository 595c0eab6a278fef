"""Authority: once an incident has been escalated to a level, or acknowledged at one, a lower level may no longer
close, cancel or false-alarm it (unless its kind's policy says so); cancel and false alarm need a reason."""

from dataclasses import replace

import pytest

from engine.errors import ConfigError, NotAuthorized
from engine.incident import apply_command, deadline_passed
from engine.policy import policies_from_text
from protocols import IncidentState, Level
from tests.engine.test_incident import POLICIES, TARGETS, act, cmd, raise_school_panic

GUARD = dict(level=Level.GUARD_ROOM, target="S1-guard")
CC = dict(level=Level.COMMAND_CENTER, target="CC")


def escalated_to_command_center():
    record, _ = raise_school_panic()
    record, _ = deadline_passed(record, policy=POLICIES.for_incident(record.kind), targets=TARGETS.get, now_s=30.0)
    assert record.level is Level.COMMAND_CENTER
    return record


@pytest.mark.parametrize("action", ["false_alarm", "cancel"])
def test_a_guard_room_cannot_end_a_panic_the_command_center_holds(action):
    record = escalated_to_command_center()
    with pytest.raises(NotAuthorized, match=r"held at command_center: guard_room may not " + action):
        act(record, cmd(action, disposition="no reason to worry", **GUARD))
    with pytest.raises(NotAuthorized, match=r"held at command_center: police_station may not"):
        act(record, cmd(action, disposition="no reason to worry"))
    assert act(record, cmd(action, disposition="checked on camera", **CC)).state.is_terminal


def test_a_station_cannot_close_what_the_command_center_acknowledged():
    record, _ = raise_school_panic()
    record = act(record, cmd("acknowledge", **CC), cmd("resolve", **CC))  # the command center took it, unescalated
    with pytest.raises(NotAuthorized, match=r"held at command_center: police_station may not close"):
        act(record, cmd("close", disposition="handled"))
    assert act(record, cmd("close", disposition="handled", **CC)).state is IncidentState.CLOSED


def test_at_its_first_step_every_level_notified_may_end_it_with_a_reason():
    record, _ = raise_school_panic()
    assert act(record, cmd("false_alarm", disposition="pressed by a pupil", **GUARD)).state is \
        IncidentState.FALSE_ALARM
    guard_acked = act(record, cmd("acknowledge", **GUARD), cmd("resolve", **GUARD))
    assert act(guard_acked, cmd("close", disposition="ok", **GUARD)).state is IncidentState.CLOSED
    station_acked = act(record, cmd("acknowledge"), cmd("resolve"))  # a station's acknowledgement holds it there
    with pytest.raises(NotAuthorized, match=r"held at police_station: guard_room may not close"):
        act(station_acked, cmd("close", disposition="ok", **GUARD))


def test_lower_levels_acting_on_what_they_may_still_do_is_not_refused():
    record = escalated_to_command_center()
    assert act(record, cmd("acknowledge", **GUARD)).state is IncidentState.ACKNOWLEDGED


def test_a_policy_may_let_lower_levels_end_it():
    record = escalated_to_command_center()
    lenient = replace(POLICIES.for_incident(record.kind), lower_levels_may_end=True)
    ended, _ = apply_command(record, cmd("false_alarm", disposition="drill", **GUARD), policy=lenient, now_s=40.0)
    assert ended.state is IncidentState.FALSE_ALARM


def test_the_policies_file_says_it_per_kind_and_refuses_a_wrong_type():
    text = ('[policies."door.forced"]\nlower_levels_may_end = true\n'
            'steps = [{ notify = ["guard_room"], ack_within_s = 60 }, { notify = ["police_station"] }]\n')
    assert policies_from_text(text, file="p.toml").for_incident("door.forced").lower_levels_may_end
    assert not POLICIES.for_incident("school.panic").lower_levels_may_end
    with pytest.raises(ConfigError, match=r"lower_levels_may_end: expected bool"):
        policies_from_text(text.replace("= true", '= "yes"'), file="p.toml")
