"""The engine on a real local Ray: scenarios, scale, restart from the journal, bad input."""

import random
import time

import pytest
import ray

from actors.journal_sqlite import SqliteJournal
from actors.runtime import Engine, EngineOptions
from engine.citygen import CitySpec, generate_city
from engine.policy import default_policies, load_policy_set
from protocols import ProtocolError
from protocols.batch import Ingest
from protocols.device import decode_device_message, make_message
from protocols.kinds import AckStatus
from simulation.shipped import shipped
from simulation.driver import run_scenario
from simulation.scenario import load_scenario

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_session")]


def wait_for(condition, *, timeout_s, interval_s=0.05, what="condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def test_school_panic_scenario_escalates_at_30_s_on_virtual_clock():
    result = run_scenario(load_scenario(shipped("scenarios/school_panic.toml")))
    assert result.passed, result.expectations
    rows = [(r.t_s, r.event, r.level, r.target) for r in result.timeline]
    assert (0.0, "notified", "guard_room", "S0001-guard") in rows
    assert (0.0, "notified", "police_station", "P5-station") in rows
    assert (30.0, "escalated", "command_center", "CC") in rows
    assert result.lost == 0 and result.events_sent == 7


@pytest.mark.parametrize("name", ["school_panic_acked", "door_forced"])
def test_shipped_scenarios_pass(name):
    result = run_scenario(load_scenario(shipped(f"scenarios/{name}.toml")))
    assert result.passed, [e for e in result.expectations if not e.passed]


def test_ten_thousand_devices_over_four_hosts_account_for_every_event():
    city = generate_city(CitySpec(precincts=6, communities=500, schools=50, kiosk_halls=10, volunteers=3000, seed=9))
    assert len(city.devices) >= 10_000
    engine = Engine(city, default_policies(), EngineOptions(precinct_hosts=4, realtime=False)).start()
    try:
        rng = random.Random(4)
        devices = list(city.devices.values())
        seq = {d.id: 0 for d in devices}
        alarm_devices = {d.id for d in rng.sample([d for d in devices if d.kind.value == "panic_box"], 40)}
        alarm_devices |= {d.id for d in rng.sample([d for d in devices if d.kind.value == "door"], 60)}
        items = []
        for _ in range(50_000 - len(alarm_devices)):
            device = rng.choice(devices)
            seq[device.id] += 1
            if device.kind.value == "volunteer_phone":
                message = make_message("patrol.position", seq=seq[device.id], ts=1,
                                       data={"lat": device.lat, "lon": device.lon})
            else:
                message = make_message("heartbeat", seq=seq[device.id], ts=1)
            items.append(Ingest(device.id, message))
        for device_id in sorted(alarm_devices):
            seq[device_id] += 1
            kind = "school.panic" if "panic" in device_id else "door.forced"
            items.insert(rng.randrange(len(items)), Ingest(device_id, make_message(kind, seq=seq[device_id], ts=1)))
        totals = [0, 0, 0]
        for start in range(0, len(items), 5_000):
            result = engine.ingest(items[start:start + 5_000])
            totals = [totals[0] + result.accepted, totals[1] + result.duplicates, totals[2] + result.refused]
        assert sum(totals) == 50_000
        assert totals == [50_000, 0, 0]
        open_incidents = engine.open_incidents()
        assert sorted(r.device_id for r in open_incidents) == sorted(alarm_devices)
        stats = engine.statistics()
        assert sum(s.accepted for s in stats) == 50_000
        assert len([s for s in stats if s.devices]) == 4  # the devices really are spread over 4 hosts
    finally:
        engine.stop()


def test_restart_mid_escalation_fires_the_pending_deadline_on_time(tmp_path):
    policy_file = tmp_path / "fast.toml"
    policy_file.write_text('[policies."school.panic"]\npriority = 1\nsteps = [\n'
                           '  { notify = ["guard_room", "police_station"], ack_within_s = 4 },\n'
                           '  { notify = ["command_center"], ack_within_s = 60 },\n]\n')
    city = generate_city(CitySpec(precincts=2, communities=2, schools=2, kiosk_halls=1, volunteers=4))
    policies = load_policy_set(policy_file)
    options = EngineOptions(realtime=True, journal_dir=str(tmp_path / "journal"))
    box = next(d.id for d in city.devices.values() if d.kind.value == "panic_box")
    alarm = Ingest(box, make_message("school.panic", seq=1, ts=int(time.time() * 1000)))

    first = Engine(city, policies, options).start()
    try:
        incident_id = first.ingest([alarm]).acks[0].incident_id
        record = first.incident(incident_id)
    finally:
        first.kill()  # a crash: only the journal survives
    killed_s, due_s = time.time(), record.deadline_s
    assert due_s == pytest.approx(record.raised_s + 4)
    assert killed_s < due_s, "the restart must happen before the deadline"

    second = Engine(city, policies, options).start()
    back_s = time.time()  # the restarted engine answers (on a busy machine, maybe only after the deadline)
    print(f"engine killed {killed_s - due_s:+.2f} s, back {back_s - due_s:+.2f} s from the deadline")
    try:
        again = second.ingest([alarm])
        assert again.acks[0].status is AckStatus.DUPLICATE and again.acks[0].incident_id == incident_id

        def escalated():
            current = second.incident(incident_id)
            return next((e for e in current.timeline if e.event.value == "escalated"), None)

        entry = wait_for(escalated, timeout_s=15, what="the escalation after restart")
        # on time; or, when the engine was back only after the deadline, at once on its return
        assert due_s - 1.0 <= entry.t_s <= max(due_s, back_s) + 1.0, (entry.t_s - due_s, back_s - due_s)
        cc_queue = wait_for(second.command_center_queue, timeout_s=20, what="the command center's copy")
        assert [r.id for r in cc_queue] == [incident_id]
    finally:
        second.stop()
    host = second.placement.host_for_device(box)
    journal = SqliteJournal(tmp_path / "journal" / f"{host}.sqlite")
    assert [r.id for r in journal.all_incidents()] == [incident_id]


def test_bad_input_is_refused_with_a_reason_and_the_engine_keeps_serving():
    city = generate_city(CitySpec(precincts=1, communities=1, schools=1, kiosk_halls=0, volunteers=0))
    engine = Engine(city, default_policies(), EngineOptions(realtime=False)).start()
    try:
        with pytest.raises(ProtocolError, match=r"^data\.zone: expected str, got int$"):
            decode_device_message(b'{"seq":1,"ts":1,"kind":"school.panic","data":{"zone":5}}')
        unknown = engine.ingest([Ingest("ghost", make_message("school.panic", seq=1, ts=1))])
        assert unknown.acks[0].reason == "device_id: unknown device 'ghost'"
        host = engine.hosts[engine.placement.precinct_hosts[0]]
        with pytest.raises(ray.exceptions.RayTaskError, match=r"ingest batch"):
            ray.get(host.ingest.remote(b"\x93\x01\x02"), timeout=30)
        box = next(d.id for d in city.devices.values() if d.kind.value == "panic_box")
        ok = engine.ingest([Ingest(box, make_message("school.panic", seq=1, ts=1))])
        assert ok.acks[0].status is AckStatus.ACK and engine.incident(ok.acks[0].incident_id) is not None
    finally:
        engine.stop()
