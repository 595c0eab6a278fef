"""The MQTT topic scheme, v1. A device's own topics carry only its id, so a broker ACL can say
``pattern write rb/v1/dev/%u/#``.

    rb/v1/dev/{device_id}/alarm    device → engine, alarm kinds and the urgent kinds, QoS 1, a connection of its own
    rb/v1/dev/{device_id}/evt      device → engine, every other kind (the urgent kinds too, for older devices)
    rb/v1/dev/{device_id}/ack      engine → device, ACK or NAK echoing ``seq``
    rb/v1/dev/{device_id}/cmd      engine → device, commands
    rb/v1/dev/{device_id}/state    retained ``online`` / ``offline`` (the device's Last Will)
    rb/v1/site/{site_id}/notice    retained notices for a site's door screens
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from protocols.errors import ProtocolError
from protocols.kinds import EventKind

PREFIX: Final = "rb/v1"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


class Channel(StrEnum):
    ALARM = "alarm"
    EVT = "evt"
    ACK = "ack"
    CMD = "cmd"
    STATE = "state"


class DeviceState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


INBOUND_CHANNELS: Final = frozenset({Channel.ALARM, Channel.EVT, Channel.STATE})


@dataclass(slots=True, frozen=True)
class DeviceTopic:
    device_id: str
    channel: Channel


def check_id(value: str, *, field: str) -> str:
    """Ids go into topics: no ``/``, ``+``, ``#`` or spaces, at most 64 characters."""
    if not _ID.fullmatch(value):  # not match(): "$" would let a trailing newline through
        raise ProtocolError(field, f"invalid id {value!r}: letters, digits and _.:- only, 1-64 characters")
    return value


def device_topic(device_id: str, channel: Channel) -> str:
    return f"{PREFIX}/dev/{check_id(device_id, field='device_id')}/{channel.value}"


def notice_topic(site_id: str) -> str:
    return f"{PREFIX}/site/{check_id(site_id, field='site_id')}/notice"


def subscription(channel: Channel, *, share_group: str | None = None) -> str:
    """The wildcard subscription for one inbound channel, optionally as an MQTT v5 shared subscription."""
    topic = f"{PREFIX}/dev/+/{channel.value}"
    return f"$share/{share_group}/{topic}" if share_group else topic


def parse_device_topic(topic: str) -> DeviceTopic:
    parts = topic.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != PREFIX or parts[2] != "dev":
        raise ProtocolError("topic", f"not a device topic: {topic!r}")
    try:
        channel = Channel(parts[4])
    except ValueError:
        raise ProtocolError("topic", f"unknown channel {parts[4]!r}") from None
    return DeviceTopic(check_id(parts[3], field="topic"), channel)


def channel_for(kind: EventKind) -> Channel:
    """Where a message of this kind travels: alarms and the urgent kinds (a person waits at a door,
    ``EventKind.is_urgent``) on the alarm topic, ahead of the telemetry; everything else on the event topic."""
    return Channel.ALARM if kind.is_alarm or kind.is_urgent else Channel.EVT


def check_kind_on_channel(kind: EventKind, channel: Channel) -> None:
    """Refuse an alarm on the event topic (it would queue behind telemetry) and a non-urgent event on the alarm
    lane; an urgent kind is accepted on either (the event topic: devices built before the fast path)."""
    if kind.is_urgent and channel in (Channel.ALARM, Channel.EVT):
        return
    expected = channel_for(kind)
    if channel is not expected:
        raise ProtocolError("kind", f"{kind.value} must be published on the {expected.value} topic, not {channel.value}")


MAX_BRIDGES: Final = 16
"""Bridge ids ``b0`` … ``b15``: the broker's ACL names each bridge's probe topics literally."""


def bridge_tag(secret: str) -> str:
    """A tag nobody guesses without the bridge's password: it names the bridge's share group and client ids,
    so a device cannot join the group or take a bridge's client id by reading the docs."""
    return hashlib.blake2b(secret.encode(), digest_size=6, person=b"redband-bridge").hexdigest()


def bridge_share_group(secret: str) -> str:
    return f"rb-{bridge_tag(secret)}"


def bridge_client_id(secret: str, bridge_id: str, lane: str) -> str:
    return f"redband-{bridge_tag(secret)}-{bridge_id}-{lane}"


def probe_device_id(bridge_id: str) -> str:
    """The pseudo-device whose alarms a bridge sends itself through its share group to count who takes them."""
    return f"redband-probe-{bridge_id}"


def probe_answer_topic(bridge_id: str) -> str:
    """Where the bridge lane that took a probe answers: a topic of the bridges' own, not a device's ack topic
    (whoever reads every ack, a load generator say, would meet a message that is not an ack)."""
    return f"{PREFIX}/bridge/{check_id(bridge_id, field='bridge_id')}/probe"
