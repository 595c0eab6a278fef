import re

import pytest
import tomli_w

from engine.citygen import CitySpec, generate_city_dict
from engine.errors import ConfigError
from engine.placement import Placement
from engine.policy import default_policies, load_policies, load_policy_set
from engine.scheduler import DeadlineScheduler
from engine.topology import city_from_dict, city_to_dict, load_city
from protocols import Level
from protocols.kinds import DeviceKind, IncidentKind

SMALL = CitySpec(precincts=2, communities=2, schools=1, kiosk_halls=1, volunteers=3)


def write_city(tmp_path, mutate=None):
    data = generate_city_dict(SMALL)
    if mutate:
        mutate(data)
    path = tmp_path / "city.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def line_of(path, needle, occurrence=0):
    lines = [i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    return lines[occurrence]


def test_generated_city_round_trips_through_toml(tmp_path):
    city = load_city(write_city(tmp_path))
    assert city_from_dict(city_to_dict(city)).summary() == city.summary()


def test_generator_is_seeded_and_sized():
    spec = CitySpec(precincts=6, communities=100, schools=30, kiosk_halls=5, volunteers=2520, seed=1)
    assert generate_city_dict(spec) == generate_city_dict(spec)
    city = city_from_dict(generate_city_dict(spec))
    assert city.summary()["volunteers"] == 2520 and city.summary()["sites"] == 135


def test_wrong_site_kind_names_file_line_and_field(tmp_path):
    path = write_city(tmp_path, lambda d: d["sites"][1].update(kind="castle"))
    with pytest.raises(ConfigError) as info:
        load_city(path)
    err = info.value
    assert (err.file, err.field) == (str(path), "sites[1].kind")
    assert err.line == line_of(path, 'kind = "castle"')
    assert re.match(rf"^{re.escape(str(path))}:\d+: sites\[1\]\.kind: invalid enum value 'castle'$", str(err))


def test_unknown_reference_and_duplicate_id_are_refused(tmp_path):
    path = write_city(tmp_path, lambda d: d["devices"][0].update(site="nowhere"))
    with pytest.raises(ConfigError, match=r"devices\[0\]\.site: unknown site 'nowhere'$"):
        load_city(path)
    path = write_city(tmp_path, lambda d: d["devices"][1].update(id=d["devices"][0]["id"]))
    with pytest.raises(ConfigError, match=r"devices\[1\]\.id: duplicate id .*first used at devices\[0\]\.id$") as info:
        load_city(path)
    first_device_id = generate_city_dict(SMALL)["devices"][0]["id"]
    assert info.value.line == line_of(path, f'id = "{first_device_id}"', 1)


def test_misspelt_key_and_bad_toml_are_refused(tmp_path):
    path = write_city(tmp_path, lambda d: d["precincts"][0].update(statoin="x"))
    with pytest.raises(ConfigError, match=r"precincts\[0\]\.statoin: unknown field$"):
        load_city(path)
    path.write_text("[city]\nid = \n")
    with pytest.raises(ConfigError, match=r":2: invalid TOML"):
        load_city(path)
    with pytest.raises(ConfigError, match=r"cannot read"):
        load_city(tmp_path / "missing.toml")


def test_device_on_the_wrong_kind_of_site_is_refused(tmp_path):
    def move_panic_box(d):
        box = next(x for x in d["devices"] if x["kind"] == "panic_box")
        box["site"] = next(s["id"] for s in d["sites"] if s["kind"] == "community")
    with pytest.raises(ConfigError, match=r"a panic_box cannot be at a community"):
        load_city(write_city(tmp_path, move_panic_box))


def test_shipped_policies_cover_every_incident_kind():
    policies = default_policies()
    assert set(policies.by_kind) == set(IncidentKind)
    panic = policies.for_incident(IncidentKind.SCHOOL_PANIC)
    assert panic.steps[0].notify == (Level.GUARD_ROOM, Level.POLICE_STATION) and panic.steps[0].ack_within_s == 30
    assert panic.steps[1].notify == (Level.COMMAND_CENTER,) and panic.reminder_every_s == 60
    assert policies.for_incident(IncidentKind.DEVICE_OFFLINE, "panic_box").steps[1].notify == (Level.POLICE_STATION,)
    assert policies.for_incident(IncidentKind.DEVICE_OFFLINE, "camera").steps[0].notify == (Level.MAINTENANCE,)


def test_bad_policy_names_line_and_field(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[policies."school.panic"]\npriority = 1\nsteps = [\n  { notify = ["guard_room"] },\n'
                    '  { notify = ["command_center"], ack_within_s = 60 },\n]\n')
    with pytest.raises(ConfigError, match=r"p\.toml:3: policies\.\"school\.panic\"\.steps\[0\]\.ack_within_s: required"):
        load_policies(path)
    path.write_text('[policies."school.panic"]\nsteps = [{ notify = ["janitor"] }]\n')
    with pytest.raises(ConfigError, match=r"steps\[0\]\.notify\[0\]: invalid enum value 'janitor'"):
        load_policies(path)
    path.write_text('[policies."door.exploded"]\nsteps = [{ notify = ["guard_room"] }]\n')
    with pytest.raises(ConfigError, match=r"invalid enum value 'door.exploded'"):
        load_policies(path)


def test_policy_file_overrides_only_the_kinds_it_names(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[policies."school.panic"]\nsteps = [{ notify = ["police_station"], ack_within_s = 5 }]\n')
    policies = load_policy_set(path)
    assert policies.for_incident(IncidentKind.SCHOOL_PANIC).steps[0].ack_within_s == 5
    assert policies.for_incident(IncidentKind.KIOSK_SOS) == default_policies().for_incident(IncidentKind.KIOSK_SOS)


def test_supervision_intervals_per_device_kind(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text("[supervision]\nmisses = 2\nheartbeat_s = { camera = 60 }\n")
    policies = load_policy_set(path)
    assert policies.heartbeat_s == {DeviceKind.CAMERA: 60.0} and policies.misses == 2
    assert policies.for_incident(IncidentKind.SCHOOL_PANIC) == default_policies().for_incident(IncidentKind.SCHOOL_PANIC)
    path.write_text("[supervision]\nheartbeat_s = { toaster = 60 }\n")
    with pytest.raises(ConfigError, match=r"p\.toml:2: supervision\.heartbeat_s.*invalid enum value 'toaster'"):
        load_policies(path)
    path.write_text("[supervision]\nmisses = 0\n")
    with pytest.raises(ConfigError, match=r"supervision\.misses: expected int >= 1"):
        load_policies(path)


def test_scheduler_keeps_one_live_deadline_per_key():
    scheduler = DeadlineScheduler()
    scheduler.schedule("a", 10)
    scheduler.schedule("a", 20)
    scheduler.schedule("b", 15)
    scheduler.cancel("b")
    assert scheduler.next_due_s() == 20 and len(scheduler) == 1
    assert scheduler.pop_due(19) is None
    assert scheduler.pop_due(20) == (20, "a") and scheduler.next_due_s() is None


def test_placement_keeps_sites_whole_and_the_command_center_apart():
    city = city_from_dict(generate_city_dict(CitySpec(precincts=6, communities=30, schools=10, volunteers=50)))
    placement = Placement.plan(city, precinct_hosts=4)
    assert placement.hosts == ("h0", "h1", "h2", "h3", "cc")
    for device in city.devices.values():
        host = placement.host_for_device(device.id)
        assert host in placement.hosts_of_precinct[device.precinct_id]
        if device.site_id:
            assert host == placement.host_of_site[device.site_id]
    split = Placement.plan(city, precinct_hosts=4, max_devices_per_shard=20)
    assert any(len(hosts) > 1 for hosts in split.hosts_of_precinct.values())
    assert Placement.plan(city, precinct_hosts=4).host_of_device == placement.host_of_device  # stable
