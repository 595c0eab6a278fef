"""engine.patrol.nearest: the kernel agrees with a brute-force haversine ranking, and every unit not chosen has
its reason."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.patrol import nearest as nearest_module
from engine.patrol.nearest import explain, nearest, warm
from engine.patrol.units import UnitTracker
from protocols.patrol import NotChosen, UnitKind, UnitState

HEFEI = (31.8206, 117.2272)
NOW_S = 10_000.0
KINDS = list(UnitKind)


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2, dp, dl = map(math.radians, (lat1, lat2, lat2 - lat1, lon2 - lon1))
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(min(1.0, h)))


def brute_force(units: UnitTracker, lat, lon, *, k, radius_m, max_age_s=300.0, precinct=None, kinds=None):
    """Every unit that qualifies, measured by haversine, the nearest k (ties: the lower row)."""
    found = []
    for row, unit_id in enumerate(units.ids()):
        info = units.info(unit_id)
        if (info.state is not UnitState.AVAILABLE or info.fix_s is None or NOW_S - info.fix_s > max_age_s
                or (precinct is not None and info.precinct != precinct)
                or (kinds is not None and info.kind not in kinds)):
            continue
        d = _haversine(lat, lon, info.lat, info.lon)
        if d <= radius_m:
            found.append((d, row))
    found.sort()
    return [row for _, row in found[:k]], [d for d, _ in found[:k]]


def random_city(rng: random.Random, n: int, *, center=HEFEI, span_deg=0.30, available=0.3) -> UnitTracker:
    units = UnitTracker(capacity=8)
    for i in range(n):
        state = UnitState.AVAILABLE if rng.random() < available else rng.choice(
            [UnitState.OFF_DUTY, UnitState.RETURNING, UnitState.AVAILABLE])
        units.add(f"u{i}", kind=rng.choice(KINDS), precinct=f"P{rng.randrange(4)}", state=state)
        if rng.random() < 0.95:
            lat = max(-89.9, min(89.9, center[0] + rng.uniform(-span_deg, span_deg) / 2))
            lon = (center[1] + rng.uniform(-span_deg, span_deg) / 2 + 180.0) % 360.0 - 180.0  # across 180°
            units.update_position(f"u{i}", lat, lon, NOW_S - rng.uniform(0, 600))
    return units


def assert_agrees(units, lat, lon, **query):
    rows, dist = nearest(units, lat, lon, now_s=NOW_S, **query)
    want_rows, want_dist = brute_force(units, lat, lon, **query)
    assert rows.tolist() == want_rows
    np.testing.assert_allclose(dist, want_dist, rtol=1e-9, atol=1e-6)


def test_the_kernel_agrees_with_brute_force_on_a_random_city():
    rng = random.Random(14)
    warm()
    for trial in range(40):
        units = random_city(rng, rng.choice([0, 1, 5, 50, 400, 2000]))
        for _ in range(10):
            lat, lon = HEFEI[0] + rng.uniform(-0.2, 0.2), HEFEI[1] + rng.uniform(-0.2, 0.2)
            assert_agrees(units, lat, lon, k=rng.choice([1, 3, 5, 10, 50]),
                          radius_m=rng.choice([200.0, 1_000.0, 5_000.0, 40_000.0]),
                          precinct=rng.choice([None, "P0", "P3"]),
                          kinds=rng.choice([None, {UnitKind.VOLUNTEER}, {UnitKind.POLICE_CAR, UnitKind.FOOT_OFFICER}]))


def test_the_kernel_agrees_with_brute_force_on_a_big_city_too():
    """Past ``_SKIP_EARLY_BELOW`` units the kernel folds the qualification into the distance: the same answers."""
    rng = random.Random(41)
    units = random_city(rng, 40_000)
    assert len(units) >= nearest_module._SKIP_EARLY_BELOW
    a = units.arrays()
    for _ in range(25):
        lat, lon = HEFEI[0] + rng.uniform(-0.2, 0.2), HEFEI[1] + rng.uniform(-0.2, 0.2)
        radius_m, precinct = rng.choice([300.0, 2_000.0, 30_000.0]), rng.choice([None, "P2"])
        kinds = rng.choice([None, {UnitKind.FOOT_OFFICER}])
        ok = (a.state == 1) & (a.fix_s >= NOW_S - 300.0)  # 1: available (checked below against the enum)
        if precinct is not None:
            ok &= a.precinct == units.known_precinct_code(precinct)
        if kinds is not None:
            ok &= a.kind == list(UnitKind).index(UnitKind.FOOT_OFFICER)
        d = np.array([_haversine(lat, lon, y, x) for y, x in zip(a.lat[ok], a.lon[ok])])
        rows_ok = np.flatnonzero(ok)[d <= radius_m]
        d = d[d <= radius_m]
        order = np.lexsort((rows_ok, d))[:5]
        rows, dist = nearest(units, lat, lon, now_s=NOW_S, k=5, radius_m=radius_m, precinct=precinct, kinds=kinds)
        assert rows.tolist() == rows_ok[order].tolist()
        np.testing.assert_allclose(dist, d[order], rtol=1e-9)
    assert list(UnitState).index(UnitState.AVAILABLE) == 1


@settings(max_examples=150, deadline=None)
@given(st.floats(-75, 75), st.floats(-179, 179), st.integers(0, 2**32 - 1), st.floats(1.0, 200_000.0),
       st.integers(1, 8))
def test_the_flat_earth_bound_never_drops_a_unit_haversine_keeps(lat, lon, seed, radius_m, k):
    """Anywhere on earth (not only Hefei), units scattered around the radius's edge: the cheap bound never
    excludes a unit the exact distance keeps, nor changes the ranking."""
    rng = random.Random(seed)
    span = 2.5 * radius_m / 111_000.0
    units = random_city(rng, 60, center=(lat, lon), span_deg=min(span, 20.0), available=1.0)
    assert_agrees(units, lat, lon, k=k, radius_m=radius_m, max_age_s=1e9)


def _destination(lat: float, lon: float, bearing: float, metres: float) -> tuple[float, float]:
    p1, a = math.radians(lat), metres / 6_371_008.8
    p2 = math.asin(math.sin(p1) * math.cos(a) + math.cos(p1) * math.sin(a) * math.cos(bearing))
    l2 = math.radians(lon) + math.atan2(math.sin(bearing) * math.sin(a) * math.cos(p1),
                                        math.cos(a) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), (math.degrees(l2) + 180.0) % 360.0 - 180.0


@pytest.mark.parametrize("lat", [-80.0, -45.0, 0.0, 31.8206, 60.0, 80.0])
@pytest.mark.parametrize("radius_m", [50.0, 5_000.0, 200_000.0, 500_000.0])
def test_a_ring_of_units_just_inside_the_radius_is_all_found(lat, radius_m):
    units = UnitTracker()
    for i in range(36):
        units.add(f"u{i}", kind=UnitKind.VOLUNTEER, state=UnitState.AVAILABLE)
        units.update_position(f"u{i}", *_destination(lat, 179.9, i * math.pi / 18, radius_m * (1 - 1e-7)), NOW_S)
    rows, dist = nearest(units, lat, 179.9, now_s=NOW_S, k=100, radius_m=radius_m)
    assert len(rows) == 36 and max(dist) <= radius_m
    assert len(nearest(units, lat, 179.9, now_s=NOW_S, k=100, radius_m=radius_m * (1 - 1e-5))[0]) == 0


def test_stale_and_busy_units_are_never_chosen():
    units = UnitTracker()
    spots = {"near_busy": 0.0001, "near_stale": 0.0002, "never_fixed": None, "far_ok": 0.01}
    for unit_id, d_lat in spots.items():
        units.add(unit_id, kind=UnitKind.VOLUNTEER, state=UnitState.AVAILABLE)
        if d_lat is not None:
            age_s = 301.0 if unit_id == "near_stale" else 300.0  # exactly 300 s old is still fresh
            units.update_position(unit_id, HEFEI[0] + d_lat, HEFEI[1], NOW_S - age_s)
    units.set_state("near_busy", UnitState.OFFERED)
    rows, dist = nearest(units, *HEFEI, now_s=NOW_S, k=5)
    assert [units.unit_id(r) for r in rows] == ["far_ok"] and dist[0] == pytest.approx(1_111.95, abs=0.1)


def test_asking_for_more_units_than_are_available_gives_those_there_are():
    units = random_city(random.Random(3), 30, available=1.0)
    rows, dist = nearest(units, *HEFEI, now_s=NOW_S, k=1000, radius_m=1e6, max_age_s=1e6)
    assert len(rows) == sum(1 for u in units.ids() if units.info(u).fix_s is not None)
    assert list(dist) == sorted(dist)


def test_an_empty_tracker_and_k_zero_find_nobody():
    for units, k in ((UnitTracker(), 5), (random_city(random.Random(1), 10, available=1.0), 0)):
        rows, dist = nearest(units, *HEFEI, now_s=NOW_S, k=k)
        assert rows.shape == (0,) and dist.shape == (0,)
    assert nearest(random_city(random.Random(1), 10), *HEFEI, now_s=NOW_S, precinct="nowhere")[0].shape == (0,)
    recommendation = explain(UnitTracker(), *HEFEI, now_s=NOW_S)
    assert recommendation.none_available and recommendation.reason is NotChosen.NONE_AVAILABLE
    assert recommendation.passed == () and recommendation.counts == {}


def test_nonsense_queries_are_refused():
    with pytest.raises(ValueError, match="radius_m must be > 0"):
        nearest(UnitTracker(), *HEFEI, now_s=NOW_S, radius_m=0)
    with pytest.raises(ValueError, match="max_age_s and now_s finite"):
        nearest(UnitTracker(), *HEFEI, now_s=math.inf)


def _one_of_each_reason() -> UnitTracker:
    """Units around Hefei, each with one reason not to be chosen (and two that qualify)."""
    units = UnitTracker()
    north = 1 / 111_195.0  # degrees of latitude per metre
    for unit_id, kind, precinct, state, metres, age_s in [
        ("chosen", UnitKind.VOLUNTEER, "P1", UnitState.AVAILABLE, 100, 10),
        ("outranked", UnitKind.VOLUNTEER, "P1", UnitState.AVAILABLE, 400, 10),
        ("busy", UnitKind.VOLUNTEER, "P1", UnitState.EN_ROUTE, 50, 10),
        ("off_duty", UnitKind.VOLUNTEER, "P1", UnitState.OFF_DUTY, 60, 10),
        ("stale", UnitKind.VOLUNTEER, "P1", UnitState.AVAILABLE, 70, 900),
        ("other_precinct", UnitKind.VOLUNTEER, "P2", UnitState.AVAILABLE, 80, 10),
        ("police", UnitKind.POLICE_CAR, "P1", UnitState.AVAILABLE, 90, 10),
        ("far", UnitKind.VOLUNTEER, "P1", UnitState.AVAILABLE, 9_000, 10),
        ("never_fixed", UnitKind.VOLUNTEER, "P1", UnitState.AVAILABLE, None, None),
    ]:
        units.add(unit_id, kind=kind, precinct=precinct, state=state)
        if metres is not None:
            units.update_position(unit_id, HEFEI[0] + metres * north, HEFEI[1], NOW_S - age_s)
    return units


def test_every_unit_not_chosen_has_its_reason():
    units = _one_of_each_reason()
    r = explain(units, *HEFEI, now_s=NOW_S, k=1, radius_m=5_000, precinct="P1", kinds={UnitKind.VOLUNTEER})
    assert [(c.unit_id, round(c.distance_m)) for c in r.chosen] == [("chosen", 100)]
    assert not r.none_available and r.reason is None
    reasons = {p.unit_id: p.reason for p in r.passed}
    assert reasons == {"outranked": NotChosen.OUTRANKED, "busy": NotChosen.BUSY, "off_duty": NotChosen.BUSY,
                       "stale": NotChosen.STALE_POSITION, "other_precinct": NotChosen.NOT_IN_PRECINCT,
                       "police": NotChosen.NOT_OF_KIND, "far": NotChosen.TOO_FAR,
                       "never_fixed": NotChosen.STALE_POSITION}
    assert [p.unit_id for p in r.passed][:2] == ["busy", "off_duty"]  # nearest first
    assert r.passed[-1].unit_id == "never_fixed" and r.passed[-1].distance_m is None
    assert {p.unit_id: p.state for p in r.passed}["off_duty"] is UnitState.OFF_DUTY
    assert r.counts == {NotChosen.BUSY: 2, NotChosen.STALE_POSITION: 2, NotChosen.NOT_IN_PRECINCT: 1,
                        NotChosen.NOT_OF_KIND: 1, NotChosen.TOO_FAR: 1, NotChosen.OUTRANKED: 1}


def test_the_strongest_reason_wins_and_the_list_is_bounded():
    units = _one_of_each_reason()
    units.set_state("far", UnitState.OFFERED)  # far and busy: busy
    r = explain(units, *HEFEI, now_s=NOW_S, k=1, radius_m=5_000, precinct="P1", limit=3)
    assert len(r.passed) == 3 and sum(r.counts.values()) == len(units) - 1
    assert {p.unit_id: p.reason for p in explain(units, *HEFEI, now_s=NOW_S).passed}["far"] is NotChosen.BUSY


def test_nobody_qualifying_is_none_available_with_each_units_reason():
    units = _one_of_each_reason()
    for unit_id in ("chosen", "outranked", "other_precinct", "police", "far"):
        units.set_state(unit_id, UnitState.OFF_DUTY)
    r = explain(units, *HEFEI, now_s=NOW_S, radius_m=5_000)
    assert r.none_available and r.reason is NotChosen.NONE_AVAILABLE and r.chosen == ()
    assert r.counts == {NotChosen.BUSY: 7, NotChosen.STALE_POSITION: 2}


def test_the_explanation_agrees_with_the_kernel_on_a_random_city():
    rng = random.Random(7)
    units = random_city(rng, 3000)
    for _ in range(20):
        lat, lon = HEFEI[0] + rng.uniform(-0.1, 0.1), HEFEI[1] + rng.uniform(-0.1, 0.1)
        r = explain(units, lat, lon, now_s=NOW_S, k=5, radius_m=3_000, precinct="P1", limit=10_000)
        rows, _ = nearest(units, lat, lon, now_s=NOW_S, k=5, radius_m=3_000, precinct="P1")
        assert [c.unit_id for c in r.chosen] == [units.unit_id(row) for row in rows]
        assert len(r.chosen) + len(r.passed) == len(units)
        worst = max((c.distance_m for c in r.chosen), default=0.0)
        assert all(p.distance_m >= worst for p in r.passed if p.reason is NotChosen.OUTRANKED)
        assert all(p.distance_m > 3_000 for p in r.passed if p.reason is NotChosen.TOO_FAR)
