"""The MQTT bridge: devices on the broker ↔ the engine's hosts; this module puts its parts together and runs them.

An alarm lane and a bulk lane, each its own MQTT v5 connection, batcher and in-flight budget, so an alarm never
waits behind positions or heartbeats. The bridge knows nothing of Ray: the sink does the routing
(``actors/bridge_sink.py``, in the process of ``actors/bridge_actor.py``). Its parts, one job each:

    bridge_options.py    BridgeOptions, the Sink protocol, the DeadLetter row
    bridge_connection.py a lane's client, subscriptions, reconnect backoff, reaping old sessions
    bridge_lane.py       InboundLane: read, check and batch a lane's messages; dead letters
    bridge_wire_lane.py  WireLane: the bulk lane on the bridge's own receive path (bridge_wire.py, BufferedProtocol)
    bridge_delivery.py   Delivery: a batch to the hosts, their answers to the devices, retry of what was not taken
    engine/retry_buffer.py  RetryBuffer: the kept alarms and reports and their backoff (pure)
    bridge_probe.py      ShareGroupProbe: is every member of the share group a running bridge?
    bridge_outbound.py   Outbound: device commands (confirmed to their hosts) and notices
    command_window.py    CommandWindow: commands published a bounded window at a time, each device's in order
    bridge_publisher.py  Publisher: publishing on the live connections, the bounded background publishes
    bridge_stats.py      LaneStats and the bridge's report

Every queue is bounded. No payload stops a lane; a lane that dies anyway ends :meth:`MqttBridge.run`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from actors.bridge_connection import SubscriptionRefused, backoff_s, reap_sessions, share_group
from actors.bridge_delivery import Delivery
from actors.bridge_lane import YIELD_EVERY, InboundLane
from actors.bridge_wire_lane import WireLane
from actors.bridge_options import BridgeOptions, DeadLetter, Sink
from actors.bridge_outbound import Outbound
from actors.bridge_probe import ShareGroupProbe
from actors.bridge_publisher import MAX_PENDING_NAKS, Publisher
from actors.bridge_stats import LaneStats, bridge_statistics
from actors.dead_letters import DeadLetters, default_state_dir
from protocols.replies import Notice
from protocols.topics import Channel, subscription

__all__ = [
    "MAX_PENDING_NAKS",
    "YIELD_EVERY",
    "BridgeOptions",
    "DeadLetter",
    "LaneStats",
    "MqttBridge",
    "Sink",
    "SubscriptionRefused",
    "backoff_s",
    "run_until_stopped",
]


class MqttBridge:
    def __init__(self, options: BridgeOptions, sink: Sink, *, known_device=None) -> None:
        self.options = options
        self.sink = sink
        self.known_device = known_device
        self.stats = {Channel(lane): LaneStats() for lane in options.lanes}
        self._stopping = asyncio.Event()
        self._queues: dict[Channel, asyncio.Queue] = {}
        self._publisher = Publisher(options)
        self._outbound = Outbound(options, sink=sink, publisher=self._publisher, stopping=self._stopping)
        self._probe = (ShareGroupProbe(options, group=self._group, stats=self.stats[Channel.ALARM],
                                       publisher=self._publisher, stopping=self._stopping)
                       if Channel.ALARM in self.stats else None)
        state_dir = Path(options.state_dir) if options.state_dir else default_state_dir()
        self._delivery: dict[Channel, Delivery] = {}
        self._lanes: dict[Channel, InboundLane] = {}
        for lane, stats in self.stats.items():
            self._delivery[lane] = Delivery(lane, options, sink=sink, stats=stats, publisher=self._publisher,
                                            stopping=self._stopping)
            receive = options.alarm_receive if lane is Channel.ALARM else options.bulk_receive
            lane_class = WireLane if receive == "wire" else InboundLane
            self._lanes[lane] = lane_class(
                lane, self._topics(lane), options, sink=sink, stats=stats, publisher=self._publisher,
                delivery=self._delivery[lane],
                dead_letters=DeadLetters(state_dir / f"bridge-{options.bridge_id}-{lane.value}.json"),
                queues=self._queues, stopping=self._stopping,
                probe=self._probe if lane is Channel.ALARM else None, known_device=known_device)

    def _topics(self, lane: Channel) -> list[str]:
        if lane is Channel.ALARM:
            topics = [subscription(Channel.ALARM, share_group=self._group)]
            if self._probing:
                topics.append(self._probe.answer_topic)
            return topics
        return [subscription(Channel.EVT, share_group=self._group),
                subscription(Channel.STATE, share_group=self._group)]

    # -- life --------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run both lanes (and the command poller, on the alarm lane's connection if this process has it) until
        :meth:`stop`."""
        if self.options.reap_bridge_ids:
            await reap_sessions(self.options, self.options.reap_bridge_ids)
        async with asyncio.TaskGroup() as tasks:
            if Channel.ALARM in self.stats:
                tasks.create_task(self._lanes[Channel.ALARM].run(), name="alarm-lane")
                tasks.create_task(self._delivery[Channel.ALARM].retry_not_taken(), name="alarm-retry")
                if self.options.poll_commands:  # commands leave on the alarm connection: not behind the telemetry
                    tasks.create_task(self._outbound.commands(), name="device-commands")
                if self._probing:
                    tasks.create_task(self._probe.run(), name="share-group-probe")
            if Channel.EVT in self.stats:
                tasks.create_task(self._lanes[Channel.EVT].run(), name="bulk-lane")
                tasks.create_task(self._delivery[Channel.EVT].retry_not_taken(), name="bulk-retry")
                if self.options.poll_commands and Channel.ALARM not in self.stats:  # a bulk-only bridge process
                    tasks.create_task(self._outbound.commands(), name="device-commands")
            tasks.create_task(self._stop_all_on_request())

    def stop(self) -> None:
        self._stopping.set()

    @property
    def connected(self) -> bool:
        return all(s.connected for s in self.stats.values())

    @property
    def _group(self) -> str | None:
        return share_group(self.options)

    @property
    def _probing(self) -> bool:
        return self._probe is not None and self.options.probe_interval_s > 0 and self._group is not None

    async def _stop_all_on_request(self) -> None:
        await self._stopping.wait()
        raise _Stopped

    # -- engine → devices, figures -----------------------------------------------------------------

    async def publish_notice(self, site_id: str, notice: Notice) -> None:
        """Publish a notice for a site's door screens, retained; returns once the broker has it (see ``Outbound``)."""
        await self._outbound.publish_notice(site_id, notice)

    @property
    def commands_sent(self) -> int:
        return self._outbound.commands_sent

    @property
    def notices_sent(self) -> int:
        return self._outbound.notices_sent

    @property
    def naks_dropped(self) -> int:
        return self._publisher.naks_dropped

    def statistics(self) -> dict:
        return bridge_statistics(self.options.bridge_id, self.stats, self._queues, commands_sent=self.commands_sent,
                                 notices_sent=self.notices_sent, naks_dropped=self.naks_dropped)


class _Stopped(Exception):
    pass


async def run_until_stopped(bridge: MqttBridge) -> None:
    try:
        await bridge.run()
    except* _Stopped:
        pass
