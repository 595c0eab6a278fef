"""One volunteer's patrol (engine.patrol.patrol): filter, track and clock together; snapshots; totals."""

from __future__ import annotations

import msgspec
import pytest

from engine.clock import ManualClock
from engine.patrol.clock import EventKind, PatrolEnded, PatrolStatus
from engine.patrol.gps_filter import DiscardReason, FilterConfig, Fix, Verdict
from engine.patrol.patrol import Patrol, PatrolConfig, PatrolSummary, VolunteerTotals
from protocols.device import make_message
from tests.engine.patrol.fixes import LAT0, LON0, north, walk

T0 = 1_800_000_000.0


def walked(patrol: Patrol, fixes: list[Fix], time: ManualClock) -> None:
    for fix in fixes:
        time.set(fix.ts_s)
        assert patrol.fix(fix, now_s=time.now_s()).verdict.kept


def test_an_hour_and_a_half_on_the_street_is_1_5_valid_hours_and_the_distance_walked():
    time = ManualClock(T0)
    patrol = Patrol.start(patrol_id="p-1", volunteer="v-42", team="t-3", started_s=time.now_s())
    walked(patrol, walk(start_s=T0, every_s=10.0, count=541, speed_mps=1.0), time)
    time.advance(30)
    summary = patrol.stop(now_s=time.now_s())
    assert summary == PatrolSummary(
        patrol_id="p-1", volunteer="v-42", team="t-3", status=PatrolStatus.ENDED, started_s=T0,
        ended_s=T0 + 5_430, valid_s=pytest.approx(5_400.0), distance_m=pytest.approx(5_400.0, rel=1e-3),
        fixes_kept=541, discarded={})
    assert summary.valid_hours == pytest.approx(1.5)


def test_a_summary_is_plain_data_a_host_can_journal():
    patrol = Patrol.start(patrol_id="p-1", volunteer="v-42", started_s=T0)
    patrol.fix(Fix(LAT0, LON0, T0 + 1, 80.0), now_s=T0 + 1)
    summary = patrol.stop(now_s=T0 + 60)
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(summary), type=PatrolSummary) == summary
    assert summary.discarded == {"inaccurate": 1}


def test_discarded_fixes_are_counted_on_the_patrol_and_touch_neither_track_nor_clock():
    time = ManualClock(T0)
    patrol = Patrol.start(patrol_id="p-1", volunteer="v-42", started_s=T0)
    walked(patrol, walk(start_s=T0, every_s=10.0, count=3), time)
    before = (patrol.track.distance_m, len(patrol.polyline()), patrol.clock.valid_s)
    bad = [Fix(LAT0, LON0, T0 + 25, 120.0), Fix(0.0, 0.0, T0 + 26), Fix(north(LAT0, 900.0), LON0, T0 + 27),
           Fix(LAT0, LON0, T0 + 20), Fix(LAT0, LON0, T0 + 5), Fix(LAT0, LON0, T0 + 999)]
    reasons = [patrol.fix(fix, now_s=T0 + 30).verdict.reason for fix in bad]
    assert reasons == [DiscardReason.INACCURATE, DiscardReason.ZERO, DiscardReason.TOO_FAST,
                       DiscardReason.DUPLICATE, DiscardReason.OLD, DiscardReason.FUTURE]
    assert (patrol.track.distance_m, len(patrol.polyline()), patrol.clock.valid_s) == before
    assert patrol.summary().discarded == {"inaccurate": 1, "zero": 1, "too_fast": 1, "duplicate": 1, "old": 1,
                                          "future": 1}


def test_a_fix_from_before_the_patrol_started_is_old():
    patrol = Patrol.start(patrol_id="p-1", volunteer="v-42", started_s=T0)
    assert patrol.fix(Fix(LAT0, LON0, T0 - 3_600), now_s=T0).verdict == Verdict(False, DiscardReason.OLD)


def test_a_position_message_becomes_a_fix():
    message = make_message("patrol.position", seq=7, ts=int(T0 * 1000) + 250,
                           data={"lat": LAT0, "lon": LON0, "accuracy_m": 12.5})
    fix = Fix.from_position(message.data, ts_ms=message.ts)
    assert fix == Fix(LAT0, LON0, T0 + 0.25, 12.5)
    assert Patrol.start(patrol_id="p", volunteer="v", started_s=T0).fix(fix, now_s=T0 + 1).verdict.kept


def test_silence_suspends_the_patrol_and_the_next_fix_resumes_it():
    time = ManualClock(T0)
    patrol = Patrol.start(patrol_id="p-1", volunteer="v-42", started_s=T0)
    walked(patrol, walk(start_s=T0, every_s=10.0, count=31), time)
    time.advance(301)
    assert [e.kind for e in patrol.tick(now_s=time.now_s())] == [EventKind.SUSPENDED]
    assert patrol.status is PatrolStatus.SUSPENDED
    fix = Fix(north(LAT0, 400.0), LON0, time.now_s())
    outcome = patrol.fix(fix, now_s=time.now_s())
    assert outcome.verdict.kept
    assert [e.kind for e in outcome.events] == [EventKind.RESUMED]
    assert patrol.status is PatrolStatus.ACTIVE


