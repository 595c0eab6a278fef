"""Broker files for a city: hashes Mosquitto accepts, an ACL that confines each device, passwords kept."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from engine.citygen import generate_city
from engine.mqtt_provision import (
    BRIDGE_USER,
    SIMULATOR_USER,
    broker_files,
    hash_password,
    read_credentials,
)
from tests.engine.helpers import SMALL


def test_password_hash_is_mosquitto_2_pbkdf2_sha512():
    salt = b"0123456789ab"
    hashed = hash_password("s3cret", salt=salt)
    tag, kind, iterations, salt_b64, digest_b64 = hashed.split("$")
    assert (tag, kind, iterations) == ("", "7", "101")
    assert base64.b64decode(salt_b64) == salt
    assert base64.b64decode(digest_b64) == hashlib.pbkdf2_hmac("sha512", b"s3cret", salt, 101)
    assert hash_password("s3cret") != hash_password("s3cret")  # a fresh salt each time


def test_files_for_a_city(tmp_path):
    city = generate_city(SMALL)
    files = broker_files(city, tmp_path, port=18831, bind="127.0.0.1")
    users = [c.username for c in files.credentials]
    assert users[-1] == BRIDGE_USER and SIMULATOR_USER not in users
    assert sorted(users[:-1]) == sorted(city.devices)
    assert len({c.password for c in files.credentials}) == len(users)  # no shared passwords
    assert files.passwd.count("\n") == len(users)
    conf = files.conf.splitlines()
    assert "listener 18831 127.0.0.1" in conf and "allow_anonymous false" in conf
    assert f"persistence_location {tmp_path.resolve() / 'data'}/" in conf
    device = next(d for d in city.devices.values() if d.site_id)
    acl = files.acl
    assert f"user {device.id}\ntopic read rb/v1/site/{device.site_id}/notice\n" in acl
    assert "topic write rb/v1/dev/+/alarm" not in acl  # nobody but the simulator may write every device's topics
    for line in ("pattern write rb/v1/dev/%u/alarm", "pattern write rb/v1/dev/%u/evt",
                 "pattern write rb/v1/dev/%u/state", "pattern read rb/v1/dev/%u/ack", "pattern read rb/v1/dev/%u/cmd"):
        assert line in acl.splitlines()


def test_the_simulator_user_only_when_asked_and_passwords_survive_reprovisioning(tmp_path):
    city = generate_city(SMALL)
    first = broker_files(city, tmp_path)
    again = broker_files(city, tmp_path, simulator=True, existing=read_credentials(first.credentials_csv))
    before = {c.username: c.password for c in first.credentials}
    after = {c.username: c.password for c in again.credentials}
    assert all(after[u] == p for u, p in before.items())
    assert SIMULATOR_USER in after and f"user {SIMULATOR_USER}\ntopic write rb/v1/dev/+/alarm" in again.acl
    assert read_credentials("not,a,credentials,file\n") == {}
    assert Path(tmp_path).exists()
