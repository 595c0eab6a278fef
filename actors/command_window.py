"""Device commands published with a bounded window of QoS 1 publishes in flight, each device's in order.

Publishing one command at a time and waiting for its PUBACK before the next made every command wait for the
round trips of all the commands before it (3.2 s at p99 under the city load, docs/benchmarks.md). Here a batch of
commands (what one long poll of the hosts handed out) is split by destination (a device, or a site's notice board);
each destination's commands are published one after the other, in the order their hosts gave them, and the
destinations run side by side, at most ``window`` publishes awaiting their PUBACK at once. A destination's commands
of a later batch wait for those of the earlier batches still in flight, so the order holds across batches too.

A batch is confirmed to its hosts (``confirm``) once every publish of it has ended, with only the commands whose
PUBACK came: a failed one is not confirmed, and its host hands it out again (a repeat, never a loss). The batches'
confirmations are gathered into one call at most every ``confirm_every_s`` (a host holds a command 10 s before it
hands it out again, so the wait costs nothing, and a call per command cost the bridge's process a Ray call each). A command whose
predecessor to the same destination failed is not published either (it would overtake the one handed out again);
it is left unconfirmed too (while the failed chain is still the destination's last: once it has ended, a later
batch starts afresh). At most ``max_batches`` batches are on their way at once: :meth:`CommandWindow.room` waits
for a free place before the caller takes more from the hosts, so nothing here grows without bound.

Pure asyncio, no MQTT: ``publish`` and ``confirm`` are given (``actors/bridge_outbound.py`` gives the real ones;
tests give fakes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("actors.mqtt_bridge")  # one logger for the whole bridge

COMMAND_WINDOW = 64
"""QoS 1 command publishes awaiting their PUBACK at once."""
MAX_BATCHES = 8
"""Batches of commands being published at once."""
CONFIRM_EVERY_S = 0.1
MAX_UNCONFIRMED = 10_000
"""Published commands waiting for their confirmation call; beyond, they are confirmed without waiting."""


def destination(command: Any) -> str:
    """What a command's order is kept per: its site's notice topic for a board, else its device."""
    site = getattr(command, "site", "")
    return f"site:{site}" if site else f"dev:{command.device_id}"


class CommandWindow:
    def __init__(self, publish: Callable[[Any], Awaitable[bool]], confirm: Callable[[list], Awaitable[None]], *,
                 window: int = COMMAND_WINDOW, max_batches: int = MAX_BATCHES,
                 confirm_every_s: float = CONFIRM_EVERY_S) -> None:
        if window < 1 or max_batches < 1:
            raise ValueError("window and max_batches must be >= 1")
        self._publish = publish
        self._confirm = confirm
        self._window = asyncio.Semaphore(window)
        self._batches = asyncio.Semaphore(max_batches)
        self._tails: dict[str, asyncio.Future] = {}
        """Per destination, the last chain of publishes started: its result says whether all of it was published."""
        self._tasks: set[asyncio.Task] = set()
        self._confirm_every_s = confirm_every_s
        self._unconfirmed: list = []
        self._confirming: asyncio.Task | None = None
        self.in_flight = 0
        """Publishes awaiting their PUBACK now (never above the window)."""
        self.published = 0
        self.failed = 0
        self.skipped = 0

    async def room(self) -> None:
        """Wait until another batch may start (at most ``max_batches`` at once)."""
        await self._batches.acquire()
        self._batches.release()

    async def submit(self, commands: list) -> None:
        """Start publishing ``commands`` (waits for a place among the batches, not for the publishes)."""
        if not commands:
            return
        await self._batches.acquire()
        chains: dict[str, list] = {}
        for command in commands:
            chains.setdefault(destination(command), []).append(command)
        runs = []
        for key, chain in chains.items():
            before = self._tails.get(key)
            run = asyncio.ensure_future(self._chain(chain, before))
            self._tails[key] = run
            run.add_done_callback(lambda done, key=key: self._forget(key, done))
            runs.append(run)
        task = asyncio.get_running_loop().create_task(self._finish(runs))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every batch started so far to be published and confirmed (tests, an orderly stop)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _forget(self, key: str, done: asyncio.Future) -> None:
        if self._tails.get(key) is done:
            del self._tails[key]

    async def _chain(self, chain: list, before: asyncio.Future | None) -> tuple[list, bool]:
        """One destination's commands of one batch, in order; returns the published ones, and whether all were."""
        ok = True if before is None else await _all_published(before)
        published = []
        for command in chain:
            if not ok:
                self.skipped += 1
                continue
            async with self._window:
                self.in_flight += 1
                try:
                    ok = await self._publish(command)
                except Exception:  # reported, and the command is not confirmed: its host hands it out again
                    log.exception("device command to %s: publish failed", destination(command))
                    ok = False
                finally:
                    self.in_flight -= 1
            if ok:
                self.published += 1
                published.append(command)
            else:
                self.failed += 1
        return published, ok

    async def _finish(self, runs: list[asyncio.Future]) -> None:
        try:
            results = await asyncio.gather(*runs)
        finally:
            self._batches.release()
        self._unconfirmed += [command for chain, _ok in results for command in chain]
        if self._unconfirmed and (self._confirming is None or self._confirming.done()):
            self._confirming = asyncio.get_running_loop().create_task(self._confirm_gathered())
            self._tasks.add(self._confirming)
            self._confirming.add_done_callback(self._tasks.discard)

    async def _confirm_gathered(self) -> None:
        """Confirm what was published, every ``confirm_every_s``, until nothing is left to confirm."""
        while self._unconfirmed:
            if len(self._unconfirmed) < MAX_UNCONFIRMED:
                await asyncio.sleep(self._confirm_every_s)  # gathering the next batches' confirmations
            published, self._unconfirmed = self._unconfirmed, []
            try:  # the rest their hosts hand out again (a repeat, never a loss)
                await self._confirm(published)
            except Exception:
                log.exception("device commands: confirming %d failed (their hosts hand them out again)",
                              len(published))


async def _all_published(run: asyncio.Future) -> bool:
    """Whether an earlier chain to the same destination published all of its commands."""
    try:
        _published, ok = await asyncio.shield(run)
    except Exception:
        return False
    return ok
