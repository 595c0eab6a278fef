"""Messages for other hosts and commands for devices (engine.hosting.outboxes)."""

from __future__ import annotations

import pytest

from engine.errors import Overloaded
from engine.hosting.config import HostConfig
from engine.hosting.outboxes import DeviceCommandOutbox, PeerOutbox
from engine.hosting.staging import JournalStaging
from engine.hosting.stats import Counters
from engine.incident import DeviceCommand
from protocols.records import IncidentUpdate
from tests.engine.host_parts import HOST_CITY, make_record


def _update(version: int) -> IncidentUpdate:
    return IncidentUpdate(make_record(1, version))


def test_messages_leave_as_one_batch_per_host_stamped_with_the_senders_clock():
    peers = PeerOutbox("h0", max_outbox=10)
    peers.send("cc", _update(1))
    peers.send("cc", _update(2))
    peers.send("h1", _update(3))
    out = peers.take(now_s=5.0)
    assert {h: [m.incident.version for m in b.messages] for h, b in out.items()} == {"cc": [1, 2], "h1": [3]}
    assert out["cc"].sender == "h0" and out["cc"].sent_s == 5.0
    assert peers.take(now_s=6.0) == {}


def test_messages_put_back_go_ahead_of_newer_ones():
    peers = PeerOutbox("h0", max_outbox=10)
    peers.send("cc", _update(1))
    unsent = peers.take(now_s=0.0)["cc"].messages
    peers.send("cc", _update(2))
    peers.requeue("cc", unsent)
    assert [m.incident.version for m in peers.take(now_s=1.0)["cc"].messages] == [1, 2]


def test_a_full_outbox_refuses_more_work():
    peers = PeerOutbox("h0", max_outbox=2)
    peers.send("cc", _update(1))
    peers.check_room()
    peers.send("cc", _update(2))
    with pytest.raises(Overloaded, match="host h0 outbox"):
        peers.check_room()


def test_a_step_taken_back_removes_only_the_messages_it_added():
    peers = PeerOutbox("h0", max_outbox=10)
    peers.send("cc", _update(1))
    peers.keep()
    peers.send("cc", _update(2))
    peers.take_back()
    assert [m.incident.version for m in peers.messages["cc"]] == [1]


def _commands(**config) -> tuple[DeviceCommandOutbox, Counters, JournalStaging]:
    counters, staging = Counters(), JournalStaging()
    outbox = DeviceCommandOutbox(HostConfig("h0", **config), counters=counters, staging=staging, city=HOST_CITY,
                                 speaks_json=lambda device_id: device_id == "json-device")
    return outbox, counters, staging


DOOR = next(d.id for d in HOST_CITY.devices.values() if d.kind == "door")


def test_commands_are_numbered_and_follow_the_devices_encoding():
    outbox, _, _ = _commands()
    outbox.add(DeviceCommand(DOOR, "open_door"), 1.0)
    outbox.add(DeviceCommand("json-device", "siren", {"on": True}), 2.0)
    first, second = outbox.take()
    assert (first.number, first.json, first.at_s) == (1, False, 1.0)
    assert (second.number, second.json, second.args) == (2, True, {"on": True})


def test_an_unconfirmed_command_is_handed_out_again_then_audited_as_failed():
    outbox, counters, staging = _commands(command_confirm_s=10.0, command_attempts=2)
    outbox.add(DeviceCommand(DOOR, "open_door"), 0.0)
    (first,) = outbox.take(now_s=0.0)
    outbox.redeliver(9.9)
    assert outbox.take(now_s=9.9) == []
    outbox.redeliver(10.0)
    (again,) = outbox.take(now_s=10.0)
    assert (again.number, again.attempt) == (first.number, 2) and counters.commands_redelivered == 1
    outbox.redeliver(20.0)
    assert outbox.take(now_s=20.0) == [] and counters.commands_failed == 1
    (row,) = staging.take().audit
    assert (row.actor, row.role, row.action, row.target, row.outcome) == ("system", "system", "device.command", DOOR,
                                                                          "failed")
    assert row.reason == "open_door: not published after 2 attempts"


def test_a_confirmed_command_is_not_handed_out_again():
    outbox, counters, _ = _commands(command_confirm_s=10.0)
    outbox.add(DeviceCommand(DOOR, "open_door"), 0.0)
    (command,) = outbox.take(now_s=0.0)
    outbox.confirm([command.number])
    outbox.redeliver(100.0)
    assert outbox.take(now_s=100.0) == [] and counters.commands_redelivered == 0


def test_a_bridge_that_does_not_confirm_gets_each_command_once():
    outbox, _, _ = _commands(command_confirm_s=10.0)
    outbox.add(DeviceCommand(DOOR, "open_door"), 0.0)
    assert len(outbox.take()) == 1
    outbox.redeliver(100.0)
    assert outbox.take() == []


def test_a_full_command_queue_drops_the_oldest_and_counts_it():
    outbox, counters, _ = _commands(max_device_commands=1)
    outbox.add(DeviceCommand(DOOR, "a"), 0.0)
    outbox.add(DeviceCommand(DOOR, "b"), 0.0)
    assert [c.command for c in outbox.take()] == ["b"] and counters.device_commands_dropped == 1


def test_a_step_taken_back_removes_its_commands_but_not_redelivered_ones():
    outbox, _, _ = _commands(command_confirm_s=10.0)
    outbox.add(DeviceCommand(DOOR, "earlier"), 0.0)
    outbox.take(now_s=0.0)
    outbox.keep()
    outbox.redeliver(10.0)  # handed out again: not part of any step
    outbox.add(DeviceCommand(DOOR, "forgotten"), 10.0)
    outbox.take_back()
    assert [(c.command, c.attempt) for c in outbox.take()] == [("earlier", 2)]
