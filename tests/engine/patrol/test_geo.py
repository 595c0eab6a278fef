"""Distances in meters (engine.patrol.geo)."""

from __future__ import annotations

import math

import pytest

from engine.patrol.geo import EARTH_RADIUS_M, flat_m, haversine_m, project_m


def test_one_degree_of_latitude_is_about_111_km():
    assert haversine_m(31.0, 117.0, 32.0, 117.0) == pytest.approx(EARTH_RADIUS_M * math.pi / 180.0)
    assert haversine_m(31.0, 117.0, 32.0, 117.0) == pytest.approx(111_195, abs=1)


def test_a_point_is_zero_meters_from_itself():
    assert haversine_m(31.8, 117.2, 31.8, 117.2) == 0.0
    assert flat_m(31.8, 117.2, 31.8, 117.2) == 0.0


def test_flat_earth_agrees_with_haversine_across_a_city():
    for dlat, dlon in [(0.01, 0.0), (0.0, 0.01), (0.02, -0.03), (-0.05, 0.04)]:
        exact = haversine_m(31.8, 117.2, 31.8 + dlat, 117.2 + dlon)
        assert flat_m(31.8, 117.2, 31.8 + dlat, 117.2 + dlon) == pytest.approx(exact, rel=1e-3)


def test_flat_earth_goes_the_short_way_round_the_antimeridian():
    assert flat_m(0.0, 179.999, 0.0, -179.999) == pytest.approx(haversine_m(0.0, 179.999, 0.0, -179.999), rel=1e-6)
    assert flat_m(0.0, 179.999, 0.0, -179.999) < 300


def test_antipodes_do_not_raise():
    assert haversine_m(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * EARTH_RADIUS_M)


def test_the_local_projection_is_meters_east_and_north():
    x, y = project_m(31.8, 117.21, lat0=31.8, lon0=117.2)
    assert y == pytest.approx(0.0)
    assert x == pytest.approx(haversine_m(31.8, 117.2, 31.8, 117.21), rel=1e-4)
    x, y = project_m(31.81, 117.2, lat0=31.8, lon0=117.2)
    assert (x, y) == (pytest.approx(0.0), pytest.approx(1_111.95, abs=0.01))
