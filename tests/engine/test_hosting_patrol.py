"""Volunteer patrols on a host (engine.hosting.patrol), through HostCore: start, positions through the GPS filter,
stop into the totals and the statistics, suspension by the host's deadlines, the unit tracker and the dispatch
recommendation."""

from __future__ import annotations

import math

import pytest

from engine.errors import JournalUnavailable, UnknownIncident
from engine.hosting.desk import UnknownRequest
from engine.hosting.patrol import PATROL_TICK
from engine.patrol.clock import PatrolStatus
from engine.patrol.gps_filter import DiscardReason
from engine.patrol.nearest import explain
from engine.patrol.offers import OfferRefused
from protocols.desk import OfferUnit, RecommendUnits
from protocols.kinds import DeviceKind
from protocols.patrol import NotChosen, UnitKind, UnitState
from tests.engine.helpers import Pair

LAT, LON = 31.9, 117.3
M_LAT = 1 / 111_195.0  # degrees of latitude per metre (haversine's earth radius)


def _phones(pair: Pair) -> list[str]:
    return sorted(d.id for d in pair.host.city.devices.values() if d.kind is DeviceKind.VOLUNTEER_PHONE)


def _at(pair: Pair, now_s: float) -> Pair:
    pair.now_s = now_s
    return pair


def _fix(pair: Pair, phone: str, now_s: float, north_m: float, *, accuracy_m: float = 5.0) -> None:
    result = _at(pair, now_s).send(phone, "patrol.position",
                                   {"lat": LAT + north_m * M_LAT, "lon": LON, "accuracy_m": accuracy_m})
    assert result.accepted == 1


def test_a_patrol_counts_kept_fixes_and_discards_with_reasons_into_totals_and_statistics():
    pair = Pair()
    phone = _phones(pair)[0]
    volunteer = next(v for v in pair.host.city.volunteers.values() if v.phone_id == phone)
    _at(pair, 1000.0).send(phone, "patrol.start", {})
    assert pair.host.statistics().patrols_active == 1
    _fix(pair, phone, 1000.0, 0.0)
    _fix(pair, phone, 1030.0, 50.0)
    _fix(pair, phone, 1045.0, 60.0, accuracy_m=80.0)  # worse than 50 m: discarded
    _fix(pair, phone, 1060.0, 100.0)
    _fix(pair, phone, 1090.0, 150.0)
    running = pair.host.patrols.summary_of(phone)
    assert running.status is PatrolStatus.ACTIVE and running.discarded == {DiscardReason.INACCURATE.value: 1}
    assert pair.host.devices[phone].position == pytest.approx((LAT + 150.0 * M_LAT, LON))
    _at(pair, 1100.0).send(phone, "patrol.stop", {})

    totals = pair.host.patrols.totals[volunteer.id]
    assert totals.patrols == 1 and totals.valid_s == pytest.approx(90.0)
    assert totals.distance_m == pytest.approx(150.0, abs=0.5)
    stats = pair.host.statistics()
    assert (stats.patrols_active, stats.patrols_ended) == (0, 1)
    assert stats.patrol_valid_s == pytest.approx(90.0) and stats.patrol_distance_m == pytest.approx(150.0, abs=0.5)
    assert (stats.fixes_kept, stats.fixes_discarded) == (4, 1)
    assert stats.fixes_discarded_by_reason == {"inaccurate": 1}
    assert stats.patrols_by_team == {volunteer.team_id: (1, pytest.approx(90.0))}


def test_a_new_start_ends_the_patrol_under_way_and_a_stop_without_one_is_ignored():
    pair = Pair()
    phone = _phones(pair)[0]
    _at(pair, 0.0).send(phone, "patrol.stop", {})  # nothing under way: acked, nothing counted
    _at(pair, 10.0).send(phone, "patrol.start", {})
    first = pair.host.patrols.summary_of(phone).patrol_id
    _at(pair, 20.0).send(phone, "patrol.start", {})
    second = pair.host.patrols.summary_of(phone)
    assert first == f"{phone}#patrol@2" and second.patrol_id == f"{phone}#patrol@3"
    stats = pair.host.statistics()
    assert (stats.patrols_active, stats.patrols_ended) == (1, 1)


def test_a_patrol_without_fixes_for_five_minutes_is_suspended_by_the_host_clock_and_a_fix_resumes_it():
    pair = Pair()
    phone = _phones(pair)[0]
    _at(pair, 0.0).send(phone, "patrol.start", {})
    _fix(pair, phone, 10.0, 0.0)
    pair.advance(300.0)  # 290 s of silence
    assert pair.host.patrols.summary_of(phone).status is PatrolStatus.ACTIVE
    _fix(pair, phone, 60.0 + 250.0, 20.0, accuracy_m=500.0)  # a discarded fix is no sign of life
    assert pair.host.scheduler.due_of((PATROL_TICK, phone)) == 10.0 + 300.0 + 1.0
    pair.advance(320.0)  # 310 s since the last kept fix
    assert pair.host.patrols.summary_of(phone).status is PatrolStatus.SUSPENDED
    assert pair.host.statistics().patrol_suspensions == 1
    pair.advance(1000.0)  # suspended: nothing more to count
    assert pair.host.statistics().patrol_suspensions == 1
    _fix(pair, phone, 1010.0, 40.0)
    assert pair.host.patrols.summary_of(phone).status is PatrolStatus.ACTIVE
    pair.advance(1200.0)
    assert pair.host.patrols.summary_of(phone).status is PatrolStatus.ACTIVE


