"""The bridge's sink on Ray: each batch to the hosts that own its devices, each host on its own; commands back.

The sink finds the hosts by name in the engine's namespace (``host:<id>``, :class:`HostRegistry`), not by handles
kept from birth, and calls each host on its own: a host that is dead, restarting or cannot write its journal fails
only its own part of a batch (``IngestResult.not_taken``), which the bridge keeps and tries again. A host whose call
just failed is marked down (:class:`DownHosts`, pure) and given its part back at once for a while, instead of
making every batch wait seconds for a call to fail.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import ray

from actors.bridge_options import DeadLetter
from actors.host_actor import host_actor_name
from actors.routing import merge_results, split_by_host, states_by_host
from engine.journal import AuditRow
from engine.placement import CC_HOST, Placement
from protocols.batch import (
    Ingest,
    IngestResult,
    StateChange,
    decode_result,
    encode_ingest,
    encode_states,
)

log = logging.getLogger("actors.bridge_actor")  # the sink logs as the bridge actor did

CALL_TIMEOUT_S = 30.0
HOST_CALL_TIMEOUT_S = 5.0
"""A host that has not answered a batch in this time is taken as down (hung, stopped, cut off): its part is kept and
offered again, and it is asked by one call at a time until it answers. A batch takes milliseconds."""
COMMAND_LONG_POLL_S = 1.0
"""How long a host holds the bridge's device-command poll when it has none."""
HOST_DOWN_S = 0.5
"""A host whose call just failed is not asked again before this (its part of each batch is kept and retried at once)."""


