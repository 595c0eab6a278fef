"""Benchmarks are not tests, but their programs must keep running: a quick smoke run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def quick_run(module: str) -> dict:
    """Run ``python -m benchmarks.<module> --quick`` and return the JSON it printed last."""
    proc = subprocess.run([sys.executable, "-m", f"benchmarks.{module}", "--quick"], capture_output=True,
                          text=True, timeout=300, cwd=ROOT, env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.ray
def test_core_throughput_quick_prints_its_figures():
    figures = quick_run("core_throughput")
    assert figures["accounted"] == figures["events"] == 20_000 and figures["lost"] == 0
    assert figures["core_events_per_s"] > 0


@pytest.mark.ray
@pytest.mark.mqtt
def test_mqtt_ingest_quick_prints_its_figures():
    figures = quick_run("mqtt_ingest")
    assert figures["published"] == figures["expected"] == figures["engine_accepted"] == 3000
    assert figures["lost"] == 0 and figures["bare_subscriber"]["count"] == 3000
    assert figures["end_to_end_events_per_s"] > 0 and figures["ratio"] > 0
    assert figures["alarms"]["published"] == figures["alarms"]["acked"] == 15
    assert figures["alarm_publish_to_raised"]["count"] == 15 and figures["alarm_publish_to_raised"]["p99_ms"] > 0
    lanes = {lane: stats for process in figures["bridge_stats"] for lane, stats in process["lanes"].items()}
    assert lanes["alarm"]["received"] == 15 and lanes["evt"]["received"] == 3000  # measured apart: own lanes
    assert len(figures["bridge_stats"]) == 2  # and own processes


@pytest.mark.ray
def test_console_fanout_quick_prints_its_figures():
    figures = quick_run("console_fanout")
    assert figures["changes"] > 0 and figures["gateway_changes_seen"] >= figures["changes"]
    # every change reached both command-center consoles, and its own station's consoles
    assert figures["delay_cc"]["deliveries"] == 2 * figures["gateway_changes_seen"]
    assert figures["deliveries"] == figures["gateway_pushed"] > figures["delay_cc"]["deliveries"]
    assert 0 < figures["delay_p99_ms_worst"] < 10_000
