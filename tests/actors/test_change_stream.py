"""`Engine.next_changes`, the console gateway's change stream: long polls on quiet hosts, direct takes on busy
ones; every change arrives once, whichever host made it and whichever way it was taken."""

from __future__ import annotations

import time

import pytest

from actors.runtime import Engine, EngineOptions
from engine.citygen import CitySpec, generate_city
from engine.policy import default_policies
from protocols.batch import Ingest
from protocols.device import make_message

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_session")]


def test_changes_from_quiet_and_busy_hosts_arrive_once_each():
    city = generate_city(CitySpec(precincts=3, communities=3, schools=6, kiosk_halls=1, volunteers=3, seed=8))
    engine = Engine(city, default_policies(), EngineOptions(precinct_hosts=3, realtime=True)).start()
    try:
        assert engine.next_changes(0.05) == []  # quiet: every host now holds a long poll
        assert set(engine.watch._change_polls) == set(engine.placement.hosts)
        boxes = sorted(d.id for d in city.devices.values() if d.kind.value == "panic_box")
        hosts = {engine.placement.host_for_device(b) for b in boxes}
        assert len(hosts) == 3  # alarms on every precinct host
        versions: dict[tuple[str, int], int] = {}  # (incident, version) → times received

        def take(wait_s: float) -> None:
            for change in engine.next_changes(wait_s):
                key = (change.record.id, change.record.version)
                versions[key] = versions.get(key, 0) + 1

        for round_ in range(3):  # a burst on every host, then quiet again: both ways of taking are used
            raised = {engine.ingest([Ingest(box, make_message("school.panic", seq=1, ts=1))]).acks[0].incident_id
                      for box in boxes[round_::3]}
            deadline = time.monotonic() + 20
            while not raised <= {incident for incident, _ in versions}:
                assert time.monotonic() < deadline, f"never received {sorted(raised - set(versions))}"
                take(0.2)
        take(0.3)  # anything left over, or sent twice, would show now
        assert versions and all(n == 1 for n in versions.values()), {k: n for k, n in versions.items() if n > 1}
    finally:
        engine.stop()
