"""engine.patrol.units: the unit tracker's rows, positions and state transitions; protocols.patrol's labels."""

from __future__ import annotations

import math

import pytest

from engine.patrol.units import InvalidUnitTransition, UnitTracker, UnknownUnit
from protocols.patrol import (DISPATCH_STATE_LABELS, NOT_CHOSEN_LABELS, UNIT_KIND_LABELS, UNIT_STATE_LABELS,
                              UNIT_TRANSITIONS, DispatchState, NotChosen, UnitKind, UnitState)

V, CAR, FOOT = UnitKind.VOLUNTEER, UnitKind.POLICE_CAR, UnitKind.FOOT_OFFICER


def tracker(*ids: str, capacity: int = 4) -> UnitTracker:
    units = UnitTracker(capacity=capacity)
    for unit_id in ids:
        units.add(unit_id, kind=V, precinct="P1")
    return units


def test_a_new_unit_is_off_duty_with_no_position():
    units = tracker("u1")
    info = units.info("u1")
    assert (info.state, info.kind, info.precinct, info.lat, info.lon, info.fix_s) == (
        UnitState.OFF_DUTY, V, "P1", None, None, None)
    assert not units.is_available("u1") and "u1" in units and len(units) == 1


def test_only_a_newer_fix_moves_a_unit():
    units = tracker("u1")
    assert units.update_position("u1", 31.80, 117.20, 100.0)
    assert not units.update_position("u1", 31.90, 117.30, 90.0)  # arrived late
    assert not units.update_position("u1", 31.90, 117.30, 100.0)  # same time: not newer
    assert units.update_position("u1", 31.81, 117.21, 101.0)
    info = units.info("u1")
    assert (info.lat, info.lon, info.fix_s) == (31.81, 117.21, 101.0)


@pytest.mark.parametrize("lat, lon, fix_s", [(91.0, 0.0, 1.0), (0.0, -181.0, 1.0), (math.nan, 0.0, 1.0),
                                             (0.0, 0.0, math.inf), (0.0, 0.0, math.nan)])
def test_a_position_that_is_not_one_is_refused(lat, lon, fix_s):
    units = tracker("u1")
    with pytest.raises(ValueError, match=r"^unit u1: not a position"):
        units.update_position("u1", lat, lon, fix_s)
    assert units.info("u1").fix_s is None


def test_the_arrays_grow_by_doubling_and_keep_every_row():
    units = UnitTracker(capacity=2)
    for i in range(9):
        units.add(f"u{i}", kind=CAR, precinct=f"P{i % 3}", state=UnitState.AVAILABLE)
        units.update_position(f"u{i}", 30.0 + i, 117.0, float(i))
    assert units.capacity == 16 and len(units) == 9
    a = units.arrays()
    assert len(a.lat) == 9 and list(a.lat) == [30.0 + i for i in range(9)]
    assert [units.precinct_name(int(c)) for c in a.precinct] == [f"P{i % 3}" for i in range(9)]
    assert all(units.info(f"u{i}").fix_s == float(i) for i in range(9))


def test_removing_a_unit_moves_the_last_row_into_its_place():
    units = tracker("a", "b", "c")
    for i, unit_id in enumerate("abc"):
        units.update_position(unit_id, 10.0 + i, 20.0, 1.0)
    units.set_state("c", UnitState.AVAILABLE)
    units.remove("a")
    assert units.ids() == ["c", "b"] and units.row_of("c") == 0 and len(units.arrays().lat) == 2
    assert units.info("c").lat == 12.0 and units.state_of("c") is UnitState.AVAILABLE
    assert "a" not in units
    with pytest.raises(UnknownUnit, match=r"^unknown unit 'a'$"):
        units.info("a")
    units.remove("b")
    units.remove("c")
    assert len(units) == 0 and units.ids() == []


def test_a_unit_is_added_once():
    units = tracker("u1")
    with pytest.raises(ValueError, match=r"already tracked"):
        units.add("u1", kind=FOOT)


def test_a_unit_goes_round_its_whole_cycle():
    units = tracker("u1")
    for state in (UnitState.AVAILABLE, UnitState.OFFERED, UnitState.EN_ROUTE, UnitState.ON_SCENE,
                  UnitState.RETURNING, UnitState.AVAILABLE, UnitState.OFF_DUTY):
        units.set_state("u1", state)
        assert units.state_of("u1") is state


@pytest.mark.parametrize("path, to", [
    ((), UnitState.OFFERED),  # off duty cannot be offered anything
    ((), UnitState.OFF_DUTY),  # nor go where it is
    ((UnitState.AVAILABLE, UnitState.OFFERED, UnitState.EN_ROUTE), UnitState.OFF_DUTY),  # on a task
    ((UnitState.AVAILABLE, UnitState.OFFERED, UnitState.EN_ROUTE, UnitState.ON_SCENE), UnitState.OFFERED),
    ((UnitState.AVAILABLE,), UnitState.ON_SCENE),
])
def test_an_illegal_transition_is_refused_and_changes_nothing(path, to):
    units = tracker("u1")
    for state in path:
        units.set_state("u1", state)
    before = units.state_of("u1")
    with pytest.raises(InvalidUnitTransition, match=rf"^unit u1: cannot go from {before} to {to} \(from {before}: "):
        units.set_state("u1", to)
    assert units.state_of("u1") is before


def test_every_state_has_its_transitions_and_every_value_its_label():
    assert set(UNIT_TRANSITIONS) == set(UnitState)
    assert all(state not in targets for state, targets in UNIT_TRANSITIONS.items())
    for enum, labels in ((UnitKind, UNIT_KIND_LABELS), (UnitState, UNIT_STATE_LABELS),
                         (NotChosen, NOT_CHOSEN_LABELS), (DispatchState, DISPATCH_STATE_LABELS)):
        assert set(labels) == set(enum) and len(set(labels.values())) == len(labels)
        assert all(label.strip() and label[0].isupper() for label in labels.values())


def test_an_unknown_unit_is_named():
    units = tracker()
    with pytest.raises(UnknownUnit, match=r"^unknown unit 'ghost'$"):
        units.set_state("ghost", UnitState.AVAILABLE)
    assert not units.is_available("ghost")
