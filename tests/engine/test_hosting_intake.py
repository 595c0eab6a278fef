"""One device message through its host: checks, supervision, incidents, routes (engine.hosting.intake)."""

from __future__ import annotations

from engine.entities import DeviceEntity
from engine.hosting.intake import Intake, Route
from engine.hosting.supervision import SUPERVISION
from protocols import EventKind
from protocols.batch import Ingest
from protocols.device import DeviceMessage, make_message
from protocols.kinds import AckStatus, IncidentKind
from tests.engine.host_parts import Parts


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int, float]] = []

    def __call__(self, entity: DeviceEntity, message: DeviceMessage, now_s: float) -> None:
        self.seen.append((entity.device.id, message.seq, now_s))


def _intake(parts: Parts, routes: dict[EventKind, Route] | None = None) -> Intake:
    return Intake(parts.config, roster=parts.roster, supervision=parts.supervision, store=parts.store,
                  staging=parts.staging, counters=parts.counters, routes=routes or {})


def test_a_message_from_a_device_not_on_this_host_is_refused_and_listed():
    verdict, listed = _intake(Parts()).handle(Ingest("nowhere", make_message("heartbeat", seq=1, ts=0)), 0.0)
    assert verdict.status is AckStatus.NAK and "unknown device 'nowhere'" in verdict.reason and listed


def test_an_accepted_event_is_a_sign_of_life_acked_in_bulk():
    parts = Parts()
    camera = parts.device("camera")
    verdict, listed = _intake(parts).handle(Ingest(camera, make_message("heartbeat", seq=1, ts=0), json=True), 5.0)
    assert verdict.status is AckStatus.ACK and not listed
    entity = parts.roster.devices[camera]
    assert entity.last_seen_s == 5.0 and entity.speaks_json
    assert parts.scheduler.due_of((SUPERVISION, camera)) is not None


def test_a_duplicate_event_is_listed_and_not_a_sign_of_life():
    parts = Parts()
    intake, camera = _intake(parts), parts.device("camera")
    intake.handle(Ingest(camera, make_message("heartbeat", seq=1, ts=0)), 5.0)
    verdict, listed = intake.handle(Ingest(camera, make_message("heartbeat", seq=1, ts=0)), 6.0)
    assert verdict.status is AckStatus.DUPLICATE and listed
    assert parts.roster.devices[camera].last_seen_s == 5.0


def test_an_alarm_raises_its_incident_and_is_remembered_for_dedup():
    parts = Parts()
    intake, box = _intake(parts), parts.device("panic_box")
    item = Ingest(box, make_message("school.panic", seq=3, ts=0, boot=1))
    verdict, listed = intake.handle(item, 0.0)
    assert verdict.status is AckStatus.ACK and listed and verdict.incident_id == f"{box}#3"
    (row,) = parts.staging.alarm_seqs
    assert (row.device_id, row.seq, row.incident_id, row.boot) == (box, 3, f"{box}#3", 1)
    again, _ = intake.handle(item, 1.0)
    assert again.status is AckStatus.DUPLICATE and again.incident_id == verdict.incident_id


def test_every_clue_is_a_report_of_its_own():
    parts = Parts()
    intake, phone = _intake(parts), parts.device("volunteer_phone")
    tip = {"category": "theft", "text": "bike", "lat": 31.8, "lon": 117.2}
    first, _ = intake.handle(Ingest(phone, make_message("patrol.clue", seq=1, ts=0, data=tip)), 0.0)
    second, _ = intake.handle(Ingest(phone, make_message("patrol.clue", seq=2, ts=0, data=tip)), 1.0)
    assert first.incident_id != second.incident_id
    assert {r.kind for r in parts.store.incidents.values()} == {IncidentKind.PATROL_CLUE}


def test_a_skewed_clock_is_counted_and_noted_on_the_incident():
    parts = Parts()
    box = parts.device("panic_box")
    item = Ingest(box, make_message("school.panic", seq=1, ts=0), received_ms=60_000)
    verdict, _ = _intake(parts).handle(item, 60.0)
    assert parts.counters.clock_skewed == 1
    assert "sent 60 s before it arrived" in parts.store.get(verdict.incident_id).timeline[0].note


def test_an_event_goes_to_the_route_of_its_kind():
    parts = Parts()
    door, visits = parts.device("door"), Recorder()
    intake = _intake(parts, {EventKind.DOOR_VISITOR: Route(visits)})
    intake.handle(Ingest(door, make_message("door.visitor", seq=2, ts=0, data={"unit": "1"})), 3.0)
    intake.handle(Ingest(door, make_message("heartbeat", seq=3, ts=0)), 4.0)  # no route: acked only
    assert visits.seen == [(door, 2, 3.0)]


def test_a_late_state_is_not_routed_when_only_the_newest_counts():
    parts = Parts()
    door, states, visits = parts.device("door"), Recorder(), Recorder()
    intake = _intake(parts, {EventKind.DOOR_OPENED: Route(states, newest_only=True),
                             EventKind.DOOR_VISITOR: Route(visits)})
    intake.handle(Ingest(door, make_message("door.opened", seq=5, ts=0, data={"open": True})), 0.0)
    late, listed = intake.handle(Ingest(door, make_message("door.opened", seq=4, ts=0, data={"open": False})), 1.0)
    assert late.status is AckStatus.ACK and not listed
    intake.handle(Ingest(door, make_message("door.visitor", seq=3, ts=0, data={"unit": "1"})), 2.0)  # late too
    assert [seq for _, seq, _ in states.seen] == [5]
    assert [seq for _, seq, _ in visits.seen] == [3]


def test_a_device_rebooting_is_counted():
    parts = Parts()
    intake, camera = _intake(parts), parts.device("camera")
    intake.handle(Ingest(camera, make_message("heartbeat", seq=9, ts=0, boot=1)), 0.0)
    intake.handle(Ingest(camera, make_message("heartbeat", seq=1, ts=0, boot=2)), 1.0)
    assert parts.counters.seq_rearmed == 1
