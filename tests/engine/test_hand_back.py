"""The command center hands an incident back down: the level it goes to may end it again; nobody else may hand back.
And ``may_end``, what consoles enable their end buttons from, agrees with what the engine allows."""

import pytest

from engine.errors import InvalidTransition, NotAuthorized
from engine.incident import may_end
from protocols import IncidentState, Level, TimelineEvent
from protocols.records import ACTIONS_BY_STATE, TIP_ACTIONS, Action
from tests.engine.test_authority import CC, GUARD, escalated_to_command_center
from tests.engine.test_incident import POLICIES, act, cmd, raise_school_panic


def test_the_command_center_hands_back_and_the_station_may_then_close():
    record = act(escalated_to_command_center(), cmd("acknowledge", **CC))
    with pytest.raises(NotAuthorized):
        act(record, cmd("cancel", disposition="handled locally"))
    handed = act(record, cmd("hand_back", to_level=Level.POLICE_STATION, note="station has it in hand", **CC))
    line = handed.timeline[-1]
    assert (line.event, line.level, line.target, line.actor, line.note) == (
        TimelineEvent.HANDED_BACK, Level.POLICE_STATION, "P1-station", "officer", "station has it in hand")
    assert handed.level is Level.POLICE_STATION and handed.holders == ("P1-station",)
    assert act(handed, cmd("cancel", disposition="handled locally")).state is IncidentState.CANCELLED
    with pytest.raises(NotAuthorized, match="held at police_station: guard_room"):
        act(handed, cmd("cancel", disposition="not the guard's call", **GUARD))


@pytest.mark.parametrize("kw, error, match", [
    (dict(to_level=Level.POLICE_STATION, note="yours"), NotAuthorized, "only the command center"),  # a station
    (dict(to_level=Level.COMMAND_CENTER, note="x", **CC), InvalidTransition, "to_level: name the lower level"),
    (dict(note="x", **CC), InvalidTransition, "to_level"),
    (dict(to_level=Level.POLICE_STATION, **CC), InvalidTransition, "note: handing back needs a reason"),
    (dict(to_level=Level.MAINTENANCE, note="x", **CC), InvalidTransition, "no maintenance was notified"),
])
def test_hand_back_refusals_name_the_reason(kw, error, match):
    with pytest.raises(error, match=match):
        act(escalated_to_command_center(), cmd("hand_back", **kw))


def test_an_ended_incident_cannot_be_handed_back():
    record = act(escalated_to_command_center(), cmd("cancel", disposition="drill", **CC))
    with pytest.raises(InvalidTransition, match="has ended"):
        act(record, cmd("hand_back", to_level=Level.POLICE_STATION, note="x", **CC))


def test_may_end_follows_the_authority_rule():
    policy = POLICIES.for_incident(raise_school_panic()[0].kind)
    fresh, _ = raise_school_panic()
    assert set(may_end(fresh, policy)) == set(Level)
    held = escalated_to_command_center()
    assert may_end(held, policy) == (Level.COMMAND_CENTER,)
    handed = act(held, cmd("hand_back", to_level=Level.GUARD_ROOM, note="campus has it", **CC))
    assert set(may_end(handed, policy)) == {Level.GUARD_ROOM, Level.POLICE_STATION, Level.COMMAND_CENTER}
    assert may_end(act(fresh, cmd("false_alarm", disposition="pupil")), policy) == ()


@pytest.mark.parametrize("state", list(IncidentState))
def test_the_transition_table_sent_to_consoles_is_what_the_lifecycle_allows(state):
    """For every state and action: allowed by ``ACTIONS_BY_STATE`` exactly when the lifecycle does not refuse it
    for the state (a command-center operator with every needed field, so only the state can refuse). A school panic
    is no tip: the review actions are refused for its kind (``tests/engine/test_tips.py`` checks them on a tip)."""
    base, _ = raise_school_panic()
    paths = {IncidentState.RAISED: [], IncidentState.ACKNOWLEDGED: ["acknowledge"],
             IncidentState.DISPATCHED: ["acknowledge", "dispatch"],
             IncidentState.ON_SCENE: ["acknowledge", "dispatch", "on_scene"],
             IncidentState.RESOLVED: ["acknowledge", "resolve"], IncidentState.CLOSED: ["acknowledge", "resolve", "close"],
             IncidentState.CANCELLED: ["cancel"], IncidentState.FALSE_ALARM: ["false_alarm"]}
    full = dict(unit="car 7", disposition="done", note="why", to_level=Level.POLICE_STATION, **CC)
    record = act(base, *[cmd(a, **full) for a in paths[state]])
    assert record.state is state
    for action in Action:
        try:
            act(record, cmd(action, **full))
            allowed = True
        except InvalidTransition:
            allowed = False
        assert allowed == (action in ACTIONS_BY_STATE[state] and action not in TIP_ACTIONS), (state, action)
