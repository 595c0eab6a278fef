"""engine.patrol.offers: one incident's offers and task, fed with a fake clock; the unit states it sets are applied
to a real UnitTracker, so every transition it asks for must be a legal one."""

from __future__ import annotations

import pytest

from engine.patrol.offer_effects import (AwaitingOperator, Candidate, CheckInMissed, NoneAvailable, OfferDeclined,
                                         OfferExpired, OfferSent, OfferWithdrawn, Place, TaskAssigned, TaskCancelled,
                                         TaskDone, UnitOnScene, UnitStateSet)
from engine.patrol.offers import Dispatch, OfferRefused, apply_unit_states
from engine.patrol.units import UnitTracker
from protocols.patrol import DispatchState, UnitKind, UnitState

PLACE = Place(31.82, 117.23, "School 3 gate")
CANDIDATES = (Candidate("a", 120.0), Candidate("b", 340.0), Candidate("c", 900.0))


class Desk:
    """A host in miniature: the tracker, one dispatch, and the effects and deadline of every step."""

    def __init__(self, *, priority: int = 1, busy: tuple[str, ...] = (), **options) -> None:
        self.units = UnitTracker()
        for unit_id in ("a", "b", "c", "d"):
            self.units.add(unit_id, kind=UnitKind.VOLUNTEER, state=UnitState.AVAILABLE)
        for unit_id in busy:
            self.units.set_state(unit_id, UnitState.OFF_DUTY)
        self.dispatch = Dispatch("I1", place=PLACE, priority=priority, candidates=CANDIDATES, cameras=("C1-cam1",),
                                 **options)
        self.deadline_s: float | None = None

    def __call__(self, method: str, *args, **kwargs) -> list:
        if method in ("start", "offer", "decline", "deadline_passed", "reassign", "set_candidates"):
            kwargs["is_available"] = self.units.is_available
        step = getattr(self.dispatch, method)(*args, **kwargs)
        apply_unit_states(self.units, step.effects)
        self.deadline_s = step.deadline_s
        return [e for e in step.effects if not isinstance(e, UnitStateSet)]

    def states(self) -> dict[str, UnitState]:
        return {unit_id: self.units.state_of(unit_id) for unit_id in self.units.ids()}


def test_a_p1_incident_is_offered_to_the_first_candidate_at_once():
    desk = Desk(priority=1)
    effects = desk("start", now_s=100.0)
    assert effects == [OfferSent("a", "I1", PLACE, 120.0, ("C1-cam1",), 130.0)]
    assert desk.deadline_s == 130.0 and desk.dispatch.state is DispatchState.OFFERING
    assert desk.units.state_of("a") is UnitState.OFFERED


def test_an_offer_not_answered_in_30_s_goes_to_the_next_candidate():
    desk = Desk()
    desk("start", now_s=100.0)
    assert desk("deadline_passed", now_s=129.9) == [] and desk.deadline_s == 130.0  # early wake: nothing
    effects = desk("deadline_passed", now_s=130.0)
    assert effects == [OfferExpired("a", "I1"), OfferSent("b", "I1", PLACE, 340.0, ("C1-cam1",), 160.0)]
    assert desk.states() == {"a": UnitState.AVAILABLE, "b": UnitState.OFFERED, "c": UnitState.AVAILABLE,
                             "d": UnitState.AVAILABLE}
    with pytest.raises(OfferRefused, match=r"^dispatch of I1: cannot accept when offering: the offer stands for b, "):
        desk("accept", "a", now_s=131.0)


def test_the_offer_timeout_is_configurable():
    desk = Desk(offer_timeout_s=5.0)
    desk("start", now_s=0.0)
    assert desk.deadline_s == 5.0
    assert desk("deadline_passed", now_s=5.0)[0] == OfferExpired("a", "I1")


def test_a_decline_goes_to_the_next_candidate_and_busy_ones_are_skipped():
    desk = Desk(busy=("b",))
    desk("start", now_s=0.0)
    effects = desk("decline", "a", now_s=3.0)
    assert effects == [OfferDeclined("a", "I1"), OfferSent("c", "I1", PLACE, 900.0, ("C1-cam1",), 33.0)]
    assert desk.deadline_s == 33.0 and desk.dispatch.declined == ["a"]


