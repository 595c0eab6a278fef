"""``kill -9`` of the whole engine running on the PostgreSQL journal (``redband run --journal postgresql://...``):
after ``redband run`` again, every alarm acked before the kill is in the journal once, and its re-send is a duplicate
of the same incident. The SQLite journal's counterpart is in ``tests/mqtt/test_crash_safety.py``."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import psycopg
import pytest
import tomli_w

from engine.citygen import generate_city_dict
from engine.mqtt_provision import BRIDGE_USER
from protocols.kinds import EventKind
from simulation.mqtt_device import MqttDevice
from tests.mqtt.conftest import SMALL
from tests.mqtt.helpers import wait_until
from tests.mqtt.test_cli_mqtt import ENV, ROOT
from tests.mqtt.test_crash_safety import _kill_everything, _online, _stop
from tests.shared_ray import ray_env  # noqa: F401 - the session's Ray for the second `redband run` to join

pytestmark = [pytest.mark.ray, pytest.mark.mqtt]


def test_every_alarm_acked_before_a_kill_9_is_in_the_postgresql_journal_once(broker, postgres_server, tmp_path,
                                                                            ray_env):
    """The first run starts a Ray of its own, killed with it; the second joins the session's Ray (a namespace of its
    own, stopped with Ctrl-C): what it finds is the journal's alone."""
    url = postgres_server.fresh_url()
    city_file = tmp_path / "city.toml"
    city_file.write_text(tomli_w.dumps(generate_city_dict(SMALL)))
    bridge_url = f"mqtt://{BRIDGE_USER}:{broker.credentials[BRIDGE_USER].password}@127.0.0.1:{broker.port}"
    command = [sys.executable, "-m", "redband", "run", "--city", str(city_file), "--journal", url,
               "--journal-dir", str(tmp_path / "bridges"), "--mqtt", bridge_url, "--metrics", "off",
               "--users", str(tmp_path / "no-users.toml"), "--precinct-hosts", "1"]
    devices = [d.id for d in sorted(broker.city.devices.values(), key=lambda d: d.id) if d.kind == "panic_box"]
    alarms: dict[str, tuple[int, int]] = {}  # device -> (seq, ts_ms): the very same message is sent again

    def start(log_path, env=ENV, extra=()):
        log_out = log_path.open("w")
        process = subprocess.Popen([*command, *extra], stdout=log_out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        wait_until(lambda: "engine running" in log_path.read_text() or process.poll() is not None, timeout_s=120,
                   what="the engine to start", every_s=0.1)
        assert process.poll() is None, log_path.read_text()[-3000:]
        assert "journal in postgresql://" in log_path.read_text()
        return process

    async def raise_all(kill_pid: int | None):
        boxes = [MqttDevice(broker.endpoint(d)) for d in devices]
        tasks = await _online(*boxes)
        try:
            for box in boxes:
                alarms.setdefault(box.device_id, (box.next_seq(), int(time.time() * 1000)))
            acks = await asyncio.gather(*(box.alarm(EventKind.SCHOOL_PANIC, {"zone": "gate"},
                                                    seq=alarms[box.device_id][0], ts_ms=alarms[box.device_id][1])
                                          for box in boxes))
            if kill_pid is not None:
                await asyncio.sleep(0.02)  # the fault comes 20 ms after the last ack
                _kill_everything(kill_pid)
            return {box.device_id: ack for box, ack in zip(boxes, acks)}
        finally:
            await _stop(tasks)

    first = start(tmp_path / "first.log")
    try:
        acked = asyncio.run(raise_all(first.pid))
    finally:
        if first.poll() is None:
            _kill_everything(first.pid)
    assert len(devices) >= 2 and all(ack.ok and ack.incident for ack in acked.values()), acked

    second = start(tmp_path / "second.log", ray_env, ("--namespace", f"pg-crash-{broker.port}"))
    try:
        again = asyncio.run(raise_all(None))
        second.send_signal(signal.SIGINT)
        assert second.wait(timeout=60) == 0, (tmp_path / "second.log").read_text()[-3000:]
    finally:
        if second.poll() is None:
            _kill_everything(second.pid)
    for device, ack in again.items():
        assert ack.ok and ack.duplicate and ack.incident == acked[device].incident, (device, ack)
    with psycopg.connect(url) as db:
        rows = db.execute("SELECT id, device_id FROM incidents WHERE kind = 'school.panic'").fetchall()
        epochs = dict(db.execute("SELECT host_id, epoch FROM hosts").fetchall())
    assert sorted(rows) == sorted((ack.incident, device) for device, ack in acked.items())
    assert epochs.keys() == {"cc", "h0"} and min(epochs.values()) >= 2, epochs  # the second run took them over
