"""The incident lifecycle: a pure state machine. Records in, records and effects (data) out.

    raised ─ack─▶ acknowledged ─dispatch─▶ dispatched ─on_scene─▶ on_scene
       │               │                        │                     │
       └───────────────┴──────── resolve ───────┴─────────────────────┘──▶ resolved ─close─▶ closed
    any active state ─cancel─▶ cancelled        any active state ─false_alarm─▶ false_alarm
    a tip under review ─accept / reject / promote─▶ closed, closed, acknowledged (``engine/tips.py``)

While raised, the incident has exactly one deadline: the next escalation step, or after the last step
a reminder. An acknowledgement at any notified level clears it. Every change appends to the timeline
(when, what, which level, which entity, who) and bumps ``version``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from msgspec.structs import replace

from engine.errors import InvalidTransition, NotAuthorized
from engine.policy import Policy
from protocols import IncidentState, Level, TimelineEvent
from protocols.kinds import IncidentKind
from engine.tips import review
from protocols.records import (ACTIONS_BY_STATE, ENDING_ACTIONS, TIP_ACTIONS, Action, DeliveryNote, IncidentRecord,
                               OperatorCommand, Tip, TimelineEntry)

TargetResolver = Callable[[Level], "str | None"]
"""For the incident's device: which entity answers at a level (None when there is none)."""

SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Notify:
    """Tell a responder entity that an incident reached it (or, ``reminder``, still waits for it)."""

    target: str
    level: Level
    incident_id: str
    reminder: bool = False


@dataclass(frozen=True, slots=True)
class DeviceCommand:
    """A command for a device, e.g. the siren of a school's panic box."""

    device_id: str
    command: str
    args: dict = field(default_factory=dict)


Effect = Notify | DeviceCommand


@dataclass(frozen=True, slots=True)
class NewIncident:
    incident_id: str
    kind: IncidentKind
    device_id: str
    site_id: str
    precinct_id: str
    host_id: str
    seq: int = 0
    lat: float = 0.0
    lon: float = 0.0
    note: str = ""
    tip: Tip | None = None


def open_incident(new: NewIncident, *, policy: Policy, targets: TargetResolver, now_s: float
                  ) -> tuple[IncidentRecord, list[Effect]]:
    """Raise an incident and notify its first step's levels, all at ``now_s``."""
    record = IncidentRecord(
        id=new.incident_id, kind=new.kind, device_id=new.device_id, site_id=new.site_id,
        precinct_id=new.precinct_id, host_id=new.host_id, priority=policy.priority,
        state=IncidentState.RAISED, raised_s=now_s, level=policy.steps[0].notify[0], seq=new.seq,
        silent=policy.silent, lat=new.lat, lon=new.lon, tip=new.tip,
    )
    record, effects = _enter_step(record, policy, 0, now_s, targets, escalated=False, raised_note=new.note)
    if policy.siren and not policy.silent:
        effects.append(DeviceCommand(new.device_id, "siren", {"on": True, "incident": new.incident_id}))
    return record, effects


def repeat(record: IncidentRecord, *, seq: int) -> IncidentRecord:
    """The same device raised the same kind again while this incident is active: count it."""
    if not record.is_active:
        raise InvalidTransition(record.id, record.state, "repeat", "the incident is no longer active")
    return replace(record, repeats=record.repeats + 1, seq=max(seq, record.seq), version=record.version + 1)


def deadline_passed(record: IncidentRecord, *, policy: Policy, targets: TargetResolver, now_s: float
                    ) -> tuple[IncidentRecord, list[Effect]]:
    """The acknowledgement deadline passed: escalate to the next step, or remind the holders."""
    if record.state is not IncidentState.RAISED or record.deadline_s is None:
        raise InvalidTransition(record.id, record.state, "escalate", "no pending deadline")
    if now_s < record.deadline_s:
        raise InvalidTransition(record.id, record.state, "escalate", f"deadline is at {record.deadline_s}")
    if record.step + 1 < len(policy.steps):
        return _enter_step(record, policy, record.step + 1, now_s, targets, escalated=True)
    entries = tuple(
        TimelineEntry(now_s, TimelineEvent.REMINDER, _level_of(record, target), target, SYSTEM)
        for target in record.holders
    )
    effects: list[Effect] = [Notify(e.target, e.level, record.id, reminder=True) for e in entries]
    updated = replace(
        record, deadline_s=now_s + policy.reminder_every_s, timeline=record.timeline + entries,
        version=record.version + 1,
    )
    return updated, effects