def test_every_candidate_exhausted_is_none_available():
    desk = Desk()
    desk("start", now_s=0.0)
    desk("decline", "a", now_s=1.0)
    desk("deadline_passed", now_s=31.0)
    effects = desk("decline", "c", now_s=40.0)
    assert effects == [OfferDeclined("c", "I1"), NoneAvailable("I1", ("a", "b", "c"))]
    assert desk.deadline_s is None and desk.dispatch.state is DispatchState.NONE_AVAILABLE
    assert set(desk.states().values()) == {UnitState.AVAILABLE}
    # an operator then offers it by hand, to a unit off the list (no distance known)
    assert desk("offer", "d", now_s=50.0) == [OfferSent("d", "I1", PLACE, None, ("C1-cam1",), 80.0)]


def test_a_fresh_recommendation_restarts_a_p1_that_found_nobody():
    desk = Desk(busy=("a", "b", "c"))
    assert desk("start", now_s=0.0) == [NoneAvailable("I1", ())]
    desk.units.set_state("b", UnitState.AVAILABLE)
    effects = desk("set_candidates", [Candidate("b", 50.0)], now_s=60.0)
    assert effects == [OfferSent("b", "I1", PLACE, 50.0, ("C1-cam1",), 90.0)]


def test_a_lower_priority_incident_waits_for_the_operator_to_pick():
    desk = Desk(priority=3)
    assert desk("start", now_s=0.0) == [AwaitingOperator("I1", CANDIDATES)]
    assert desk.deadline_s is None and set(desk.states().values()) == {UnitState.AVAILABLE}
    assert desk("offer", "b", now_s=10.0) == [OfferSent("b", "I1", PLACE, 340.0, ("C1-cam1",), 40.0)]
    # declined: back to the operator, who no longer sees the unit that declined
    assert desk("decline", "b", now_s=12.0) == [OfferDeclined("b", "I1"), AwaitingOperator("I1", CANDIDATES[::2])]
    desk.units.set_state("c", UnitState.OFF_DUTY)
    with pytest.raises(OfferRefused, match=r"unit c is not available"):
        desk("offer", "c", now_s=13.0)
    with pytest.raises(OfferRefused, match=r"^dispatch of I1: cannot start when awaiting_operator: already started$"):
        desk("start", now_s=14.0)


def test_the_whole_task_accept_arrive_done_and_back_on_patrol():
    desk = Desk()
    desk("start", now_s=0.0)
    assert desk("accept", "a", now_s=30.0) == [TaskAssigned("a", "I1", PLACE, 120.0)]  # at the deadline: in time
    assert desk.deadline_s == 630.0 and desk.units.state_of("a") is UnitState.EN_ROUTE
    assert desk("arrive", "a", now_s=300.0) == [UnitOnScene("a", "I1")]
    assert desk.deadline_s == 900.0 and desk.units.state_of("a") is UnitState.ON_SCENE
    assert desk("done", "a", now_s=500.0) == [TaskDone("a", "I1")]
    assert desk.deadline_s is None and desk.units.state_of("a") is UnitState.RETURNING
    assert desk("returned", "a", now_s=800.0) == [] and desk.units.state_of("a") is UnitState.AVAILABLE
    with pytest.raises(OfferRefused):
        desk("returned", "a", now_s=801.0)


def test_an_accept_after_the_deadline_is_refused():
    desk = Desk()
    desk("start", now_s=0.0)
    with pytest.raises(OfferRefused, match=r"^dispatch of I1: cannot accept when offering: the offer expired at 30.0$"):
        desk("accept", "a", now_s=30.5)
    assert desk.units.state_of("a") is UnitState.OFFERED  # the deadline, when it is handled, moves on


def test_a_missed_check_in_is_told_and_rearmed_and_a_check_in_resets_it():
    desk = Desk(check_in_every_s=600.0)
    desk("start", now_s=0.0)
    desk("accept", "a", now_s=10.0)
    assert desk("deadline_passed", now_s=610.0) == [CheckInMissed("a", "I1", 610.0, 1)]
    assert desk.deadline_s == 1210.0
    assert desk("deadline_passed", now_s=1211.0) == [CheckInMissed("a", "I1", 1210.0, 2)]
    assert desk("check_in", "a", now_s=1300.0) == [] and desk.deadline_s == 1900.0 and desk.dispatch.missed == 0
    with pytest.raises(OfferRefused, match=r"the task is a's, not b's"):
        desk("check_in", "b", now_s=1301.0)


