"""Delivery lines on an incident (``note_delivery``) and the gateway's watch that decides them (``DeliveryWatch``):
a notified responder whose consoles did not show the incident in time is not delivered, and a P1 escalates at once."""

import pytest

from engine.delivery_watch import DeliveryWatch
from engine.errors import NotAuthorized
from engine.incident import note_delivery
from protocols import IncidentState, Level, TimelineEvent
from protocols.records import DeliveryNote
from tests.engine.test_incident import POLICIES, TARGETS, act, cmd, raise_school_panic

DELIVERED, SEEN, NOT_DELIVERED = TimelineEvent.DELIVERED, TimelineEvent.SEEN, TimelineEvent.NOT_DELIVERED


def note(record, target, event, now_s=1.0, operator="p1-duty"):
    return note_delivery(record, DeliveryNote(record.id, target, event, operator), now_s=now_s,
                         policy=POLICIES.for_incident(record.kind), targets=TARGETS.get)


def test_a_receipt_is_one_line_per_notification():
    record, _ = raise_school_panic()
    record, effects = note(record, "P1-station", DELIVERED)
    line = record.timeline[-1]
    assert (line.event, line.level, line.target, line.actor) == (DELIVERED, Level.POLICE_STATION, "P1-station",
                                                                   "p1-duty")
    assert effects == [] and record.state is IncidentState.RAISED
    assert note(record, "P1-station", DELIVERED) is None  # a second console's receipt adds nothing
    record, _ = note(record, "P1-station", SEEN)
    assert note(record, "P1-station", NOT_DELIVERED) is None  # shown after all: not "not delivered"


def test_not_delivered_to_a_holder_escalates_a_p1_at_once():
    record, _ = raise_school_panic()
    record, effects = note(record, "P1-station", NOT_DELIVERED, now_s=2.0)
    assert [e.event for e in record.timeline[-3:]] == [NOT_DELIVERED, TimelineEvent.ESCALATED, TimelineEvent.NOTIFIED]
    assert record.level is Level.COMMAND_CENTER and "CC" in record.notified
    assert [(e.target, e.level) for e in effects] == [("CC", Level.COMMAND_CENTER)]


def test_not_delivered_waits_for_the_deadline_when_the_policy_says_so():
    record, _ = raise_school_panic()
    policy = POLICIES.for_incident(record.kind)
    from dataclasses import replace
    patient = replace(policy, escalate_when_not_delivered=False)
    updated, effects = note_delivery(record, DeliveryNote(record.id, "P1-station", NOT_DELIVERED), policy=patient,
                                     targets=TARGETS.get, now_s=2.0)
    assert updated.timeline[-1].event is NOT_DELIVERED and updated.level is record.level and effects == []


def test_an_acknowledged_incident_does_not_escalate_for_a_missing_receipt():
    record = act(raise_school_panic()[0], cmd("acknowledge"))
    updated, effects = note(record, "S1-guard", NOT_DELIVERED)
    assert updated.state is IncidentState.ACKNOWLEDGED and effects == []


def test_a_responder_never_notified_is_refused():
    record, _ = raise_school_panic()
    with pytest.raises(NotAuthorized, match="CC was never notified"):
        note(record, "CC", DELIVERED)


# -- the watch ------------------------------------------------------------------------------------------------


def test_no_live_console_is_not_delivered_at_once_and_a_late_receipt_still_counts():
    watch = DeliveryWatch(confirm_s=3.0)
    record, _ = raise_school_panic()
    notes = watch.on_change(record, now_s=0.0, live=lambda r: r == "S1-guard")
    assert [(n.target, n.event) for n in notes] == [("P1-station", NOT_DELIVERED)]
    assert "no console of P1-station is open" in notes[0].note
    assert watch.on_change(record, now_s=0.1, live=lambda r: False) == []  # said once
    assert watch.due(2.9) == []
    overdue = watch.due(3.0)
    assert [(n.target, n.event) for n in overdue] == [("S1-guard", NOT_DELIVERED)] and "within 3 s" in overdue[0].note
    late = watch.on_receipt(record, responder="S1-guard", operator="guard")
    assert [(n.target, n.event, n.operator) for n in late] == [("S1-guard", DELIVERED, "guard")]


def test_a_receipt_in_time_means_nothing_is_overdue():
    watch = DeliveryWatch(confirm_s=3.0)
    record, _ = raise_school_panic()
    assert watch.on_change(record, now_s=0.0, live=lambda r: True) == []
    assert [n.event for n in watch.on_receipt(record, responder="P1-station", operator="p1")] == [DELIVERED]
    assert watch.on_receipt(record, responder="P1-station", operator="p1-other") == []  # once per notification
    assert [n.event for n in watch.on_seen(record, responder="S1-guard", operator="g")] == [DELIVERED, SEEN]
    assert watch.due(10.0) == [] and watch.pending == 0


def test_an_ended_incident_is_no_longer_waited_for_and_the_maintenance_queue_is_not_watched():
    watch = DeliveryWatch(confirm_s=3.0)
    record, _ = raise_school_panic()
    watch.on_change(record, now_s=0.0, live=lambda r: True)
    watch.on_change(act(record, cmd("false_alarm", disposition="pupil")), now_s=1.0, live=lambda r: True)
    assert watch.due(10.0) == []
    assert watch.on_receipt(record, responder="P1-maint", operator="m") == []


def test_the_watch_is_bounded():
    watch = DeliveryWatch(confirm_s=3.0, max_tracked=10)
    for i in range(50):
        record, _ = raise_school_panic(now_s=float(i))
        watch.on_change(record.__class__(**{**{f: getattr(record, f) for f in record.__struct_fields__},
                                            "id": f"box#{i}"}), now_s=float(i), live=lambda r: True)
    assert watch.pending <= 10
