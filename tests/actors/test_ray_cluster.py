"""Joining a cluster (``actors/ray_cluster.py``), without Ray: the token settings a driver joins with, the message when
the cluster refuses its token, the project copy shipped to the workers, and the host count from the cluster's CPUs.
The two-node cluster with token auth on is ``tests/mqtt/test_node_loss.py``."""

from __future__ import annotations

from pathlib import Path

import pytest
import ray

from actors import ray_setup
from actors.ray_cluster import (PACKAGES, ClusterJoinError, join_auth_mode, project_runtime_env, refused_message,
                                ship_by_default)
from engine.topology import load_city
from simulation.shipped import DEMO_CITY, shipped


def test_a_driver_handed_a_token_joins_in_token_mode_and_an_explicit_mode_wins(tmp_path):
    token = tmp_path / "token"
    token.write_text("f" * 64 + "\n")
    assert join_auth_mode({"RAY_AUTH_TOKEN_PATH": str(token)}) == "token"
    assert join_auth_mode({"RAY_AUTH_TOKEN": "f" * 64}) == "token"
    assert join_auth_mode({}) is None  # nothing handed: Ray's own rules
    assert join_auth_mode({"RAY_AUTH_MODE": "disabled", "RAY_AUTH_TOKEN": "x"}) is None
    assert join_auth_mode({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}) is None


@pytest.mark.parametrize("env, names", [
    ({"RAY_AUTH_MODE": "tokens"}, "RAY_AUTH_MODE='tokens': must be token or disabled"),
    ({"RAY_AUTH_TOKEN_PATH": "{missing}"}, "RAY_AUTH_TOKEN_PATH={missing}: cannot read the token"),
    ({"RAY_AUTH_TOKEN_PATH": "{empty}"}, "RAY_AUTH_TOKEN_PATH={empty}: the file is empty"),
])
def test_token_settings_that_cannot_work_are_refused_naming_the_variable(tmp_path, env, names):
    (tmp_path / "empty").write_text(" \n")
    paths = {"missing": tmp_path / "missing", "empty": tmp_path / "empty"}
    env = {k: v.format(**paths) for k, v in env.items()}
    with pytest.raises(ClusterJoinError, match="^" + names.format(**paths).replace("(", r"\(")):
        join_auth_mode(env)


def test_a_refused_token_is_told_apart_from_a_cluster_not_there():
    try:
        try:
            raise RuntimeError("RPC error: InvalidAuthToken: Authentication token is missing or incorrect.")
        except RuntimeError as cause:
            raise ConnectionError("Failed to connect to Ray cluster at 10.0.0.1:6379") from cause
    except ConnectionError as exc:
        refused = exc
    message = refused_message("10.0.0.1:6379", refused, {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": "/t"})
    assert message.startswith("--ray-address 10.0.0.1:6379: the cluster refused this driver's token")
    assert "token from RAY_AUTH_TOKEN_PATH=/t" in message
    assert refused_message("10.0.0.1:6379", ConnectionError("Failed to connect"), {}) is None


def test_the_workers_get_a_copy_of_the_packages_laid_out_as_here_without_caches():
    with project_runtime_env() as runtime_env:
        staged = Path(runtime_env["working_dir"])
        assert sorted(p.name for p in staged.iterdir()) == sorted(PACKAGES)
        assert (staged / "actors" / "host_actor.py").is_file()
        assert (staged / "engine" / "default_policies.toml").is_file()
        assert (staged / "web_console" / "index.html").is_file()  # the console's files beside actors/, as here
        assert not list(staged.rglob("__pycache__")) and not list(staged.rglob("*.pyc"))
        size = sum(p.stat().st_size for p in staged.rglob("*") if p.is_file())
        assert size < 20_000_000, f"{size} bytes shipped to every worker"
    assert not staged.exists()


def test_hosts_are_counted_from_the_clusters_cpus_not_this_machines(monkeypatch):
    city = load_city(shipped(DEMO_CITY))  # 6 precincts
    monkeypatch.setattr(ray_setup.os, "cpu_count", lambda: 64)
    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 3.0, "memory": 1e9})
    assert ray_setup.default_precinct_hosts(city) == 3
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    assert ray_setup.default_precinct_hosts(city) == 6


def test_the_project_is_shipped_unless_told_the_nodes_have_it():
    assert ship_by_default({}) and ship_by_default({"REDBAND_SHIP_PROJECT": "1"})
    assert not ship_by_default({"REDBAND_SHIP_PROJECT": "0"})
    with pytest.raises(ClusterJoinError, match="^REDBAND_SHIP_PROJECT='maybe': must be 0 or 1"):
        ship_by_default({"REDBAND_SHIP_PROJECT": "maybe"})
