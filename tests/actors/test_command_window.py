"""The windowed command publisher with fakes: each device's commands in order (within and across batches), never
more than the window awaiting a PUBACK, a failed publish (and what queued behind it for that device) not confirmed,
and at most ``max_batches`` batches on their way."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from actors.command_window import CommandWindow


@dataclass(frozen=True)
class Command:
    device_id: str
    number: int
    site: str = ""


class FakeBroker:
    """Publishes that end only when the test lets them (``release``), recording what is in flight."""

    def __init__(self, fail: set[int] = frozenset(), raise_on: set[int] = frozenset()) -> None:
        self.fail, self.raise_on = fail, raise_on
        self.started: list[Command] = []
        self.in_flight: set[Command] = set()
        self.most_in_flight = 0
        self.gate = asyncio.Event()
        self.confirmed: list[list[int]] = []

    async def publish(self, command: Command) -> bool:
        assert all(c.device_id != command.device_id for c in self.in_flight), "two of one device in flight"
        self.started.append(command)
        self.in_flight.add(command)
        self.most_in_flight = max(self.most_in_flight, len(self.in_flight))
        try:
            await self.gate.wait()
            if command.number in self.raise_on:
                raise ConnectionError("connection lost")
            return command.number not in self.fail
        finally:
            self.in_flight.discard(command)

    async def confirm(self, commands: list[Command]) -> None:
        self.confirmed.append(sorted(c.number for c in commands))


def batch(devices: int, per_device: int, *, first: int = 0) -> list[Command]:
    """Commands numbered in the order a host hands them out, devices interleaved."""
    return [Command(f"d{d}", first + i * devices + d) for i in range(per_device) for d in range(devices)]


async def spin(until, *, rounds: int = 10_000) -> None:
    """Let the loop run until ``until()`` holds (a bounded number of turns, no wall-clock sleeps)."""
    for _ in range(rounds):
        if until():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


def test_each_devices_commands_go_in_order_and_never_more_than_the_window_at_once():
    async def main() -> FakeBroker:
        broker = FakeBroker()
        window = CommandWindow(broker.publish, broker.confirm, window=4, max_batches=4)
        first, second = batch(10, 5), batch(10, 3, first=1000)
        await window.submit(first)
        await window.submit(second)  # the same devices again: waits for the first batch's commands of each
        await spin(lambda: len(broker.in_flight) == 4)
        assert window.in_flight == 4
        broker.gate.set()
        await asyncio.wait_for(window.drain(), timeout=10)
        return broker

    broker = asyncio.run(main())
    assert broker.most_in_flight == 4  # the window was used, and never exceeded
    for device in (f"d{d}" for d in range(10)):
        numbers = [c.number for c in broker.started if c.device_id == device]
        assert numbers == sorted(numbers) and len(numbers) == 8  # the host's order, both batches
    assert sorted(n for call in broker.confirmed for n in call) == sorted(
        c.number for c in batch(10, 5) + batch(10, 3, first=1000))  # each once


def test_a_failed_publish_is_not_confirmed_nor_what_queued_behind_it_for_that_device():
    async def main() -> tuple[FakeBroker, CommandWindow]:
        broker = FakeBroker(fail={12}, raise_on={5})  # d2's third command fails; d5's first raises
        window = CommandWindow(broker.publish, broker.confirm, window=8, confirm_every_s=0)
        await window.submit(batch(10, 4))
        broker.gate.set()
        await asyncio.wait_for(window.drain(), timeout=10)
        return broker, window

    broker, window = asyncio.run(main())
    (confirmed,) = broker.confirmed
    all_numbers = {c.number for c in batch(10, 4)}
    not_confirmed = {12, 22, 32} | {5, 15, 25, 35}  # the failed ones and their device's later commands
    assert set(confirmed) == all_numbers - not_confirmed
    assert (window.failed, window.skipped, window.published) == (2, 5, 33)
    assert all(c.number not in {22, 32, 15, 25, 35} for c in broker.started)  # never overtaking a re-sent one


def test_at_most_max_batches_are_on_their_way_before_more_are_taken():
    async def main() -> None:
        broker = FakeBroker()
        window = CommandWindow(broker.publish, broker.confirm, window=64, max_batches=2)
        await window.submit([Command("a", 1)])
        await window.submit([Command("b", 2)])
        room = asyncio.ensure_future(window.room())
        await spin(lambda: len(broker.in_flight) == 2)
        assert not room.done()  # the caller takes nothing more from the hosts
        broker.gate.set()
        await asyncio.wait_for(room, timeout=10)
        await asyncio.wait_for(window.drain(), timeout=10)
        assert sorted(n for call in broker.confirmed for n in call) == [1, 2]

    asyncio.run(main())


def test_the_confirmations_of_batches_published_together_are_one_call():
    async def main() -> FakeBroker:
        broker = FakeBroker()
        window = CommandWindow(broker.publish, broker.confirm, window=64, confirm_every_s=0.05)
        for first in (0, 100, 200):
            await window.submit(batch(5, 2, first=first))
        broker.gate.set()
        await asyncio.wait_for(window.drain(), timeout=10)
        return broker

    broker = asyncio.run(main())
    assert broker.confirmed == [sorted(c.number for first in (0, 100, 200) for c in batch(5, 2, first=first))]


def test_a_window_below_one_is_refused():
    with pytest.raises(ValueError, match="window and max_batches must be >= 1"):
        CommandWindow(lambda c: None, lambda cs: None, window=0)


def test_the_lane_client_lets_the_whole_window_be_in_flight_below_the_brokers_receive_maximum():
    from actors.bridge_connection import MAX_INFLIGHT
    from actors.command_window import COMMAND_WINDOW

    assert COMMAND_WINDOW < MAX_INFLIGHT < 200  # paho queues beyond its own limit; the engine's broker takes 200
