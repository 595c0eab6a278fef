"""Supervision of fixed devices, and their journaled last-seen times (engine.hosting.supervision)."""

from __future__ import annotations

from engine.hosting.supervision import SUPERVISION, SeenLog
from protocols.batch import StateChange
from protocols.kinds import IncidentKind
from tests.engine.host_parts import Parts

OFFLINE_AFTER_S = 30.0 * 3  # the engine's default interval × misses (the default policies name none)


def _offline(parts: Parts):
    return [r for r in parts.store.incidents.values() if r.kind is IncidentKind.DEVICE_OFFLINE]


def test_a_sign_of_life_starts_the_devices_timer_once():
    parts = Parts()
    entity = parts.roster.device(parts.device("camera"))
    parts.supervision.seen(entity, 1.0)
    parts.supervision.seen(entity, 2.0)  # the timer runs from the first; its deadline looks at the last
    assert parts.scheduler.due_of((SUPERVISION, entity.device.id)) == 1.0 + OFFLINE_AFTER_S
    assert entity.last_seen_s == 2.0 and parts.seen_log.pending == {entity.device.id: (2.0, False)}


def test_phones_are_not_supervised():
    parts = Parts()
    entity = parts.roster.device(parts.device("volunteer_phone"))
    parts.supervision.seen(entity, 1.0)
    assert entity.last_seen_s == 1.0 and len(parts.scheduler) == 0 and parts.seen_log.pending == {}


def test_a_device_seen_since_its_timer_was_set_is_not_taken_offline():
    parts = Parts()
    entity = parts.roster.device(parts.device("camera"))
    parts.supervision.seen(entity, 0.0)
    parts.supervision.seen(entity, 50.0)
    assert parts.supervision.deadline(entity.device.id, OFFLINE_AFTER_S, OFFLINE_AFTER_S) == 0
    assert parts.scheduler.due_of((SUPERVISION, entity.device.id)) == 50.0 + OFFLINE_AFTER_S


def test_a_silent_device_goes_offline_once_and_comes_back_when_it_speaks():
    parts = Parts()
    entity = parts.roster.device(parts.device("camera"))
    parts.supervision.seen(entity, 1.0)
    due_s = 1.0 + OFFLINE_AFTER_S
    assert parts.supervision.deadline(entity.device.id, due_s, due_s) == 1
    (offline,) = _offline(parts)
    assert entity.offline and entity.offline_incident == offline.id and "silent for 90 s" in offline.timeline[0].note
    assert parts.seen_log.pending[entity.device.id] == (1.0, True)  # journaled: a restart must not report it again
    assert parts.supervision.deadline(entity.device.id, 200.0, 200.0) == 0  # once per outage
    parts.supervision.seen(entity, 300.0)
    assert not entity.offline and parts.store.get(offline.id) is None  # withdrawn (cancelled)
    audit = [(r.action, r.outcome) for r in parts.staging.take().audit]
    assert audit == [("device.offline", "raised"), ("device.online", "ok")]


def test_a_last_will_takes_a_device_offline_at_once_and_online_brings_it_back():
    parts = Parts()
    camera, phone = parts.device("camera"), parts.device("resident_phone")
    changed = parts.supervision.connection_states([StateChange(camera, False), StateChange(phone, False),
                                                   StateChange("nowhere", False)], 5.0)
    assert changed == 1 and "last will" in _offline(parts)[0].timeline[0].note
    assert parts.supervision.connection_states([StateChange(camera, False)], 6.0) == 0  # already offline
    assert parts.supervision.connection_states([StateChange(camera, True)], 7.0) == 1
    assert _offline(parts) == []


def test_offline_after_is_the_devices_interval_else_the_policys_else_the_engines():
    parts = Parts()
    device = parts.city.devices[parts.device("camera")]
    assert parts.supervision.offline_after_s(device) == OFFLINE_AFTER_S
    parts.policies.heartbeat_s[device.kind] = 10.0
    assert parts.supervision.offline_after_s(device) == 30.0


def test_a_device_resumed_after_a_restart_is_timed_from_its_journaled_time():
    parts = Parts()
    camera = parts.device("camera")
    parts.supervision.resume(camera, 10.0, False)
    assert parts.scheduler.due_of((SUPERVISION, camera)) == 10.0 + OFFLINE_AFTER_S
    parts.supervision.resume(camera, 5.0, False)  # older than what memory has: ignored
    assert parts.roster.devices[camera].last_seen_s == 10.0


def test_a_device_reported_offline_before_a_restart_stays_offline_without_a_timer():
    parts = Parts()
    camera = parts.device("camera")
    parts.supervision.resume(camera, 10.0, True)
    assert parts.roster.devices[camera].offline and parts.scheduler.due_of((SUPERVISION, camera)) is None
    parts.supervision.resume(parts.device("resident_phone"), 10.0, False)  # not supervised: nothing
    assert len(parts.scheduler) == 0


def test_the_seen_log_gives_its_rows_once_per_flush_interval():
    log = SeenLog(flush_s=1.0, now_s=0.0)
    log.note("a", 0.5, False)
    assert log.due(0.9) is None
    assert log.due(1.0) == {"a": (0.5, False)}
    log.note("b", 1.5, False)
    assert log.due(1.5) is None and log.due(2.0) == {"b": (1.5, False)}


def test_rows_put_back_do_not_overwrite_newer_ones():
    log = SeenLog(flush_s=1.0, now_s=0.0)
    log.note("a", 3.0, False)
    log.put_back({"a": (1.0, False), "b": (1.0, True)})
    assert log.pending == {"a": (3.0, False), "b": (1.0, True)}
