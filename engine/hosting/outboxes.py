"""What a host sends out, held until its shell takes it: messages for other hosts (batched per host, bounded:
a full outbox refuses new device batches) and commands for devices (numbered; held until a bridge confirms it
published them, handed out again if it does not, and audited as failed after the last attempt). The same outbox
carries the sites' notice boards (:meth:`DeviceCommandOutbox.add_board`): a board for a site replaces any board of
that site not yet confirmed, so a board handed out again is never older than one published after it.

Both are :class:`~engine.hosting.staging.StepOutput` s: a step that is not written takes back what it added.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from engine.errors import Overloaded
from engine.hosting.config import HostConfig
from engine.hosting.staging import JournalStaging
from engine.hosting.stats import Counters
from engine.incident import DeviceCommand
from engine.topology import City
from protocols.batch import HostBatch
from protocols.notices import NOTICE_BOARD
from protocols.records import HostMessage


class PeerOutbox:
    """Messages for other hosts, one list per destination host."""

    def __init__(self, host_id: str, *, max_outbox: int) -> None:
        self.host_id = host_id
        self.max_outbox = max_outbox
        self.messages: dict[str, list[HostMessage]] = {}
        self._added: dict[str, int] = {}  # by the current step, per host

    def send(self, host_id: str, message: HostMessage) -> None:
        self.messages.setdefault(host_id, []).append(message)
        self._added[host_id] = self._added.get(host_id, 0) + 1

    def check_room(self) -> None:
        """Raise :class:`Overloaded` when the messages waiting reach the limit (the shell is not sending them)."""
        waiting = sum(len(m) for m in self.messages.values())
        if waiting >= self.max_outbox:
            raise Overloaded(f"host {self.host_id} outbox", self.max_outbox)

    def take(self, *, now_s: float) -> dict[str, HostBatch]:
        out = {host: HostBatch(self.host_id, now_s, msgs) for host, msgs in self.messages.items() if msgs}
        self.messages = {}
        return out

    def requeue(self, host_id: str, messages: list[HostMessage]) -> None:
        """Put back messages that could not be sent, ahead of newer ones."""
        self.messages[host_id] = messages + self.messages.get(host_id, [])

    def keep(self) -> None:
        self._added = {}

    def take_back(self) -> None:
        for host_id, n in self._added.items():
            kept = self.messages.get(host_id, [])
            del kept[max(0, len(kept) - n):]
        self._added = {}


@dataclass(frozen=True, slots=True)
class DeviceCommandOut:
    device_id: str
    command: str
    args: dict
    at_s: float
    json: bool = False
    """Encode it as JSON: the device last spoke JSON."""
    number: int = 0
    """This host's number for the command: what a bridge confirms once it published it."""
    attempt: int = 1
    site: str = ""
    """Set for a site's notice board (``command`` is ``protocols.notices.NOTICE_BOARD``, ``args["board"]`` the
    retained payload for the site's notice topic, ``b""`` clearing it); ``device_id`` is then the site too."""


class DeviceCommandOutbox:
    """Commands for the host's devices. Bounded: when full, the oldest is dropped (and counted)."""

    def __init__(self, config: HostConfig, *, counters: Counters, staging: JournalStaging, city: City,
                 speaks_json: Callable[[str], bool]) -> None:
        self.queue: deque[DeviceCommandOut] = deque(maxlen=config.max_device_commands)
        self._config = config
        self._counters = counters
        self._staging = staging
        self._city = city
        self._speaks_json = speaks_json
        self._numbers = 0
        self._out: dict[int, tuple[DeviceCommandOut, float]] = {}  # number → (command, hand out again at)
        self._added = 0  # by the current step

    def add(self, command: DeviceCommand, now_s: float) -> None:
        if len(self.queue) == self.queue.maxlen:
            self._counters.device_commands_dropped += 1
        self._numbers += 1
        self.queue.append(DeviceCommandOut(command.device_id, command.command, command.args, now_s,
                                           json=self._speaks_json(command.device_id), number=self._numbers))
        self._added += 1

    def add_board(self, site_id: str, payload: bytes, now_s: float) -> None:
        """The site's notice board, retained on its notice topic by the bridge; replaces the site's board queued or
        not yet confirmed (a step taken back takes this one back; the host sends every board again when it
        rebuilds)."""
        if site_id in (c.site for c in self.queue):
            first_of_step = len(self.queue) - self._added
            kept = [(i, c) for i, c in enumerate(self.queue) if c.site != site_id]
            self._added = sum(1 for i, _ in kept if i >= first_of_step)
            self.queue = deque((c for _, c in kept), maxlen=self.queue.maxlen)
        for number in [n for n, (c, _) in self._out.items() if c.site == site_id]:
            del self._out[number]
        self._numbers += 1
        self.queue.append(DeviceCommandOut(site_id, NOTICE_BOARD, {"board": payload}, now_s, json=True,
                                           number=self._numbers, site=site_id))
        self._added += 1

    def take(self, *, now_s: float | None = None) -> list[DeviceCommandOut]:
        """The queued commands. With ``now_s`` (a bridge that confirms what it published), each is held until
        :meth:`confirm`: one not confirmed in ``command_confirm_s`` is handed out again by :meth:`redeliver`."""
        out = list(self.queue)
        self.queue.clear()
        if now_s is not None:
            again_at = now_s + self._config.command_confirm_s
            for command in out:
                self._out[command.number] = (command, again_at)
            while len(self._out) > self._config.max_device_commands:
                oldest = next(iter(self._out))
                self._failed(self._out.pop(oldest)[0], now_s, "too many unconfirmed commands")
        return out

    def confirm(self, numbers: list[int]) -> None:
        """A bridge published these commands."""
        for number in numbers:
            self._out.pop(number, None)

    def redeliver(self, now_s: float) -> None:
        """Queue again the commands not confirmed in time; audit as failed those out of attempts. Not part of a
        step: a step that is not written does not take them back."""
        due = [n for n, (_, at_s) in self._out.items() if at_s <= now_s]
        for number in due:
            command, _ = self._out.pop(number)
            if command.attempt >= self._config.command_attempts:
                self._failed(command, now_s, f"not published after {command.attempt} attempts")
                continue
            self._counters.commands_redelivered += 1
            self.queue.append(replace(command, attempt=command.attempt + 1))

    def _failed(self, command: DeviceCommandOut, now_s: float, why: str) -> None:
        self._counters.commands_failed += 1
        self._staging.audit(now_s, "system", "device.command", command.device_id, "failed", role="system",
                            reason=f"{command.command}: {why}")

    def keep(self) -> None:
        self._added = 0

    def take_back(self) -> None:
        for _ in range(min(self._added, len(self.queue))):
            self.queue.pop()
        self._added = 0
