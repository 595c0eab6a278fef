"""The GPS filter (engine.patrol.gps_filter): one test per discard reason, the counts, re-anchoring."""

from __future__ import annotations

import math
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from engine.patrol.gps_filter import DiscardReason, FilterConfig, Fix, GpsFilter, Verdict
from tests.engine.patrol.fixes import LAT0, LON0, north

NOW_S = 1_800_000_000.0


def kept_first(fix: Fix = Fix(LAT0, LON0, NOW_S, 5.0), **config: float) -> GpsFilter:
    gps = GpsFilter(FilterConfig(**config))
    assert gps.check(fix, now_s=NOW_S).kept
    return gps


def test_a_plausible_fix_is_kept_and_counted():
    gps = kept_first()
    assert gps.check(Fix(north(LAT0, 7.0), LON0, NOW_S + 5, 8.0), now_s=NOW_S + 5) == Verdict(True)
    assert gps.state.kept == 2
    assert gps.state.discarded == {}
    assert gps.last == Fix(north(LAT0, 7.0), LON0, NOW_S + 5, 8.0)


def test_accuracy_worse_than_50_m_is_inaccurate():
    gps = kept_first()
    assert gps.check(Fix(LAT0, LON0, NOW_S + 5, 50.1), now_s=NOW_S + 5) == Verdict(False, DiscardReason.INACCURATE)
    assert gps.check(Fix(LAT0, LON0, NOW_S + 6, 50.0), now_s=NOW_S + 6).kept  # 50 m itself is good enough
    assert gps.state.discarded == {"inaccurate": 1}


def test_an_accuracy_not_reported_is_no_reason_to_discard():
    assert GpsFilter().check(Fix(LAT0, LON0, NOW_S), now_s=NOW_S).kept


def test_a_nan_accuracy_is_inaccurate():
    assert GpsFilter().check(Fix(LAT0, LON0, NOW_S, math.nan), now_s=NOW_S).reason is DiscardReason.INACCURATE


def test_over_15_m_per_s_on_foot_is_too_fast():
    gps = kept_first()
    # 200 m in 10 s is 20 m/s: a jump, not a volunteer
    verdict = gps.check(Fix(north(LAT0, 200.0), LON0, NOW_S + 10, 5.0), now_s=NOW_S + 10)
    assert verdict == Verdict(False, DiscardReason.TOO_FAST)
    assert gps.last.ts_s == NOW_S  # the anchor stays where it was
    assert gps.check(Fix(north(LAT0, 140.0), LON0, NOW_S + 10, 5.0), now_s=NOW_S + 10).kept  # 14 m/s
    assert gps.state.discarded == {"too_fast": 1}


def test_a_car_may_go_faster_than_a_volunteer_on_foot():
    jump = Fix(north(LAT0, 500.0), LON0, NOW_S + 10, 5.0)  # 50 m/s
    on_foot = kept_first()
    car = GpsFilter(FilterConfig.for_kind("car"))
    assert car.check(Fix(LAT0, LON0, NOW_S, 5.0), now_s=NOW_S).kept
    assert on_foot.check(jump, now_s=NOW_S + 10).reason is DiscardReason.TOO_FAST
    assert car.check(jump, now_s=NOW_S + 10).kept
    assert car.config.max_speed_mps == 60.0


def test_the_same_timestamp_as_the_last_kept_fix_is_a_duplicate():
    gps = kept_first()
    assert gps.check(Fix(LAT0, LON0, NOW_S, 5.0), now_s=NOW_S + 1) == Verdict(False, DiscardReason.DUPLICATE)
    assert gps.check(Fix(north(LAT0, 3.0), LON0, NOW_S, 5.0), now_s=NOW_S + 1).reason is DiscardReason.DUPLICATE
    assert gps.state.discarded == {"duplicate": 2}


def test_the_same_position_at_a_later_time_is_kept():
    gps = kept_first()
    assert gps.check(Fix(LAT0, LON0, NOW_S + 5, 5.0), now_s=NOW_S + 5).kept  # standing still is news too


def test_zero_coordinates_are_zero():
    assert GpsFilter().check(Fix(0.0, 0.0, NOW_S, 5.0), now_s=NOW_S) == Verdict(False, DiscardReason.ZERO)
    assert GpsFilter().check(Fix(0.0, 117.2, NOW_S, 5.0), now_s=NOW_S).kept  # the equator alone is a place


def test_more_than_60_s_ahead_of_the_host_is_future():
    gps = GpsFilter()
    assert gps.check(Fix(LAT0, LON0, NOW_S + 61, 5.0), now_s=NOW_S) == Verdict(False, DiscardReason.FUTURE)
    assert gps.check(Fix(LAT0, LON0, NOW_S + 60, 5.0), now_s=NOW_S).kept  # a phone clock a minute fast is fine
    assert gps.state.discarded == {"future": 1}


def test_older_than_the_last_kept_fix_is_old():
    gps = kept_first()
    assert gps.check(Fix(LAT0, LON0, NOW_S - 5, 5.0), now_s=NOW_S + 1) == Verdict(False, DiscardReason.OLD)
    assert gps.state.discarded == {"old": 1}


