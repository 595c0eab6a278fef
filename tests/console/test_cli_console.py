"""The console from the command line: operators added with `redband user add`, served by `redband run`;
`redband demo` prints the console URL and its operators' logins."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from actors.broker import free_port
from protocols.console import Snapshot, Token, Welcome
from simulation.shipped import DEMO_CITY, shipped
from tests.console.client import ConsoleClient, login
from tests.mqtt.helpers import wait_until
from tests.shared_ray import ray_env  # noqa: F401 - the session's Ray for `redband run` and `redband demo` to join

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled"}


def redband(*args: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "redband", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env or ENV, timeout=timeout)


@pytest.mark.ray
def test_run_serves_the_console_to_operators_added_on_the_command_line(tmp_path, ray_env):
    users = tmp_path / "users.toml"
    demo_city = str(shipped(DEMO_CITY))
    added = redband("user", "add", "p5-duty", "--role", "station", "--scope", "P5", "--users", str(users),
                    "--city", demo_city, "--password", "s3cret")
    assert added.returncode == 0 and "operator p5-duty, station for P5" in added.stdout, added.stderr
    refused = redband("user", "add", "x", "--role", "guard_room", "--scope", "P5", "--users", str(users),
                      "--city", demo_city, "--password", "p")
    assert refused.returncode == 2 and "scope: no site 'P5'" in refused.stderr
    port = free_port()
    log = tmp_path / "run.log"
    with log.open("w") as out:
        run = subprocess.Popen([sys.executable, "-m", "redband", "run", "--city", demo_city,
                                "--journal-dir", str(tmp_path / "j"), "--namespace", f"console-run-{port}",
                                "--users", str(users), "--console", f"127.0.0.1:{port}"],
                               stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=ray_env)  # joins the session's Ray
        try:
            wait_until(lambda: "console: http://" in log.read_text() or run.poll() is not None, timeout_s=120,
                       what="the console to start", every_s=0.2)
            assert f"console: http://127.0.0.1:{port}/ (1 operators" in log.read_text(), log.read_text()[-2000:]
            token = login(f"ws://127.0.0.1:{port}/login", "p5-duty", "s3cret")
            assert isinstance(token, Token)
            client = ConsoleClient(f"ws://127.0.0.1:{port}/ws", token.token)
            assert isinstance(client.next(), Welcome) and isinstance(client.next(), Snapshot)
            client.close()
            run.send_signal(signal.SIGINT)
            assert run.wait(timeout=60) == 0
        finally:
            if run.poll() is None:
                run.kill()


@pytest.mark.ray
@pytest.mark.mqtt
def test_demo_prints_the_console_and_its_logins_and_runs_the_panic_through_the_broker(tmp_path, ray_env):
    done = redband("demo", "--until", "3", "--dir", str(tmp_path / "demo"), timeout=240, env=ray_env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    console = re.search(r"console: (http://127\.0\.0\.1:\d+/)", done.stdout)
    assert console, done.stdout
    logins = re.findall(r"^  (cc-duty|p5-duty|s0001-guard)\s+(\S+)$", done.stdout, re.M)
    assert sorted(name for name, _ in logins) == ["cc-duty", "p5-duty", "s0001-guard"]
    assert "S0001-panic1#1" in done.stdout and "PASS  police station alarmed in the same instant" in done.stdout
    assert (tmp_path / "demo" / "users.toml").exists() and (tmp_path / "demo" / "broker" / "mosquitto.conf").exists()


def test_a_bad_console_address_is_refused_before_anything_starts(tmp_path):
    done = redband("run", "--city", str(shipped(DEMO_CITY)), "--console", "127.0.0.1:http",
                   "--users", str(tmp_path / "none.toml"))
    assert done.returncode == 2 and "error: --console: expected HOST:PORT, got '127.0.0.1:http'" in done.stderr
