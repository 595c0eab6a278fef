"""The cities and scenarios shipped with the simulator, by their path inside the package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEMO_CITY = "cities/demo.toml"
DEMO_SCENARIO = "scenarios/school_panic.toml"


def shipped(relative: str) -> Path:
    """``shipped(DEMO_CITY)``: the file on disk, wherever the package is installed."""
    return Path(str(resources.files("simulation").joinpath(relative)))
