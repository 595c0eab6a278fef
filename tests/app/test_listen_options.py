"""Where the console and the broker listen and which Origins the console takes: ``--bind``, ``--allowed-origin`` and
``--trusted-proxy`` on ``redband run`` and in its config file, ``redband mqtt-config --bind``; a bad value refused naming the option, the
origin list handed to the gateway whose handshake checks it; the gateway's lasting secret and revocations."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from actors.gateway_state import LastingRevocations, read_console_files, write_console_files
from engine.errors import ConfigError
from engine.listen import bind_problem, origin_problem
from engine.operators import Claims, Role
from redband.cli import main
from redband.run_config import UsageError, resolve_run_config
from simulation.shipped import DEMO_CITY, shipped


@pytest.mark.parametrize("value", ["127.0.0.1", "0.0.0.0", "::", "[::1]", "console.redband.internal"])
def test_an_ip_address_or_a_host_name_is_an_address_to_listen_on(value):
    assert bind_problem(value) is None


@pytest.mark.parametrize("value", ["", "0.0.0.0:8080", "a host", "-x.example", "http://x"])
def test_anything_else_is_not(value):
    assert bind_problem(value) == f"expected an IP address or a host name, got {value!r}"


@pytest.mark.parametrize("value, reason", [
    ("https://console.example.org/", "no path"), ("https://Console.example.org", "lower case"),
    ("https://console.example.org:443", "default port 443"), ("console.example.org", "expected http://host"),
    ("null", "expected http://host"), ("https://op@console.example.org", "no user name"),
])
def test_an_origin_no_browser_sends_is_refused_with_the_reason(value, reason):
    assert reason in (origin_problem(value) or "")


def test_bind_and_origins_come_from_the_command_line_or_the_config_file(tmp_path):
    config = resolve_run_config({"city": "c.toml", "bind": "0.0.0.0",
                                 "allowed_origins": ["https://console.example.org", "http://10.0.0.5:8080"]}, None)
    assert config.console_address == ("0.0.0.0", 8080)
    assert config.allowed_origins == ("https://console.example.org", "http://10.0.0.5:8080")
    assert resolve_run_config({"city": "c.toml", "bind": "0.0.0.0", "console": "127.0.0.1:9000"},
                              None).console_address == ("127.0.0.1", 9000)  # --console naming a host wins
    conf = tmp_path / "redband.toml"
    conf.write_text('city = "c.toml"\nbind = "::"\nconsole = "9001"\n'
                    'allowed_origins = ["https://console.example.org"]\n')
    config = resolve_run_config({}, str(conf))
    assert config.console_address == ("::", 9001) and config.allowed_origins == ("https://console.example.org",)


@pytest.mark.parametrize("cli, message", [
    ({"bind": "0.0.0.0:80"}, "--bind: expected an IP address or a host name, got '0.0.0.0:80'"),
    ({"allowed_origins": ["https://ok.example", "https://bad.example/"]},
     "--allowed-origin: an Origin has no path, query or trailing slash: got 'https://bad.example/'"),
    ({"console": "a b:8080"}, "--console: expected an IP address or a host name, got 'a b'"),
])
def test_a_bad_address_or_origin_is_refused_naming_the_option(cli, message):
    with pytest.raises(UsageError, match=f"^{message.replace('?', '[?]')}$"):
        resolve_run_config({"city": "c.toml", **cli}, None)


def test_a_bad_origin_in_the_config_file_is_refused_naming_the_file_and_key(tmp_path):
    conf = tmp_path / "redband.toml"
    conf.write_text('city = "c.toml"\nallowed_origins = ["https://X.example"]\n')
    with pytest.raises(ConfigError, match="allowed_origins.*lower case"):
        resolve_run_config({}, str(conf))


def test_run_and_mqtt_config_refuse_a_bad_option_before_anything_starts(tmp_path, capsys):
    city = str(shipped(DEMO_CITY))
    assert main(["run", "--city", city, "--allowed-origin", "https://a.example", "--allowed-origin", "ftp://b"]) == 2
    assert "error: --allowed-origin: expected http://host[:port] or https://host[:port], got 'ftp://b'" in \
        capsys.readouterr().err
    assert main(["mqtt-config", "--city", city, "--out", str(tmp_path / "b"), "--bind", "0.0.0.0 "]) == 2
    assert "error: --bind: expected an IP address or a host name, got '0.0.0.0 '" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_the_origin_list_reaches_the_gateway_actor(tmp_path, monkeypatch):
    import actors.gateway_actor
    from redband import run

    started = {}

    def start(engine, **kwargs):
        started.update(kwargs, engine=engine)
        return SimpleNamespace(url="http://0.0.0.0:8080/", where={"operators": 1})

    monkeypatch.setattr(actors.gateway_actor, "start_gateway_actor", start)
    users = tmp_path / "users.toml"
    main(["user", "add", "cc", "--role", "command_center", "--users", str(users), "--password", "pw"])
    config = resolve_run_config({"city": "c.toml", "users": str(users), "bind": "0.0.0.0",
                                 "allowed_origins": ["https://console.example.org"]}, None)
    engine = SimpleNamespace(namespace="ns", attached=False, options=SimpleNamespace(journal_dir=str(tmp_path / "j")))
    assert run._start_console(engine, config, None) is not None
    assert started == {"engine": engine, "host": "0.0.0.0", "port": 8080, "origins": ["https://console.example.org"],
                       "trusted_proxies": None}
    secret, text = read_console_files(tmp_path / "j" / "console.pickle")
    assert len(secret) == 32 and text == users.read_text()


def test_trusted_proxies_come_from_the_command_line_or_the_config_file_and_reach_the_gateway(tmp_path, monkeypatch):
    import actors.gateway_actor
    from redband import run

    config = resolve_run_config({"city": "c.toml", "trusted_proxies": ["10.0.0.2", "10.1.0.0/16"]}, None)
    assert config.trusted_proxies == ("10.0.0.2", "10.1.0.0/16")
    conf = tmp_path / "redband.toml"
    conf.write_text('city = "c.toml"\ntrusted_proxies = ["::1"]\n')
    assert resolve_run_config({}, str(conf)).trusted_proxies == ("::1",)
    assert resolve_run_config({"city": "c.toml"}, None).trusted_proxies == ()
    started = {}
    monkeypatch.setattr(actors.gateway_actor, "start_gateway_actor", lambda engine, **kwargs: started.update(kwargs)
                        or SimpleNamespace(url="http://127.0.0.1:8080/", where={"operators": 1}))
    users = tmp_path / "users.toml"
    main(["user", "add", "cc", "--role", "command_center", "--users", str(users), "--password", "pw"])
    engine = SimpleNamespace(namespace="ns", attached=False, options=SimpleNamespace(journal_dir=str(tmp_path / "j")))
    run._start_console(engine, resolve_run_config({"city": "c.toml", "users": str(users),
                                                   "trusted_proxies": ["10.0.0.2"]}, None), None)
    assert started["trusted_proxies"] == ["10.0.0.2"]


def test_a_bad_trusted_proxy_is_refused_naming_the_option_or_the_file_and_key(tmp_path, capsys):
    with pytest.raises(UsageError, match=r"^--trusted-proxy: expected an IP address or a network \(10\.0\.0\.0/8\), "
                                         r"got 'proxy\.example'$"):
        resolve_run_config({"city": "c.toml", "trusted_proxies": ["10.0.0.2", "proxy.example"]}, None)
    conf = tmp_path / "redband.toml"
    conf.write_text('city = "c.toml"\ntrusted_proxies = ["10.0.0.1/8"]\n')
    with pytest.raises(ConfigError, match=r"trusted_proxies.*host bits set: the network is 10\.0\.0\.0/8"):
        resolve_run_config({}, str(conf))
    assert main(["run", "--city", str(shipped(DEMO_CITY)), "--trusted-proxy", "0.0.0.0/0"]) == 2
    assert ("error: --trusted-proxy: '0.0.0.0/0' trusts every address: anyone could choose the address the gateway "
            "sees") in capsys.readouterr().err


def test_the_secret_is_kept_by_a_driver_attaching_and_drawn_afresh_by_a_new_start(tmp_path):
    first = write_console_files(tmp_path, "a")
    secret, _ = read_console_files(first)
    write_console_files(tmp_path, "b", keep=True)
    assert read_console_files(first) == (secret, "a")
    write_console_files(tmp_path, "c")
    assert read_console_files(first)[0] != secret


def test_a_revoked_token_stays_revoked_in_the_next_process_until_it_expires(tmp_path):
    now = time.time()
    claims = Claims("p1", Role.STATION, "P1", now + 60, "jti-1", now)
    LastingRevocations(tmp_path / "r.json", now_s=now).revoke(claims, now_s=now)
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o600
    assert LastingRevocations(tmp_path / "r.json", now_s=now + 1).is_revoked(claims, now_s=now + 1)
    assert len(LastingRevocations(tmp_path / "r.json", now_s=now + 61)) == 0
