"""Police cars and foot officers as units of their precinct: devices of the city file, on and off duty with
patrol.start / patrol.stop, tracked with their kind (a car's speed limit in the GPS filter), recommended and offered
beside volunteers, and earning no points and no patrol figures."""

from __future__ import annotations

import dataclasses

import pytest

from engine.citygen import CitySpec, generate_city, generate_city_dict
from engine.errors import ConfigError
from engine.patrol.nearest import explain
from engine.topology import city_from_dict, city_to_dict
from protocols.desk import RecommendUnits
from protocols.kinds import DeviceKind
from protocols.patrol import NotChosen, UnitKind, UnitState
from tests.engine.helpers import SMALL, Pair

POLICE = dataclasses.replace(SMALL, police_cars_per_precinct=1, foot_officers_per_precinct=1)
M_LAT = 1 / 111_195.0


def _of(pair: Pair, kind: DeviceKind) -> str:
    return next(d.id for d in pair.host.city.devices.values() if d.kind is kind)


def _box(pair: Pair):
    return next(d for d in pair.host.city.devices.values() if d.kind is DeviceKind.PANIC_BOX)


def _send(pair: Pair, now_s: float, device: str, kind: str, data: dict | None = None):
    pair.now_s = now_s
    result = pair.send(device, kind, data or {})
    assert result.accepted == 1, result
    return result


def _at(pair: Pair, now_s: float, device: str, north_m: float) -> None:
    box = _box(pair)
    _send(pair, now_s, device, "patrol.position", {"lat": box.lat + north_m * M_LAT, "lon": box.lon,
                                                    "accuracy_m": 5.0})


def test_the_generator_gives_each_precinct_its_cars_and_officers_and_the_city_file_round_trips():
    city = generate_city(dataclasses.replace(POLICE, precincts=2))
    police = sorted((d.id, d.kind.value, d.precinct_id) for d in city.devices.values()
                    if d.kind in (DeviceKind.POLICE_CAR_TERMINAL, DeviceKind.OFFICER_RADIO))
    assert police == [("P1-car1", "police_car_terminal", "P1"), ("P1-officer1", "officer_radio", "P1"),
                      ("P2-car1", "police_car_terminal", "P2"), ("P2-officer1", "officer_radio", "P2")]
    again = city_from_dict(city_to_dict(city))
    assert again.devices["P2-car1"].precinct_id == "P2" and again.summary() == city.summary()
    without = generate_city_dict(dataclasses.replace(SMALL, precincts=2))  # the same city as before police came
    assert [d for d in generate_city_dict(dataclasses.replace(POLICE, precincts=2))["devices"]
            if d["kind"] not in ("police_car_terminal", "officer_radio")] == without["devices"]


@pytest.mark.parametrize("change, message", [
    ({"precinct": None}, r"devices\[\d+\]\.precinct: a police_car_terminal needs a known precinct, got None$"),
    ({"precinct": "P9"}, r"devices\[\d+\]\.precinct: a police_car_terminal needs a known precinct, got 'P9'$"),
    ({"site": "C0001"}, r"devices\[\d+\]\.site: a police_car_terminal belongs to its precinct, not to a site"),
])
def test_a_police_device_needs_its_precinct_and_nothing_else(change, message):
    data = generate_city_dict(POLICE)
    car = next(d for d in data["devices"] if d["kind"] == "police_car_terminal")
    car.update(change)
    if car["precinct"] is None:
        del car["precinct"]
    with pytest.raises(ConfigError, match=message):
        city_from_dict(data)


def test_a_door_with_a_precinct_is_refused_by_name():
    data = generate_city_dict(POLICE)
    next(d for d in data["devices"] if d["kind"] == "door")["precinct"] = "P1"
    with pytest.raises(ConfigError, match=r"devices\[\d+\]\.precinct: a door takes its precinct from its site$"):
        city_from_dict(data)


def test_police_go_on_and_off_duty_tracked_with_their_kind_and_count_in_no_patrol_figure():
    pair = Pair(POLICE)
    car, officer = _of(pair, DeviceKind.POLICE_CAR_TERMINAL), _of(pair, DeviceKind.OFFICER_RADIO)
    units = pair.host.patrols.units
    assert (units.info(car).kind, units.info(officer).kind) == (UnitKind.POLICE_CAR, UnitKind.FOOT_OFFICER)
    assert units.state_of(car) is UnitState.OFF_DUTY
    for device in (car, officer):
        _send(pair, 0.0, device, "patrol.start")
        _at(pair, 1.0, device, 0.0)
    assert units.state_of(car) is UnitState.AVAILABLE and units.state_of(officer) is UnitState.AVAILABLE
    assert pair.host.statistics().patrols_active == 0 and pair.host.patrols.under_way == {}
    pair.restart()  # a shift under way is journaled like a patrol
    units = pair.host.patrols.units
    assert set(pair.host.patrols.on_duty) == {car, officer} and units.state_of(car) is UnitState.AVAILABLE
    for device in (car, officer):
        _send(pair, 600.0, device, "patrol.stop")
    assert units.state_of(car) is UnitState.OFF_DUTY and pair.host.patrols.on_duty == {}
    stats = pair.host.statistics()
    assert (stats.patrols_ended, stats.patrol_valid_s, stats.fixes_kept) == (0, 0.0, 0)
    assert pair.host.patrols.totals == {}