def test_a_discarded_fix_still_lets_the_host_see_a_suspension():
    patrol = Patrol.start(patrol_id="p-1", volunteer="v-42", started_s=T0)
    outcome = patrol.fix(Fix(0.0, 0.0, T0 + 400), now_s=T0 + 400)
    assert outcome.verdict.reason is DiscardReason.ZERO
    assert [e.kind for e in outcome.events] == [EventKind.SUSPENDED]


def test_a_wrong_first_fix_is_drawn_but_neither_walked_nor_timed():
    time = ManualClock(T0)
    patrol = Patrol.start(patrol_id="p-1", volunteer="v-42", started_s=T0)
    assert patrol.fix(Fix(north(LAT0, 8_000.0), LON0, T0 + 1), now_s=T0 + 1).verdict.kept  # a bad first fix
    for fix in walk(start_s=T0 + 10, every_s=10.0, count=61):
        time.set(fix.ts_s)
        patrol.fix(fix, now_s=fix.ts_s)
    summary = patrol.summary()
    assert summary.discarded == {"too_fast": 2}
    assert summary.fixes_kept == 60
    assert summary.distance_m == pytest.approx(1.4 * 10 * 58, abs=10.0)  # from the third fix of the walk on
    assert summary.valid_s == pytest.approx(580.0)


def test_stop_ends_the_patrol_once():
    patrol = Patrol.start(patrol_id="p-1", volunteer="v-42", started_s=T0)
    assert patrol.stop(now_s=T0 + 60).status is PatrolStatus.ENDED
    with pytest.raises(PatrolEnded):
        patrol.fix(Fix(LAT0, LON0, T0 + 61), now_s=T0 + 61)
    with pytest.raises(PatrolEnded):
        patrol.stop(now_s=T0 + 62)
    assert patrol.summary().fixes_kept == 0  # the refused fix was not even counted


def test_a_bicycle_patrol_takes_a_faster_filter():
    config = PatrolConfig(filter=FilterConfig.for_kind("bicycle"))
    patrol = Patrol.start(patrol_id="p-1", volunteer="v-42", started_s=T0, config=config)
    patrol.fix(Fix(LAT0, LON0, T0), now_s=T0)
    assert patrol.fix(Fix(north(LAT0, 200.0), LON0, T0 + 10), now_s=T0 + 10).verdict.kept  # 20 m/s


def test_a_snapshot_restores_the_same_patrol_which_goes_on_as_if_nothing_happened():
    time = ManualClock(T0)
    patrol = Patrol.start(patrol_id="p-1", volunteer="v-42", team="t-3", started_s=T0)
    fixes = walk(start_s=T0, every_s=5.0, count=300)
    walked(patrol, fixes[:200], time)
    patrol.fix(Fix(LAT0, LON0, T0 + 1_000, 99.0), now_s=time.now_s())
    restored = Patrol.restore(patrol.snapshot())
    assert restored.record == patrol.record
    assert restored.summary() == patrol.summary()
    for fix in fixes[200:]:
        patrol.fix(fix, now_s=fix.ts_s)
        restored.fix(fix, now_s=fix.ts_s)
    assert restored.record == patrol.record
    assert restored.polyline() == patrol.polyline()
    assert restored.stop(now_s=T0 + 1_600) == patrol.stop(now_s=T0 + 1_600)


def test_a_volunteers_totals_add_up_their_ended_patrols():
    totals = VolunteerTotals(volunteer="v-42")
    for n, minutes in enumerate([30, 60, 90]):
        time = ManualClock(T0 + n * 86_400)
        patrol = Patrol.start(patrol_id=f"p-{n}", volunteer="v-42", started_s=time.now_s())
        walked(patrol, walk(start_s=time.now_s(), every_s=10.0, count=minutes * 6 + 1, speed_mps=1.0), time)
        totals.add(patrol.stop(now_s=time.now_s()))
    assert totals.patrols == 3
    assert totals.valid_hours == pytest.approx(3.0)
    assert totals.distance_m == pytest.approx(3 * 3_600.0, rel=1e-3)
    assert msgspec.json.decode(msgspec.json.encode(totals), type=VolunteerTotals) == totals


def test_totals_refuse_a_patrol_under_way_or_of_someone_else():
    totals = VolunteerTotals(volunteer="v-42")
    with pytest.raises(ValueError, match=r"^patrol p-1 is active: only ended patrols are counted$"):
        totals.add(Patrol.start(patrol_id="p-1", volunteer="v-42", started_s=T0).summary())
    other = Patrol.start(patrol_id="p-2", volunteer="v-7", started_s=T0)
    with pytest.raises(ValueError, match=r"^patrol p-2 is v-7's, not v-42's$"):
        totals.add(other.stop(now_s=T0 + 1))
    assert totals == VolunteerTotals(volunteer="v-42")
