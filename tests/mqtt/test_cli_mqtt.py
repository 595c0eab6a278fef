"""The command line over a real broker: provision, run with a bridge, simulate through the broker."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w

from actors.broker import Mosquitto, free_port
from engine.citygen import generate_city_dict
from tests.mqtt.conftest import SMALL
from tests.mqtt.helpers import wait_until
from tests.shared_ray import ray_env  # noqa: F401 - the session's Ray for `redband run` to join

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled"}


def redband(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "redband", *args], capture_output=True, text=True,
                          cwd=ROOT, env=ENV, timeout=timeout)


@pytest.fixture
def city_file(tmp_path) -> Path:
    path = tmp_path / "city.toml"
    path.write_text(tomli_w.dumps(generate_city_dict(SMALL)))
    return path


def read_csv(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.mark.mqtt
def test_mqtt_config_writes_the_broker_files_and_keeps_issued_passwords(city_file, tmp_path):
    out = tmp_path / "broker"
    done = redband("mqtt-config", "--city", str(city_file), "--out", str(out), "--port", "18830")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == ["credentials.csv", "dynamic-security.json",
                                                                     "mosquitto.conf"]
    conf = (out / "mosquitto.conf").read_text()
    for line in ("listener 18830 127.0.0.1", "allow_anonymous false", "persistence true",
                 f"plugin_opt_config_file {out.resolve()}/dynamic-security.json"):
        assert line in conf.splitlines()
    assert not any(line.startswith(("password_file", "acl_file")) for line in conf.splitlines())
    rows = read_csv(out / "credentials.csv")
    assert list(rows[0]) == ["device_id", "kind", "site_id", "username", "password"]
    devices = [r for r in rows if r["kind"] not in ("bridge", "simulator")]
    assert len(devices) == len(generate_city_dict(SMALL)["devices"])
    assert [r["username"] for r in rows if r["kind"] == "bridge"] == ["redband-bridge"]
    assert not any(r["kind"] == "simulator" for r in rows)  # only when asked for
    box = next(r for r in devices if r["kind"] == "panic_box")
    dynsec = (out / "dynamic-security.json").read_text()
    assert box["password"] not in dynsec and f'"clientid":"{box["username"]}"' in dynsec
    assert f'"topic":"rb/v1/site/{box["site_id"]}/notice"' in dynsec
    assert oct((out / "dynamic-security.json").stat().st_mode & 0o777) == "0o600"
    # provisioning again (say, with the simulator user) keeps every password already issued
    again = redband("mqtt-config", "--city", str(city_file), "--out", str(out), "--simulator")
    assert again.returncode == 0, again.stderr
    rows_again = {r["username"]: r["password"] for r in read_csv(out / "credentials.csv")}
    assert all(rows_again[r["username"]] == r["password"] for r in rows)
    assert "redband-sim" in rows_again


def test_bad_inputs_are_refused_by_name(city_file, tmp_path):
    bad_url = redband("run", "--city", str(city_file), "--mqtt", "http://x:y@localhost:1883")
    assert bad_url.returncode == 2 and "error: mqtt: expected a URL like mqtt://USER:PASS@HOST:PORT" in bad_url.stderr
    bad_city = tmp_path / "bad.toml"
    bad_city.write_text('[city]\nid = "x"\n')
    done = redband("mqtt-config", "--city", str(bad_city), "--out", str(tmp_path / "b"))
    assert done.returncode == 2 and done.stderr.startswith(f"error: {bad_city}")


SCENARIO = """
name = "Panic through the broker"
duration_s = 3
[city]
file = "{city}"
[[events]]
at_s = 0
device = "S0001-panic1"
kind = "school.panic"
data = {{ zone = "gym" }}
[[events]]
at_s = 0.5
device = "S0001-panic1"
kind = "heartbeat"
count = 3
every_s = 0.5
[[events]]
at_s = 1
device = "C0001-door1"
kind = "school.panic"
"""


SUMMARY = ("bridge alarm: received 4, accepted 2, duplicates 0, refused 2, overflowed 0, reconnects 0; "
           "evt: received 6, accepted 6, duplicates 0, refused 0")


@pytest.mark.ray
@pytest.mark.mqtt
def test_run_with_a_bridge_and_simulate_through_the_broker(city_file, tmp_path, ray_env):
    out = tmp_path / "broker"
    port = free_port()
    assert redband("mqtt-config", "--city", str(city_file), "--out", str(out), "--port", str(port),
                   "--simulator").returncode == 0
    password = {r["username"]: r["password"] for r in read_csv(out / "credentials.csv")}
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO.format(city=city_file))
    log = tmp_path / "run.log"
    with Mosquitto(out / "mosquitto.conf", port=port), log.open("w") as log_out:
        run = subprocess.Popen([sys.executable, "-m", "redband", "run", "--city", str(city_file),
                                "--journal-dir", str(tmp_path / "journal"), "--namespace", f"cli-mqtt-{port}",
                                "--mqtt", f"mqtt://redband-bridge:{password['redband-bridge']}@127.0.0.1:{port}",
                                "--stats-every", "1"],
                               stdout=log_out, stderr=subprocess.STDOUT, cwd=ROOT, env=ray_env)  # the session's Ray
        try:
            wait_until(lambda: "engine running" in log.read_text() or run.poll() is not None, timeout_s=120,
                       what="the engine to start", every_s=0.2)
            assert run.poll() is None, log.read_text()[-3000:]
            assert "1 MQTT bridge(s) on mqtt://redband-bridge:***@127.0.0.1" in log.read_text()
            assert password["redband-bridge"] not in log.read_text()
            for run_index in range(2):  # a second run against the same engine is new traffic, not a replay
                done = redband("simulate", str(scenario), "--json", "--mqtt",
                               f"mqtt://redband-sim:{password['redband-sim']}@127.0.0.1:{port}")
                result = json.loads(done.stdout)
                assert result["events_sent"] == 5 and result["lost"] == 0 and result["duplicates"] == 0, result
                # the door cannot raise a school panic: refused by name, and not lost
                (refusal,) = result["refusals"]
                assert refusal.startswith("C0001-door1 seq ") and refusal.endswith(
                    ": kind: school.panic is not sent by a door")
                assert all(e["skipped"] for e in result["expectations"] if e["name"] != "no event lost")
            wait_until(lambda: "S0001-panic1#" in log.read_text(), timeout_s=30, what="the incident in the log")
            # two runs: two panics accepted, two doors refused; six heartbeats (printed every second)
            wait_until(lambda: SUMMARY in log.read_text(), timeout_s=30, what=f"the bridge summary {SUMMARY!r}")
            run.send_signal(signal.SIGINT)
            assert run.wait(timeout=60) == 0
        finally:
            if run.poll() is None:
                run.kill()
    text = log.read_text()
    # the second run's panic, while the first is still open, is counted on it, not raised again
    raised = re.findall(r"(S0001-panic1#\d+)\s+school\.panic\s+raised\b", text)
    assert len(raised) == 1, text[-3000:]
    assert "redband engine stopped" in text
    assert text.count("bridge alarm: received") >= 1


@pytest.mark.mqtt
def test_redband_broker_runs_the_files_as_the_readme_says_even_as_root(city_file, tmp_path):
    from actors.broker import free_port

    out, port = tmp_path / "private" / "broker", free_port()
    (tmp_path / "private").mkdir(mode=0o700)  # like a project under /root: the mosquitto user cannot reach it
    assert redband("mqtt-config", "--city", str(city_file), "--out", str(out), "--port", str(port)).returncode == 0
    box = next(r for r in read_csv(out / "credentials.csv") if r["kind"] == "panic_box")
    broker = subprocess.Popen([sys.executable, "-m", "redband", "broker", "--dir", str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        def answers() -> bool:
            done = subprocess.run(["mosquitto_sub", "-p", str(port), "-V", "mqttv5", "-u", box["username"], "-P",
                                   box["password"], "-i", box["username"], "-t",
                                   f"rb/v1/dev/{box['username']}/ack", "-E"], capture_output=True, timeout=10)
            return done.returncode == 0 and b"denied" not in done.stdout + done.stderr
        deadline = time.monotonic() + 20
        while not answers():
            assert broker.poll() is None, broker.stdout.read().decode(errors="replace")
            assert time.monotonic() < deadline, "redband broker did not serve the device in 20 s"
            time.sleep(0.2)  # polling a broker that is starting; bounded by the deadline
    finally:
        broker.terminate()
        broker.wait(timeout=10)
    assert redband("broker", "--dir", str(tmp_path / "nowhere")).returncode == 2
