"""Hosts that come back by themselves, an engine a second driver attaches to, and ``redband status``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray

from actors.runtime import Engine, EngineOptions
from engine.citygen import CitySpec, generate_city
from engine.policy import default_policies
from protocols.batch import Ingest
from protocols.device import make_message

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_session")]

ROOT = Path(__file__).resolve().parents[2]
CITY = CitySpec(precincts=2, communities=1, schools=1, kiosk_halls=1, volunteers=2, seed=11)


def _engine(tmp_path, **options) -> Engine:
    options = {"precinct_hosts": 2, "realtime": True, "journal_dir": str(tmp_path / "journal"), **options}
    return Engine(generate_city(CITY), default_policies(), EngineOptions(**options))


def test_a_second_driver_in_the_namespace_attaches_to_the_running_engine(tmp_path):
    namespace = f"attach-{os.getpid()}"
    first = _engine(tmp_path, namespace=namespace, detached=True).start()
    try:
        pids = {h: ray.get(handle.where.remote()).pid for h, handle in first.hosts.items()}
        box = next(d.id for d in first.city.devices.values() if d.kind == "panic_box")
        (ack,) = first.ingest([Ingest(box, make_message("school.panic", seq=1, ts=0))]).acks
        second = _engine(tmp_path, namespace=namespace, detached=True).start()
        assert second.attached and not first.attached
        assert {h: ray.get(handle.where.remote()).pid for h, handle in second.hosts.items()} == pids
        assert second.incident(ack.incident_id) is not None  # the same hosts, not a second engine
        other_city = Engine(generate_city(CitySpec(precincts=1, communities=1, schools=1, seed=2)), default_policies(),
                            EngineOptions(namespace=namespace, detached=True))
        with pytest.raises(RuntimeError, match="already runs an engine for city"):
            other_city.start()
    finally:
        first.stop()
    with pytest.raises(ValueError):
        ray.get_actor("host:h0", namespace=namespace)


def test_status_shows_each_host_its_node_and_its_restarts_and_stop_survives_dead_actors(tmp_path):
    engine = _engine(tmp_path).start()
    try:
        host = engine.placement.precinct_hosts[0]
        engine.restart_host(host)
        # the restarted host announces its start to the directory without waiting (actors/directory.py): read the
        # status until that announcement is in, with a deadline
        deadline = time.monotonic() + 20
        while True:
            rows = {row["host_id"]: row for row in engine.status()["hosts"]}
            if (rows.get(host, {}).get("starts", 0) >= 2 and all(r["starts"] >= 1 for r in rows.values())
                    or time.monotonic() > deadline):
                break
            time.sleep(0.05)  # polling the directory against the deadline above
        assert set(rows) == set(engine.placement.hosts)
        node = ray.get_runtime_context().get_node_id()
        assert all(row["answering"] and row["node_id"] == node for row in rows.values())
        assert rows[host]["starts"] == 2 and rows[host]["restarted"]
        assert {row["starts"] for h, row in rows.items() if h != host} == {1}
        assert rows[host]["journal"].endswith(f"{host}.sqlite")

        cli = subprocess.run(
            [sys.executable, "-m", "redband", "status", "--ray-address",
             ray.get_runtime_context().gcs_address, "--namespace", engine.namespace, "--json"],
            capture_output=True, text=True, cwd=ROOT, timeout=120, env={**os.environ, "RAY_AUTH_MODE": "disabled"})
        assert cli.returncode == 0, cli.stderr[-2000:]
        shown = {row["host_id"]: row for row in json.loads(cli.stdout)["hosts"]}
        assert shown[host]["starts"] == 2 and shown[host]["node_id"] == node

        ray.kill(engine.hosts[host], no_restart=True)  # lost for good: stop must still stop the rest
        others = [h for h in engine.hosts.values() if h is not engine.hosts[host]]
    finally:
        engine.stop()
    for handle in others:
        with pytest.raises(ray.exceptions.RayActorError):
            ray.get(handle.where.remote(), timeout=30)


def test_status_of_an_empty_namespace_says_so():
    cli = subprocess.run(
        [sys.executable, "-m", "redband", "status", "--ray-address", ray.get_runtime_context().gcs_address,
         "--namespace", "nobody-here"], capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    assert cli.returncode == 1 and "no redband engine runs in namespace 'nobody-here'" in cli.stderr
