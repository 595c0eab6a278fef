"""The fleet's units answer the engine's task offers through the broker (issue 14), as the virtual-time run's phones
do (:class:`simulation.patrol_phones.Phones`): a ``task.offer`` on a unit's command topic is answered ``accept`` or
``decline`` after the offer policy's delay, or never; an accepted task is seen through with ``check_in``,
``arrived`` and ``done``, each a ``patrol.task`` event on the unit's own ``evt`` topic.

Runs on the fleet's loop (:meth:`simulation.mqtt_fleet.Fleet.answer_offers`): one connection subscribed to
``rb/v1/dev/+/cmd`` (the simulator's credentials allow it; commands to devices the fleet does not answer for are
passed over), a bounded queue of the commands taken, and one task holding the answers due later in a bounded heap
(the timers are that task's, so they end with the fleet). A command the queue has no room for, or an answer the heap
has none for, is counted and dropped (the offer then expires in the engine, as a phone out of reach).

An answer takes the unit's next seq; the unit's later messages from the fleet are moved up by one for each answer
(:class:`Sequencer`), so none of them is taken for a duplicate.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiomqtt

from protocols.device import DeviceMessage, make_message
from protocols.kinds import EventKind
from protocols.replies import decode_command
from protocols.topics import Channel, parse_device_topic, subscription
from simulation.patrol_phones import Answer, Operate

if TYPE_CHECKING:
    from simulation.mqtt_fleet import Fleet

log = logging.getLogger(__name__)

MAX_COMMANDS = 1_000
"""Commands taken and not yet answered, at most."""
MAX_PENDING = 10_000
"""Answers (and operator acts) waiting for their time, at most."""
MAX_OPERATED = 1_000


@dataclass(frozen=True, slots=True)
class UnitCommand:
    """A device command as :meth:`simulation.patrol_phones.Phones.commands` reads it."""

    device_id: str
    command: str
    args: dict[str, Any]


class Sequencer:
    """Seqs of the units that answer: an answer takes the unit's next seq, and every later event of the unit is
    moved up by the answers sent before it (alarms keep theirs: the engine tells alarms apart by seq and content).
    ``first``: the seq a device's numbering starts above, for a device whose other messages do not pass here."""

    def __init__(self, device_ids: Collection[str], *, first: dict[str, int] | None = None) -> None:
        self.ids = frozenset(device_ids)
        self._last: dict[str, int] = dict(first or {})
        self._shift: dict[str, int] = {}
        self._lock = threading.Lock()

    def outgoing(self, device_id: str, message: DeviceMessage) -> DeviceMessage:
        if device_id not in self.ids or message.event_kind.is_alarm:
            return message
        with self._lock:
            seq = message.seq + self._shift.get(device_id, 0)
            self._last[device_id] = max(seq, self._last.get(device_id, 0))
        return message if seq == message.seq else _with_seq(message, seq)

    def take(self, device_id: str) -> int:
        """The device's next seq for a message of its own (its later ones from the fleet move up by one)."""
        with self._lock:
            seq = self._last.get(device_id, 0) + 1
            self._last[device_id] = seq
            self._shift[device_id] = self._shift.get(device_id, 0) + 1
        return seq

    def answer(self, device_id: str, incident: str, answer: str) -> DeviceMessage:
        seq = self.take(device_id)
        return make_message(EventKind.PATROL_TASK, seq=seq, ts=int(time.time() * 1000),
                            data={"incident": incident, "answer": answer})


def _with_seq(message: DeviceMessage, seq: int) -> DeviceMessage:
    import msgspec

    return msgspec.structs.replace(message, seq=seq)


class TaskAnswers:
    """The units ``device_ids`` answer by ``phones`` (a :class:`~simulation.patrol_phones.Phones`; its times are the
    wall clock's here). What the station's operator does in the virtual-time run (resolve, close) is kept for the run
    to carry out (:meth:`take_operated`), the newest :data:`MAX_OPERATED`."""

    def __init__(self, fleet: Fleet, phones, device_ids: Collection[str], *, max_commands: int = MAX_COMMANDS,
                 max_pending: int = MAX_PENDING) -> None:
        self.fleet, self.phones = fleet, phones
        self.sequencer = Sequencer(device_ids)
        self.max_pending = max_pending
        self.subscribed = asyncio.Event()
        self.commands: asyncio.Queue[UnitCommand] = asyncio.Queue(maxsize=max_commands)
        self.sent: Counter[str] = Counter()
        """Answers published, by answer."""
        self.dropped = 0
        """Commands and answers given up for want of room."""
        self._pending: list[tuple[float, int, Answer]] = []
        self._order = itertools.count()
        self._operated: deque[Operate] = deque(maxlen=MAX_OPERATED)
        self._lock = threading.Lock()

    def take_operated(self) -> list[Operate]:
        with self._lock:
            out = list(self._operated)
            self._operated.clear()
        return out

    async def read(self) -> None:
        """Take the units' commands from the broker until cancelled (reconnecting with backoff)."""
        attempt = 0
        while True:
            try:
                async with self.fleet._client(f"{self.fleet.prefix}-cmds") as client:
                    await client.subscribe(subscription(Channel.CMD), qos=1)
                    self.subscribed.set()
                    attempt = 0
                    async for message in client.messages:
                        self._take(message.topic.value, bytes(message.payload))
            except aiomqtt.MqttError as exc:
                log.info("simulator command reader: %s", exc)
            attempt += 1
            await asyncio.sleep(min(2.0, 0.1 * 1.5 ** min(10, attempt)))  # reconnect backoff

    def _take(self, topic: str, payload: bytes) -> None:
        try:
            device_id = parse_device_topic(topic).device_id
            if device_id not in self.sequencer.ids:
                return
            command = decode_command(payload)
        except Exception as exc:  # a broken command is reported, not fatal
            log.warning("simulator: unreadable command on %s: %s", topic, exc)
            return
        try:
            self.commands.put_nowait(UnitCommand(device_id, command.cmd, dict(command.args)))
        except asyncio.QueueFull:
            self.dropped += 1

    async def answer(self) -> None:
        """Answer the commands taken, each answer at its time, until cancelled."""
        while True:
            wait_s = self._pending[0][0] - time.time() if self._pending else None
            try:
                command = await asyncio.wait_for(self.commands.get(), wait_s) if wait_s is None or wait_s > 0 \
                    else None
            except TimeoutError:
                command = None
            if command is not None:
                self._plan(self.phones.commands([command], time.time()))
            await self._send_due(time.time())

    def _plan(self, items) -> None:
        for item in items:
            if isinstance(item, Operate):
                with self._lock:
                    self._operated.append(item)
            elif len(self._pending) >= self.max_pending:
                self.dropped += 1
            else:
                heapq.heappush(self._pending, (item.at_s, next(self._order), item))

    async def _send_due(self, now: float) -> None:
        from simulation.mqtt_fleet import Outgoing

        due = []
        while self._pending and self._pending[0][0] <= now:
            _, _, item = heapq.heappop(self._pending)
            due.append(Outgoing(item.device_id, self.sequencer.answer(item.device_id, item.incident, item.answer),
                                json=True))
            self.sent[item.answer] += 1
        if due:
            await self.fleet._send(due, answers=True)
