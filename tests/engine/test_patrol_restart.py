"""What a host keeps of its patrols, units and dispatches across a restart and a step the journal refused: patrols
under way (less at most SNAPSHOT_EVERY_S of track), volunteers' totals, unit states, offers and tasks with their
deadlines; points never credited twice; and how much the journal is written for it."""

from __future__ import annotations

import pytest

from engine.errors import JournalUnavailable
from engine.hosting.dispatch import DISPATCH
from engine.hosting.patrol import PATROL_TICK, SNAPSHOT_EVERY_S
from engine.patrol.clock import PatrolStatus
from protocols.kinds import DeviceKind
from protocols.patrol import DispatchState, UnitState
from tests.engine.helpers import Pair

M_LAT = 1 / 111_195.0


def _phones(pair: Pair) -> list[str]:
    return sorted(d.id for d in pair.host.city.devices.values() if d.kind is DeviceKind.VOLUNTEER_PHONE)


def _box(pair: Pair):
    return next(d for d in pair.host.city.devices.values() if d.kind is DeviceKind.PANIC_BOX)


def _send(pair: Pair, now_s: float, device: str, kind: str, data: dict | None = None, **kw):
    pair.now_s = now_s
    return pair.send(device, kind, data or {}, **kw)


def _walk(pair: Pair, phone: str, from_s: float, to_s: float, *, every_s: float = 5.0, north_m: float = 0.0):
    """Fixes every ``every_s`` walking north at 1 m/s from ``north_m`` metres north of the school's panic box."""
    box = _box(pair)
    t = from_s
    while t <= to_s:
        metres = north_m + (t - from_s)
        result = _send(pair, t, phone, "patrol.position", {"lat": box.lat + metres * M_LAT, "lon": box.lon,
                                                             "accuracy_m": 5.0})
        assert result.accepted == 1
        t += every_s


def _volunteer(pair: Pair, phone: str) -> str:
    return next(v.id for v in pair.host.city.volunteers.values() if v.phone_id == phone)


def test_a_restart_mid_patrol_keeps_the_patrol_less_at_most_the_snapshot_interval_and_credits_it_once():
    pair = Pair()
    phone = _phones(pair)[0]
    volunteer = _volunteer(pair, phone)
    _send(pair, 0.0, phone, "patrol.start", seq=1)
    _walk(pair, phone, 0.0, 1000.0)
    before = pair.host.patrols.summary_of(phone)
    writes = pair.journal.writes

    pair.restart()
    after = pair.host.patrols.summary_of(phone)
    assert after.patrol_id == before.patrol_id and after.status is PatrolStatus.ACTIVE
    assert before.valid_s - SNAPSHOT_EVERY_S <= after.valid_s <= before.valid_s
    assert before.distance_m - SNAPSHOT_EVERY_S <= after.distance_m <= before.distance_m
    assert pair.host.patrols.units.state_of(phone) is UnitState.AVAILABLE
    assert 1000.0 - SNAPSHOT_EVERY_S <= pair.host.patrols.units.info(phone).fix_s <= 1000.0
    assert pair.host.scheduler.due_of((PATROL_TICK, phone)) is not None
    assert pair.host.statistics().patrols_active == 1

    assert _send(pair, 1001.0, phone, "patrol.start", seq=1, ts_ms=0).accepted == 1  # the start re-sent
    assert pair.host.patrols.summary_of(phone).patrol_id == before.patrol_id and pair.host.patrols.ended == 0
    _walk(pair, phone, 1005.0, 1800.0, north_m=1005.0)
    _send(pair, 1801.0, phone, "patrol.stop")
    totals = pair.host.patrols.totals[volunteer]
    assert totals.patrols == 1 and 1800.0 - SNAPSHOT_EVERY_S <= totals.valid_s <= 1800.0
    balance = pair.host.points.book.balance(volunteer)
    assert balance == pytest.approx(10 * totals.valid_s / 3600, abs=1)

    pair.restart()
    assert pair.host.patrols.under_way == {} and pair.host.patrols.totals[volunteer] == totals
    assert pair.host.statistics().patrols_ended == 1 and pair.host.statistics().patrol_valid_s == totals.valid_s
    assert pair.host.patrols.units.state_of(phone) is UnitState.OFF_DUTY
    assert _send(pair, 1900.0, phone, "patrol.stop", seq=999).accepted == 1  # nothing under way: nothing again
    assert pair.host.points.book.balance(volunteer) == balance and pair.host.patrols.totals[volunteer].patrols == 1
    assert writes <= 2 + 1000.0 / SNAPSHOT_EVERY_S + 1  # the start, the first fix, one per interval


