"""An autouse fixture for unit-test folders: starting Ray there is a bug, so it fails loudly."""

import pytest


@pytest.fixture(autouse=True)
def forbid_ray_init(monkeypatch):
    try:
        import ray
    except ImportError:  # pragma: no cover - ray is a dependency
        return

    def refuse(*args, **kwargs):
        raise AssertionError("unit tests must not start Ray; mark the test `ray` and put it in tests/actors")

    monkeypatch.setattr(ray, "init", refuse)
