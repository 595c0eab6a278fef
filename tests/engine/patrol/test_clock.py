"""The valid-time clock (engine.patrol.clock), on a fake clock: pro-rata accrual, pause, suspension, stop."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.clock import ManualClock
from engine.patrol.clock import ClockEvent, EventKind, PatrolClock, PatrolEnded, PatrolStatus
from engine.patrol.gps_filter import Fix
from tests.engine.patrol.fixes import LAT0, LON0, north, stand, walk

T0 = 1_800_000_000.0


def feed(clock: PatrolClock, fixes: list[Fix], time: ManualClock | None = None) -> list[ClockEvent]:
    """Each fix arrives when it was taken (the host's clock moved to it first)."""
    events = []
    for fix in fixes:
        if time is not None:
            time.set(fix.ts_s)
        events += clock.fix(fix, now_s=fix.ts_s)
    return events


def test_90_minutes_of_walking_are_1_5_valid_hours():
    time = ManualClock(T0)
    clock = PatrolClock.start(started_s=time.now_s())
    events = feed(clock, walk(start_s=T0, every_s=10.0, count=541), time)  # 0 .. 5,400 s
    assert events == []
    assert clock.valid_s == pytest.approx(5_400.0)
    assert clock.valid_hours == pytest.approx(1.5)
    assert clock.status is PatrolStatus.ACTIVE


def test_pro_rata_a_quarter_hour_is_a_quarter():
    clock = PatrolClock.start(started_s=T0)
    feed(clock, walk(start_s=T0, every_s=5.0, count=181))  # 900 s
    assert clock.valid_hours == pytest.approx(0.25)


def test_time_before_the_first_fix_does_not_count():
    clock = PatrolClock.start(started_s=T0)
    feed(clock, walk(start_s=T0 + 120, every_s=10.0, count=7))
    assert clock.valid_s == pytest.approx(60.0)


def test_the_first_10_minutes_of_a_stop_count_and_the_rest_pauses_the_clock():
    clock = PatrolClock.start(started_s=T0)
    feed(clock, walk(start_s=T0, every_s=10.0, count=61))  # 600 s walking, ends at T0 + 600
    end = clock.state.last
    standing = stand(start_s=T0 + 610, every_s=10.0, count=180, lat=end.lat, jitter_m=8.0)  # 30 minutes
    events = feed(clock, standing)
    # the stop began where the walk ended (T0 + 600, the anchor): 600 s walked, then 600 s of the stop
    assert clock.state.anchor == end
    assert events == [ClockEvent(EventKind.PAUSED, T0 + 1_200, PatrolStatus.PAUSED)]
    assert clock.valid_s == pytest.approx(600.0 + 600.0)
    assert clock.status is PatrolStatus.PAUSED


def test_walking_on_after_a_pause_resumes_the_clock():
    clock = PatrolClock.start(started_s=T0)
    feed(clock, stand(start_s=T0, every_s=10.0, count=91))  # 900 s at one spot: 600 count
    assert clock.status is PatrolStatus.PAUSED
    assert clock.valid_s == pytest.approx(600.0)
    away = Fix(north(LAT0, 40.0), LON0, T0 + 910, 5.0)  # out of the 30 m stop
    assert clock.fix(away, now_s=away.ts_s) == [ClockEvent(EventKind.RESUMED, T0 + 910, PatrolStatus.ACTIVE)]
    assert clock.status is PatrolStatus.ACTIVE
    feed(clock, walk(start_s=T0 + 920, every_s=10.0, count=6, lat=north(LAT0, 54.0)))
    assert clock.valid_s == pytest.approx(600.0 + 10.0 + 60.0)


def test_moving_inside_30_m_is_standing_still():
    clock = PatrolClock.start(started_s=T0)
    feed(clock, stand(start_s=T0, every_s=30.0, count=41, jitter_m=29.0))  # 20 min pacing a 29 m stretch
    assert clock.status is PatrolStatus.PAUSED
    assert clock.valid_s == pytest.approx(600.0)


def test_five_minutes_without_a_fix_suspend_the_patrol():
    time = ManualClock(T0)
    clock = PatrolClock.start(started_s=T0)
    feed(clock, walk(start_s=T0, every_s=10.0, count=31), time)  # last fix at T0 + 300
    time.set(T0 + 600)
    assert clock.tick(now_s=time.now_s()) == []  # exactly 5 minutes: not yet
    time.advance(1)
    assert clock.tick(now_s=time.now_s()) == [ClockEvent(EventKind.SUSPENDED, T0 + 600, PatrolStatus.SUSPENDED)]
    assert clock.status is PatrolStatus.SUSPENDED
    assert clock.tick(now_s=time.now_s() + 60) == []  # said once


def test_a_patrol_without_any_fix_is_suspended_five_minutes_after_its_start():
    clock = PatrolClock.start(started_s=T0)
    assert clock.tick(now_s=T0 + 301) == [ClockEvent(EventKind.SUSPENDED, T0 + 300, PatrolStatus.SUSPENDED)]


def test_a_suspended_patrol_resumes_on_the_next_fix_and_the_silence_does_not_count():
    time = ManualClock(T0)
    clock = PatrolClock.start(started_s=T0)
    feed(clock, walk(start_s=T0, every_s=10.0, count=31), time)  # 300 s
    time.set(T0 + 1_000)
    assert [e.kind for e in clock.tick(now_s=time.now_s())] == [EventKind.SUSPENDED]
    back = walk(start_s=T0 + 1_300, every_s=10.0, count=31, lat=north(LAT0, 500.0))  # 20 min later
    time.set(back[0].ts_s)
    assert clock.fix(back[0], now_s=time.now_s()) == [ClockEvent(EventKind.RESUMED, T0 + 1_300, PatrolStatus.ACTIVE)]
    feed(clock, back[1:], time)
    assert clock.status is PatrolStatus.ACTIVE
    assert clock.valid_s == pytest.approx(300.0 + 300.0)


def test_a_host_that_never_ticked_still_sees_the_suspension_and_the_resumption_in_order():
    clock = PatrolClock.start(started_s=T0)
    feed(clock, walk(start_s=T0, every_s=10.0, count=2))
    late = Fix(north(LAT0, 300.0), LON0, T0 + 900, 5.0)
    assert clock.fix(late, now_s=late.ts_s) == [
        ClockEvent(EventKind.SUSPENDED, T0 + 310, PatrolStatus.SUSPENDED),
        ClockEvent(EventKind.RESUMED, T0 + 900, PatrolStatus.ACTIVE)]
    assert clock.valid_s == pytest.approx(10.0)


def test_fixes_buffered_by_a_phone_offline_count_when_they_arrive():
    clock = PatrolClock.start(started_s=T0)
    buffered = walk(start_s=T0, every_s=10.0, count=61)  # 600 s walked, all delivered at T0 + 700
    events = [event for fix in buffered for event in clock.fix(fix, now_s=T0 + 700)]
    assert [e.kind for e in events] == [EventKind.SUSPENDED, EventKind.RESUMED]
    assert clock.valid_s == pytest.approx(600.0)


def test_a_suspended_stop_stays_paused_when_the_phone_comes_back_at_the_same_spot():
    clock = PatrolClock.start(started_s=T0)
    feed(clock, stand(start_s=T0, every_s=10.0, count=31))  # 300 s at a corner
    back = Fix(LAT0, LON0, T0 + 1_000, 5.0)  # 700 s of silence, same corner: no fresh 10 minutes
    assert [e.kind for e in clock.fix(back, now_s=back.ts_s)] == [EventKind.SUSPENDED, EventKind.RESUMED,
                                                                    EventKind.PAUSED]
    assert clock.status is PatrolStatus.PAUSED
    assert clock.valid_s == pytest.approx(300.0)


def test_a_jump_counts_no_time_and_starts_a_new_stretch():
    clock = PatrolClock.start(started_s=T0)
    feed(clock, walk(start_s=T0, every_s=10.0, count=7))  # 60 s
    bus = Fix(north(LAT0, 3_000.0), LON0, T0 + 180, 5.0)
    assert clock.fix(bus, now_s=bus.ts_s, jump=True) == []
    assert clock.valid_s == pytest.approx(60.0)
    assert clock.state.anchor == bus


def test_stop_ends_the_patrol_and_keeps_what_was_earned():
    clock = PatrolClock.start(started_s=T0)
    feed(clock, walk(start_s=T0, every_s=10.0, count=61))
    assert clock.stop(now_s=T0 + 700) == [ClockEvent(EventKind.ENDED, T0 + 700, PatrolStatus.ENDED)]
    assert clock.status is PatrolStatus.ENDED
    assert clock.valid_s == pytest.approx(600.0)
    assert clock.tick(now_s=T0 + 10_000) == []
    with pytest.raises(PatrolEnded):
        clock.fix(Fix(LAT0, LON0, T0 + 710), now_s=T0 + 710)
    with pytest.raises(PatrolEnded):
        clock.stop(now_s=T0 + 720)


def test_a_paused_or_suspended_patrol_can_be_stopped():
    clock = PatrolClock.start(started_s=T0)
    clock.tick(now_s=T0 + 400)
    assert clock.status is PatrolStatus.SUSPENDED
    assert [e.status for e in clock.stop(now_s=T0 + 500)] == [PatrolStatus.ENDED]


steps = st.lists(st.tuples(st.floats(0.5, 900.0), st.floats(-60.0, 60.0), st.floats(-60.0, 60.0),
                           st.floats(0.0, 200.0)), max_size=80)


@settings(max_examples=150, deadline=None)
@given(steps, st.floats(0.0, 600.0))
def test_valid_seconds_never_exceed_the_wall_time(moves, stop_after_s):
    """Whatever the walk, the gaps and the arrival delays: valid time fits between the first fix and stop."""
    clock = PatrolClock.start(started_s=T0)
    ts_s, lat, lon, now_s = T0, LAT0, LON0, T0
    first = None
    for gap_s, north_m, east_m, delay_s in moves:
        ts_s += gap_s
        lat, lon = north(lat, north_m), lon + east_m / 94_500.0
        now_s = max(now_s, ts_s + delay_s)
        clock.tick(now_s=now_s)
        clock.fix(Fix(lat, lon, ts_s, 5.0), now_s=now_s)
        first = first if first is not None else ts_s
        assert 0.0 <= clock.valid_s <= ts_s - first + 1e-6
    clock.stop(now_s=now_s + stop_after_s)
    assert 0.0 <= clock.valid_s <= now_s + stop_after_s - T0 + 1e-6