@pytest.mark.parametrize("accepted, arrived, withdrawn, back", [
    (False, False, OfferWithdrawn("a", "I1", "false alarm"), UnitState.AVAILABLE),
    (True, False, TaskCancelled("a", "I1", "false alarm"), UnitState.AVAILABLE),
    (True, True, TaskCancelled("a", "I1", "false alarm"), UnitState.RETURNING),
])
def test_an_operator_cancels_and_the_unit_is_released(accepted, arrived, withdrawn, back):
    desk = Desk()
    desk("start", now_s=0.0)
    if accepted:
        desk("accept", "a", now_s=1.0)
    if arrived:
        desk("arrive", "a", now_s=2.0)
    assert desk("cancel", now_s=3.0, reason="false alarm") == [withdrawn]
    assert desk.units.state_of("a") is back and desk.deadline_s is None
    assert desk.dispatch.state is DispatchState.CANCELLED
    assert desk("deadline_passed", now_s=1e9) == []
    with pytest.raises(OfferRefused, match=r"cannot cancel when cancelled"):
        desk("cancel", now_s=4.0, reason="again")


def test_an_operator_reassigns_to_a_unit_of_their_choice_or_the_next_candidate():
    desk = Desk()
    desk("start", now_s=0.0)
    desk("accept", "a", now_s=1.0)
    effects = desk("reassign", now_s=5.0, unit_id="d", reason="nearer by car")
    assert effects == [TaskCancelled("a", "I1", "nearer by car"), OfferSent("d", "I1", PLACE, None, ("C1-cam1",), 35.0)]
    assert desk.units.state_of("a") is UnitState.AVAILABLE and desk.units.state_of("d") is UnitState.OFFERED
    effects = desk("reassign", now_s=6.0)
    assert effects == [OfferWithdrawn("d", "I1", "reassigned"), OfferSent("b", "I1", PLACE, 340.0, ("C1-cam1",), 36.0)]


def test_a_reassignment_to_a_busy_unit_changes_nothing():
    desk = Desk(busy=("d",))
    desk("start", now_s=0.0)
    with pytest.raises(OfferRefused, match=r"^dispatch of I1: cannot reassign when offering: unit d is not available$"):
        desk("reassign", now_s=1.0, unit_id="d")
    with pytest.raises(OfferRefused, match=r"unit a is not available"):
        desk("reassign", now_s=1.0, unit_id="a")  # the one it stands with
    assert desk.dispatch.state is DispatchState.OFFERING and desk.dispatch.unit_id == "a" and desk.deadline_s == 30.0


@pytest.mark.parametrize("action, args", [
    ("arrive", ("a",)), ("done", ("a",)), ("check_in", ("a",)), ("start", ()), ("offer", ("b",)),
    ("set_candidates", (CANDIDATES,)), ("returned", ("a",)),
])
def test_an_action_the_offer_state_does_not_allow_is_refused_and_changes_nothing(action, args):
    desk = Desk()
    desk("start", now_s=0.0)
    before = (desk.dispatch.state, desk.dispatch.unit_id, desk.dispatch.deadline_s, desk.states())
    with pytest.raises(OfferRefused, match=r"^dispatch of I1: cannot .* when offering: "):
        desk(action, *args, now_s=1.0)
    assert (desk.dispatch.state, desk.dispatch.unit_id, desk.dispatch.deadline_s, desk.states()) == before


def test_a_task_step_out_of_order_is_refused():
    desk = Desk()
    desk("start", now_s=0.0)
    desk("accept", "a", now_s=1.0)
    with pytest.raises(OfferRefused, match=r"cannot finish when en_route: allowed when on_scene"):
        desk("done", "a", now_s=2.0)
    with pytest.raises(OfferRefused, match=r"cannot decline when en_route"):
        desk("decline", "a", now_s=2.0)
