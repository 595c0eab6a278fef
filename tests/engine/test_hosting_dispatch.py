"""Dispatch at a host: a P1 alarm is offered at once to the nearest available volunteer, the phone gets ``task.offer``
with the cameras nearby, its answers move the task on, an expired offer goes to the next one, and an operator
offers a lower priority by hand. Pure: a real tracker and scheduler, commands collected."""

from __future__ import annotations

import pytest

from engine.citygen import CitySpec, generate_city
from engine.entities import DeviceEntity
from engine.hosting.dispatch import DISPATCH, Dispatches
from engine.patrol.offers import OfferRefused
from engine.patrol.units import UnitTracker
from engine.scheduler import DeadlineScheduler
from protocols.device import make_message
from protocols.kinds import IncidentKind, IncidentState, Level
from protocols.patrol import UnitKind, UnitState
from protocols.records import IncidentRecord

CITY = generate_city(CitySpec(precincts=1, communities=2, schools=1, kiosk_halls=0, volunteers=3,
                              doors_per_community=1, cameras_per_community=2, residents_per_door=1, seed=3))
SCHOOL = next(s for s in CITY.sites.values() if s.kind.value == "school")
PHONES = sorted(d.id for d in CITY.devices.values() if d.kind.value == "volunteer_phone")


def incident(priority=1, kind=IncidentKind.SCHOOL_PANIC, n=1):
    return IncidentRecord(f"{SCHOOL.id}-panic1#{n}", kind, f"{SCHOOL.id}-panic1", SCHOOL.id, SCHOOL.precinct_id, "h0",
                          priority, IncidentState.RAISED, 0.0, Level.POLICE_STATION, lat=SCHOOL.lat, lon=SCHOOL.lon)


@pytest.fixture
def world():
    units = UnitTracker()
    for i, phone in enumerate(PHONES):  # 100 m, 200 m, 300 m north of the school, all on patrol
        units.add(phone, kind=UnitKind.VOLUNTEER, precinct=SCHOOL.precinct_id, state=UnitState.AVAILABLE)
        units.update_position(phone, SCHOOL.lat + 0.0009 * (i + 1), SCHOOL.lon, 0.0)
    sent = []
    scheduler = DeadlineScheduler()
    dispatches = Dispatches(city=CITY, units=lambda: units, scheduler=scheduler,
                            send=lambda command, now_s: sent.append(command))
    return dispatches, units, sent, scheduler


def answer(dispatches, phone, incident_id, what, now_s, seq):
    entity = DeviceEntity(CITY.devices[phone])
    message = make_message("patrol.task", seq=seq, ts=int(now_s * 1000), data={"incident": incident_id,
                                                                               "answer": what})
    dispatches.answer(entity, message, now_s)


def test_a_p1_is_offered_at_once_to_the_nearest_available_phone_with_the_cameras_nearby(world):
    dispatches, units, sent, scheduler = world
    record = incident()
    dispatches.incident_opened(record, now_s=10.0)
    offer = sent[-1]
    assert (offer.device_id, offer.command) == (PHONES[0], "task.offer")
    assert offer.args["incident"] == record.id and 90 <= offer.args["distance_m"] <= 110
    assert offer.args["place"] == SCHOOL.name and offer.args["expires_s"] == 40.0
    camera = f"{SCHOOL.id}-cam1"
    assert camera in offer.args["cameras"]  # the school's gate camera is within 200 m
    assert units.info(PHONES[0]).state is UnitState.OFFERED
    answer(dispatches, PHONES[0], record.id, "accept", 12.0, 1)
    assert units.info(PHONES[0]).state is UnitState.EN_ROUTE
    answer(dispatches, PHONES[0], record.id, "arrived", 100.0, 2)
    answer(dispatches, PHONES[0], record.id, "done", 200.0, 3)
    assert units.info(PHONES[0]).state is UnitState.AVAILABLE


def test_an_offer_that_expires_goes_to_the_next_nearest(world):
    dispatches, units, sent, scheduler = world
    record = incident()
    dispatches.incident_opened(record, now_s=0.0)
    assert scheduler.due_of((DISPATCH, record.id)) == 30.0
    assert dispatches.deadline(record.id, due_s=30.0, at_s=30.0) == 1
    assert [(c.device_id, c.command) for c in sent[-2:]] == [(PHONES[0], "task.cancel"), (PHONES[1], "task.offer")]
    answer(dispatches, PHONES[0], record.id, "accept", 31.0, 1)  # too late: not the offered unit any more
    assert dispatches.refused == 1
    answer(dispatches, PHONES[1], record.id, "decline", 32.0, 1)
    assert sent[-1].device_id == PHONES[2] and sent[-1].command == "task.offer"


def test_a_lower_priority_waits_for_an_operator_who_offers_by_hand(world):
    dispatches, units, sent, _ = world
    record = incident(priority=2)
    dispatches.incident_opened(record, now_s=0.0)
    assert sent == []
    recommendation = dispatches.recommend(record, now_s=0.0)
    assert [c.unit_id for c in recommendation.chosen] == PHONES
    units.set_state(PHONES[2], UnitState.OFF_DUTY)
    with pytest.raises(OfferRefused, match="not available"):
        dispatches.offer(record, PHONES[2], now_s=1.0)
    dispatches.offer(record, PHONES[1], now_s=1.0)
    assert (sent[-1].device_id, sent[-1].command) == (PHONES[1], "task.offer")


def test_an_ended_incident_withdraws_its_offer(world):
    dispatches, units, sent, scheduler = world
    record = incident()
    dispatches.incident_opened(record, now_s=0.0)
    dispatches.incident_ended(record.id, now_s=5.0)
    assert (sent[-1].device_id, sent[-1].command) == (PHONES[0], "task.cancel")
    assert units.info(PHONES[0]).state is UnitState.AVAILABLE and record.id not in dispatches.dispatches
    assert scheduler.due_of((DISPATCH, record.id)) is None


def test_tickets_and_tips_send_nobody(world):
    dispatches, _, sent, _ = world
    dispatches.incident_opened(incident(kind=IncidentKind.DEVICE_OFFLINE), now_s=0.0)
    assert sent == [] and not dispatches.dispatches
