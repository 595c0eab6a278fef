"""Sequence and kind checks of one device message (engine.hosting.sequence)."""

from __future__ import annotations

from engine.entities import DeviceEntity
from engine.hosting.sequence import CLOCK_AHEAD_S, CLOCK_BEHIND_S, alarm_note, check, clock_skew
from protocols.batch import Ingest
from protocols.device import make_message
from protocols.kinds import AckStatus, IncidentKind
from tests.engine.host_parts import HOST_CITY


def _entity(kind: str) -> DeviceEntity:
    return DeviceEntity(next(d for d in HOST_CITY.devices.values() if d.kind == kind))


def test_a_kind_the_device_does_not_send_is_refused_and_names_the_kind():
    verdict, raises, digest = check(_entity("camera"), make_message("school.panic", seq=1, ts=0))
    assert verdict.status is AckStatus.NAK and "school.panic" in verdict.reason
    assert (raises, digest) == (None, 0)


def test_an_alarm_raises_its_own_kind_with_the_digest_of_the_message():
    verdict, raises, digest = check(_entity("panic_box"), make_message("school.panic", seq=1, ts=0))
    assert verdict.status is AckStatus.ACK and raises is IncidentKind.SCHOOL_PANIC and digest != 0


def test_a_report_raises_the_kind_it_reports():
    tip = {"category": "theft", "text": "bike", "lat": 31.8, "lon": 117.2}
    verdict, raises, _ = check(_entity("volunteer_phone"), make_message("patrol.clue", seq=1, ts=0, data=tip))
    assert verdict.status is AckStatus.ACK and raises is IncidentKind.PATROL_CLUE


def test_an_alarm_the_entity_remembers_is_a_duplicate_with_its_incident():
    entity = _entity("panic_box")
    message = make_message("school.panic", seq=4, ts=0)
    _, _, digest = check(entity, message)
    entity.remember_alarm(4, "box#4", digest=digest)
    verdict, _, _ = check(entity, message)
    assert verdict.status is AckStatus.DUPLICATE and verdict.incident_id == "box#4"


def test_events_go_through_the_event_window():
    entity = _entity("door")
    assert check(entity, make_message("heartbeat", seq=5, ts=0))[0].status is AckStatus.ACK
    assert check(entity, make_message("heartbeat", seq=5, ts=0))[0].status is AckStatus.DUPLICATE
    late, raises, digest = check(entity, make_message("heartbeat", seq=3, ts=0))
    assert late.status is AckStatus.ACK and late.late and (raises, digest) == (None, 0)
    assert check(entity, make_message("heartbeat", seq=1, ts=0, boot=2))[0].rearmed


def test_clock_skew_is_noted_only_outside_the_dc09_window():
    def skew(ts_ms: int, received_ms: int) -> str:
        return clock_skew(Ingest("d", make_message("heartbeat", seq=1, ts=ts_ms), received_ms=received_ms))

    now_ms = 1_000_000
    assert skew(now_ms - int(CLOCK_BEHIND_S * 1000), now_ms) == ""
    assert skew(now_ms + int(CLOCK_AHEAD_S * 1000), now_ms) == ""
    assert skew(now_ms - 41_000, now_ms).startswith("sent 41 s before it arrived")
    assert skew(now_ms + 21_000, now_ms).startswith("stamped 21 s after it arrived")
    assert skew(0, 0) == ""  # not received through a bridge that stamps: nothing to compare


def test_an_alarm_note_names_the_first_field_it_has():
    assert alarm_note(make_message("camera.throw", seq=1, ts=0, data={"snapshot": "s.jpg"})) == "snapshot=s.jpg"
    assert alarm_note(make_message("school.panic", seq=1, ts=0)) == ""