def test_the_tracker_sees_a_volunteer_on_patrol_as_available_and_after_stop_as_off_duty():
    pair = Pair()
    phone = _phones(pair)[0]
    units = pair.host.patrols.units
    assert len(units) == len(_phones(pair)) and units.info(phone).kind is UnitKind.VOLUNTEER
    assert units.state_of(phone) is UnitState.OFF_DUTY
    _at(pair, 0.0).send(phone, "patrol.start", {})
    _fix(pair, phone, 5.0, 0.0)
    assert units.state_of(phone) is UnitState.AVAILABLE
    assert (units.info(phone).lat, units.info(phone).fix_s) == (pytest.approx(LAT), 5.0)
    _at(pair, 30.0).send(phone, "patrol.stop", {})
    assert units.state_of(phone) is UnitState.OFF_DUTY
    (passed,) = [p for p in explain(pair.host.patrols.units, LAT, LON, now_s=31.0).passed if p.unit_id == phone]
    assert passed.reason is NotChosen.BUSY


def test_recommend_units_puts_the_nearest_volunteer_first_and_says_why_the_others_were_not_chosen():
    pair = Pair()
    near, far, stale, off = _phones(pair)
    for phone in (near, far, stale):
        _at(pair, 0.0).send(phone, "patrol.start", {})
    _fix(pair, stale, 10.0, 20.0)  # nearest of all, but 400 s old when asked
    _fix(pair, far, 400.0, 1000.0)
    _fix(pair, near, 405.0, 100.0)
    result = explain(pair.host.patrols.units, LAT, LON, now_s=410.0, k=5)
    assert [c.unit_id for c in result.chosen] == [near, far]
    assert [c.distance_m for c in result.chosen] == [pytest.approx(100.0, abs=0.5), pytest.approx(1000.0, abs=1.0)]
    reasons = {p.unit_id: (p.reason, p.distance_m) for p in result.passed}
    assert reasons[stale] == (NotChosen.STALE_POSITION, pytest.approx(20.0, abs=0.5))
    assert reasons[off] == (NotChosen.BUSY, None)  # never on patrol, never fixed
    assert result.counts == {NotChosen.STALE_POSITION: 1, NotChosen.BUSY: 1}
    assert explain(pair.host.patrols.units, LAT, LON, now_s=10_000.0).reason is NotChosen.NONE_AVAILABLE


def test_positions_outside_a_patrol_only_move_the_phone():
    pair = Pair()
    phone = _phones(pair)[0]
    _fix(pair, phone, 1.0, 0.0)
    _fix(pair, phone, 2.0, 10.0)
    assert pair.host.devices[phone].position == pytest.approx((LAT + 10.0 * M_LAT, LON))
    stats = pair.host.statistics()
    assert (stats.fixes_kept, stats.fixes_discarded, stats.patrols_active) == (0, 0, 0)
    assert pair.host.patrols.units.info(phone).fix_s is None
    assert pair.send(phone, "patrol.stop", {}).accepted == 1 and pair.host.patrols.totals == {}


def test_a_failed_step_goes_back_to_the_journaled_patrols_and_a_restart_brings_them_back():
    pair = Pair()
    phone = _phones(pair)[0]
    _at(pair, 0.0).send(phone, "patrol.start", {})
    _fix(pair, phone, 10.0, 0.0)  # the first kept fix is journaled with the patrol
    pair.journal.fail_writes = OSError(28, "No space left on device")
    with pytest.raises(JournalUnavailable):
        _at(pair, 20.0).send(pair.device("panic_box"), "school.panic")
    pair.journal.fail_writes = None
    assert list(pair.host.patrols.under_way) == [phone]
    assert pair.host.scheduler.due_of((PATROL_TICK, phone)) == 311.0  # the new scheduler has the timer again
    pair.advance(320.0)
    assert pair.host.patrols.summary_of(phone).status is PatrolStatus.SUSPENDED

    pair.restart()  # the suspension was journaled with the patrol
    assert pair.host.patrols.summary_of(phone).status is PatrolStatus.SUSPENDED
    assert pair.host.statistics().patrols_active == 1 and pair.host.statistics().patrol_suspensions == 1
    assert pair.host.patrols.units.state_of(phone) is UnitState.AVAILABLE
    assert pair.host.patrols.units.info(phone).fix_s == 10.0


