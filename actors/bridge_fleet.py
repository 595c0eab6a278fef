"""The engine's MQTT bridge processes: starting them on the shared subscription (near the driver), their
counters, the notices they publish, and stopping them."""

from __future__ import annotations

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.bridge_actor import BridgeActor, bridge_actor_name
from actors.engine_options import CALL_TIMEOUT_S, START_TIMEOUT_S
from actors.mqtt_bridge import BridgeOptions
from actors.ray_setup import stop_all
from protocols.endpoint import MqttEndpoint
from protocols.replies import Notice

MAX_REAPED_BRIDGES = 8
BRIDGE_RESTARTS = -1
"""A bridge whose lane dies exits and is started again, as often as it takes: a message that kills lanes is
dead-lettered the second time (``actors/dead_letters.py``), so no payload can make this a loop."""
BRIDGE_NUM_CPUS = 0.001
"""A sliver of a CPU per bridge process: Ray puts an actor that asks for no resource at all on a random node, whatever
its scheduling strategy, and the bridges belong on the driver's node (``start``)."""


class BridgeFleet:
    """The bridge processes of one engine. ``placement`` is what a bridge (re)starts from: the engine file's path,
    or an object reference to the placement."""

    def __init__(self, *, namespace: str, lifetime: str | None, state_dir: str | None) -> None:
        self.namespace, self.lifetime, self.state_dir = namespace, lifetime, state_dir
        self.handles: list[ray.actor.ActorHandle] = []

    def start(self, endpoint: MqttEndpoint, placement, *, count: int = 1, first_index: int = 0,
              alarm_process: bool = True, wait_connected_s: float = 30.0, **overrides) -> list:
        """Start ``count`` bridges, each its bulk lane in one process and (with ``alarm_process``) its alarm lane in
        another; bridge ``b0`` also carries device commands and notice boards (from its alarm lane's process) and posted
        notices (from its bulk lane's). Waits until every lane is connected, or
        raises ``ConnectionError`` with the broker's reasons."""
        lane_sets = [("evt",), ("alarm",)] if alarm_process else [("alarm", "evt")]
        # a fresh start ends the sessions of bridge ids beyond this run's (an earlier run had more bridges)
        reap = tuple(f"b{i}" for i in range(count, count + MAX_REAPED_BRIDGES)) if first_index == 0 else ()
        started = []
        # on the driver's node, softly (a bridge whose node is lost starts on another): a bridge on a lost node would
        # hold every precinct's alarms in its broker session until Ray declares the node dead and starts it again
        near_driver = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
        for index in range(first_index, first_index + count):
            for lanes in lane_sets:
                overrides.setdefault("state_dir", self.state_dir)
                # b0's commands leave from its alarm process (the bulk one is busy with the telemetry)
                commands = index == 0 and (not alarm_process or "alarm" in lanes)
                options = BridgeOptions(endpoint, bridge_id=f"b{index}", poll_commands=commands, lanes=lanes,
                                        reap_bridge_ids=reap if index == 0 and "evt" in lanes else (), **overrides)
                # a bridge process that dies comes back and resumes its session (its queued alarms with it)
                started.append(BridgeActor.options(
                    name=bridge_actor_name(options.bridge_id, lanes), namespace=self.namespace, get_if_exists=True,
                    lifetime=self.lifetime, num_cpus=BRIDGE_NUM_CPUS, max_restarts=BRIDGE_RESTARTS, max_concurrency=8,
                    scheduling_strategy=near_driver,
                ).remote(options, placement, self.namespace))
        ready = ray.get([b.wait_connected.remote(wait_connected_s) for b in started],
                        timeout=wait_connected_s + START_TIMEOUT_S)
        self.handles += started
        if not all(ready):
            stats = ray.get([b.statistics.remote() for b in started], timeout=CALL_TIMEOUT_S)
            reasons = sorted({lane["last_error"] for s in stats for lane in s["lanes"].values() if lane["last_error"]})
            raise ConnectionError(f"MQTT bridge could not connect to {endpoint!r} in {wait_connected_s:.0f} s: "
                                  + ("; ".join(reasons) or "no answer"))
        return started

    def stop(self) -> None:
        handles, self.handles = self.handles, []
        stop_all(handles, "bridge")

    def statistics(self) -> list[dict]:
        """One entry per bridge process: its id, CPU seconds and the counters of the lanes it runs. A bridge that
        is being restarted (its lane died) answers ``{"lanes": {}, "unavailable": reason}``."""
        refs = [b.statistics.remote() for b in self.handles]
        out = []
        for ref in refs:
            try:
                out.append(ray.get(ref, timeout=CALL_TIMEOUT_S))
            except (ray.exceptions.ActorUnavailableError, ray.exceptions.ActorDiedError) as exc:
                out.append({"lanes": {}, "unavailable": str(exc).splitlines()[0][:200]})
        return out

    def lane_statistics(self, lane: str) -> dict:
        """One lane's counters summed over every bridge process."""
        total: dict = {"processes": 0}
        for stats in self.statistics():
            total["processes"] += lane in stats["lanes"]
            for name, value in stats["lanes"].get(lane, {}).items():
                if isinstance(value, int) and not isinstance(value, bool):
                    total[name] = total.get(name, 0) + value
        return total

    def post_notice(self, site_id: str, notice: Notice) -> None:
        """A notice for a site's door screens, retained on its notice topic. Returns once the broker has it; raises
        if it could not be queued (full) or published in time (the bridge died, the broker is away): the caller
        knows it was not delivered and may post it again."""
        if not self.handles:
            raise RuntimeError("no MQTT bridge is running")
        ray.get(self.handles[0].post_notice.remote(site_id, notice), timeout=CALL_TIMEOUT_S)  # b0's bulk lane