class DownHosts:
    """Which hosts just failed a call: each is not asked again for ``down_for_s``, and then by one call at a time
    (a probe) until one answers. Pure: the clock is injected."""

    def __init__(self, *, down_for_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.down_for_s = down_for_s
        self.clock = clock
        self._down: dict[str, tuple[float, str]] = {}  # host → (not asked again before, why)
        self._probing: set[str] = set()

    def refusal(self, host_id: str) -> str | None:
        """Why ``host_id`` is not to be asked now; None: ask it (if it was down, this call is its probe)."""
        down = self._down.get(host_id)
        if down is not None and (self.clock() < down[0] or host_id in self._probing):
            return down[1]
        if down is not None:
            self._probing.add(host_id)
        return None

    def failed(self, host_id: str, reason: str) -> None:
        self._down[host_id] = (self.clock() + self.down_for_s, reason)

    def answered(self, host_id: str) -> None:
        self._down.pop(host_id, None)

    def settled(self, host_id: str) -> None:
        """The call asked after :meth:`refusal` returned None has ended, however it ended."""
        self._probing.discard(host_id)


class HostRegistry:
    """Host handles by name in the engine's namespace, looked up when first needed. A handle stays good across the
    host's restarts (Ray keeps the actor's identity); ``handles``, when given, are used as they are (tests)."""

    def __init__(self, namespace: str | None, handles: dict | None = None) -> None:
        self.namespace = namespace
        self._handles = dict(handles or {})

    def __getitem__(self, host_id: str):
        handle = self._handles.get(host_id)
        if handle is None:
            if self.namespace is None:
                raise KeyError(host_id)
            try:
                handle = self._handles[host_id] = ray.get_actor(host_actor_name(host_id), namespace=self.namespace)
            except ValueError:
                raise LookupError(f"host {host_id} is not running (no actor {host_actor_name(host_id)!r} in "
                                  f"namespace {self.namespace!r})") from None
        return handle


class RaySink:
    """Send each batch to the hosts that own its devices, all hosts at once, each on its own."""

    def __init__(self, placement: Placement, hosts: HostRegistry) -> None:
        self.placement = placement
        self.hosts = hosts
        self._command_polls: dict[str, asyncio.Future] = {}
        self._down = DownHosts(down_for_s=HOST_DOWN_S)

    async def ingest(self, items: list[Ingest]) -> IngestResult:
        """The hosts' answers; what a host did not answer for (dead, restarting, its journal failing, overloaded)
        comes back in ``not_taken`` with the reason, and nothing of it was kept."""
        by_host, refused = split_by_host(self.placement, items)
        hosts = list(by_host)
        answers = await asyncio.gather(*(self._ingest_at(h, by_host[h]) for h in hosts), return_exceptions=True)
        results, not_taken, reasons = [], [], []
        for host_id, answer in zip(hosts, answers):
            if isinstance(answer, BaseException):
                not_taken += by_host[host_id]
                reasons.append(_reason(host_id, answer))
            else:
                results.append(answer)
        merged = merge_results(results, refused)
        if not not_taken:
            return merged
        return IngestResult(merged.accepted, merged.duplicates, merged.refused, merged.acks, not_taken,
                            "; ".join(reasons)[:300])

    def ingest_parts(self, items: list[Ingest]) -> list:
        """The batch split by host: one awaitable answer per host (and one for devices no host owns), each never
        raising (what its host did not take comes back in ``not_taken``)."""
        by_host, refused = split_by_host(self.placement, items)
        parts = [self._part(host_id, batch) for host_id, batch in by_host.items()]
        if refused:
            parts.append(_ready(merge_results([], refused)))
        return parts

    async def _part(self, host_id: str, batch: list[Ingest]) -> IngestResult:
        """A host that just failed is not asked again for ``HOST_DOWN_S``, and then by one call at a time: the others
        get their part back at once (kept and retried by the bridge) instead of waiting seconds for a call to fail."""
        refusal = self._down.refusal(host_id)
        if refusal is not None:
            return IngestResult(0, 0, 0, [], list(batch), refusal)
        try:
            result = await self._ingest_at(host_id, batch)
        except Exception as exc:  # noqa: BLE001 - dead, restarting, journal failing: kept by the bridge, retried
            reason = _reason(host_id, exc)
            self._down.failed(host_id, reason)
            return IngestResult(0, 0, 0, [], list(batch), reason)
        finally:
            self._down.settled(host_id)
        self._down.answered(host_id)
        return result

    async def _ingest_at(self, host_id: str, batch: list[Ingest]) -> IngestResult:
        payload = await asyncio.wait_for(self.hosts[host_id].ingest.remote(encode_ingest(batch)),
                                         timeout=HOST_CALL_TIMEOUT_S)
        return decode_result(payload)

    async def states(self, states: list[StateChange]) -> None:
        by_host = states_by_host(self.placement, states)
        answers = await asyncio.gather(
            *(asyncio.wait_for(self.hosts[h].device_states.remote(encode_states(batch)), timeout=CALL_TIMEOUT_S)
              for h, batch in by_host.items()), return_exceptions=True)
        failed = [_reason(h, a) for h, a in zip(by_host, answers) if isinstance(a, BaseException)]
        if failed:
            raise RuntimeError(f"device states not taken: {'; '.join(failed)}")

    async def dead_letter(self, row: DeadLetter) -> None:
        """Into the command center's journal, as an audit row the command center's console shows."""
        audit = AuditRow(row.at_s, f"bridge {row.bridge_id}", "system", "", "message.dead_letter",
                         row.device_id or row.topic, "dead-lettered",
                         f"{row.reason} | {row.lane} lane | topic {row.topic} | payload {row.payload_head}")
        await asyncio.wait_for(self.hosts[CC_HOST].record_audit.remote([audit]), timeout=CALL_TIMEOUT_S)

    async def confirm_device_commands(self, commands: list) -> None:
        """Tell each host which of its commands are published (the others it hands out again)."""
        by_host: dict[str, list[int]] = {}
        for command in commands:
            site = getattr(command, "site", "")  # a site's notice board: its host holds the site
            host = self.placement.host_of_site.get(site) if site else self.placement.host_for_device(command.device_id)
            if host is not None and command.number:
                by_host.setdefault(host, []).append(command.number)
        await asyncio.gather(*(asyncio.wait_for(self.hosts[h].confirm_device_commands.remote(numbers),
                                                timeout=CALL_TIMEOUT_S) for h, numbers in by_host.items()),
                             return_exceptions=True)  # a host that restarted has forgotten them anyway

    async def take_device_commands(self, wait_s: float = 0.0) -> list:
        """Device commands from every host; with ``wait_s``, as soon as one host has any (each host holds a long
        poll, ``HostActor.wait_device_commands``), or none after ``wait_s``."""
        host_ids = self.placement.hosts
        if wait_s <= 0:
            lists = await asyncio.wait_for(
                asyncio.gather(*(self.hosts[h].take_device_commands.remote() for h in host_ids)),
                timeout=CALL_TIMEOUT_S)
            return [c for commands in lists for c in commands]
        for host_id in host_ids:
            if host_id not in self._command_polls:
                self._command_polls[host_id] = asyncio.ensure_future(self._command_poll(host_id))
        done, _ = await asyncio.wait(self._command_polls.values(), timeout=wait_s,
                                     return_when=asyncio.FIRST_COMPLETED)
        commands = []
        for host_id, task in list(self._command_polls.items()):
            if task not in done:
                continue
            del self._command_polls[host_id]
            try:
                commands += task.result()
            except Exception as exc:  # a host restarting: polled again (it hands out again what it did not hear of)
                log.warning("bridge: the device-command poll of host %s failed (%s); polling again", host_id,
                            str(exc).splitlines()[0][:160])
        return commands

    async def _command_poll(self, host_id: str) -> list:
        try:
            return await asyncio.wait_for(self.hosts[host_id].wait_device_commands.remote(COMMAND_LONG_POLL_S),
                                          timeout=COMMAND_LONG_POLL_S + HOST_CALL_TIMEOUT_S)
        except Exception:
            await asyncio.sleep(HOST_DOWN_S)  # a host restarting fails at once: not polled in a tight loop
            raise


async def _ready(result: IngestResult) -> IngestResult:
    return result


def _reason(host_id: str, exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"host {host_id} did not answer in {CALL_TIMEOUT_S:.0f} s"
    text = str(exc).strip().splitlines()
    cause = getattr(exc, "cause", None)  # a RayTaskError carries the host's own exception
    if cause is not None:
        text = str(cause).strip().splitlines()
    return f"host {host_id}: {type(cause or exc).__name__}: {text[-1] if text else ''}"[:200]
