"""The session's Ray for the programs a test runs in a process of its own (``redband simulate``, the benchmarks):
joining a running Ray takes about a second, starting one 5-10 s, and the suite runs some twenty such programs.

A test takes ``ray_env`` (import it: ``from tests.shared_ray import ray_env``) and passes it as the program's
environment: ``RAY_ADDRESS`` names the session's Ray, which ``actors.ray_setup.ensure_ray`` joins (without shipping
the project: ``REDBAND_SHIP_PROJECT=0``). What the program starts there is its own job's (its own namespace and
workers), ended with the program."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def ray_env(ray_session) -> dict[str, str]:
    import ray

    # the session's Ray runs on this machine, whose venv has this very code: nothing to ship (actors/ray_cluster.py)
    return {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_ADDRESS": ray.get_runtime_context().gcs_address,
            "REDBAND_SHIP_PROJECT": "0"}
