"""The simulator's fleet answers task offers through the real broker (issue 14): two of its volunteer phones on
patrol near a school, a P1 panic offered automatically to the nearer one, which declines; the engine offers it to the
next, which accepts, checks in, arrives and reports it done, all as the fleet's own ``patrol.task`` events."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import pytest

from actors.engine_desk import ask_incident_owner
from protocols.device import make_message
from protocols.dispatch_desk import DispatchView
from protocols.kinds import EventKind
from simulation.mqtt_fleet import Fleet, Outgoing
from simulation.patrol_phones import PhoneConfig, Phones
from tests.mqtt.helpers import wait_until

pytestmark = [pytest.mark.ray, pytest.mark.mqtt]

M_LAT = 1 / 111_195.0
FAST = PhoneConfig(check_in_after_s=0.3, travel_s=(0.6, 0.8), on_scene_s=(0.3, 0.5))


@dataclass(frozen=True)
class ByUnit:
    """An offer policy naming each unit's answer (``OfferPolicy``'s interface)."""

    answers: dict[str, str]
    seed: int = 1

    def answer_offer(self, offer, now_s: float) -> tuple[float, str | None]:
        answer = self.answers.get(offer.unit_id)
        return (0.2, answer) if answer else (math.inf, None)


def effects(engine, name: str) -> int:
    return sum(s.dispatch_effects.get(name, 0) for s in engine.statistics())


def units(engine, state: str) -> int:
    return sum(s.units_by_state.get(state, 0) for s in engine.statistics())


def test_the_fleets_phones_decline_then_accept_and_see_the_task_through(broker, engine):
    near, far = broker.device("volunteer_phone", 0), broker.device("volunteer_phone", 1)
    precinct = broker.city.devices[near].precinct_id
    box = next(d for d in sorted(broker.city.devices.values(), key=lambda d: d.id)
               if d.kind == "panic_box" and d.precinct_id == precinct)
    phones = Phones(broker.city, ByUnit({near: "decline", far: "accept"}), alarms={}, config=FAST)
    with Fleet(broker.simulator, client_prefix="test-fleet") as fleet:
        answers = fleet.answer_offers(phones, {near, far})
        now = int(time.time() * 1000)
        fleet.send([Outgoing(phone, make_message(kind, seq=seq, ts=now, data=data), json=True)
                    for phone, metres in ((near, 80), (far, 300))
                    for seq, kind, data in ((1, EventKind.PATROL_START, None),
                                            (2, EventKind.PATROL_POSITION,
                                             {"lat": box.lat + metres * M_LAT, "lon": box.lon, "accuracy_m": 5.0}))])
        wait_until(lambda: units(engine, "available") == 2, timeout_s=15, what="both phones on patrol")

        fleet.send([Outgoing(box.id, make_message(EventKind.SCHOOL_PANIC, seq=1, ts=int(time.time() * 1000)))])
        wait_until(lambda: effects(engine, "TaskDone") == 1, timeout_s=15, what="the task done")
        wait_until(lambda: units(engine, "available") == 2, timeout_s=5, what="the unit back on patrol")
        (ack,) = [a for device, a, _ in fleet.take_acks() if device == box.id]
        # a position after the answers is still taken (the answers' seqs were not taken from it)
        fleet.send([Outgoing(far, make_message(EventKind.PATROL_POSITION, seq=3, ts=int(time.time() * 1000),
                                               data={"lat": box.lat, "lon": box.lon, "accuracy_m": 5.0}), json=True)])

    assert ack.ok and ack.incident
    view = ask_incident_owner(engine, ack.incident, DispatchView(ack.incident))
    log = [(line.effect, line.unit) for line in view.log]
    assert ("OfferDeclined", near) in log and ("TaskAssigned", far) in log and ("TaskDone", far) in log, log
    assert ("TaskAssigned", near) not in log
    assert dict(answers.sent) == {"decline": 1, "accept": 1, "check_in": 1, "arrived": 1, "done": 1}
    assert answers.dropped == 0 and effects(engine, "CheckInMissed") == 0
    assert phones.tally.declined == 1 and phones.tally.accepted == 1
    # 11 messages: the phones' starts, positions and answers, the alarm; none taken for a duplicate
    wait_until(lambda: sum(s.accepted for s in engine.statistics()) >= 11, timeout_s=5, what="every message taken")
    assert sum(s.duplicates + s.refused for s in engine.statistics()) == 0
