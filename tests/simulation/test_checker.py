"""The checker is tested against itself: harnesses in front of real host cores that lose or double one
message must make it say so, and a faithful one must make it say nothing."""

from __future__ import annotations

import random

from protocols.batch import Ingest
from protocols.device import make_message
from protocols.kinds import ALARM_KIND_OF, DeviceKind
from simulation.checker import check_alarms
from tests.engine.helpers import Pair

ALARM_OF = {kind: ALARM_KIND_OF[kind] for kind in (DeviceKind.PANIC_BOX, DeviceKind.DOOR, DeviceKind.CAMERA,
                                                     DeviceKind.KIOSK)}


def run_harness(*, drop: int | None = None, double: int | None = None, rounds: int = 3):
    """Send ``rounds`` alarms from every alarm device through a pipe that may drop the ``drop``-th message or
    deliver the ``double``-th twice — the second time to another host that does not share the first one's
    dedup state (a misrouted redelivery). Returns the checker's verdict."""
    pair, other = Pair(), Pair()
    devices = [d for d in pair.city.devices.values() if d.kind in ALARM_OF]
    rng = random.Random(7)
    sent, n = [], 0
    for r in range(rounds):
        for device in rng.sample(devices, len(devices)):
            seq = 10 * (r + 1)
            message = make_message(ALARM_OF[device.kind], seq=seq, ts=0)
            sent.append((device.id, seq))
            n += 1
            if n == drop:
                continue
            pair.host.ingest([Ingest(device.id, message)], now_s=float(n))
            if n == double:
                other.host.ingest([Ingest(device.id, message)], now_s=float(n))
    incidents = list(pair.host.incidents.values()) + list(other.host.incidents.values())
    return check_alarms(sent, incidents)


def test_a_faithful_pipe_is_judged_clean():
    verdict = run_harness()
    assert (verdict.lost, verdict.duplicated, verdict.unexpected) == (0, 0, 0) and verdict.ok
    assert verdict.sent == verdict.counted > 0


def test_a_pipe_that_drops_one_message_is_caught():
    verdict = run_harness(drop=5)
    assert (verdict.lost, verdict.duplicated, verdict.unexpected) == (1, 0, 0)
    assert any(d.startswith("lost:") for d in verdict.details)


def test_a_pipe_that_delivers_one_message_twice_is_caught():
    verdict = run_harness(double=7)
    assert (verdict.lost, verdict.duplicated, verdict.unexpected) == (0, 1, 0)
    assert any(d.startswith("duplicated:") for d in verdict.details)


def test_resending_the_same_alarm_is_one_alarm_and_a_stranger_is_unexpected():
    pair = Pair()
    box = pair.device("panic_box")
    message = make_message("school.panic", seq=3, ts=0)
    for _ in range(3):  # the device retries until acked: same seq, counted once by the engine
        pair.host.ingest([Ingest(box, message)], now_s=1.0)
    assert check_alarms([(box, 3)] * 3, pair.host.incidents.values()).ok
    verdict = check_alarms([], pair.host.incidents.values())
    assert verdict.unexpected == 1 and not verdict.ok


def test_the_console_views_of_the_incidents_get_the_same_verdict():
    """Against another process's engine the checker reads the command center's console: same fields, same
    verdict, the lost one included."""
    from protocols.console import incident_view

    pair, sent = Pair(), []
    for n, device in enumerate(d.id for d in pair.city.devices.values() if d.kind.value == "panic_box"):
        sent.append((device, 5))
        if n != 2:
            pair.host.ingest([Ingest(device, make_message("school.panic", seq=5, ts=0))], now_s=float(n))
    records = list(pair.host.incidents.values())
    direct, seen = check_alarms(sent, records), check_alarms(sent, [incident_view(r) for r in records])
    assert (direct.lost, direct.duplicated, direct.unexpected) == (seen.lost, seen.duplicated, seen.unexpected) == (1, 0, 0)
