"""What a host is told (engine.hosting.config)."""

from __future__ import annotations

import pytest

from engine.hosting.config import HostConfig
from engine.placement import CC_HOST


def test_a_host_is_a_precinct_host_of_the_default_command_center_unless_told():
    config = HostConfig("h0")
    assert config.cc_host_id == CC_HOST and not config.exact_deadlines
    assert (config.heartbeat_interval_s, config.heartbeat_misses) == (30.0, 3)


@pytest.mark.parametrize("interval_s, misses", [(0.0, 3), (-1.0, 3), (30.0, 0)])
def test_supervision_that_could_never_fire_is_refused(interval_s, misses):
    with pytest.raises(ValueError, match=r"^heartbeat_interval_s must be > 0 and heartbeat_misses >= 1$"):
        HostConfig("h0", heartbeat_interval_s=interval_s, heartbeat_misses=misses)
