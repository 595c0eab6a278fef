"""Nearest-unit dispatch: the top 5 *available* units to a random point of the synthetic city, among 10,000 and
among 100,000 units, through ``engine.patrol.nearest.nearest`` (the call a host makes: wrapper and numba kernel),
warm (compiled before timing). Prints one JSON object.

    python -m benchmarks.nearest_unit [--queries 20000] [--seed 1] [--quick]

The units lie over the generated city's square (``engine.citygen``: 0.30° around Hefei, about 33 × 28 km), two
thirds of them around 100 community centres (within ~500 m), the rest anywhere. About 30 % are available, the
rest off duty, offered, on a task or returning; fixes are 0-400 s old (a quarter stale); kinds 80 % volunteers,
10 % police cars, 10 % foot officers; six precincts. Each query asks for 5 within 5 km (the figures the targets
are set on), and, beside them, within the whole city (50 km) and within the query's precinct. Each query is timed
alone with ``perf_counter_ns``; percentiles from an HDR histogram at nanosecond resolution (3 significant
digits), reported in microseconds.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from hdrh.histogram import HdrHistogram

from engine.citygen import CENTER_LAT, CENTER_LON, CITY_SPAN_DEG
from engine.patrol.nearest import explain, nearest, warm
from engine.patrol.units import AVAILABLE_CODE, UnitTracker
from protocols.patrol import UnitKind, UnitState

SIZES = (10_000, 100_000)
TARGET_P99_US = {10_000: 50.0, 100_000: 500.0}
NOW_S = 1_000_000.0
PRECINCTS = 6


def city_units(n: int, rng: np.random.Generator) -> UnitTracker:
    half = CITY_SPAN_DEG / 2
    centres = rng.uniform(-half, half, size=(100, 2))
    clustered = rng.random(n) < 2 / 3
    where = np.where(clustered[:, None], centres[rng.integers(0, 100, n)] + rng.normal(0, 0.003, (n, 2)),
                     rng.uniform(-half, half, size=(n, 2)))
    lat, lon = CENTER_LAT + where[:, 0], CENTER_LON + where[:, 1]
    states = rng.choice([UnitState.AVAILABLE, UnitState.OFF_DUTY, UnitState.OFFERED, UnitState.EN_ROUTE,
                         UnitState.ON_SCENE, UnitState.RETURNING], p=[0.3, 0.3, 0.05, 0.15, 0.1, 0.1], size=n)
    kinds = rng.choice(list(UnitKind), p=[0.8, 0.1, 0.1], size=n)
    ages = rng.uniform(0, 400, n)
    units = UnitTracker(capacity=1024)  # grown by doubling, as a host's would be
    for i in range(n):
        unit_id = f"U{i:06d}"
        precinct = _precinct_of(lat[i], lon[i])
        units.add(unit_id, kind=kinds[i], precinct=precinct, state=UnitState.OFF_DUTY)
        units.update_position(unit_id, float(lat[i]), float(lon[i]), NOW_S - float(ages[i]))
        _walk_to(units, unit_id, UnitState(states[i]))
    return units


def _precinct_of(lat: float, lon: float) -> str:
    """The 3 × 2 grid of ``citygen``'s six precincts."""
    row = min(1, max(0, int((lat - CENTER_LAT + CITY_SPAN_DEG / 2) / (CITY_SPAN_DEG / 2))))
    col = min(2, max(0, int((lon - CENTER_LON + CITY_SPAN_DEG / 2) / (CITY_SPAN_DEG / 3))))
    return f"P{row * 3 + col + 1}"


_PATH = [UnitState.AVAILABLE, UnitState.OFFERED, UnitState.EN_ROUTE, UnitState.ON_SCENE, UnitState.RETURNING]


def _walk_to(units: UnitTracker, unit_id: str, state: UnitState) -> None:
    """Along the legal transitions only, as the engine would get there."""
    if state is UnitState.OFF_DUTY:
        return
    for step in _PATH[:_PATH.index(state) + 1]:
        units.set_state(unit_id, step)


def measure(units: UnitTracker, points: np.ndarray, **query) -> dict:
    histogram = HdrHistogram(1, 60_000_000_000, 3)
    found = 0
    clock = time.perf_counter_ns
    for lat, lon in points.tolist():
        started = clock()
        rows, _ = nearest(units, lat, lon, now_s=NOW_S, k=5, **query)
        histogram.record_value(max(1, clock() - started))
        found += len(rows)
    return {"queries": len(points), "p50_us": round(histogram.get_value_at_percentile(50) / 1000, 2),
            "p99_us": round(histogram.get_value_at_percentile(99) / 1000, 2),
            "max_us": round(histogram.get_max_value() / 1000, 2), "mean_found": round(found / len(points), 2)}


def run(queries: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    warm()
    figures: dict = {"benchmark": "nearest_unit", "k": 5, "queries_per_size": queries,
                     "warm_s": round(time.perf_counter() - started, 3)}
    half = CITY_SPAN_DEG / 2
    for n in SIZES:
        units = city_units(n, rng)
        points = np.column_stack([CENTER_LAT + rng.uniform(-half, half, queries),
                                  CENTER_LON + rng.uniform(-half, half, queries)])
        measure(units, points[:200], radius_m=5_000.0)  # caches and branch predictors, untimed
        label = f"{n // 1000}k"
        main = measure(units, points, radius_m=5_000.0)
        figures[f"nearest_unit_{label}_p50_us"] = main["p50_us"]
        figures[f"nearest_unit_{label}_p99_us"] = main["p99_us"]
        figures[f"nearest_unit_{label}_target_p99_us"] = TARGET_P99_US[n]
        figures[f"nearest_unit_{label}_met"] = main["p99_us"] <= TARGET_P99_US[n]
        a = units.arrays()
        figures[f"units_{label}"] = {
            "available_and_fresh": int(np.sum((a.state == AVAILABLE_CODE) & (a.fix_s >= NOW_S - 300))),
            "within_5km": main, "whole_city_50km": measure(units, points, radius_m=50_000.0),
            "precinct_P1_5km": measure(units, points, radius_m=5_000.0, precinct="P1"),
        }
        explain_started = time.perf_counter()
        for lat, lon in points[:20].tolist():
            explain(units, lat, lon, now_s=NOW_S, radius_m=5_000.0)
        figures[f"units_{label}"]["explain_mean_ms"] = round((time.perf_counter() - explain_started) / 20 * 1000, 2)
    figures["samples"] = {f"nearest_unit_{n // 1000}k_p99_us": f"{queries:,} random queries, top 5 of {n:,} units, "
                          f"1 run (seed {seed})" for n in SIZES}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2,000 queries per size")
    args = parser.parse_args()
    if args.queries < 1:
        parser.error("--queries: at least 1")
    print(json.dumps(run(2_000 if args.quick else args.queries, args.seed)), flush=True)


if __name__ == "__main__":
    main()
