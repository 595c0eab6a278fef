"""The simplified track (engine.patrol.track): Douglas–Peucker, the cap, distance from the kept fixes."""

from __future__ import annotations

import random

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.patrol.geo import haversine_m
from engine.patrol.gps_filter import Fix
from engine.patrol.track import Track, TrackConfig, TrackState, simplify
from tests.engine.patrol.fixes import LAT0, LON0, METERS_PER_DEGREE_LAT, north, stand, walk

M_PER_DEG_LON = METERS_PER_DEGREE_LAT * 0.8498  # cos(31.82°)


def at(x_m: float, y_m: float, ts_s: float = 0.0) -> tuple[float, float, float]:
    """A point ``x_m`` east and ``y_m`` north of the reference."""
    return (LAT0 + y_m / METERS_PER_DEGREE_LAT, LON0 + x_m / M_PER_DEG_LON, ts_s)


def test_douglas_peucker_keeps_the_corners_and_drops_collinear_points():
    # an L: 0..100 m north along x=0 then 100 m east, a point every 10 m, with 1 m wobble
    leg_north = [at((i % 2) * 1.0, 10.0 * i) for i in range(11)]
    leg_east = [at(10.0 * i, 100.0) for i in range(1, 11)]
    kept = simplify(leg_north + leg_east, 5.0)
    assert kept == [leg_north[0], leg_north[-1], leg_east[-1]]


def test_douglas_peucker_keeps_a_point_farther_than_the_tolerance():
    points = [at(0, 0), at(6.0, 50.0), at(0, 100.0)]
    assert simplify(points, 5.0) == points
    assert simplify([at(0, 0), at(4.0, 50.0), at(0, 100.0)], 5.0) == [at(0, 0), at(0, 100.0)]


def test_an_out_and_back_keeps_its_far_end():
    out = [at(0, 10.0 * i) for i in range(11)]
    back = [at(2.0, 10.0 * i) for i in range(9, -1, -1)]
    assert at(0, 100.0) in simplify(out + back, 5.0)


def test_two_points_or_fewer_are_returned_as_they_are():
    assert simplify([], 5.0) == []
    assert simplify([at(0, 0)], 5.0) == [at(0, 0)]
    assert simplify([at(0, 0), at(0, 0)], 5.0) == [at(0, 0), at(0, 0)]


def test_a_straight_walk_is_drawn_with_few_points_and_its_whole_length():
    track = Track(TrackConfig(chunk_points=16, max_points=64))
    fixes = walk(start_s=0.0, every_s=5.0, count=101)  # 7 m steps, counted in pairs (min_step_m 10)
    for fix in fixes:
        track.append(fix)
    line = track.polyline()
    assert line[0] == (fixes[0].lat, fixes[0].lon)
    assert line[-1] == (fixes[-1].lat, fixes[-1].lon)
    assert len(line) < 20
    assert track.state.fixes == 101
    assert track.distance_m == pytest.approx(haversine_m(fixes[0].lat, LON0, fixes[-1].lat, LON0), rel=1e-6)
    track.append(walk(start_s=0.0, every_s=5.0, count=102)[-1])
    assert track.distance_m == pytest.approx(700.0, abs=0.01)  # a step under 10 m waits for the next one


def test_distance_is_measured_on_the_kept_fixes_not_on_the_simplified_line():
    # a zigzag 4 m either side of a straight line: drawn straight (tolerance 5 m), walked in full
    track = Track(TrackConfig(chunk_points=8, max_points=32, min_step_m=0.0))
    fixes = [Fix(*at(4.0 * (-1) ** i, 10.0 * i, i)) for i in range(40)]
    for fix in fixes:
        track.append(fix)
    walked = sum(haversine_m(a.lat, a.lon, b.lat, b.lon) for a, b in zip(fixes, fixes[1:]))
    assert track.distance_m == pytest.approx(walked)
    drawn = track.polyline()
    drawn_m = sum(haversine_m(*a, *b) for a, b in zip(drawn, drawn[1:]))
    assert drawn_m < walked - 20.0


def test_gps_jitter_while_standing_adds_no_distance():
    track = Track()
    for fix in stand(start_s=0.0, every_s=5.0, count=200, jitter_m=6.0):
        track.append(fix)
    assert track.distance_m == 0.0


def test_a_jump_is_drawn_but_not_walked():
    track = Track()
    track.append(Fix(LAT0, LON0, 0.0))
    track.append(Fix(north(LAT0, 2_000.0), LON0, 10.0), jump=True)
    track.append(Fix(north(LAT0, 2_014.0), LON0, 20.0))
    assert track.distance_m == pytest.approx(14.0, abs=0.01)
    assert len(track.polyline()) == 3


def test_the_cap_holds_on_a_long_wandering_patrol_and_the_tolerance_grows():
    config = TrackConfig(chunk_points=16, max_points=64)
    track = Track(config)
    rng = random.Random(14)
    x = y = 0.0
    for i in range(5_000):  # a random walk that turns at every fix: nothing is collinear
        track.append(Fix(*at(x, y, float(i))))
        x, y = x + rng.uniform(-20, 20), y + rng.uniform(-20, 20)
        assert len(track) <= config.max_points
    assert track.state.tolerance_m > config.tolerance_m
    assert track.state.fixes == 5_000
    assert track.points()[0] == at(0, 0, 0.0)
    assert track.points()[-1][2] == 4_999.0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-500, 500), st.floats(-500, 500)), min_size=1, max_size=400),
       st.integers(2, 8))
def test_the_cap_holds_whatever_the_fixes(offsets, chunk):
    config = TrackConfig(chunk_points=chunk, max_points=4 * chunk)
    track = Track(config)
    for i, (x, y) in enumerate(offsets):
        track.append(Fix(*at(x, y, float(i))))
        assert len(track) <= config.max_points
    times = [ts for _, _, ts in track.points()]
    assert times == sorted(times)
    assert times[0] == 0.0 and times[-1] == len(offsets) - 1


def test_a_track_state_survives_a_round_trip_through_msgpack():
    track = Track(TrackConfig(chunk_points=8, max_points=32))
    for fix in walk(start_s=0.0, every_s=5.0, count=50):
        track.append(fix)
    restored = Track(track.config, msgspec.msgpack.decode(msgspec.msgpack.encode(track.state), type=TrackState))
    assert restored.state == track.state
    restored.append(Fix(north(LAT0, 500.0), LON0, 300.0))
    assert restored.distance_m > track.distance_m


@pytest.mark.parametrize("bad", [dict(tolerance_m=0.0), dict(chunk_points=1), dict(max_points=10),
                                 dict(min_step_m=-1.0)])
def test_a_track_config_that_cannot_work_is_refused(bad):
    with pytest.raises(ValueError):
        TrackConfig(**bad)