def apply_command(record: IncidentRecord, command: OperatorCommand, *, policy: Policy, now_s: float
                  ) -> tuple[IncidentRecord, list[Effect]]:
    """An operator acts on the incident from a level. Refuses what the state or the actor does not allow."""
    _authorise(record, command)
    _check_authority(record, command, policy)
    state, action = record.state, command.action
    if action == Action.HAND_BACK:
        return _hand_back(record, command, now_s), []
    if action in TIP_ACTIONS:
        return review(record, command, now_s=now_s), []
    entry = TimelineEntry(now_s, _EVENT_OF_ACTION[action], command.level, command.target, command.operator,
                          command.note)
    changes: dict = {}
    match action:
        case Action.ACKNOWLEDGE if state is IncidentState.RAISED:
            changes = dict(state=IncidentState.ACKNOWLEDGED, deadline_s=None, acked_by=command.operator,
                           acked_level=command.level)
        case Action.DISPATCH if state is IncidentState.ACKNOWLEDGED:
            if not command.unit.strip():
                raise InvalidTransition(record.id, state, action, "a dispatch names the unit sent")
            changes = dict(state=IncidentState.DISPATCHED, unit=command.unit)
            entry = replace(entry, note=command.note or command.unit)
        case Action.ON_SCENE if state is IncidentState.DISPATCHED:
            changes = dict(state=IncidentState.ON_SCENE)
        case Action.RESOLVE if state in (IncidentState.ACKNOWLEDGED, IncidentState.DISPATCHED,
                                         IncidentState.ON_SCENE):
            changes = dict(state=IncidentState.RESOLVED)
        case Action.CLOSE if state is IncidentState.RESOLVED:
            if not command.disposition.strip():
                raise InvalidTransition(record.id, state, action, "closing requires a disposition")
            changes = dict(state=IncidentState.CLOSED, disposition=command.disposition)
            entry = replace(entry, note=command.disposition)
        case Action.CANCEL if state.is_active:
            if not command.disposition.strip():
                raise InvalidTransition(record.id, state, action, "cancelling requires a disposition (the reason)")
            changes = dict(state=IncidentState.CANCELLED, deadline_s=None, disposition=command.disposition)
            entry = replace(entry, note=command.disposition)
        case Action.FALSE_ALARM if state.is_active:
            if not command.disposition.strip():
                raise InvalidTransition(record.id, state, action, "a false alarm requires a disposition (the reason)")
            changes = dict(state=IncidentState.FALSE_ALARM, deadline_s=None, disposition=command.disposition)
            entry = replace(entry, note=command.disposition)
        case Action.ACKNOWLEDGE:
            raise InvalidTransition(record.id, state, action,
                                    f"already acknowledged by {record.acked_by or 'nobody'}"
                                    + (f" at {record.acked_level}" if record.acked_level else ""))
        case _:
            raise InvalidTransition(record.id, state, action)
    updated = replace(record, **changes, timeline=record.timeline + (entry,), version=record.version + 1)
    effects: list[Effect] = []
    if policy.siren and not policy.silent and updated.state in (
        IncidentState.RESOLVED, IncidentState.CANCELLED, IncidentState.FALSE_ALARM
    ):
        effects.append(DeviceCommand(record.device_id, "siren", {"on": False, "incident": record.id}))
    return updated, effects


def system_cancel(record: IncidentRecord, *, reason: str, policy: Policy, now_s: float
                  ) -> tuple[IncidentRecord, list[Effect]]:
    """The engine withdraws an incident whose cause went away (an offline device came back)."""
    command = OperatorCommand(Action.CANCEL, record.id, SYSTEM, record.level, SYSTEM, disposition=reason)
    return apply_command(record, command, policy=policy, now_s=now_s)


