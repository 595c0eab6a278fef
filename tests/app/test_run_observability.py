"""``redband run --metrics`` and ``--log-format``: from the command line or a config file, refused by name when bad."""

from __future__ import annotations

import pytest

from engine.errors import ConfigError
from redband.run_config import DEFAULT_METRICS, UsageError, resolve_run_config


def test_metrics_listen_on_loopback_by_default_and_can_be_moved_or_switched_off(tmp_path):
    assert resolve_run_config({"city": "c.toml"}, None).metrics_address == ("127.0.0.1", 9464)
    assert DEFAULT_METRICS == "127.0.0.1:9464"
    conf = tmp_path / "redband.toml"
    conf.write_text('city = "c.toml"\nmetrics = "off"\nlog_format = "json"\n')
    config = resolve_run_config({}, str(conf))
    assert config.metrics_address is None and config.log_format == "json"
    assert resolve_run_config({"metrics": "0.0.0.0:9100"}, str(conf)).metrics_address == ("0.0.0.0", 9100)


@pytest.mark.parametrize("option, value, reason", [
    ("metrics", "localhost", "expected HOST:PORT or off"),
    ("metrics", "127.0.0.1:99999", "expected HOST:PORT or off"),
    ("log_format", "xml", "expected one of text, json"),
])
def test_a_bad_value_is_refused_naming_the_option(tmp_path, option, value, reason):
    with pytest.raises(UsageError, match=rf"^--{option.replace('_', '-')}: {reason}"):
        resolve_run_config({"city": "c.toml", option: value}, None)
    conf = tmp_path / "redband.toml"
    conf.write_text(f'city = "c.toml"\n{option} = "{value}"\n')
    with pytest.raises(ConfigError, match=option):
        resolve_run_config({}, str(conf))
