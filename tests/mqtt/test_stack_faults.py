"""`redband simulate --stack`: a whole redband of the run's own, through a real Mosquitto that the scenario kills
and starts again, with the alarms measured to the incident, the ack and the console, and checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulation.shipped import shipped
from tests.shared_ray import ray_env  # noqa: F401 - the session's Ray for the stack's engine to join

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """
name = "broker killed mid-run"
duration_s = 10
[city]
file = "{city}"
[[phases]]
kind = "heartbeat"
rate_per_s = 700
duration_s = 8
[[phases]]
kind = "school.panic"
rate_per_s = 3
duration_s = 8
seed = 3
[[faults]]
at_s = 3
kind = "broker_kill"
down_s = 2
[[expect]]
name = "alarms keep raising incidents"
event = "raised"
count = {raised}
"""


def run_stack(tmp_path, env: dict, *, raised: int) -> tuple[subprocess.CompletedProcess, dict]:
    """``env``: ``ray_env``, the stack's engine joins the session's Ray."""
    path = tmp_path / "broker_kill.toml"
    path.write_text(SCENARIO.format(city=shipped("cities/demo.toml"), raised=raised))
    done = subprocess.run([sys.executable, "-m", "redband", "simulate", str(path), "--stack",
                           "--stack-dir", str(tmp_path / "stack"), "--report", str(tmp_path / "report")],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    return done, json.loads((tmp_path / "report" / "summary.json").read_text())


@pytest.mark.ray
@pytest.mark.mqtt
def test_a_broker_killed_mid_run_loses_no_alarm_and_the_report_says_what_telemetry_it_cost(tmp_path, ray_env):
    done, summary = run_stack(tmp_path, ray_env, raised=1_000)  # bound to fail: the exit code must say so
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert summary["faults"][0] == "broker killed at 3.00 s, down for 2 s"
    assert summary["faults"][1].startswith("broker started again at 5.00 s")
    marks = [(round(m["t_s"]), m["label"]) for m in summary["fault_marks"]]
    assert marks == [(3, "broker killed"), (5, "broker started")]  # drawn on the plots
    metrics = summary["metrics"]
    checker = metrics["checker"]
    assert checker["incidents_from"] == "engine" and checker["sent"] >= 15
    assert (checker["lost"], checker["duplicated"], checker["unexpected"]) == (0, 0, 0), checker["details"]
    assert summary["lost"] == 0  # every alarm acked in the end, the ones sent into the outage included
    paths = metrics["latency_paths"]
    assert set(paths) == {"raised", "ack", "console"}
    assert paths["raised"]["count"] >= 10 and paths["console"]["count"] >= 10
    assert paths["ack"]["max_ms"] > 500  # an alarm sent into the outage waited for the broker
    telemetry = metrics["telemetry"]
    assert telemetry["not_sent_while_disconnected"] > 0 and telemetry["published"] > 0
    assert telemetry["taken_by_engine"] + telemetry["lost_after_publish"] >= telemetry["published"]
    assert any(r["reconnects"] >= 1 for r in summary["load_processes"])
    curve = metrics["throughput"]  # offered (the schedule) and taken, once a second
    assert curve[-1]["sent"] >= 5000 and curve[-1]["taken"] >= 0.8 * telemetry["taken_by_engine"]
    assert metrics["console"]["role"] == "command_center" and metrics["console"]["connects"] == 1
    page = (tmp_path / "report" / "report.html").read_text()
    assert "device publish → console received" in page and "broker killed at 3.00 s" in page
    assert "FAIL" in page and "stack files kept in" in done.stdout  # a failed run keeps its logs
    assert "fault: broker killed at 3.00 s" in done.stdout and "checker (engine)" in done.stdout
