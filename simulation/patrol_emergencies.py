"""Emergencies during a patrol plan: P1 alarms raised near volunteers on patrol, so the engine's automatic offer
goes to a phone. Pure and deterministic from the plan.

Emergency ``i`` of ``n`` is due at ``start + period × (i + ½) / n``. It goes to the patrol under way then — started
at least ``settle_s`` before (its phone has sent fresh fixes) and going on for at least ``ahead_s`` — whose
volunteer's home lies nearest an alarm device of its precinct (within ``near_m``, else a minute later): a school's
panic box (``school.panic``) and a kiosk (``kiosk.sos``) in turn when both are near enough, each device once. An
alarm device the engine has heard from is supervised, so from its alarm on it heartbeats as a healthy device does
(on the delivery grid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.city_model import City, Device
from engine.hosting.config import HostConfig
from engine.patrol.geo import haversine_m
from engine.policy import PolicySet
from protocols import DeviceKind, EventKind
from protocols.device import DeviceMessage, make_message
from simulation.heartbeats import heartbeat_period_s

ALARM_OF = {EventKind.SCHOOL_PANIC: DeviceKind.PANIC_BOX, EventKind.KIOSK_SOS: DeviceKind.KIOSK}
KINDS = tuple(ALARM_OF)


@dataclass(frozen=True, slots=True)
class Emergency:
    at_s: float
    device_id: str
    kind: EventKind
    precinct_id: str
    near_phone: str
    """The phone on patrol the alarm was placed near (the engine offers it to the nearest available unit)."""


def plan_emergencies(city: City, patrols, *, count: int, start_s: float, period_s: float, settle_s: float = 120.0,
                     ahead_s: float = 300.0, near_m: float = 1500.0) -> list[Emergency]:
    """``patrols``: ``(started_s, duration_s, phone Device)`` of every planned patrol. Raises ``ValueError`` when an
    emergency finds no patrol under way near an alarm device of its precinct."""
    patrols = sorted(patrols, key=lambda p: p[0])
    alarms = [d for d in city.devices.values() if d.kind in ALARM_OF.values()]
    used: set[str] = set()
    out = []
    for i in range(count):
        due_s = start_s + period_s * (i + 0.5) / count
        found = None
        for shift in range(0, int(period_s), 60):  # the first minute from the due time with a patrol near an alarm
            t = due_s + shift
            if t > start_s + period_s:
                break
            pairs = [(haversine_m(d.lat, d.lon, phone.lat, phone.lon), d.id, phone) for s, length, phone in patrols
                     if s + settle_s <= t <= s + length - ahead_s for d in alarms
                     if d.precinct_id == phone.precinct_id and d.id not in used]
            wanted = [p for p in pairs if city.devices[p[1]].kind is ALARM_OF[KINDS[i % 2]]]
            for some in (wanted, pairs):  # a panic box and a kiosk in turn, when one is near enough
                if some and (best := min(some, key=lambda p: (p[0], p[1])))[0] <= near_m:
                    found = (t, best)
                    break
            if found is not None:
                break
        if found is None:
            raise ValueError(f"emergency {i + 1}: no patrol under way within {near_m:g} m of an alarm device "
                             f"from {due_s:g} s")
        at_s, (_, device_id, phone) = found
        device = city.devices[device_id]
        kind = next(k for k, v in ALARM_OF.items() if v is device.kind)
        used.add(device_id)
        out.append(Emergency(at_s, device_id, kind, phone.precinct_id, phone.id))
    return out


def emergency_messages(emergency: Emergency, city: City, policies: PolicySet, *, end_s: float,
                       step_s: float) -> list[tuple[float, str, DeviceMessage]]:
    """The alarm, then the device's heartbeats until ``end_s`` (every period rounded down to the delivery step)."""
    device = city.devices[emergency.device_id]
    data = {"zone": "main gate"} if emergency.kind is EventKind.SCHOOL_PANIC else {}
    out = [(emergency.at_s, device.id, make_message(emergency.kind, seq=1, ts=round(emergency.at_s * 1000),
                                                     data=data))]
    config = HostConfig("sim")
    period = heartbeat_period_s(device, policies, interval_s=config.heartbeat_interval_s,
                                misses=config.heartbeat_misses)
    if step_s:
        period = max(step_s, math.floor(period / step_s) * step_s)
    t, seq = emergency.at_s + period, 2
    while t <= end_s:
        out.append((t, device.id, make_message(EventKind.HEARTBEAT, seq=seq, ts=round(t * 1000), data={})))
        t, seq = t + period, seq + 1
    return out
