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


# The suite runs on two xdist workers (`make test`: -n 2 --dist loadfile), one test file per worker at a time. The
# files below load the machine's CPU and assert that nothing is lost or late under that load: two of them at once on
# 2 cores made the city load's bridge fall behind and Mosquitto drop telemetry. They form one group, run one after
# the other on one worker, first (the longest unit of work starts at once); every other file is its own group.
HEAVY_FILES = frozenset({
    "tests/simulation/test_benchmark_smoke.py", "tests/simulation/test_patrol_street.py",
    "tests/mqtt/test_city_load.py", "tests/mqtt/test_node_loss.py", "tests/mqtt/test_stack_faults.py",
    "tests/simulation/test_community_evening.py", "tests/simulation/test_kiosk_hall.py",
})


def _file_of(item) -> str:
    return item.nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: _file_of(item) not in HEAVY_FILES)  # stable: each file's order kept


def pytest_xdist_make_scheduler(config, log):
    """With ``--dist loadfile``: each file a unit of work, but the heavy files together as one."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class HeavyFilesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = super()._split_scope(nodeid)
            return "heavy" if file in HEAVY_FILES else file

    return HeavyFilesTogether(config, log)
