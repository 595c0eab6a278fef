"""The tester's command: the city at load through a real broker, against `redband run --mqtt`, with a report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from actors.broker import Mosquitto, free_port
from simulation.shipped import shipped
from tests.mqtt.helpers import wait_until
from tests.shared_ray import ray_env  # noqa: F401 - the session's Ray for `redband run` to join

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled"}
UNTIL_S = 9  # of the scenario's 60 s (its first school panic at 7.8 s: every expectation judged)


def _first_seconds(tmp_path: Path) -> Path:
    """The shipped city_load.toml with its phases ending at UNTIL_S: the same events up to there (each phase's
    arrivals are drawn in time order from its seed), without drawing the other 50 s (half a million events,
    ~15 s of the run's start) that --until would not send."""
    text = shipped("scenarios/city_load.toml").read_text()
    assert text.count("duration_s = 60") == 5 and 'file = "../cities/demo.toml"' in text
    text = text.replace("duration_s = 60", f"duration_s = {UNTIL_S}").replace("duration_s = 62",
                                                                              f"duration_s = {UNTIL_S}")
    path = tmp_path / "city_load.toml"
    path.write_text(text.replace('file = "../cities/demo.toml"', f'file = "{shipped("cities/demo.toml")}"'))
    return path


@pytest.mark.ray
@pytest.mark.mqtt
def test_city_load_through_the_broker_writes_a_report_and_loses_nothing(tmp_path, ray_env):
    city = shipped("cities/demo.toml")
    broker_dir, port = tmp_path / "broker", free_port()
    config = subprocess.run([sys.executable, "-m", "redband", "mqtt-config", "--city", str(city), "--out",
                             str(broker_dir), "--port", str(port), "--simulator"], capture_output=True, text=True,
                            cwd=ROOT, env=ENV, timeout=120)
    assert config.returncode == 0, config.stderr
    password = {line.split(",")[3]: line.split(",")[4]
                for line in (broker_dir / "credentials.csv").read_text().splitlines()[1:]}
    users, console_port = tmp_path / "users.toml", free_port()
    added = subprocess.run([sys.executable, "-m", "redband", "user", "add", "watch", "--role", "command_center",
                            "--users", str(users), "--city", str(city), "--password=watch-pw"],
                           capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=120)
    assert added.returncode == 0, added.stderr
    log = tmp_path / "run.log"
    with Mosquitto(broker_dir / "mosquitto.conf", port=port), log.open("w") as out:
        run = subprocess.Popen([sys.executable, "-m", "redband", "run", "--city", str(city),
                                "--journal-dir", str(tmp_path / "j"), "--namespace", f"city-load-{port}",
                                "--users", str(users), "--console", f"127.0.0.1:{console_port}",
                                "--mqtt", f"mqtt://redband-bridge:{password['redband-bridge']}@127.0.0.1:{port}"],
                               stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=ray_env)  # joins the session's Ray
        try:
            wait_until(lambda: "console:" in log.read_text() or run.poll() is not None, timeout_s=120,
                       what="the engine and its console", every_s=0.2)

            def simulate(console_password: str, *extra: str, scenario: Path) -> subprocess.CompletedProcess:
                return subprocess.run(
                    [sys.executable, "-m", "redband", "simulate", str(scenario),
                     "--mqtt", f"mqtt://redband-sim:{password['redband-sim']}@127.0.0.1:{port}",
                     "--console", f"ws://watch:{console_password}@127.0.0.1:{console_port}", *extra],
                    capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=300)

            # refused before it runs: a small scenario
            refused = simulate("wrong", scenario=shipped("scenarios/school_panic.toml"))
            assert refused.returncode == 2 and "login as 'watch' refused" in refused.stderr, refused.stderr[-2000:]
            report = tmp_path / "report"
            done = simulate("watch-pw", "--until", str(UNTIL_S), "--report", str(report),
                            scenario=_first_seconds(tmp_path))
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        finally:
            run.send_signal(signal.SIGINT)
            run.wait(timeout=60)
    summary = json.loads((report / "summary.json").read_text())
    assert summary["lost"] == 0 and summary["events_sent"] > 9000 * UNTIL_S
    latency = summary["metrics"]["alarm_latency"]
    assert latency["measured"] == "device publish → ack received" and latency["count"] >= 3
    assert 0 < latency["p50_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    console = summary["metrics"]["latency_paths"]["console"]  # the other process's console, watched
    assert console["count"] >= 3 and 0 < console["p50_ms"] <= console["max_ms"]
    checker = summary["metrics"]["checker"]  # judged on the command center's view of the other engine
    assert checker["incidents_from"] == "console" and checker["sent"] >= 3
    assert (checker["lost"], checker["duplicated"], checker["unexpected"]) == (0, 0, 0), checker["details"]
    telemetry = summary["metrics"]["telemetry"]  # QoS 0: counted by the engine, read from the heartbeats
    assert telemetry["counted_by"].startswith("the command center's heartbeats")
    assert 0.9 * telemetry["published"] <= telemetry["taken_by_engine"] <= telemetry["published"], telemetry
    judged = {e["name"]: e for e in summary["expectations"]}  # on the timeline the console showed
    assert judged["school panics raised"]["passed"] and not judged["school panics raised"]["skipped"]
    assert any(row["event"] == "notified" for row in summary["timeline"])
    assert [r["published"] for r in summary["load_processes"]] and all("error" not in r for r in summary["load_processes"])
    page = (report / "report.html").read_text()
    assert "alarm latency p50 / p99 / max (ms)" in page and "throughput.png" in page
    assert "p99" in done.stdout