def test_a_p1_alarm_is_offered_to_the_nearest_volunteer_on_patrol_and_the_phone_answers():
    pair = Pair()
    phone = _phones(pair)[0]
    box = next(d for d in pair.host.city.devices.values() if d.kind is DeviceKind.PANIC_BOX)
    _at(pair, 1000.0).send(phone, "patrol.start", {})
    result = _at(pair, 1000.0).send(phone, "patrol.position", {"lat": box.lat + 100 * M_LAT, "lon": box.lon,
                                                                "accuracy_m": 5.0})
    assert result.accepted == 1
    incident = _at(pair, 1001.0).send(box.id, "school.panic", {}).acks[0].incident_id
    offers = [c for c in pair.host.device_commands if c.command == "task.offer"]
    assert [(c.device_id, c.args["incident"]) for c in offers] == [(phone, incident)]
    assert 90 <= offers[0].args["distance_m"] <= 110
    assert 90 <= offers[0].args["route_m"] <= 110  # due north: the grid route is the straight line
    assert pair.host.patrols.units.info(phone).state is UnitState.OFFERED
    _at(pair, 1005.0).send(phone, "patrol.task", {"incident": incident, "answer": "accept"})
    assert pair.host.patrols.units.info(phone).state is UnitState.EN_ROUTE
    assert pair.host.dispatches.dispatches[incident].unit_id == phone
    stats = pair.host.statistics()
    assert stats.units_by_state.get(UnitState.EN_ROUTE.value) == 1
    assert stats.dispatch_effects["OfferSent"] == 1 and stats.dispatch_effects["TaskAssigned"] == 1


def test_valid_patrol_hours_and_a_task_seen_through_earn_points_that_survive_a_restart():
    pair = Pair()
    phone = _phones(pair)[0]
    volunteer = next(v for v in pair.host.city.volunteers.values() if v.phone_id == phone).id
    box = next(d for d in pair.host.city.devices.values() if d.kind is DeviceKind.PANIC_BOX)
    _at(pair, 0.0).send(phone, "patrol.start", {})
    for minute in range(0, 91, 1):  # 90 minutes walking up and down a street by the school: 1.5 valid hours
        north_m = (minute % 10) * 60.0
        result = _at(pair, minute * 60.0).send(phone, "patrol.position", {
            "lat": box.lat + north_m * M_LAT, "lon": box.lon, "accuracy_m": 5.0})
        assert result.accepted == 1
    incident = _at(pair, 5401.0).send(box.id, "school.panic", {}).acks[0].incident_id
    for answer in ("accept", "arrived", "done"):
        _at(pair, 5402.0).send(phone, "patrol.task", {"incident": incident, "answer": answer})
    _at(pair, 5410.0).send(phone, "patrol.stop", {})
    book = pair.host.points.book
    assert book.balance(volunteer) == 15 + 50  # 10 points an hour pro-rata, 50 for the emergency handled
    assert [e.reason.value for e in book.entries(volunteer)] == ["emergency_handled", "patrol"]
    pair.restart()
    assert pair.host.points.book.balance(volunteer) == 65  # from the journal's points rows


def test_the_desk_recommends_and_offers_for_its_own_incidents_and_refuses_others_by_name():
    pair = Pair()
    phone = _phones(pair)[0]
    door = pair.device("door")
    incident = _at(pair, 1000.0).send(door, "door.forced", {}).acks[0].incident_id  # P2: an operator offers
    _at(pair, 1000.0).send(phone, "patrol.start", {})
    place = pair.host.city.devices[door]
    _at(pair, 1000.0).send(phone, "patrol.position", {"lat": place.lat + 50 * M_LAT, "lon": place.lon,
                                                      "accuracy_m": 5.0})
    held = pair.host.incidents  # a rebuild from the journal would make a new one
    chosen = pair.host.ask(RecommendUnits(incident), now_s=1001.0).chosen
    assert [c.unit_id for c in chosen] == [phone]
    pair.host.ask(OfferUnit(incident, phone), now_s=1002.0)
    assert [c.args["incident"] for c in pair.host.device_commands if c.command == "task.offer"] == [incident]
    with pytest.raises(OfferRefused, match="cannot offer when offering"):  # already offered
        pair.host.ask(OfferUnit(incident, phone), now_s=1003.0)
    with pytest.raises(UnknownIncident):
        pair.host.ask(RecommendUnits("no-such-incident"), now_s=1003.0)
    with pytest.raises(UnknownRequest, match="str"):
        pair.host.ask("recommend", now_s=1003.0)
    assert pair.host.incidents is held  # refusals change nothing, so nothing was rebuilt


def test_the_offer_carries_the_route_along_the_street_grid_beside_the_straight_line():
    pair = Pair()
    phone = _phones(pair)[0]
    box = next(d for d in pair.host.city.devices.values() if d.kind is DeviceKind.PANIC_BOX)
    m_lon = M_LAT / math.cos(math.radians(box.lat))
    _at(pair, 1000.0).send(phone, "patrol.start", {})
    _at(pair, 1000.0).send(phone, "patrol.position", {"lat": box.lat + 300 * M_LAT, "lon": box.lon + 400 * m_lon,
                                                      "accuracy_m": 5.0})
    _at(pair, 1001.0).send(box.id, "school.panic", {})
    (offer,) = [c for c in pair.host.device_commands if c.command == "task.offer"]
    assert 495 <= offer.args["distance_m"] <= 505  # 300 north, 400 east: 500 m as the crow flies
    assert 695 <= offer.args["route_m"] <= 705  # and 700 m along the streets