_EVENT_OF_ACTION = {
    Action.ACKNOWLEDGE: TimelineEvent.ACKNOWLEDGED,
    Action.DISPATCH: TimelineEvent.DISPATCHED,
    Action.ON_SCENE: TimelineEvent.ON_SCENE,
    Action.RESOLVE: TimelineEvent.RESOLVED,
    Action.CLOSE: TimelineEvent.CLOSED,
    Action.CANCEL: TimelineEvent.CANCELLED,
    Action.FALSE_ALARM: TimelineEvent.FALSE_ALARM,
}


def _authorise(record: IncidentRecord, command: OperatorCommand) -> None:
    if command.incident_id != record.id:
        raise NotAuthorized(record.id, command.operator, f"command is for {command.incident_id}")
    if command.operator == SYSTEM and command.target == SYSTEM:
        return
    if command.level is Level.COMMAND_CENTER:
        return  # the command center oversees the whole city and may take any incident
    if command.target not in record.notified:
        raise NotAuthorized(record.id, f"{command.operator}@{command.target}",
                            f"{command.target} was never notified of this incident")
    if _level_of(record, command.target) is not command.level:
        raise NotAuthorized(record.id, f"{command.operator}@{command.target}",
                            f"{command.target} was notified as {_level_of(record, command.target)}, "
                            f"not {command.level}")


def held_at(record: IncidentRecord) -> Level | None:
    """The level an incident is held at: the highest it was escalated to or acknowledged at, unless the command
    center handed it back down since (then the level it was handed to). None: still at its first step."""
    held: Level | None = None
    for entry in record.timeline:
        if entry.level is None:
            continue
        if entry.event in (TimelineEvent.ESCALATED, TimelineEvent.ACKNOWLEDGED):
            held = entry.level if held is None or entry.level.rank > held.rank else held
        elif entry.event is TimelineEvent.HANDED_BACK:
            held = entry.level
    return held


def may_end(record: IncidentRecord, policy: Policy) -> tuple[Level, ...]:
    """The levels that may close, cancel or false-alarm the incident now (none once it has ended)."""
    if not ENDING_ACTIONS.intersection(ACTIONS_BY_STATE[record.state]):
        return ()
    held = held_at(record)
    return tuple(level for level in Level if held is None or policy.lower_levels_may_end or level.rank >= held.rank)


def _check_authority(record: IncidentRecord, command: OperatorCommand, policy: Policy) -> None:
    """Once an incident has been escalated to a level, or acknowledged at one, a lower level may not end it:
    a guard room cannot false-alarm a panic the command center holds (unless the kind's policy allows it, or
    the command center handed it back down)."""
    if command.action not in ENDING_ACTIONS or policy.lower_levels_may_end or command.operator == SYSTEM:
        return
    held = held_at(record)
    if held is not None and command.level.rank < held.rank:
        raise NotAuthorized(record.id, f"{command.operator}@{command.target}",
                            f"the incident is held at {held}: {command.level} may not {command.action} it")


def _hand_back(record: IncidentRecord, command: OperatorCommand, now_s: float) -> IncidentRecord:
    """The command center gives the incident back to a lower level it notified, which may then end it."""
    if not record.is_active:
        raise InvalidTransition(record.id, record.state, command.action, "the incident has ended")
    if command.level is not Level.COMMAND_CENTER:
        raise NotAuthorized(record.id, f"{command.operator}@{command.target}",
                            "only the command center hands an incident back down")
    to = command.to_level
    if to is None or to.rank >= Level.COMMAND_CENTER.rank:
        raise InvalidTransition(record.id, record.state, command.action,
                                "to_level: name the lower level it goes back to (guard_room or police_station)")
    if not command.note.strip():
        raise InvalidTransition(record.id, record.state, command.action, "note: handing back needs a reason")
    target = next((t for t in record.notified if _level_of(record, t) is to), None)
    if target is None:
        raise InvalidTransition(record.id, record.state, command.action, f"to_level: no {to} was notified of it")
    entry = TimelineEntry(now_s, TimelineEvent.HANDED_BACK, to, target, command.operator, command.note)
    return replace(record, level=to, holders=(target,), timeline=record.timeline + (entry,),
                   version=record.version + 1)