def test_a_restart_mid_offer_keeps_the_offer_and_its_expiry_which_moves_it_to_the_next_unit():
    pair = Pair()
    first, second = _phones(pair)[:2]
    for phone, north_m in ((first, 100.0), (second, 300.0)):
        _send(pair, 0.0, phone, "patrol.start")
        _walk(pair, phone, 0.0, 0.0, north_m=north_m)
    incident = _send(pair, 10.0, _box(pair).id, "school.panic").acks[0].incident_id
    assert pair.host.patrols.units.state_of(first) is UnitState.OFFERED

    pair.restart()
    dispatch = pair.host.dispatches.dispatches[incident]
    assert (dispatch.state, dispatch.unit_id, dispatch.deadline_s) == (DispatchState.OFFERING, first, 40.0)
    assert pair.host.scheduler.due_of((DISPATCH, incident)) == 40.0
    assert pair.host.patrols.units.state_of(first) is UnitState.OFFERED
    pair.host.take_device_commands()
    pair.advance(40.0)
    assert [(c.device_id, c.command) for c in pair.host.take_device_commands()] == [
        (first, "task.cancel"), (second, "task.offer")]
    assert pair.host.patrols.units.state_of(first) is UnitState.AVAILABLE
    assert pair.host.patrols.units.state_of(second) is UnitState.OFFERED


def test_a_restart_mid_task_keeps_the_task_and_its_check_in_and_the_emergency_is_credited_once():
    pair = Pair()
    phone = _phones(pair)[0]
    volunteer = _volunteer(pair, phone)
    _send(pair, 0.0, phone, "patrol.start")
    _walk(pair, phone, 0.0, 0.0, north_m=100.0)
    incident = _send(pair, 10.0, _box(pair).id, "school.panic").acks[0].incident_id
    _send(pair, 12.0, phone, "patrol.task", {"incident": incident, "answer": "accept"})

    pair.restart()
    dispatch = pair.host.dispatches.dispatches[incident]
    assert (dispatch.state, dispatch.unit_id) == (DispatchState.EN_ROUTE, phone)
    assert pair.host.scheduler.due_of((DISPATCH, incident)) == 612.0  # the check-in
    assert pair.host.patrols.units.state_of(phone) is UnitState.EN_ROUTE
    pair.advance(612.0)
    assert pair.host.dispatches.dispatches[incident].missed == 1
    _send(pair, 620.0, phone, "patrol.task", {"incident": incident, "answer": "arrived"})
    pair.restart()
    assert pair.host.patrols.units.state_of(phone) is UnitState.ON_SCENE
    _send(pair, 700.0, phone, "patrol.task", {"incident": incident, "answer": "done"})
    assert pair.host.points.book.balance(volunteer) == 50
    assert pair.host.patrols.units.state_of(phone) is UnitState.AVAILABLE
    pair.restart()
    assert pair.host.points.book.balance(volunteer) == 50
    assert pair.host.dispatches.dispatches[incident].state is DispatchState.DONE
    assert pair.host.patrols.units.state_of(phone) is UnitState.AVAILABLE


def test_a_refused_step_keeps_neither_the_patrol_it_ended_nor_the_offer_it_made():
    pair = Pair()
    phone = _phones(pair)[0]
    volunteer = _volunteer(pair, phone)
    _send(pair, 0.0, phone, "patrol.start")
    _walk(pair, phone, 0.0, 600.0, every_s=10.0, north_m=100.0)
    pair.journal.refuse_writes(True)
    with pytest.raises(JournalUnavailable):
        _send(pair, 601.0, phone, "patrol.stop")
    with pytest.raises(JournalUnavailable):
        _send(pair, 602.0, _box(pair).id, "school.panic")
    pair.journal.refuse_writes(False)
    patrols = pair.host.patrols
    assert list(patrols.under_way) == [phone] and patrols.totals == {} and patrols.ended == 0
    assert pair.host.points.book.balance(volunteer) == 0
    assert pair.host.dispatches.dispatches == {} and patrols.units.state_of(phone) is UnitState.AVAILABLE
    assert [c for c in pair.host.take_device_commands() if c.command == "task.offer"] == []

    _send(pair, 603.0, phone, "patrol.stop")  # sent again, written this time
    assert patrols.totals[volunteer].patrols == 1 and pair.host.points.book.balance(volunteer) > 0


