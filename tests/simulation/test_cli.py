"""The ``redband`` command as a user runs it: a subprocess, its exit code, its output."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from simulation.shipped import shipped
from tests.shared_ray import ray_env  # noqa: F401 - the session's Ray for the programs to join

ROOT = Path(__file__).resolve().parents[2]


def redband(*args, timeout=240, env=None):
    """``env``: ``ray_env`` for a command that starts an engine (it joins the session's Ray)."""
    env = env or {**os.environ, "RAY_AUTH_MODE": "disabled"}
    return subprocess.run([sys.executable, "-m", "redband", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


@pytest.mark.ray
def test_simulate_school_panic_json_shows_the_escalation_chain(ray_env):
    proc = redband("simulate", str(shipped("scenarios/school_panic.toml")), "--json", env=ray_env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["passed"] is True and out["lost"] == 0
    assert out["events_sent"] == out["events_accounted"] == 7
    rows = {(r["t_s"], r["event"], r["level"], r["target"]) for r in out["timeline"]}
    assert {(0.0, "notified", "guard_room", "S0001-guard"), (0.0, "notified", "police_station", "P5-station")} <= rows
    escalations = [r for r in out["timeline"] if r["event"] == "escalated" and r["level"] == "command_center"]
    assert len(escalations) == 1 and abs(escalations[0]["t_s"] - 30.0) <= 0.05
    assert all(set(r) == {"t_s", "incident", "kind", "event", "level", "target"} for r in out["timeline"])
    assert all(set(e) == {"name", "passed", "skipped", "detail"} for e in out["expectations"])
    assert out["refusals"] == []


@pytest.mark.ray
def test_failed_expectation_exits_non_zero(tmp_path, ray_env):
    scenario = shipped("scenarios/school_panic.toml").read_text().replace('file = "../cities/demo.toml"',
                                                                           f'file = "{shipped("cities/demo.toml")}"')
    scenario += '\n[[expect]]\nname = "wrongly expects an acknowledgement"\nevent = "acknowledged"\n'
    path = tmp_path / "wrong.toml"
    path.write_text(scenario)
    proc = redband("simulate", str(path), env=ray_env)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "FAIL  wrongly expects an acknowledgement" in proc.stdout
    assert "PASS  escalated to the command center after 30 s" in proc.stdout


def test_bad_scenario_is_refused_with_file_line_and_field(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(f'name = "x"\nduration_s = 10\n[city]\nfile = "{shipped("cities/demo.toml")}"\n'
                    '[[events]]\nat_s = 0\ndevice = "S0001-panic1"\nkind = "school.panik"\n')
    proc = redband("simulate", str(path))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {path}:8: events[0].kind: invalid enum value 'school.panik'"


def test_unknown_device_in_scenario_is_refused(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(f'name = "x"\nduration_s = 10\n[city]\nfile = "{shipped("cities/demo.toml")}"\n'
                    '[[events]]\nat_s = 0\ndevice = "nobody"\nkind = "school.panic"\n')
    proc = redband("simulate", str(path))
    assert proc.returncode == 2 and "events[0].device: unknown device 'nobody'" in proc.stderr


def test_city_generate_then_check(tmp_path):
    out = tmp_path / "city.toml"
    proc = redband("city", "generate", "--precincts", "6", "--communities", "100", "--schools", "30",
                   "--kiosk-halls", "5", "--volunteers", "2520", "--police-cars-per-precinct", "2",
                   "--foot-officers-per-precinct", "3", "--seed", "1", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "6 precincts, 135 sites" in proc.stdout and "2520 volunteers" in proc.stdout
    assert out.read_text() .split("\n", 2)[2] == shipped("cities/demo.toml").read_text().split("\n", 2)[2]
    check = redband("city", "check", str(out))
    assert check.returncode == 0 and "4055 devices" in check.stdout


def test_bad_city_file_is_refused(tmp_path):
    path = tmp_path / "city.toml"
    path.write_text('[city]\nid = "x"\n[command_center]\nid = "CC"\n[[precincts]]\nid = "P1"\nstation = "P1 station"\n')
    proc = redband("city", "check", str(path))
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith(f"error: {path}:7: precincts[0].station: invalid id 'P1 station'")


@pytest.mark.ray
def test_run_starts_the_engine_with_journals_and_stops_cleanly_on_sigint(tmp_path):
    import signal
    import time

    log = tmp_path / "run.log"
    journal = tmp_path / "journal"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "redband", "run", "--city", str(shipped("cities/demo.toml")),
                                 "--journal-dir", str(journal),
                                 "--precinct-hosts", "6"],
                                stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                env={**os.environ, "RAY_AUTH_MODE": "disabled"})
        try:
            deadline = time.monotonic() + 120
            while "engine running" not in log.read_text():
                assert proc.poll() is None, log.read_text()[-2000:]
                assert time.monotonic() < deadline, "engine did not start within 120 s"
                time.sleep(0.2)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    text = log.read_text()
    assert "hosts h0, h1, h2, h3, h4, h5, cc" in text and "redband engine stopped" in text
    assert sorted(p.name for p in journal.iterdir() if p.suffix == ".sqlite") == [
        "cc.sqlite", "h0.sqlite", "h1.sqlite", "h2.sqlite", "h3.sqlite", "h4.sqlite", "h5.sqlite"]