def test_before_the_patrol_began_is_old():
    gps = GpsFilter(not_before_s=NOW_S)
    assert gps.check(Fix(LAT0, LON0, NOW_S - 61, 5.0), now_s=NOW_S).reason is DiscardReason.OLD
    assert gps.check(Fix(LAT0, LON0, NOW_S - 30, 5.0), now_s=NOW_S).kept  # a phone clock a little behind


def test_coordinates_out_of_range_or_not_finite_are_invalid():
    gps = GpsFilter()
    for fix in [Fix(90.5, LON0, NOW_S), Fix(-91.0, LON0, NOW_S), Fix(LAT0, 180.5, NOW_S), Fix(LAT0, -181.0, NOW_S),
                Fix(math.nan, LON0, NOW_S), Fix(LAT0, math.inf, NOW_S), Fix(LAT0, LON0, math.nan)]:
        assert gps.check(fix, now_s=NOW_S) == Verdict(False, DiscardReason.INVALID), fix
    assert gps.state.discarded == {"invalid": 7}
    assert gps.last is None


def test_each_discarded_fix_is_counted_once_under_its_reason_and_hosts_can_sum_them():
    gps = kept_first()
    feed = [Fix(0.0, 0.0, NOW_S + 1), Fix(LAT0, LON0, NOW_S), Fix(LAT0, LON0, NOW_S - 10),
            Fix(LAT0, LON0, NOW_S + 500), Fix(LAT0, LON0, NOW_S + 2, 80.0), Fix(LAT0, LON0, NOW_S + 3, 90.0),
            Fix(north(LAT0, 1_000.0), LON0, NOW_S + 4), Fix(LAT0, LON0, NOW_S + 5), Fix(95.0, LON0, NOW_S + 6)]
    verdicts = [gps.check(fix, now_s=NOW_S + 10) for fix in feed]
    assert [v.reason for v in verdicts] == [
        DiscardReason.ZERO, DiscardReason.DUPLICATE, DiscardReason.OLD, DiscardReason.FUTURE,
        DiscardReason.INACCURATE, DiscardReason.INACCURATE, DiscardReason.TOO_FAST, None, DiscardReason.INVALID]
    assert gps.state.kept == 2
    assert gps.state.discarded == {"zero": 1, "duplicate": 1, "old": 1, "future": 1, "inaccurate": 2,
                                   "too_fast": 1, "invalid": 1}
    other = kept_first()
    other.check(Fix(LAT0, LON0, NOW_S + 1, 99.0), now_s=NOW_S + 1)
    figures = Counter()
    for track in (gps, other):
        figures.update(track.state.discarded)
    assert figures["inaccurate"] == 3


def test_a_wrong_first_fix_is_left_behind_after_three_consistent_fixes():
    gps = kept_first(Fix(north(LAT0, 5_000.0), LON0, NOW_S, 5.0))  # the first fix was 5 km off
    walk = [Fix(north(LAT0, 7.0 * i), LON0, NOW_S + 5 * (i + 1), 5.0) for i in range(4)]
    verdicts = [gps.check(fix, now_s=fix.ts_s) for fix in walk]
    assert verdicts == [Verdict(False, DiscardReason.TOO_FAST), Verdict(False, DiscardReason.TOO_FAST),
                        Verdict(True, reanchored=True), Verdict(True)]
    assert gps.state.discarded == {"too_fast": 2}
    assert gps.state.kept == 3


def test_scattered_jumps_never_become_an_anchor():
    gps = kept_first()
    for i, off_m in enumerate([3_000.0, -3_000.0, 6_000.0, -6_000.0], start=1):
        verdict = gps.check(Fix(north(LAT0, off_m), LON0, NOW_S + 5 * i), now_s=NOW_S + 5 * i)
        assert verdict.reason is DiscardReason.TOO_FAST
    assert gps.last.ts_s == NOW_S


def test_reanchoring_can_be_turned_off():
    gps = kept_first(Fix(north(LAT0, 5_000.0), LON0, NOW_S, 5.0), reanchor_after=0)
    for i in range(10):
        assert not gps.check(Fix(north(LAT0, 7.0 * i), LON0, NOW_S + 5 * (i + 1)), now_s=NOW_S + 60).kept


fixes = st.builds(
    Fix,
    lat=st.floats() | st.floats(31.7, 31.9),
    lon=st.floats() | st.floats(117.1, 117.3),
    ts_s=st.floats(NOW_S - 100, NOW_S + 200) | st.floats(allow_nan=True),
    accuracy_m=st.floats(0.0, 200.0) | st.just(math.nan),
)


@given(st.lists(fixes, max_size=60))
def test_the_filter_never_keeps_an_inaccurate_invalid_or_out_of_order_fix(feed):
    gps = GpsFilter()
    kept = [fix for fix in feed if gps.check(fix, now_s=NOW_S).kept]
    assert all(fix.accuracy_m <= 50.0 for fix in kept)
    assert all(-90 <= fix.lat <= 90 and -180 <= fix.lon <= 180 and (fix.lat, fix.lon) != (0, 0) for fix in kept)
    assert all(fix.ts_s <= NOW_S + 60 for fix in kept)
    assert all(a.ts_s < b.ts_s for a, b in zip(kept, kept[1:]))
    assert gps.state.kept + sum(gps.state.discarded.values()) == len(feed)
