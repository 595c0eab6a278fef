"""Shared fixtures. Unit-test folders forbid ``ray.init`` (see ``tests/unit_guard.py``)."""

import os

import pytest

os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a throwaway local test cluster on loopback


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for every integration test: starting it costs seconds, so never per test."""
    from actors.runtime import ensure_ray, shutdown_ray

    started = ensure_ray()
    yield
    if started:
        shutdown_ray()



@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL for the session (``tests/postgres.py``); each test takes a schema of its own
    (``postgres_server.fresh_url()``)."""
    from tests.postgres import Postgres

    server = Postgres().start()
    yield server
    server.stop()
