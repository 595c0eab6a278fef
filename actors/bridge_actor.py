"""The MQTT bridge as a Ray actor: one process per bridge, its own uvloop thread, routing to the hosts.

The actor process only hosts the bridge: the bridge's event loop (uvloop) runs in a thread of its
own, and calls the host actors from there (a Ray call is awaitable from any asyncio loop).

If the bridge ends for any reason but :meth:`BridgeActor.stop`, the process exits: Ray starts the actor
again (``max_restarts``), and the new bridge resumes the broker sessions. A live process with a dead lane
would hold its share of the alarms and answer none of them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

import ray
import uvloop

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
COMMAND_LONG_POLL_S = 1.0
"""How long a host holds the bridge's device-command poll when it has none."""


class RaySink:
    """Send each batch to the hosts that own its devices, all hosts at once."""

    def __init__(self, placement: Placement, hosts: dict) -> None:
        self.placement = placement
        self.hosts = hosts
        self._command_polls: dict[str, asyncio.Future] = {}

    async def ingest(self, items: list[Ingest]) -> IngestResult:
        by_host, refused = split_by_host(self.placement, items)
        payloads = await asyncio.wait_for(
            asyncio.gather(*(self.hosts[h].ingest.remote(encode_ingest(batch)) for h, batch in by_host.items())),
            timeout=CALL_TIMEOUT_S)
        return merge_results((decode_result(p) for p in payloads), refused)

    async def states(self, states: list[StateChange]) -> None:
        by_host = states_by_host(self.placement, states)
        await asyncio.wait_for(asyncio.gather(
            *(self.hosts[h].device_states.remote(encode_states(batch)) for h, batch in by_host.items())),
            timeout=CALL_TIMEOUT_S)

    async def dead_letter(self, row: DeadLetter) -> None:
        """Into the command center's journal, as an audit row the command center's console shows."""
        audit = AuditRow(row.at_s, f"bridge {row.bridge_id}", "message.dead_letter", row.device_id or row.topic,
                         "dead-lettered", f"{row.lane} lane",
                         f"{row.reason} | topic {row.topic} | payload {row.payload_head}")
        await asyncio.wait_for(self.hosts[CC_HOST].record_audit.remote([audit]), timeout=CALL_TIMEOUT_S)

    async def take_device_commands(self, wait_s: float = 0.0) -> list:
        """Device commands from every host; with ``wait_s``, as soon as one host has any (each host holds a long
        poll, ``HostActor.wait_device_commands``), or none after ``wait_s``."""
        if wait_s <= 0:
            lists = await asyncio.wait_for(
                asyncio.gather(*(h.take_device_commands.remote() for h in self.hosts.values())), timeout=CALL_TIMEOUT_S)
            return [c for commands in lists for c in commands]
        for host_id, handle in self.hosts.items():
            if host_id not in self._command_polls:
                self._command_polls[host_id] = asyncio.ensure_future(
                    handle.wait_device_commands.remote(COMMAND_LONG_POLL_S))
        done, _ = await asyncio.wait(self._command_polls.values(), timeout=wait_s,
                                     return_when=asyncio.FIRST_COMPLETED)
        commands = []
        for host_id, task in list(self._command_polls.items()):
            if task not in done:
                continue
            del self._command_polls[host_id]
            try:
                commands += task.result()
            except Exception:  # a host restarted: its next poll goes to the new handle
                log.warning("bridge: the device-command poll of host %s failed; polling again", host_id)
        return commands


@ray.remote
class BridgeActor:
    def __init__(self, options: BridgeOptions, placement: Placement, hosts: dict) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("mqtt").setLevel(logging.ERROR)  # aiomqtt counts pending publishes at every disconnect
        self._options = options
        self._placement = placement
        self._hosts = hosts
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

    def set_hosts(self, hosts: dict) -> None:
        """A host was restarted: route to its new handle."""
        self._hosts.update(hosts)  # the sink holds this same dict

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
        if self._bridge is None or self._loop is None:
            raise RuntimeError("bridge not started")
        notice_topic(site_id)  # a bad id is refused here, to the caller
        self._loop.call_soon_threadsafe(self._bridge.post_notice, site_id, notice)

    def stop(self) -> None:
        self._stop_requested = True
        if self._bridge is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._bridge.stop)
        self._thread.join(timeout=10.0)
