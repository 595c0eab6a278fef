"""The MQTT bridge as a Ray actor: one process per bridge, its own uvloop thread, routing to the hosts.

The actor process only hosts the bridge: the bridge's event loop (uvloop) runs in a thread of its
own, and calls the host actors from there (a Ray call is awaitable from any asyncio loop) through its sink
(``actors/bridge_sink.py``: ``RaySink``, ``HostRegistry``).

If the bridge ends for any reason but :meth:`BridgeActor.stop`, the process exits: Ray starts the actor
again (``max_restarts``), and the new bridge resumes the broker sessions. A live process with a dead lane
would hold its share of the alarms and answer none of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time

import ray
import uvloop

from actors import heap
from actors.bridge_sink import HostRegistry, RaySink
from actors.directory import announce_start
from actors.engine_files import read_engine_files
from actors.mqtt_bridge import BridgeOptions, MqttBridge, run_until_stopped
from engine.placement import Placement
from protocols.replies import Notice
from protocols.topics import notice_topic

__all__ = ["EXIT_LANE_DIED", "BridgeActor", "HostRegistry", "RaySink", "bridge_actor_name"]

log = logging.getLogger(__name__)

EXIT_LANE_DIED = 70
"""The process's exit status when a lane died (EX_SOFTWARE): Ray restarts the actor."""


def bridge_actor_name(bridge_id: str, lanes: tuple[str, ...]) -> str:
    return f"bridge:{bridge_id}:{'+'.join(lanes)}"


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
        if self._options.bulk_nice and "alarm" not in self._options.lanes:
            with contextlib.suppress(OSError):  # on Linux, this thread only: the bridge's loop, not Ray's threads
                os.nice(self._options.bulk_nice)

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._bridge = MqttBridge(self._options, RaySink(self._placement, self._hosts),
                                      known_device=lambda d: self._placement.host_for_device(d) is not None)
            heap.settle()  # the placement and Ray's modules out of this process's full collections (alarm stalls)
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
            future.result(timeout=self._options.notice_timeout_s)
        except TimeoutError:
            future.cancel()
            raise TimeoutError(f"notice for {site_id} not published in {self._options.notice_timeout_s:g} s "
                               "(the bulk lane is not connected); post it again") from None

    def stop(self) -> None:
        self._stop_requested = True
        loop = self._loop
        if self._bridge is not None and loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._bridge.stop)
            except RuntimeError:  # the loop closed in between: the bridge has ended already
                pass
        self._thread.join(timeout=10.0)
