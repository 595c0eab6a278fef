"""Load phases (Poisson arrivals) and the run report: pure parts, and one real run in virtual time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import ConfigError
from simulation.scenario import load_scenario
from tests.shared_ray import ray_env  # noqa: F401 - the session's Ray for the programs to join

ROOT = Path(__file__).resolve().parents[2]


def simulate(env: dict, *args: str, columns: int = 80) -> subprocess.CompletedProcess:
    """``redband simulate ARGS`` in a process of its own, joining the session's Ray (``env``: ``ray_env``)."""
    return subprocess.run([sys.executable, "-m", "redband", "simulate", *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT, env={**env, "COLUMNS": str(columns)})

PHASES = """
name = "phases"
duration_s = 20
[city]
generate = {{ seed = 1 }}
[[phases]]
kind = "heartbeat"
rate_per_s = {rate}
duration_s = 10
start_s = 5
seed = {seed}
[[phases]]
kind = "patrol.position"
rate_per_s = 50
duration_s = 10
[[phases]]
kind = "school.panic"
rate_per_s = 1
duration_s = 10
"""


def scenario(tmp_path, *, rate: float = 500, seed: int = 1, text: str | None = None):
    path = tmp_path / "s.toml"
    path.write_text(text or PHASES.format(rate=rate, seed=seed))
    return load_scenario(path)


def test_phases_arrive_as_a_seeded_poisson_process_with_increasing_seqs_per_device(tmp_path):
    s = scenario(tmp_path)
    beats = [e for e in s.events if e.message.event_kind.value == "heartbeat"]
    assert 4500 < len(beats) < 5500  # 500/s for 10 s, Poisson: ±10 % is 7 standard deviations
    assert all(5 <= e.at_s < 15 for e in beats)
    gaps = [b.at_s - a.at_s for a, b in zip(beats, beats[1:])]
    assert 0.0016 < sum(gaps) / len(gaps) < 0.0024 and min(gaps) < 0.0002  # exponential gaps: many tiny ones
    assert [e.at_s for e in scenario(tmp_path).events] == [e.at_s for e in s.events]  # the seed fixes the run
    assert [e.at_s for e in scenario(tmp_path, seed=2).events] != [e.at_s for e in s.events]
    last: dict[str, int] = {}
    for e in s.events:
        assert e.message.seq > last.get(e.device_id, 0)
        last[e.device_id] = e.message.seq
    positions = [e for e in s.events if e.message.event_kind.value == "patrol.position"]
    assert positions and all(abs(p.message.data.lat) > 1 for p in positions)  # near the phone's home
    panics = [e for e in s.events if e.message.event_kind.value == "school.panic"]
    assert panics and {s.city.devices[e.device_id].kind.value for e in panics} == {"panic_box"}


def test_a_phase_no_device_can_send_is_refused_by_line_and_field(tmp_path):
    bad = PHASES.format(rate=1, seed=1).replace('kind = "school.panic"\nrate_per_s = 1',
                                                'kind = "school.panic"\ndevice_kind = "camera"\nrate_per_s = 1')
    with pytest.raises(ConfigError, match=r"phases\[2\]\.kind: no device in the city sends school\.panic among cameras"):
        scenario(tmp_path, text=bad)
    with pytest.raises(ConfigError, match=r"phases\[0\]\.rate_per_s: expected float > 0"):
        scenario(tmp_path, rate=0)


@pytest.mark.ray
def test_simulate_writes_a_report_with_figures_plots_and_the_checkers_verdict(tmp_path, ray_env):
    path = tmp_path / "s.toml"
    # a light load (the run steps through the arrivals in virtual time, a few Ray calls each): ~270 events, 10 alarms
    path.write_text(PHASES.format(rate=20, seed=3).replace("rate_per_s = 50", "rate_per_s = 5")
                    + '\n[[expect]]\nname = "panics raised"\nevent = "raised"\nkind = "school.panic"\n')
    out = tmp_path / "report"
    done = simulate(ray_env, str(path), "--report", str(out))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["lost"] == 0 and summary["passed"] is True
    checker = summary["metrics"]["checker"]
    assert checker["sent"] == checker["counted"] >= 5 and checker["ok"]
    assert summary["metrics"]["alarm_latency"]["count"] >= 1
    assert {"report.html", "timeline.png", "latency_histogram.png"} <= {p.name for p in out.iterdir()}
    page = (out / "report.html").read_text()
    assert "phases: PASSED" in page and "PASS</td><td>panics raised" in page
    assert f"checker (engine): alarms sent {checker['sent']}, lost 0, duplicated 0, unexpected 0" in done.stdout


FAULTS = """
name = "faults"
duration_s = 130
[city]
generate = { precincts = 1, communities = 1, schools = 1, kiosk_halls = 1, volunteers = 2, seed = 3 }
[[phases]]
kind = "heartbeat"
device_kind = "panic_box"
rate_per_s = 2
duration_s = 125
[[phases]]
kind = "patrol.position"
rate_per_s = 1
duration_s = 30
[[faults]]
at_s = 10
kind = "silence"
device = "S0001-panic1"
[[faults]]
at_s = 12.5
kind = "gps_jump"
device = "V00001-phone"
jump_m = 10000
[[expect]]
name = "the silenced panic box is reported offline, once"
event = "raised"
kind = "device.offline"
count = 1
"""


def test_faults_silence_a_device_and_jump_a_phones_position(tmp_path):
    s = scenario(tmp_path, text=FAULTS)
    assert not [e for e in s.events if e.device_id == "S0001-panic1" and e.at_s >= 10]
    assert [e for e in s.events if e.device_id == "S0001-panic2" and e.at_s >= 10]  # the other box goes on
    phone = [e for e in s.events if e.device_id == "V00001-phone"]
    jump = next(e for e in phone if e.at_s == 12.5)
    home = s.city.devices["V00001-phone"].lat
    assert abs(jump.message.data.lat - home - 10_000 / 111_320) < 1e-9
    assert [e.message.seq for e in phone] == sorted(e.message.seq for e in phone)  # still in time order
    assert len({e.message.seq for e in phone}) == len(phone)


@pytest.mark.ray
def test_a_silenced_device_is_reported_offline_exactly_once_in_a_scenario(tmp_path, ray_env):
    path = tmp_path / "faults.toml"
    path.write_text(FAULTS)
    done = simulate(ray_env, str(path), "--json")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0 and result["passed"], result["expectations"]
    offline = [r for r in result["timeline"] if r["kind"] == "device.offline" and r["event"] == "raised"]
    assert [r["incident"].split("#")[0] for r in offline] == ["S0001-panic1"]


HOST_KILL = """
name = "host killed mid-escalation"
duration_s = 40
[city]
generate = { precincts = 1, communities = 1, schools = 1, kiosk_halls = 1, volunteers = 2, seed = 3 }
[[events]]
at_s = 1
device = "S0001-panic1"
kind = "school.panic"
[[faults]]
at_s = 10
kind = "host_kill"
device = "S0001-panic1"
[[expect]]
name = "escalated to the command center on time despite the crash"
event = "escalated"
level = "command_center"
at_s = 31
[[expect]]
name = "raised once"
event = "raised"
count = 1
"""


@pytest.mark.ray
def test_a_host_killed_mid_escalation_comes_back_from_its_journal_and_escalates_on_time(tmp_path, ray_env):
    path = tmp_path / "kill.toml"
    path.write_text(HOST_KILL)
    done = simulate(ray_env, str(path), "--json")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0 and result["passed"], (result["expectations"], done.stderr[-2000:])
    assert result["faults"] == ["host h0 killed and restarted at 10 s"]


def test_status_line_of_the_progress_bar():
    from simulation.progress import status_line

    assert status_line(events_per_s=10234.4, sent=61234, alarms=3, p99_ms=12.345) == (
        "10,234 events/s · 61,234 sent · 3 alarms · alarm p99 12.3 ms")
    assert status_line(events_per_s=0, sent=0, alarms=0, p99_ms=None).endswith("no alarm yet")


@pytest.mark.ray
def test_a_real_time_run_shows_live_progress(tmp_path, ray_env):
    path = tmp_path / "live.toml"
    path.write_text(PHASES.format(rate=300, seed=5).replace("duration_s = 20", "duration_s = 4")
                    .replace("duration_s = 10", "duration_s = 3").replace("start_s = 5", "start_s = 0"))
    done = simulate(ray_env, str(path), "--realtime", "--progress", columns=160)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    assert "events/s" in done.stderr and "sent" in done.stderr, done.stderr[-2000:]


@pytest.mark.ray
def test_a_real_time_report_carries_the_escalation_lateness(tmp_path, ray_env):
    (tmp_path / "p.toml").write_text('[policies."school.panic"]\npriority = 1\nsteps = [\n'
                                     '  { notify = ["guard_room", "police_station"], ack_within_s = 1 },\n'
                                     '  { notify = ["command_center"], ack_within_s = 60 },\n]\n')
    path = tmp_path / "s.toml"
    path.write_text('name = "late"\nduration_s = 3\n[city]\ngenerate = { precincts = 1, communities = 1, schools = 1, '
                    'kiosk_halls = 1, volunteers = 2, seed = 3 }\n[engine]\npolicies = "p.toml"\n[[events]]\n'
                    'at_s = 0.2\ndevice = "S0001-panic1"\nkind = "school.panic"\n[[expect]]\nname = "escalated"\n'
                    'event = "escalated"\nlevel = "command_center"\nat_s = 1.2\n')
    out = tmp_path / "report"
    done = simulate(ray_env, str(path), "--realtime", "--json", "--report", str(out))
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0 and result["passed"], result["expectations"]
    lateness = result["metrics"]["escalation_lateness"]
    assert lateness["count"] == 1 and 0 < lateness["p99_ms"] < 500
    assert "escalation lateness p50 / p99 / max (ms)" in (out / "report.html").read_text()
