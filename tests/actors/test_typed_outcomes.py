"""Results cross Ray typed: a command answers the incident, and each refusal arrives as the engine's own error
type with its message and fields (not a dict, not Ray's wrapper); the owner of an incident is looked up, not
parsed from its id."""

from __future__ import annotations

import asyncio

import pytest
import ray

from actors.runtime import Engine, EngineOptions
from engine.citygen import CitySpec, generate_city
from engine.errors import (HostUnavailable, InvalidTransition, JournalUnavailable, NotAuthorized, UnknownDevice,
                           UnknownIncident)
from engine.policy import default_policies
from protocols.batch import Ingest
from protocols.device import make_message
from protocols.kinds import IncidentState, Level
from protocols.records import Action, IncidentRecord, OperatorCommand

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_session")]

SPEC = CitySpec(precincts=2, communities=4, schools=2, kiosk_halls=1, volunteers=2, seed=3)


@pytest.fixture(scope="module")
def engine(ray_session, tmp_path_factory):
    city = generate_city(SPEC)
    journal = tmp_path_factory.mktemp("journal")
    started = Engine(city, default_policies(), EngineOptions(precinct_hosts=2, realtime=False,
                                                            journal_dir=str(journal))).start()
    yield started
    started.stop()


def _alarm(engine, precinct: str, index: int) -> str:
    """A fresh incident: the ``index``-th door of the precinct is forced (each test its own door)."""
    door = sorted(d.id for d in engine.city.devices.values() if d.kind == "door" and d.precinct_id == precinct)[index]
    (ack,) = engine.ingest([Ingest(door, make_message("door.forced", seq=1, ts=1))]).acks
    assert ack.incident_id, ack
    return ack.incident_id


def _cc(engine, action: Action, incident_id: str, **extra) -> OperatorCommand:
    return OperatorCommand(action, incident_id, "chief", Level.COMMAND_CENTER, engine.city.command_center.id, **extra)


def test_an_accepted_command_answers_the_incident_itself(engine):
    incident = _alarm(engine, "P1", 0)
    record = engine.command(_cc(engine, Action.ACKNOWLEDGE, incident))
    assert isinstance(record, IncidentRecord)
    assert record.id == incident and record.state is IncidentState.ACKNOWLEDGED and record.acked_by == "chief"


def test_a_refused_transition_arrives_as_invalid_transition_with_its_fields(engine):
    incident = _alarm(engine, "P1", 1)
    with pytest.raises(InvalidTransition) as refused:
        engine.command(_cc(engine, Action.ON_SCENE, incident))
    assert type(refused.value) is InvalidTransition  # the engine's own type, not Ray's wrapper
    assert (refused.value.incident_id, refused.value.state, refused.value.action) == (incident, "raised", "on_scene")
    assert str(refused.value).startswith(f"incident {incident}: cannot on_scene when raised")


def test_an_actor_never_notified_arrives_as_not_authorized(engine):
    incident = _alarm(engine, "P1", 2)
    other_station = engine.city.precincts["P2"].station_id
    with pytest.raises(NotAuthorized) as refused:
        engine.command(OperatorCommand(Action.ACKNOWLEDGE, incident, "p2-duty", Level.POLICE_STATION, other_station))
    assert type(refused.value) is NotAuthorized
    assert refused.value.incident_id == incident and refused.value.actor == f"p2-duty@{other_station}"
    assert "may not act" in str(refused.value)


def test_an_incident_no_host_holds_arrives_as_unknown_incident(engine):
    door = next(d.id for d in engine.city.devices.values() if d.kind == "door")
    for incident in (f"{door}#999", "nobody#1", "#"):  # a real device's id in it changes nothing: hosts are asked
        with pytest.raises(UnknownIncident) as refused:
            engine.command(_cc(engine, Action.ACKNOWLEDGE, incident))
        assert refused.value.incident_id == incident and str(refused.value) == f"unknown incident {incident!r}"
        assert engine.owner_of(incident) is None


def test_a_journal_that_refuses_writes_arrives_as_journal_unavailable_and_nothing_changes(engine):
    incident = _alarm(engine, "P2", 0)
    owner = engine.owner_of(incident)
    ray.get(engine.hosts[owner].fail_journal_writes.remote(True), timeout=30)
    try:
        with pytest.raises(JournalUnavailable) as refused:
            engine.command(_cc(engine, Action.ACKNOWLEDGE, incident))
        assert refused.value.host_id == owner and str(refused.value).startswith("unavailable:")
    finally:
        ray.get(engine.hosts[owner].fail_journal_writes.remote(False), timeout=30)
    assert engine.incident(incident).state is IncidentState.RAISED
    assert engine.command(_cc(engine, Action.ACKNOWLEDGE, incident)).state is IncidentState.ACKNOWLEDGED


def test_a_command_for_an_unknown_device_arrives_as_unknown_device(engine):
    with pytest.raises(UnknownDevice) as refused:
        engine.command_device("no-such-door", "open_door")
    assert refused.value.device_id == "no-such-door"


def test_the_owner_of_an_incident_is_asked_of_the_hosts_by_a_driver_that_never_saw_it(engine):
    incidents = {precinct: _alarm(engine, precinct, 5) for precinct in ("P1", "P2")}
    fresh = Engine(engine.city, engine.policies, EngineOptions(precinct_hosts=2, realtime=False,
                                                              namespace=engine.namespace))
    fresh.hosts = engine.hosts  # the same running hosts, a driver with an empty owner index
    for precinct, incident in incidents.items():
        expected = engine.placement.host_for_device(engine.incident(incident).device_id)
        assert fresh.owners.owner(incident) is None
        assert fresh.owner_of(incident) == expected
        assert fresh.owners.owner(incident) == expected  # remembered: the next command asks one host
    assert {fresh.owner_of(i) for i in incidents.values()} == {engine.placement.host_for_device(
        engine.incident(i).device_id) for i in incidents.values()}


def test_the_engine_is_what_the_console_gateway_needs(engine):
    from actors.gateway_engine import EngineApi

    assert isinstance(engine, EngineApi)


def test_where_a_host_runs_crosses_ray_as_a_typed_value(engine):
    from actors.host_place import HostPlace

    place = ray.get(engine.hosts["cc"].where.remote(), timeout=30)
    assert isinstance(place, HostPlace) and place.host_id == "cc" and place.pid > 0 and not place.restarted
    assert engine.status()["hosts"][0]["answering"]


@ray.remote
class _SilentHost:
    async def incident(self, incident_id: str):
        await asyncio.sleep(60)  # a hung host: it never answers in time


def test_a_silent_host_makes_an_unfound_owner_unavailable_not_unknown_and_never_holds_up_a_found_one(engine,
                                                                                                     monkeypatch):
    import actors.runtime

    monkeypatch.setattr(actors.runtime, "LOOKUP_TIMEOUT_S", 1.0)
    incident = _alarm(engine, "P2", 6)
    fresh = Engine(engine.city, engine.policies, EngineOptions(precinct_hosts=2, realtime=False,
                                                              namespace=engine.namespace))
    silent = _SilentHost.remote()
    fresh.hosts = {**engine.hosts, "p9": silent}
    assert fresh.owner_of(incident) == engine.owner_of(incident)  # the owner answered; the silent one not awaited
    with pytest.raises(HostUnavailable) as refused:
        fresh.owner_of("nobody#1")
    assert refused.value.host_ids == ("p9",) and str(refused.value).startswith("unavailable: host p9")
    ray.kill(silent)
