"""Run metrics: one HDR histogram per latency path, the first measured path as the headline."""

from __future__ import annotations

from protocols.console import incident_view
from protocols.kinds import IncidentKind, IncidentState, Level
from protocols.records import IncidentRecord
from protocols.replies import Ack
from simulation.metrics import RunMetrics


def record(device: str, seq: int, raised_s: float) -> IncidentRecord:
    return IncidentRecord(f"{device}#{seq}", IncidentKind("school.panic"), device, "S1", "P1", "h0", 1,
                          IncidentState.RAISED, raised_s, Level.GUARD_ROOM, seq=seq)


def test_each_path_is_measured_from_the_moment_the_alarm_left():
    m = RunMetrics(incidents_from="engine")
    m.alarm_sent("box", 7, 100.000)
    m.acked("box", Ack(True, 7), 100.012, t0_s=99.0)
    m.acked("box", Ack(True, 7, duplicate=True), 101.5, t0_s=99.0)  # a resend's ack: not a second measurement
    m.incident(record("box", 7, 100.004), new=True, t0_s=99.0)
    m.incident(record("box", 7, 100.004), new=False, t0_s=99.0)  # a later change of the same incident
    m.console_saw(incident_view(record("box", 7, 100.004)), 100.030, first=True, t0_s=99.0)
    m.console_saw(incident_view(record("box", 7, 100.004)), 100.090, first=False, t0_s=99.0)
    summary = m.finish()
    paths = summary["latency_paths"]
    assert {name: p["count"] for name, p in paths.items()} == {"raised": 1, "ack": 1, "console": 1}
    assert round(paths["raised"]["max_ms"]) == 4 and round(paths["ack"]["max_ms"]) == 12
    assert round(paths["console"]["max_ms"]) == 30
    assert summary["alarm_latency"]["path"] == "raised"  # the engine's own clock first
    assert summary["checker"]["incidents_from"] == "engine" and summary["checker"]["ok"]


def test_without_the_engine_the_ack_is_the_headline_and_the_console_feeds_the_checker():
    m = RunMetrics(incidents_from="console")
    for seq in (1, 2):
        m.alarm_sent("box", seq, 10.0)
    m.acked("box", Ack(True, 1), 10.02, t0_s=9.0)
    m.console_saw(incident_view(record("box", 1, 10.01)), 10.05, first=True, t0_s=9.0)
    summary = m.finish()
    assert summary["alarm_latency"]["path"] == "ack"
    checker = summary["checker"]
    assert checker["incidents_from"] == "console" and checker["lost"] == 1  # seq 2 never reached the console
    assert m.finish(checker_scope={"another-device"})["checker"]["sent"] == 0  # out of the operator's view


def test_no_incident_source_means_no_checker_verdict_and_a_silent_engine_means_lost():
    m = RunMetrics()
    m.alarm_sent("box", 1, 1.0)
    m.acked("box", Ack(True, 1), 1.01, t0_s=0.0)
    assert "checker" not in m.finish()
    m.incidents_from = "engine"  # the engine was watched and raised nothing
    assert m.finish()["checker"]["lost"] == 1
