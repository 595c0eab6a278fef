"""Broker files for a city: the dynamic-security plugin's clients, passwords it accepts, ACLs that confine each
device to its own topics by name, client ids tied to devices, passwords kept when provisioning again."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from engine.citygen import generate_city
from engine.mqtt_provision import BRIDGE_USER, SIMULATOR_USER, broker_files, read_credentials
from protocols.topics import bridge_share_group
from tests.engine.helpers import SMALL


def _dynsec(files) -> tuple[dict, dict]:
    config = json.loads(files.dynsec)
    return ({c["username"]: c for c in config["clients"]}, {r["rolename"]: r["acls"] for r in config["roles"]})


def test_passwords_are_hashed_as_the_plugin_checks_them(tmp_path):
    files = broker_files(generate_city(SMALL), tmp_path)
    clients, _ = _dynsec(files)
    for cred in files.credentials:
        client = clients[cred.username]
        salt = base64.b64decode(client["salt"])
        assert len(salt) == 12 and client["iterations"] == 101
        assert base64.b64decode(client["password"]) == hashlib.pbkdf2_hmac("sha512", cred.password.encode(), salt, 101)
    assert len({c.password for c in files.credentials}) == len(files.credentials)  # no shared passwords


def test_a_device_may_use_only_its_own_topics_named_literally_and_its_own_client_id(tmp_path):
    city = generate_city(SMALL)
    files = broker_files(city, tmp_path, port=18831, bind="127.0.0.1")
    clients, roles = _dynsec(files)
    device = next(d for d in city.devices.values() if d.site_id)
    client = clients[device.id]
    assert client["clientid"] == device.id
    acls = {(a["acltype"], a["topic"]) for a in roles[client["roles"][0]["rolename"]] if a["allow"]}
    dev = f"rb/v1/dev/{device.id}"
    assert acls == {("publishClientSend", f"{dev}/alarm"), ("publishClientSend", f"{dev}/evt"),
                    ("publishClientSend", f"{dev}/state"), ("subscribeLiteral", f"{dev}/ack"),
                    ("subscribeLiteral", f"{dev}/cmd"), ("subscribeLiteral", f"rb/v1/site/{device.site_id}/notice")}
    config = json.loads(files.dynsec)
    assert config["defaultACLAccess"]["subscribe"] is False and config["defaultACLAccess"]["publishClientSend"] is False
    conf = files.conf.splitlines()
    assert "listener 18831 127.0.0.1" in conf and "allow_anonymous false" in conf
    assert not any(line.startswith(("password_file", "acl_file")) for line in conf)
    assert f"plugin_opt_config_file {tmp_path.resolve() / 'dynamic-security.json'}" in conf


def test_only_the_bridge_may_join_its_share_group_and_the_group_is_secret(tmp_path):
    files = broker_files(generate_city(SMALL), tmp_path)
    clients, roles = _dynsec(files)
    bridge = next(c for c in files.credentials if c.username == BRIDGE_USER)
    group = bridge_share_group(bridge.password)
    assert files.share_group == group and group != bridge_share_group("another password")
    shared = {a["topic"] for role in roles.values() for a in role if a["topic"].startswith("$share/")}
    assert shared == {f"$share/{group}/rb/v1/dev/+/{ch}" for ch in ("alarm", "evt", "state")}
    assert {a["topic"] for a in roles["redband-bridge"] if a["topic"].startswith("$share/")} == shared
    assert "clientid" not in clients[BRIDGE_USER]  # its lanes connect under ids of their own


def test_the_simulator_user_only_when_asked_and_passwords_survive_reprovisioning(tmp_path):
    city = generate_city(SMALL)
    first = broker_files(city, tmp_path)
    again = broker_files(city, tmp_path, simulator=True, existing=read_credentials(first.credentials_csv))
    before = {c.username: c.password for c in first.credentials}
    after = {c.username: c.password for c in again.credentials}
    assert all(after[u] == p for u, p in before.items())
    assert again.share_group == first.share_group
    _, roles = _dynsec(again)
    assert SIMULATOR_USER in after and {"acltype": "publishClientSend", "topic": "rb/v1/dev/+/alarm", "priority": 0,
                                        "allow": True} in roles["redband-simulator"]
    assert "redband-simulator" not in _dynsec(first)[1]
    assert read_credentials("not,a,credentials,file\n") == {}
    assert Path(tmp_path).exists()
