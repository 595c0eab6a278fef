"""A host's state rebuilt from its journal (engine.hosting.recovery)."""

from __future__ import annotations

from engine.hosting.incidents import INCIDENT
from engine.hosting.recovery import rebuild, resume_observed
from engine.hosting.supervision import SUPERVISION
from engine.journal import AlarmSeq
from protocols.kinds import AckStatus, IncidentKind
from tests.engine.host_parts import Parts

OFFLINE_AFTER_S = 90.0


def _rebuild(parts: Parts) -> None:
    parts.rebuild_parts()
    rebuild(parts.journal, alarm_memory=8, roster=parts.roster, store=parts.store, supervision=parts.supervision)


def test_open_incidents_come_back_indexed_and_timed():
    parts = Parts()
    box = parts.city.devices[parts.device("panic_box")]
    incident_id = parts.store.raise_or_repeat(box, IncidentKind.SCHOOL_PANIC, 0.0, seq=1)
    deadline_s = parts.store.get(incident_id).deadline_s
    parts.write()
    _rebuild(parts)
    assert parts.store.open_id(box.id, IncidentKind.SCHOOL_PANIC) == incident_id
    assert parts.scheduler.due_of((INCIDENT, incident_id)) == deadline_s


def test_alarm_dedup_survives_through_the_entitys_activation():
    parts = Parts()
    box = parts.device("panic_box")
    parts.staging.stage_alarm(AlarmSeq(box, 4, f"{box}#4", boot=1, digest=77))
    parts.write()
    _rebuild(parts)
    assert box not in parts.roster.devices  # not activated until it speaks
    verdict = parts.roster.device(box).check_alarm(4, boot=1, digest=77)
    assert verdict.status is AckStatus.DUPLICATE and verdict.incident_id == f"{box}#4"


def test_supervision_resumes_from_journaled_last_seen_times():
    parts = Parts()
    camera, door = parts.device("camera"), parts.device("door")
    parts.staging.stage_seen({camera: (10.0, False), door: (5.0, True)})
    parts.write()
    _rebuild(parts)
    assert parts.scheduler.due_of((SUPERVISION, camera)) == 10.0 + OFFLINE_AFTER_S
    assert parts.roster.devices[door].offline and parts.scheduler.due_of((SUPERVISION, door)) is None


def test_after_a_rollback_newer_last_seen_times_stand_and_a_forgotten_offline_is_undone():
    parts = Parts()
    camera, door = parts.device("camera"), parts.device("door")
    parts.staging.stage_seen({camera: (10.0, False), door: (10.0, False)})
    parts.write()
    _rebuild(parts)
    resume_observed(parts.supervision, {camera: (50.0, False), door: (60.0, True)})
    assert parts.roster.devices[camera].last_seen_s == 50.0
    assert parts.scheduler.due_of((SUPERVISION, camera)) == 50.0 + OFFLINE_AFTER_S
    # the door's offline came from the forgotten step: it keeps the journal's time and is not offline
    assert parts.roster.devices[door].last_seen_s == 10.0 and not parts.roster.devices[door].offline
