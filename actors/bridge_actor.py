"""The MQTT bridge as a Ray actor: one process per bridge, its own uvloop thread, routing to the hosts.

The actor process only hosts the bridge: the bridge's event loop (uvloop) runs in a thread of its
own, and calls the host actors from there (a Ray call is awaitable from any asyncio loop).

If the bridge ends for any reason but :meth:`BridgeActor.stop`, the process exits: Ray starts the actor
again (``max_restarts``), and the new bridge resumes the broker sessions. A live process with a dead lane
would hold its share of the alarms and answer none of them.

The sink finds the hosts by name in the engine's namespace (``host:<id>``), not by handles kept from birth, and
calls each host on its own: a host that is dead, restarting or cannot write its journal fails only its own part of
a batch (``IngestResult.not_taken``), which the bridge keeps and tries again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

import ray
import uvloop

from actors.directory import announce_start
from actors.engine_files import read_engine_files
from actors.host_actor import host_actor_name
from actors.mqtt_bridge import BridgeOptions, DeadLetter, MqttBridge, run_until_stopped
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
from protocols.replies import Notice
from protocols.topics import notice_topic

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 30.0
EXIT_LANE_DIED = 70
"""The process's exit status when a lane died (EX_SOFTWARE): Ray restarts the actor."""
HOST_CALL_TIMEOUT_S = 5.0
"""A host that has not answered a batch in this time is taken as down (hung, stopped, cut off): its part is kept and
offered again, and it is asked by one call at a time until it answers. A batch takes milliseconds."""
NOTICE_TIMEOUT_S = 10.0
COMMAND_LONG_POLL_S = 1.0
"""How long a host holds the bridge's device-command poll when it has none."""
HOST_DOWN_S = 0.5
"""A host whose call just failed is not asked again before this (its part of each batch is kept and retried at once)."""


def bridge_actor_name(bridge_id: str, lanes: tuple[str, ...]) -> str:
    return f"bridge:{bridge_id}:{'+'.join(lanes)}"


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
        self._down: dict[str, tuple[float, str]] = {}  # host → (not asked again before, why)
        self._probing: set[str] = set()

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
        down = self._down.get(host_id)
        if down is not None and (time.monotonic() < down[0] or host_id in self._probing):
            return IngestResult(0, 0, 0, [], list(batch), down[1])
        if down is not None:
            self._probing.add(host_id)
        try:
            result = await self._ingest_at(host_id, batch)
        except Exception as exc:  # noqa: BLE001 - dead, restarting, journal failing: kept by the bridge, retried
            reason = _reason(host_id, exc)
            self._down[host_id] = (time.monotonic() + HOST_DOWN_S, reason)
            return IngestResult(0, 0, 0, [], list(batch), reason)
        finally:
            self._probing.discard(host_id)
        self._down.pop(host_id, None)
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
        audit = AuditRow(row.at_s, f"bridge {row.bridge_id}", "message.dead_letter", row.device_id or row.topic,
                         "dead-lettered", f"{row.lane} lane",
                         f"{row.reason} | topic {row.topic} | payload {row.payload_head}")
        await asyncio.wait_for(self.hosts[CC_HOST].record_audit.remote([audit]), timeout=CALL_TIMEOUT_S)

    async def confirm_device_commands(self, commands: list) -> None:
        """Tell each host which of its commands are published (the others it hands out again)."""
        by_host: dict[str, list[int]] = {}
        for command in commands:
            host = self.placement.host_for_device(command.device_id)
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


@ray.remote
class BridgeActor:
    def __init__(self, options: BridgeOptions, placement: Placement | str, namespace: str | dict) -> None:
        """``placement``: or the path of the engine's files to take it from at every start; ``namespace``: where the
        hosts are named (a dict of handles instead: tests without names)."""
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        if isinstance(placement, str):
            placement = read_engine_files(placement)[2]
        logging.getLogger("mqtt").setLevel(logging.ERROR)  # aiomqtt counts pending publishes at every disconnect
        self._options = options
        self._placement = placement
        if isinstance(namespace, dict):
            self._hosts = HostRegistry(None, namespace)
        else:
            self._hosts = HostRegistry(namespace)
            announce_start(namespace, bridge_actor_name(options.bridge_id, options.lanes),
                           {"node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid()})
        self._bridge: MqttBridge | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()
        self._stop_requested = False
        self._thread = threading.Thread(target=self._main, name=f"bridge-{options.bridge_id}", daemon=True)
        self._thread.start()
        self._started.wait(timeout=10.0)

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._bridge = MqttBridge(self._options, RaySink(self._placement, self._hosts),
                                      known_device=lambda d: self._placement.host_for_device(d) is not None)
            self._started.set()
            await run_until_stopped(self._bridge)

        try:
            uvloop.run(main())
        except BaseException:
            log.exception("bridge %s stopped on an error", self._options.bridge_id)
        if not self._stop_requested:  # a lane died: the whole process goes, and Ray brings it back
            log.critical("bridge %s: a lane ended; exiting so that Ray restarts this bridge", self._options.bridge_id)
            logging.shutdown()
            os._exit(EXIT_LANE_DIED)

    def wait_connected(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._bridge is not None and self._bridge.connected:
                return True
            time.sleep(0.02)  # polling a flag another thread sets; bounded by the deadline
        return False

    def statistics(self) -> dict:
        return self._bridge.statistics() if self._bridge else {}

    def post_notice(self, site_id: str, notice: Notice) -> None:
        """Returns once the broker has the notice; raises if it could not be queued or published in time."""
        if self._bridge is None or self._loop is None or self._loop.is_closed():
            raise RuntimeError("bridge not running")
        notice_topic(site_id)  # a bad id is refused here, to the caller
        future = asyncio.run_coroutine_threadsafe(self._bridge.publish_notice(site_id, notice), self._loop)
        try:
            future.result(timeout=NOTICE_TIMEOUT_S)
        except TimeoutError:
            future.cancel()
            raise TimeoutError(f"notice for {site_id} not published in {NOTICE_TIMEOUT_S:.0f} s (the bulk lane is "
                               "not connected); post it again") from None

    def stop(self) -> None:
        self._stop_requested = True
        loop = self._loop
        if self._bridge is not None and loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._bridge.stop)
            except RuntimeError:  # the loop closed in between: the bridge has ended already
                pass
        self._thread.join(timeout=10.0)
