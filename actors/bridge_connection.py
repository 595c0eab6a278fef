"""The bridge's MQTT connections: how a lane's client is made, subscribes and is retried, and old sessions reaped.

Sessions are persistent (clean start off, a session expiry), so QoS 1 alarms published while the bridge was away
are delivered when it is back; every connect subscribes again; a lost connection is retried after
``uniform(0, min(cap, 1.5 ** min(10, attempt)))`` seconds (:func:`backoff_s`). The group and the client ids
(``redband-<tag>-b0-alarm``) carry a tag derived from the bridge's password (``protocols.topics.bridge_tag``): the
broker's ACL lets only the bridge subscribe to that group, and a device cannot guess the ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from actors.bridge_options import BridgeOptions
from protocols.endpoint import NO_DELAY
from protocols.topics import Channel, bridge_client_id, bridge_share_group

log = logging.getLogger("actors.mqtt_bridge")

RECEIVE_MAXIMUM = 1000
MAX_INFLIGHT = 128
"""QoS 1 publishes a lane's client has awaiting their PUBACK (paho's default is 20, beyond which it queues them):
room for the device commands' window (64, ``actors/command_window.py``) beside the acks; the engine's broker
takes 200 (``engine/mqtt_provision.py``: its receive maximum; paho does not read it, so keep this below it)."""


def backoff_s(attempt: int, *, cap_s: float, rng: random.Random = random._inst) -> float:  # type: ignore[attr-defined]
    """Full jitter, capped: ``uniform(0, min(cap, 1.5 ** min(10, attempt)))``."""
    return rng.uniform(0.0, min(cap_s, 1.5 ** min(10, attempt)))


async def pause(stopping: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less if the bridge is stopping."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), timeout=seconds)


def share_group(options: BridgeOptions) -> str | None:
    """The lanes' share group: derived from the password unless the options name one; None: no shared subscription."""
    group = options.share_group
    if group is None:
        return bridge_share_group(options.endpoint.password or "")
    return group or None


def client_identifier(options: BridgeOptions, bridge_id: str, lane: Channel) -> str:
    return bridge_client_id(options.endpoint.password or "", bridge_id, lane.value)


def lane_client(options: BridgeOptions, lane: Channel, queues: dict[Channel, asyncio.Queue]) -> aiomqtt.Client:
    """A lane's client: persistent session, no Nagle, bounded queues (the incoming one recorded in ``queues``)."""
    o = options
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = o.session_expiry_s
    props.ReceiveMaximum = RECEIVE_MAXIMUM
    return aiomqtt.Client(
        o.endpoint.host, o.endpoint.port, username=o.endpoint.username, password=o.endpoint.password,
        identifier=client_identifier(o, o.bridge_id, lane), protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=False, properties=props, socket_options=NO_DELAY, keepalive=o.keepalive_s,
        timeout=o.connect_timeout_s, queue_type=recording_queue(queues, lane),
        max_queued_incoming_messages=o.max_queued_messages, max_queued_outgoing_messages=o.max_queued_messages,
        max_inflight_messages=MAX_INFLIGHT,
    )


def recording_queue(queues: dict, lane: Channel) -> type[asyncio.Queue]:
    """aiomqtt makes its incoming queue from a class we may choose: this one lets the lane see it, so a
    batch takes what is already waiting without one wake-up per message."""

    class LaneQueue(asyncio.Queue):
        def __init__(self, maxsize: int = 0) -> None:
            super().__init__(maxsize)
            self.overflowed = 0
            queues[lane] = self

        def put_nowait(self, item) -> None:
            try:
                super().put_nowait(item)
            except asyncio.QueueFull:  # aiomqtt discards the message; we count it
                self.overflowed += 1
                raise

    return LaneQueue


async def subscribe(client: aiomqtt.Client, topics: list[str], *, timeout_s: float) -> None:
    """Subscribe each topic; a topic the broker does not grant raises :class:`SubscriptionRefused`."""
    for topic in topics:
        granted = await client.subscribe(topic, options=subscribe_options(topic), timeout=timeout_s)
        check_granted(topic, granted)


def subscribe_options(topic: str) -> SubscribeOptions:
    """QoS 1; retained messages: a device's last ``state`` once, when the subscription is new (its Will, say, while
    the engine was away), and never on the alarm and event topics (a retained alarm is not a new alarm; Mosquitto
    2.0.11 hands retained messages to a shared subscription at every SUBSCRIBE, so at every reconnect)."""
    handling = (SubscribeOptions.RETAIN_SEND_IF_NEW_SUB if topic.endswith(f"/{Channel.STATE.value}")
                else SubscribeOptions.RETAIN_DO_NOT_SEND)
    return SubscribeOptions(qos=1, retainHandling=handling)


class SubscriptionRefused(aiomqtt.MqttError):
    """The broker did not grant a lane's subscription: the lane would wait for messages that never come."""


def check_granted(topic: str, granted) -> None:
    for code in granted:
        value = getattr(code, "value", code)
        if value >= 0x80:
            name = getattr(code, "getName", lambda: str(value))()
            raise SubscriptionRefused(f"the broker refused the subscription {topic!r}: {name} ({value}); is the "
                                      "bridge user the one `redband mqtt-config` made for this broker?")


async def reap_sessions(options: BridgeOptions, bridge_ids: tuple[str, ...]) -> None:
    """End the sessions of bridges that are gone: connect as each with clean start and no expiry."""
    o = options
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0
    for bridge_id in bridge_ids:
        for lane in (Channel.ALARM, Channel.EVT):
            identifier = client_identifier(o, bridge_id, lane)
            try:
                async with aiomqtt.Client(o.endpoint.host, o.endpoint.port, username=o.endpoint.username,
                                          password=o.endpoint.password, identifier=identifier,
                                          protocol=aiomqtt.ProtocolVersion.V5, clean_start=True,
                                          properties=props, timeout=o.connect_timeout_s):
                    pass
            except aiomqtt.MqttError as exc:  # the lanes will meet the same broker trouble and report it
                log.warning("bridge %s: could not end the session of %s: %s", o.bridge_id, identifier, exc)
                return
