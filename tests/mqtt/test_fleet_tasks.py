"""A scenario run through the real broker (``MqttRun``) whose fleet answers task offers (issue 14): two of its
volunteer phones on patrol near a school, a P1 panic offered automatically to the nearer one, which declines; the
engine offers it to the next, which accepts, checks in, arrives and reports it done, all as the fleet's own
``patrol.task`` events; the station's operator then resolves and closes the incident."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import tomli_w

from engine.citygen import generate_city_dict
from simulation.patrol_phones import PhoneConfig, Phones
from simulation.patrol_run import PatrolSide
from simulation.run_mqtt import MqttRun
from simulation.scenario import load_scenario
from tests.mqtt.conftest import SMALL

pytestmark = [pytest.mark.ray, pytest.mark.mqtt]

M_LAT = 1 / 111_195.0
FAST = PhoneConfig(check_in_after_s=0.3, travel_s=(0.5, 0.6), on_scene_s=(0.3, 0.4), operator_after_s=0.3)


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


def test_a_broker_runs_phones_decline_accept_and_see_the_task_through_and_the_station_closes_it(
        broker, engine, tmp_path, monkeypatch):
    near, far = broker.device("volunteer_phone", 0), broker.device("volunteer_phone", 1)
    precinct = broker.city.devices[near].precinct_id
    box = next(d for d in sorted(broker.city.devices.values(), key=lambda d: d.id)
               if d.kind == "panic_box" and d.precinct_id == precinct)
    (tmp_path / "city.toml").write_text(tomli_w.dumps(generate_city_dict(SMALL)))
    patrols = "".join(f"""
[[events]]
at_s = 0
device = "{phone}"
kind = "patrol.start"
[[events]]
at_s = 0.1
device = "{phone}"
kind = "patrol.position"
data = {{ lat = {box.lat + metres * M_LAT}, lon = {box.lon}, accuracy_m = 5.0 }}
""" for phone, metres in ((near, 50), (far, 300)))
    (tmp_path / "run.toml").write_text(f"""name = "one emergency"
duration_s = 6
[city]
file = "city.toml"
{patrols}
[[events]]
at_s = 1.5
device = "{box.id}"
kind = "school.panic"
[[events]]
# after the task: taken, not a duplicate of an answer (the answers' seqs were not taken from it)
at_s = 5
device = "{far}"
kind = "patrol.position"
data = {{ lat = {box.lat}, lon = {box.lon}, accuracy_m = 5.0 }}
[[responders]]
level = "police_station"
kind = "school.panic"
acknowledge_after_s = 0.2
""")
    scenario = load_scenario(tmp_path / "run.toml")
    monkeypatch.setattr(PatrolSide, "of", classmethod(lambda cls, s, e, *, push: cls(
        Phones(s.city, ByUnit({near: "decline", far: "accept"}), alarms={box.id: 1.5}, config=FAST), e, push)))
    run = MqttRun(scenario, broker.simulator, engine)
    result = run.run()

    assert not result.refusals, result.refusals
    assert dict(run.fleet.tasks.sent) == {"decline": 1, "accept": 1, "check_in": 1, "arrived": 1, "done": 1}
    assert run.fleet.tasks.dropped == 0 and run.patrols.phones.tally.declined == 1
    assert [effects(engine, e) for e in ("OfferSent", "OfferDeclined", "TaskAssigned", "UnitOnScene", "TaskDone",
                                         "CheckInMissed")] == [2, 1, 1, 1, 1, 0]
    # 11 messages: the phones' starts and positions (3), five answers, the alarm; none a duplicate, none refused
    stats = engine.statistics()
    assert (sum(s.accepted for s in stats), sum(s.duplicates + s.refused for s in stats)) == (11, 0)
    (incident,) = {r.incident for r in result.timeline if r.kind == "school.panic"}
    events = [r.event for r in result.timeline if r.incident == incident]
    assert events[-2:] == ["resolved", "closed"], result.timeline
