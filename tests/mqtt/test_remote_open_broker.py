"""A guard's remote open from the console through Mosquitto: the console's open_door reaches the door's cmd topic as
open_door {by, reason}; a door of another site is refused by name."""

from __future__ import annotations

import pytest

from engine.operators import Role, load_operators
from protocols.console import Result, Token
from protocols.console_community import OpenDoor
from protocols.replies import decode_command
from redband.files import add_operator
from tests.console.client import ConsoleClient, login
from tests.console.conftest import start_gateway
from tests.mqtt.helpers import Inbox, pub

pytestmark = [pytest.mark.ray, pytest.mark.mqtt]


def test_a_guards_remote_open_reaches_the_door_with_who_and_why(broker, engine, tmp_path):
    city = broker.city
    door = broker.device("door")
    site = city.devices[door].site_id
    other = next(d.id for d in city.devices.values() if d.kind == "door" and d.site_id != site)
    users = tmp_path / "users.toml"
    add_operator(users, name="gate", role=Role.GUARD_ROOM, scope=site, password="pw", city=city)
    commands = Inbox(broker, door, f"rb/v1/dev/{door}/cmd")
    acks = Inbox(broker, door, f"rb/v1/dev/{door}/ack")
    pub(broker, door, f"rb/v1/dev/{door}/alarm", {"seq": 1, "ts": 1, "kind": "door.forced"})  # speaks JSON
    assert acks.read_json(1)
    gateway = start_gateway(engine, load_operators(users, city=city), watch_delivery=False)
    try:
        token = login(f"ws://127.0.0.1:{gateway.port}/login", "gate", "pw")
        assert isinstance(token, Token), token
        client = ConsoleClient(f"ws://127.0.0.1:{gateway.port}/ws", token.token)
        client.send(OpenDoor(1, other, "courier"))
        refused = client.until(lambda m: isinstance(m, Result) and m.id == 1, what="the refusal")
        assert (refused.ok, refused.code, refused.error) == (False, "OutOfJurisdiction",
                                                            f"door: {other!r} is not in your jurisdiction")
        client.send(OpenDoor(2, door, "courier for unit 2, resident called"))
        assert client.until(lambda m: isinstance(m, Result) and m.id == 2, what="the result").ok
        (payload,) = commands.read(1)
        command = decode_command(payload)
        assert (command.cmd, command.args) == ("open_door", {"by": "gate",
                                                             "reason": "courier for unit 2, resident called"})
        client.close()
    finally:
        gateway.stop()
