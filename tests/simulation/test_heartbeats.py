"""The simulated devices' heartbeat schedule (simulation.heartbeats): pure, time passed in."""

from __future__ import annotations

from engine.citygen import generate_city
from engine.policy import default_policies
from protocols import EventKind
from simulation.heartbeats import HeartbeatSchedule, heartbeat_period_s, supervised_devices
from tests.engine.helpers import SMALL

CITY = generate_city(SMALL)


def _schedule(**options) -> HeartbeatSchedule:
    return HeartbeatSchedule.for_city(CITY, default_policies(), interval_s=30.0, misses=3, now_s=0.0, **options)


def test_every_supervised_device_beats_once_per_period_spread_over_the_period():
    schedule = _schedule()
    fixed = {d.id for d in supervised_devices(CITY)}
    assert len(schedule) == len(fixed) and all(d.kind.value not in ("volunteer_phone", "resident_phone")
                                              for d in supervised_devices(CITY))
    first_half = schedule.due(15.0, wall_ms=0)
    rest = schedule.due(29.999, wall_ms=0)
    assert first_half and rest, "the first round is spread over the period, not sent at once"
    assert {o.device_id for o in first_half + rest} == fixed and len(first_half + rest) == len(fixed)
    assert {o.message.event_kind for o in rest} == {EventKind.HEARTBEAT}
    assert len(schedule.due(59.999, wall_ms=0)) == len(fixed)  # each again one period later


def test_a_device_never_beats_less_often_than_a_third_of_the_time_it_may_be_silent():
    policies = default_policies()
    camera = next(d for d in supervised_devices(CITY) if d.kind == "camera")
    assert heartbeat_period_s(camera, policies, interval_s=30.0, misses=3) == 30.0
    assert heartbeat_period_s(camera, policies, interval_s=30.0, misses=1) == 10.0
    policies.heartbeat_s[camera.kind] = 12.0
    assert heartbeat_period_s(camera, policies, interval_s=30.0, misses=3) == 12.0


def test_seqs_start_above_the_scenarios_and_grow_per_device():
    device_id = supervised_devices(CITY)[0].id
    schedule = _schedule(first_seqs={device_id: 8})
    seqs = [o.message.seq for t in (30.0, 60.0, 90.0) for o in schedule.due(t, wall_ms=5) if o.device_id == device_id]
    assert seqs == [8, 9, 10]


def test_a_silenced_device_sends_nothing_until_heard_again():
    schedule = _schedule()
    device_id = supervised_devices(CITY)[0].id
    schedule.silence([device_id])
    assert device_id not in {o.device_id for o in schedule.due(30.0, wall_ms=0)} and schedule.is_silent(device_id)
    schedule.hear([device_id])
    assert device_id in {o.device_id for o in schedule.due(60.0, wall_ms=0)}


def test_a_schedule_that_fell_behind_sends_one_beat_per_device_not_every_one_it_missed():
    schedule = _schedule()
    assert len(schedule.due(300.0, wall_ms=0)) == len(schedule)
    assert schedule.due(300.0, wall_ms=0) == [] and schedule.sent == len(schedule)