def test_a_car_may_drive_40_m_per_s_where_a_foot_officer_may_not():
    pair = Pair(POLICE)
    car, officer = _of(pair, DeviceKind.POLICE_CAR_TERMINAL), _of(pair, DeviceKind.OFFICER_RADIO)
    for device in (car, officer):
        _send(pair, 0.0, device, "patrol.start")
        _at(pair, 10.0, device, 0.0)
        _at(pair, 20.0, device, 400.0)  # 40 m/s
    units = pair.host.patrols.units
    assert units.info(car).fix_s == 20.0 and units.info(officer).fix_s == 10.0
    assert pair.host.patrols.on_duty[officer].summary().discarded == {"too_fast": 1}
    _at(pair, 30.0, car, 1100.0)  # 70 m/s: too fast for a car as well
    assert units.info(car).fix_s == 20.0


def test_recommendation_mixes_kinds_by_distance_and_filters_by_kind():
    pair = Pair(POLICE)
    car, officer = _of(pair, DeviceKind.POLICE_CAR_TERMINAL), _of(pair, DeviceKind.OFFICER_RADIO)
    phone = _of(pair, DeviceKind.VOLUNTEER_PHONE)
    for device, north_m in ((officer, 300.0), (phone, 100.0), (car, 200.0)):
        _send(pair, 0.0, device, "patrol.start")
        _at(pair, 1.0, device, north_m)
    box = _box(pair)
    mixed = explain(pair.host.patrols.units, box.lat, box.lon, now_s=5.0)
    assert [(c.unit_id, c.kind) for c in mixed.chosen] == [
        (phone, UnitKind.VOLUNTEER), (car, UnitKind.POLICE_CAR), (officer, UnitKind.FOOT_OFFICER)]
    police = explain(pair.host.patrols.units, box.lat, box.lon, now_s=5.0,
                     kinds=(UnitKind.POLICE_CAR, UnitKind.FOOT_OFFICER))
    assert [c.unit_id for c in police.chosen] == [car, officer]
    assert {p.unit_id: p.reason for p in police.passed}[phone] is NotChosen.NOT_OF_KIND


def test_a_p1_goes_to_the_nearest_unit_whatever_its_kind_and_a_police_task_earns_no_points():
    pair = Pair(POLICE)
    car, phone = _of(pair, DeviceKind.POLICE_CAR_TERMINAL), _of(pair, DeviceKind.VOLUNTEER_PHONE)
    for device, north_m in ((car, 50.0), (phone, 150.0)):
        _send(pair, 0.0, device, "patrol.start")
        _at(pair, 1.0, device, north_m)
    incident = _send(pair, 10.0, _box(pair).id, "school.panic").acks[0].incident_id
    offers = [c for c in pair.host.device_commands if c.command == "task.offer"]
    assert [(c.device_id, c.args["incident"]) for c in offers] == [(car, incident)]
    for answer in ("accept", "arrived", "done"):
        _send(pair, 20.0, car, "patrol.task", {"incident": incident, "answer": answer})
    assert pair.host.patrols.units.state_of(car) is UnitState.AVAILABLE
    assert pair.host.dispatches.effects["TaskDone"] == 1
    assert not any(pair.host.points.book.balance(v) for v in pair.host.city.volunteers)


def test_the_desk_recommends_police_only_when_asked_for_their_kinds():
    pair = Pair(POLICE)
    car, phone = _of(pair, DeviceKind.POLICE_CAR_TERMINAL), _of(pair, DeviceKind.VOLUNTEER_PHONE)
    door = next(d for d in pair.host.city.devices.values() if d.kind is DeviceKind.DOOR)
    for device, north_m in ((phone, 50.0), (car, 150.0)):
        _send(pair, 0.0, device, "patrol.start")
        _send(pair, 1.0, device, "patrol.position", {"lat": door.lat + north_m * M_LAT, "lon": door.lon})
    incident = _send(pair, 2.0, door.id, "door.forced").acks[0].incident_id  # P2: nothing offered
    everyone = pair.host.ask(RecommendUnits(incident), now_s=3.0)
    assert {c.unit_id for c in everyone.chosen} == {car, phone}
    police = pair.host.ask(RecommendUnits(incident, kinds=(UnitKind.POLICE_CAR, UnitKind.FOOT_OFFICER)), now_s=3.0)
    assert [c.unit_id for c in police.chosen] == [car]
    assert {p.unit_id: p.reason for p in police.passed}[phone] is NotChosen.NOT_OF_KIND
