"""The broker_kill fault, as a scenario states it, and the console URL a run watches: the pure parts."""

from __future__ import annotations

import pytest

from engine.errors import ConfigError
from protocols.endpoint import parse_console_url
from protocols.errors import ProtocolError
from simulation.driver import ScenarioRun
from simulation.scenario import load_scenario

BASE = """
name = "broker"
duration_s = 20
[city]
generate = { seed = 1 }
[[events]]
at_s = 1
device = "S0001-panic1"
kind = "school.panic"
"""


def write(tmp_path, faults: str):
    path = tmp_path / "s.toml"
    path.write_text(BASE + faults)
    return path


def test_a_broker_kill_is_read_with_its_downtime(tmp_path):
    s = load_scenario(write(tmp_path, '[[faults]]\nat_s = 5\nkind = "broker_kill"\ndown_s = 3\n'
                                      '[[faults]]\nat_s = 12\nkind = "broker_kill"\n'))
    assert s.broker_kills == ((5.0, 3.0), (12.0, 5.0))


@pytest.mark.parametrize("fault, field, reason", [
    ('at_s = 5\nkind = "broker_kill"\ndevice = "S0001-panic1"', "faults[0].device", "concerns no one device"),
    ('at_s = 5\nkind = "host_kill"', "faults[0].device", "required for a host_kill fault"),
    ('at_s = 5\nkind = "broker_kill"\ndown_s = 0', "faults[0].down_s", ">"),
    ('at_s = 5\nkind = "network_cut"', "faults[0].kind", "network_cut"),
])
def test_a_bad_fault_is_refused_by_field(tmp_path, fault, field, reason):
    with pytest.raises(ConfigError) as err:
        load_scenario(write(tmp_path, f"[[faults]]\n{fault}\n"))
    assert field in str(err.value) and reason in str(err.value)


def test_a_run_that_does_not_own_its_broker_refuses_to_kill_it(tmp_path):
    s = load_scenario(write(tmp_path, '[[faults]]\nat_s = 5\nkind = "broker_kill"\n'))
    with pytest.raises(ConfigError) as err:
        ScenarioRun(s, realtime=True)
    assert "faults" in str(err.value) and "--stack" in str(err.value)


def test_console_urls_carry_an_operator_and_never_print_the_password():
    endpoint = parse_console_url("ws://cc-duty:p%40ss@127.0.0.1:8080")
    assert (endpoint.host, endpoint.port, endpoint.username, endpoint.password) == ("127.0.0.1", 8080, "cc-duty", "p@ss")
    assert endpoint.path("/ws") == "ws://127.0.0.1:8080/ws" and "p@ss" not in repr(endpoint)
    for url, reason in (("http://a:b@h:1", "scheme"), ("ws://h:1", "operator and a password"),
                        ("ws://a:b@h:1/x", "no path"), ("ws://a:b@h:99999", "bad port")):
        with pytest.raises(ProtocolError) as err:
            parse_console_url(url)
        assert err.value.field == "console" and reason in str(err.value)


def test_the_shipped_broker_restart_scenario_kills_the_broker_once_under_load():
    from simulation.shipped import shipped

    s = load_scenario(shipped("scenarios/broker_restart.toml"))
    assert s.broker_kills == ((15.0, 5.0),)
    assert 140_000 < len(s.events) < 180_000  # 4,000 events/s for 40 s
