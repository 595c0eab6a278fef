"""protocols.kinds: every enum member has its human label, and the console's label table carries them all."""

from __future__ import annotations

import pytest

from protocols.records import Action
from protocols.console import LABELS, CityMap, Labels, Welcome, decode_server, encode
from protocols.kinds import (ALARM_KIND_OF, DEVICE_KIND_LABELS, ESCALATION_CHAIN, EVENT_KIND_LABELS,
                             INCIDENT_KIND_LABELS, INCIDENT_STATE_LABELS, LEVEL_LABELS, SITE_KIND_LABELS,
                             TIMELINE_EVENT_LABELS, DeviceKind, EventKind, IncidentKind, IncidentState, Level,
                             SiteKind, TimelineEvent)

TABLES = [(Level, LEVEL_LABELS), (IncidentState, INCIDENT_STATE_LABELS), (EventKind, EVENT_KIND_LABELS),
          (IncidentKind, INCIDENT_KIND_LABELS), (DeviceKind, DEVICE_KIND_LABELS), (SiteKind, SITE_KIND_LABELS),
          (TimelineEvent, TIMELINE_EVENT_LABELS)]


@pytest.mark.parametrize(("enum", "labels"), TABLES, ids=[enum.__name__ for enum, _ in TABLES])
def test_every_member_of_every_enum_has_a_label_and_no_label_is_for_a_stranger(enum, labels):
    assert set(labels) == set(enum)
    assert all(isinstance(label, str) and label.strip() and label[0].isupper() for label in labels.values())
    assert len(set(labels.values())) == len(labels), "two members read the same"


def test_a_kind_reads_the_same_as_an_incident_and_as_an_event():
    assert INCIDENT_KIND_LABELS[IncidentKind.SCHOOL_PANIC] == EVENT_KIND_LABELS[EventKind.SCHOOL_PANIC] == "School panic"
    assert INCIDENT_KIND_LABELS[IncidentKind.DEVICE_OFFLINE] == "Device offline"
    assert LEVEL_LABELS[Level.GUARD_ROOM] == "Guard room" and INCIDENT_STATE_LABELS[IncidentState.ON_SCENE] == "On scene"


def test_the_escalation_chain_climbs_by_rank_and_every_alarm_opens_an_incident():
    assert [level.rank for level in ESCALATION_CHAIN] == sorted(level.rank for level in ESCALATION_CHAIN)
    assert set(ESCALATION_CHAIN) == set(Level) - {Level.MAINTENANCE}
    assert all(alarm.is_alarm and IncidentKind(alarm.value) for alarm in ALARM_KIND_OF.values())


def test_the_console_label_table_has_every_value_and_survives_the_wire():
    assert LABELS.levels == {level.value: LEVEL_LABELS[level] for level in Level}
    assert set(LABELS.states) == {s.value for s in IncidentState}
    assert set(LABELS.kinds) == {k.value for k in EventKind} | {k.value for k in IncidentKind}
    assert set(LABELS.devices) == {k.value for k in DeviceKind} and set(LABELS.sites) == {k.value for k in SiteKind}
    assert set(LABELS.timeline) == {e.value for e in TimelineEvent}
    assert LABELS.terminal == [IncidentState.CLOSED, IncidentState.CANCELLED, IncidentState.FALSE_ALARM]
    assert set(LABELS.actions) == {a.value for a in Action}
    assert set(LABELS.transitions) == {s.value for s in IncidentState}
    assert all(LABELS.transitions[s.value] == [] for s in LABELS.terminal)
    welcome = Welcome("p1", "station", "P1", "P1-station", Level.POLICE_STATION, 1.0, CityMap([], [], []), LABELS,
                      {"1": (15.0, 60.0)}, 2.0)
    back = decode_server(encode(welcome))
    assert isinstance(back.labels, Labels) and back.labels == LABELS


def test_the_patrol_labels_reach_consoles_too():
    from protocols.patrol import NotChosen, UnitKind, UnitState

    assert set(LABELS.units) == {k.value for k in UnitKind} and set(LABELS.unit_states) == {s.value for s in UnitState}
    assert set(LABELS.not_chosen) == {r.value for r in NotChosen}
