"""Benchmarks are not tests, but their programs must keep running: a quick smoke run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.ray
def test_core_throughput_quick_prints_its_figures():
    proc = subprocess.run([sys.executable, "-m", "benchmarks.core_throughput", "--quick"], capture_output=True,
                          text=True, timeout=240, cwd=ROOT, env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["accounted"] == figures["events"] == 20_000 and figures["lost"] == 0
    assert figures["core_events_per_s"] > 0
