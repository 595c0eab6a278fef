"""Delivery receipts through the real gateway on Ray: a station with its console closed is never the end of an alarm.
Each console confirms what it showed; the chain records, per notified responder, delivered / seen / not delivered."""

from __future__ import annotations

import time

import pytest

from protocols.console import IncidentChanged, Seen
from protocols.kinds import IncidentState, Level, TimelineEvent
from tests.console.test_gateway import panic, session

pytestmark = pytest.mark.ray

DEADLINE_S = 20.0


def lines(console, incident_id, event):
    record = console.engine.incident(incident_id)
    return [e for e in record.timeline if e.event is event] if record else []


def wait_for(predicate, what: str, timeout_s: float = DEADLINE_S):
    deadline = time.monotonic() + timeout_s
    while not (result := predicate()):
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(0.05)  # polling a condition with a deadline
    return result


def test_a_p1_whose_station_has_no_console_open_escalates_at_once(console_patient):
    console = console_patient
    cc = session(console, "cc")  # the command center watches; neither the guard room nor the station does
    incident = panic(console, "P1")
    escalated = cc.until(lambda m: isinstance(m, IncidentChanged) and m.incident.id == incident
                         and m.incident.level == Level.COMMAND_CENTER, what="the escalation").incident
    # the watch sends its two lines side by side and the first one escalates at once: wait for the second
    undelivered = wait_for(lambda: {e.target: e.note for e in lines(console, incident, TimelineEvent.NOT_DELIVERED)}
                           if len(lines(console, incident, TimelineEvent.NOT_DELIVERED)) >= 2 else None,
                           "both responders' not-delivered lines")
    record = console.engine.incident(incident)
    assert set(undelivered) == {"P1-station", record.notified[0]} and "no console of P1-station is open" in \
        undelivered["P1-station"]
    # escalated by the watch, not by the deadline (10 minutes away), and still waiting for an acknowledgement
    assert escalated.state == IncidentState.RAISED and escalated.deadline_s - escalated.raised_s > 60
    # the command center's own console confirmed it: delivered, not "not delivered"
    wait_for(lambda: lines(console, incident, TimelineEvent.DELIVERED), "the command center's receipt")
    assert [e.target for e in lines(console, incident, TimelineEvent.DELIVERED)] == ["CC"]


def test_with_the_station_console_open_its_receipt_is_in_the_chain_and_nothing_escalates(console_patient):
    console = console_patient
    station = session(console, "p1")
    guard = session(console, "guard")
    incident = panic(console, "P1")
    station.until(lambda m: isinstance(m, IncidentChanged) and m.incident.id == incident, what="the panic")
    guard.until(lambda m: isinstance(m, IncidentChanged) and m.incident.id == incident, what="the panic")
    delivered = wait_for(lambda: {e.target: e for e in lines(console, incident, TimelineEvent.DELIVERED)}
                         if len(lines(console, incident, TimelineEvent.DELIVERED)) == 2 else None, "two receipts")
    record = console.engine.incident(incident)
    assert set(delivered) == set(record.notified) and delivered["P1-station"].actor == "p1"
    assert delivered["P1-station"].t_s - record.raised_s < console.engine.policies.confirm_s
    # opening it in the detail panel is a "seen" line, once
    station.send(Seen(incident))
    station.send(Seen(incident))
    seen = wait_for(lambda: lines(console, incident, TimelineEvent.SEEN), "the seen line")
    assert [(e.target, e.actor) for e in seen] == [("P1-station", "p1")]
    # past the confirm window: nothing was marked undelivered and nothing escalated
    wait_for(lambda: time.time() > record.raised_s + console.engine.policies.confirm_s + 1, "the confirm window")
    record = console.engine.incident(incident)
    assert not [e for e in record.timeline if e.event is TimelineEvent.NOT_DELIVERED]
    assert record.level is Level.POLICE_STATION and "CC" not in record.notified


def test_a_console_that_does_not_confirm_counts_as_not_delivered(console_patient):
    from tests.console.client import ConsoleClient, login
    from tests.console.conftest import PASSWORD

    console = console_patient
    silent = ConsoleClient(console.ws, login(console.login_url, "p1", PASSWORD).token, receipts=False)
    guard = session(console, "guard")
    incident = panic(console, "P1")
    guard.until(lambda m: isinstance(m, IncidentChanged) and m.incident.id == incident, what="the panic")
    undelivered = wait_for(lambda: lines(console, incident, TimelineEvent.NOT_DELIVERED), "not delivered")
    assert [e.target for e in undelivered] == ["P1-station"] and "confirmed it within" in undelivered[0].note
    assert wait_for(lambda: console.engine.incident(incident).level is Level.COMMAND_CENTER, "the escalation")
    silent.close()
