"""Engine → devices: the hosts' device commands and the door screens' notices, on the alarm lane's connection.

The commands leave on the connection of the alarm lane when this bridge process runs it (the engine's ``b0`` alarm
process: the bulk lane's process is saturated by the telemetry, and a command queued there waited seconds for its
PUBACK), else on the bulk lane's. They are published with a bounded window of QoS 1 publishes in flight, each
device's in order (``actors/command_window.py``). Device commands are confirmed to their host once published
(their PUBACK came); one that a dying bridge never published is handed out
again by its host. The hosts' site notice boards travel with the commands (a command with ``site`` set): each is
published retained on the site's notice topic (an empty payload clears it) and confirmed the same way, so a board is
never lost with a bridge. A notice posted directly (``Engine.post_notice``, the older path: no host, no receipts) is
published while its caller waits (:meth:`Outbound.publish_notice`), so a notice that did not reach the broker is an
error for the caller, not a silent loss; the site's host replaces it with its board at the board's next change.
"""

from __future__ import annotations

import asyncio
import logging

from actors.bridge_connection import pause
from actors.bridge_options import BridgeOptions, Sink
from actors.bridge_publisher import Publisher
from actors.command_window import CommandWindow
from protocols.replies import Notice, encode_command, encode_notice
from protocols.topics import Channel, device_topic, notice_topic

log = logging.getLogger("actors.mqtt_bridge")  # one logger for the whole bridge


class Outbound:
    def __init__(self, options: BridgeOptions, *, sink: Sink, publisher: Publisher, stopping: asyncio.Event) -> None:
        self.options = options
        self.sink = sink
        self.publisher = publisher
        self.stopping = stopping
        self.commands_sent = 0
        self.notices_sent = 0

    @property
    def lane(self) -> Channel:
        """The connection commands and notices leave on: the alarm lane's if this process runs it, else the bulk's."""
        return Channel.ALARM if Channel.ALARM.value in self.options.lanes else Channel.EVT

    async def commands(self) -> None:
        """Carry the hosts' device commands to ``rb/v1/dev/{id}/cmd`` the moment they are queued (the hosts hold
        a long poll), at most a window of them awaiting their PUBACK at once. Notices do not wait for a command:
        each is published by its caller (:meth:`publish_notice`)."""
        window = CommandWindow(self._publish_one, self.sink.confirm_device_commands)
        while not self.stopping.is_set():
            if self.publisher.clients.get(self.lane) is None:  # commands stay with their hosts until it is back
                await pause(self.stopping, self.options.command_poll_s)
                continue
            await window.room()  # at most a few batches on their way: the hosts keep the rest
            try:
                commands = await self.sink.take_device_commands(wait_s=self.options.command_wait_s)
            except Exception:
                log.exception("bridge %s: could not fetch device commands", self.options.bridge_id)
                await pause(self.stopping, self.options.command_poll_s)  # not in a tight loop
                continue
            await window.submit(commands)

    async def _publish_one(self, command) -> bool:
        """One command (or a site's notice board, retained), QoS 1: True once its PUBACK came."""
        client = self.publisher.clients.get(self.lane)
        if client is None:  # the connection went while the command waited: its host hands it out again
            return False
        if getattr(command, "site", ""):  # a site's notice board (``protocols/notices.py``), retained
            ok = await self.publisher.publish(client, notice_topic(command.site), command.args["board"], qos=1,
                                              retain=True)
            self.notices_sent += ok
            return ok
        payload = encode_command(command.command, dict(command.args), int(command.at_s * 1000),
                                 json=command.json)  # the device's own encoding, known to its host
        ok = await self.publisher.publish(client, device_topic(command.device_id, Channel.CMD), payload, qos=1)
        self.commands_sent += ok
        return ok

    async def publish_notice(self, site_id: str, notice: Notice) -> None:
        """Publish a notice for a site's door screens, retained (a screen that connects later gets it); returns once
        the broker has it. While the connection is away it waits for it: the caller bounds the wait."""
        topic = notice_topic(site_id)  # a bad id is refused before any waiting
        while True:
            client = self.publisher.clients.get(self.lane)
            if client is not None and await self.publisher.publish(client, topic, encode_notice(notice), qos=1,
                                                                   retain=True):
                self.notices_sent += 1
                return
            if self.stopping.is_set():
                raise RuntimeError(f"bridge {self.options.bridge_id} is stopping: notice for {site_id} not published")
            await asyncio.sleep(self.options.command_poll_s)  # waiting for the connection