def test_a_unit_whose_patrol_stopped_during_its_task_goes_off_duty_when_the_task_ends_even_across_a_restart():
    pair = Pair()
    phone = _phones(pair)[0]
    _send(pair, 0.0, phone, "patrol.start")
    _walk(pair, phone, 0.0, 0.0, north_m=100.0)
    incident = _send(pair, 10.0, _box(pair).id, "school.panic").acks[0].incident_id
    _send(pair, 12.0, phone, "patrol.task", {"incident": incident, "answer": "accept"})
    _send(pair, 20.0, phone, "patrol.stop")
    units = pair.host.patrols.units
    assert units.state_of(phone) is UnitState.EN_ROUTE and units.is_leaving(phone)  # the task is not dropped
    pair.restart()
    units = pair.host.patrols.units
    assert units.is_leaving(phone)
    _send(pair, 30.0, phone, "patrol.task", {"incident": incident, "answer": "arrived"})
    _send(pair, 40.0, phone, "patrol.task", {"incident": incident, "answer": "done"})
    assert units.state_of(phone) is UnitState.OFF_DUTY and not units.is_leaving(phone)


def test_a_unit_offered_a_task_when_its_patrol_stopped_goes_off_duty_when_the_offer_expires():
    pair = Pair()
    phone = _phones(pair)[0]
    _send(pair, 0.0, phone, "patrol.start")
    _walk(pair, phone, 0.0, 0.0, north_m=100.0)
    _send(pair, 10.0, _box(pair).id, "school.panic")
    _send(pair, 20.0, phone, "patrol.stop")
    assert pair.host.patrols.units.state_of(phone) is UnitState.OFFERED
    pair.advance(40.0)
    assert pair.host.patrols.units.state_of(phone) is UnitState.OFF_DUTY


def test_a_patrol_is_journaled_at_most_once_a_snapshot_interval_while_fixes_come():
    pair = Pair()
    phone = _phones(pair)[0]
    _send(pair, 0.0, phone, "patrol.start")
    writes = pair.journal.writes
    _walk(pair, phone, 0.0, 3600.0, every_s=5.0)  # an hour: 721 fixes
    rows = pair.journal.writes - writes
    assert rows <= 3600.0 / SNAPSHOT_EVERY_S + 2
    assert set(pair.journal.snapshots) == {f"patrol/{phone}", f"unit/{phone}", "fixes"}


def test_a_task_cancelled_on_scene_puts_the_volunteer_back_on_patrol_or_off_duty_if_it_ended():
    pair = Pair()
    first, second = _phones(pair)[:2]
    boxes = sorted(d.id for d in pair.host.city.devices.values() if d.site_id == _box(pair).site_id
                   and d.kind is DeviceKind.PANIC_BOX)
    for phone, north_m in ((first, 100.0), (second, 200.0)):
        _send(pair, 0.0, phone, "patrol.start")
        _walk(pair, phone, 0.0, 0.0, north_m=north_m)
    units = pair.host.patrols.units
    incidents = []
    for n, phone in enumerate((first, second)):  # the first is on scene when the second alarm comes
        incident = _send(pair, 10.0 + n, boxes[n], "school.panic").acks[0].incident_id
        assert pair.host.dispatches.dispatches[incident].unit_id == phone
        for answer in ("accept", "arrived"):
            _send(pair, 10.0 + n, phone, "patrol.task", {"incident": incident, "answer": answer})
        incidents.append(incident)
    _send(pair, 25.0, second, "patrol.stop")
    for incident in incidents:
        pair.host.dispatches.cancel(incident, reason="false alarm", now_s=30.0)
    assert units.state_of(first) is UnitState.AVAILABLE and units.state_of(second) is UnitState.OFF_DUTY
