"""The ``redband`` application package: what each command refuses before it starts anything, the run config
file, and how the files people keep are written."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from redband.files import write_atomically
from engine.errors import ConfigError
from engine.operators import load_operators
from redband.cli import main
from redband.run_config import RunConfig, UsageError, resolve_run_config
from simulation.shipped import DEMO_CITY, shipped

ROOT = Path(__file__).resolve().parents[2]
NOTHING = dict.fromkeys(("city", "policies", "ray_address", "namespace", "journal_dir", "precinct_hosts", "mqtt",
                         "bridges", "users", "console", "stats_every"))


def test_run_without_a_city_is_refused_and_starts_nothing(capsys):
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "--city: required" in err and "--config" in err


def test_run_options_come_from_a_config_file_relative_to_it_and_the_command_line_wins(tmp_path):
    conf = tmp_path / "etc" / "redband.toml"
    conf.parent.mkdir()
    conf.write_text('city = "city.toml"\njournal_dir = "../journal"\nbridges = 3\nconsole = "0.0.0.0:9000"\n')
    config = resolve_run_config({**NOTHING, "bridges": 2}, str(conf))
    assert config == RunConfig(city=str(conf.parent / "city.toml"), journal_dir=str(tmp_path / "journal"),
                               bridges=2, console="0.0.0.0:9000")
    assert config.console_address == ("0.0.0.0", 9000)


@pytest.mark.parametrize("text, field, reason", [
    ('city = "c.toml"\nbridge = 2\n', "bridge", "unknown field"),
    ('city = "c.toml"\nbridges = "two"\n', "bridges", "expected int, got str"),
    ('city = "c.toml"\nbridges = 0\n', "bridges", "must be at least 1"),
    ('city = "c.toml"\nconsole = "localhost"\n', "console", "expected HOST:PORT"),
    ('city = [1\n', "", "invalid TOML"),
])
def test_a_bad_config_file_is_refused_naming_the_file_and_the_key(tmp_path, text, field, reason):
    conf = tmp_path / "redband.toml"
    conf.write_text(text)
    with pytest.raises(ConfigError) as raised:
        resolve_run_config(dict(NOTHING), str(conf))
    assert str(conf) in str(raised.value) and raised.value.field == field and reason in raised.value.reason


def test_a_bad_option_on_the_command_line_is_refused_naming_the_option():
    with pytest.raises(UsageError, match="^--precinct-hosts: must be at least 1$"):
        resolve_run_config({**NOTHING, "city": "c.toml", "precinct_hosts": 0}, None)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(UsageError, match="^--stats-every: expected a number of seconds, 0 or more"):
            resolve_run_config({**NOTHING, "city": "c.toml", "stats_every": bad}, None)
    with pytest.raises(UsageError, match="^--console: expected HOST:PORT, got '127.0.0.1:²'$"):
        resolve_run_config({**NOTHING, "city": "c.toml", "console": "127.0.0.1:²"}, None)
    with pytest.raises(UsageError, match="^--namespace: must not be empty$"):
        resolve_run_config({**NOTHING, "city": "c.toml", "namespace": ""}, None)


def test_a_scoped_operator_needs_the_city_that_checks_the_scope(tmp_path, capsys):
    users = tmp_path / "users.toml"
    for role in ("station", "guard_room"):
        assert main(["user", "add", "bob", "--role", role, "--users", str(users), "--password", "pw"]) == 2
        assert f"--scope: a {role} operator needs one" in capsys.readouterr().err and not users.exists()
    assert main(["user", "add", "p1", "--role", "station", "--scope", "P1", "--users", str(users),
                 "--password", "pw"]) == 2
    assert "--city: needed to check --scope 'P1'" in capsys.readouterr().err and not users.exists()
    assert main(["user", "add", "cc", "--role", "command_center", "--users", str(users), "--password", "pw"]) == 0
    assert main(["user", "add", "p1", "--role", "station", "--scope", "P1", "--users", str(users),
                 "--city", str(shipped(DEMO_CITY)), "--password", "pw"]) == 0
    assert sorted(load_operators(users)) == ["cc", "p1"]
    assert stat.S_IMODE(users.stat().st_mode) == 0o600


def test_a_file_is_replaced_whole_with_its_mode_and_nothing_is_left_beside_it(tmp_path):
    path = tmp_path / "secret.csv"
    path.write_text("old")
    write_atomically(path, "new", 0o600)
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["secret.csv"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "users.toml"
    path.write_text("old")


    with pytest.raises(TypeError):
        write_atomically(path, 42, 0o600)  # type: ignore[arg-type]  # a write that fails half-way
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["users.toml"]
