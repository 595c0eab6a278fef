"""Escalation policies per incident kind, from TOML (defaults shipped in ``default_policies.toml``).

A policy is a list of steps; each step notifies its levels at once and, with ``ack_within_s``, arms
the deadline that moves the incident to the next step. After the last step, a reminder goes out every
``reminder_every_s`` until someone acknowledges. So every unacknowledged incident always has exactly
one pending deadline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from msgspec import Meta, Struct
from msgspec import field as struct_field

from engine.tomlconf import convert, error_at, parse_toml, read_text
from protocols import DeviceKind, Level
from protocols.kinds import IncidentKind

Seconds = Annotated[float, Meta(gt=0)]


class _Step(Struct, forbid_unknown_fields=True):
    notify: Annotated[list[Level], Meta(min_length=1)]
    ack_within_s: Seconds | None = None


class _Policy(Struct, forbid_unknown_fields=True):
    steps: Annotated[list[_Step], Meta(min_length=1)]
    priority: Annotated[int, Meta(ge=1, le=5)] = 3
    reminder_every_s: Seconds = 60.0
    silent: bool = False
    siren: bool = False
    trigger_after_s: Seconds | None = None
    lower_levels_may_end: bool = False
    escalate_when_not_delivered: bool | None = None
    device: dict[DeviceKind, "_Policy"] = {}


class _Supervision(Struct, forbid_unknown_fields=True, frozen=True):
    misses: Annotated[int, Meta(ge=1, le=100)] | None = None
    heartbeat_s: dict[DeviceKind, Seconds] = {}


Priority = Annotated[int, Meta(ge=1, le=5)]


class _Console(Struct, forbid_unknown_fields=True, frozen=True):
    ageing_s: dict[Priority, Annotated[tuple[Seconds, Seconds], Meta()]] = {}
    confirm_within_s: Seconds | None = None


class _PolicyFile(Struct, forbid_unknown_fields=True):
    policies: dict[IncidentKind, _Policy] = {}
    supervision: _Supervision = struct_field(default_factory=_Supervision)
    console: _Console = struct_field(default_factory=_Console)


@dataclass(frozen=True, slots=True)
class Step:
    notify: tuple[Level, ...]
    ack_within_s: float | None


@dataclass(frozen=True, slots=True)
class Policy:
    kind: IncidentKind
    steps: tuple[Step, ...]
    priority: int
    reminder_every_s: float
    silent: bool = False
    siren: bool = False
    trigger_after_s: float | None = None
    lower_levels_may_end: bool = False
    """False (the default): once the incident has reached a level (escalated to it, or acknowledged there), a
    lower level may no longer close, cancel or false-alarm it."""
    escalate_when_not_delivered: bool = False
    """True: a holder none of whose consoles confirmed the notification in time (``console.confirm_within_s``)
    makes the incident escalate at once. Unset in the file: true for priority 1."""


@dataclass(frozen=True, slots=True)
class PolicySet:
    """The policy of every incident kind, with per-device-kind overrides."""

    by_kind: dict[IncidentKind, Policy]
    overrides: dict[tuple[IncidentKind, DeviceKind], Policy]
    heartbeat_s: dict[DeviceKind, float] = field(default_factory=dict)
    """Supervision: the heartbeat interval expected of each device kind (a device's own ``heartbeat_s`` in
    the city wins; kinds not named here use the engine's default, 30 s)."""
    misses: int | None = None
    """Supervision: heartbeats missed before a device is offline (None: the engine's default, 3)."""
    ageing_s: dict[int, tuple[float, float]] = field(default_factory=dict)
    """Console: per priority, the age (s) at which an open incident turns warm, then old."""
    confirm_within_s: float | None = None
    """Console: how long a notified responder's consoles have to confirm an incident before it is not delivered
    (None: the default, ``CONFIRM_WITHIN_S``)."""

    @property
    def ageing(self) -> dict[int, tuple[float, float]]:
        return {**DEFAULT_AGEING_S, **self.ageing_s}

    @property
    def confirm_s(self) -> float:
        return self.confirm_within_s if self.confirm_within_s is not None else CONFIRM_WITHIN_S

    def for_incident(self, kind: IncidentKind, device_kind: DeviceKind | None = None) -> Policy:
        if device_kind is not None and (kind, device_kind) in self.overrides:
            return self.overrides[(kind, device_kind)]
        return self.by_kind[kind]

    def merged(self, other: "PolicySet") -> "PolicySet":
        """``other``'s kinds replace ours (with their overrides); kinds it does not name stay."""
        by_kind = {**self.by_kind, **other.by_kind}
        overrides = {key: p for key, p in self.overrides.items() if key[0] not in other.by_kind}
        overrides.update(other.overrides)
        return PolicySet(by_kind, overrides, {**self.heartbeat_s, **other.heartbeat_s},
                         other.misses if other.misses is not None else self.misses,
                         {**self.ageing_s, **other.ageing_s},
                         other.confirm_within_s if other.confirm_within_s is not None else self.confirm_within_s)


DEFAULT_POLICY_FILE = "default_policies.toml"
DEFAULT_AGEING_S: dict[int, tuple[float, float]] = {1: (15.0, 60.0), 2: (30.0, 120.0), 3: (60.0, 300.0),
                                                    4: (300.0, 1800.0), 5: (600.0, 3600.0)}
"""Per priority, when an open incident's age turns warm, then old, unless the policies file says otherwise."""
CONFIRM_WITHIN_S = 3.0


def load_policies(path: str | Path) -> PolicySet:
    text = read_text(path)
    return policies_from_text(text, file=str(path))


def policies_from_text(text: str, *, file: str) -> PolicySet:
    raw = convert(parse_toml(text, file=file), _PolicyFile, file=file, text=text)
    by_kind: dict[IncidentKind, Policy] = {}
    overrides: dict[tuple[IncidentKind, DeviceKind], Policy] = {}
    for kind, policy in raw.policies.items():
        by_kind[kind] = _build(kind, policy, ("policies", kind.value), file, text)
        for device_kind, sub in policy.device.items():
            path = ("policies", kind.value, "device", device_kind.value)
            if sub.device:
                raise error_at(file, text, path + ("device",), "overrides do not nest")
            overrides[(kind, device_kind)] = _build(kind, sub, path, file, text)
    for priority, (warm, old) in raw.console.ageing_s.items():
        if old <= warm:
            raise error_at(file, text, ("console", "ageing_s", str(priority)), "the second age (old) must exceed the first (warm)")
    return PolicySet(by_kind, overrides, dict(raw.supervision.heartbeat_s), raw.supervision.misses,
                     {p: (float(w), float(o)) for p, (w, o) in raw.console.ageing_s.items()},
                     raw.console.confirm_within_s)


def default_policies() -> PolicySet:
    text = resources.files("engine").joinpath(DEFAULT_POLICY_FILE).read_text(encoding="utf-8")
    policies = policies_from_text(text, file=f"engine/{DEFAULT_POLICY_FILE}")
    missing = set(IncidentKind) - set(policies.by_kind)
    assert not missing, f"shipped policies miss {sorted(missing)}"
    return policies


def load_policy_set(path: str | Path | None) -> PolicySet:
    """The shipped defaults, with the kinds named in ``path`` (if any) replaced."""
    defaults = default_policies()
    return defaults if path is None else defaults.merged(load_policies(path))


def _build(kind: IncidentKind, raw: _Policy, path: tuple[Any, ...], file: str, text: str) -> Policy:
    for i, step in enumerate(raw.steps):
        if len(set(step.notify)) != len(step.notify):
            raise error_at(file, text, path + ("steps", i, "notify"), "a level is named twice")
        if step.ack_within_s is None and i < len(raw.steps) - 1:
            raise error_at(file, text, path + ("steps", i, "ack_within_s"),
                           "required on every step but the last (it arms the next step)")
    if raw.trigger_after_s is not None and kind is not IncidentKind.DOOR_HELD_OPEN:
        raise error_at(file, text, path + ("trigger_after_s",), "only door.held_open has a trigger delay")
    if raw.silent and raw.siren:
        raise error_at(file, text, path + ("siren",), "a silent alarm cannot sound a siren")
    steps = tuple(Step(tuple(s.notify), s.ack_within_s) for s in raw.steps)
    undelivered = raw.escalate_when_not_delivered
    return Policy(kind, steps, raw.priority, raw.reminder_every_s, raw.silent, raw.siren, raw.trigger_after_s,
                  raw.lower_levels_may_end, raw.priority == 1 if undelivered is None else undelivered)