def note_delivery(record: IncidentRecord, note: DeliveryNote, *, policy: Policy, targets: TargetResolver,
                  now_s: float) -> tuple[IncidentRecord, list[Effect]] | None:
    """A console's receipt, an operator opening it, or nobody confirming it in time, as a timeline line (once per
    target and notification; None when there is nothing new to write). Not delivered to a holder of a raised
    incident escalates it at once when the policy says so (the default for P1): a closed console is never the
    end of an alarm."""
    if note.event not in (TimelineEvent.DELIVERED, TimelineEvent.SEEN, TimelineEvent.NOT_DELIVERED):
        raise InvalidTransition(record.id, record.state, note.event, "not a delivery event")
    level = _level_of(record, note.target)
    if level is None:
        raise NotAuthorized(record.id, note.operator or SYSTEM, f"{note.target} was never notified of this incident")
    last_notified = max(i for i, e in enumerate(record.timeline)
                        if e.event is TimelineEvent.NOTIFIED and e.target == note.target)
    since = record.timeline[last_notified + 1:]
    if any(e.event is note.event and e.target == note.target for e in since) or not record.is_open:
        return None
    if note.event is TimelineEvent.NOT_DELIVERED and any(
            e.event is TimelineEvent.DELIVERED and e.target == note.target for e in since):
        return None  # a console showed it after all
    entry = TimelineEntry(now_s, note.event, level, note.target, note.operator or SYSTEM, note.note)
    updated = replace(record, timeline=record.timeline + (entry,), version=record.version + 1)
    if (note.event is TimelineEvent.NOT_DELIVERED and policy.escalate_when_not_delivered
            and updated.state is IncidentState.RAISED and note.target in updated.holders
            and updated.step + 1 < len(policy.steps)):
        return _enter_step(updated, policy, updated.step + 1, now_s, targets, escalated=True)
    return updated, []


def _level_of(record: IncidentRecord, target: str) -> Level | None:
    for entry in record.timeline:
        if entry.event is TimelineEvent.NOTIFIED and entry.target == target:
            return entry.level
    return None


def _enter_step(record: IncidentRecord, policy: Policy, index: int, at_s: float, targets: TargetResolver, *,
                escalated: bool, raised_note: str = "") -> tuple[IncidentRecord, list[Effect]]:
    """Notify the first step from ``index`` on that has anyone to notify; arm its deadline."""
    chosen, resolved = index, []
    for chosen in range(index, len(policy.steps)):
        resolved = [(level, t) for level in policy.steps[chosen].notify if (t := targets(level)) is not None]
        if resolved:
            break
    entries: list[TimelineEntry] = []
    if not escalated:
        first_level, first_target = resolved[0] if resolved else (policy.steps[0].notify[0], "")
        entries.append(TimelineEntry(at_s, TimelineEvent.RAISED, first_level, first_target, record.device_id,
                                     raised_note))
    if escalated and resolved:
        top_level, top_target = max(resolved, key=lambda lt: lt[0].rank)
        entries.append(TimelineEntry(at_s, TimelineEvent.ESCALATED, top_level, top_target, SYSTEM))
    entries += [TimelineEntry(at_s, TimelineEvent.NOTIFIED, level, target, SYSTEM) for level, target in resolved]
    step = policy.steps[chosen]
    wait_s = step.ack_within_s if step.ack_within_s is not None else policy.reminder_every_s
    if not resolved:  # nobody at any remaining step: keep the holders and remind them
        chosen, wait_s = len(policy.steps) - 1, policy.reminder_every_s
    new_targets = tuple(t for _, t in resolved)
    reached = [level for level, _ in resolved] + ([record.level] if escalated else [])
    updated = replace(
        record,
        step=chosen,
        level=max(reached, key=lambda level: level.rank) if reached else record.level,
        deadline_s=at_s + wait_s,
        notified=record.notified + tuple(t for t in new_targets if t not in record.notified),
        holders=new_targets or record.holders,
        timeline=record.timeline + tuple(entries),
        version=record.version + (1 if escalated else 0),
    )
    effects: list[Effect] = [Notify(target, level, record.id) for level, target in resolved]
    return updated, effects
