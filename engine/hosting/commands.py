"""Operator commands at a host: an action on an incident it owns (acknowledge, dispatch, resolve...) and a
command for one of its devices (say, a remote door open). Every command is audited, refusals too; each is a
step of its own, written (``flush``) before it returns or raises."""

from __future__ import annotations

from collections.abc import Callable

from engine.errors import UnknownDevice, UnknownIncident
from engine.hosting.incidents import IncidentStore
from engine.hosting.outboxes import DeviceCommandOutbox
from engine.hosting.roster import Roster
from engine.hosting.staging import JournalStaging
from engine.incident import DeviceCommand, apply_command, note_delivery
from engine.operators import Role
from engine.policy import PolicySet
from protocols.kinds import Level
from protocols.records import DeliveryNote, IncidentRecord, OperatorCommand

_ROLE_OF_LEVEL = {Level.COMMAND_CENTER: Role.COMMAND_CENTER.value, Level.POLICE_STATION: Role.STATION.value,
                  Level.GUARD_ROOM: Role.GUARD_ROOM.value}


class OperatorCommands:
    def __init__(self, *, host_id: str, policies: PolicySet, roster: Roster, store: IncidentStore,
                 staging: JournalStaging, device_commands: DeviceCommandOutbox, flush: Callable[[], None]) -> None:
        self.host_id = host_id
        self.policies = policies
        self.roster = roster
        self.store = store
        self.staging = staging
        self.device_commands = device_commands
        self.flush = flush

    def on_incident(self, command: OperatorCommand, now_s: float) -> IncidentRecord:
        """Apply ``command`` to an incident this host owns; the changed record. Refusals raise
        (:class:`UnknownIncident`, or the lifecycle's :class:`InvalidTransition` / :class:`NotAuthorized`)."""
        record = self.store.get(command.incident_id)
        who = self._who(command)
        if record is None or record.host_id != self.host_id:
            self.staging.audit(now_s, command.operator, command.action.value, command.incident_id, "refused", **who,
                               reason="unknown incident")
            self.flush()
            raise UnknownIncident(command.incident_id)
        device = self.roster.city.devices.get(record.device_id)
        policy = self.policies.for_incident(record.kind, device.kind if device else None)
        try:
            updated, effects = apply_command(record, command, policy=policy, now_s=now_s)
        except Exception as exc:
            self.staging.audit(now_s, command.operator, command.action.value, record.id, "refused", **who,
                               reason=str(exc))
            self.flush()
            raise
        self.store.store(updated, record, effects, now_s)
        self.staging.audit(now_s, command.operator, command.action.value, record.id, "ok", **who, reason=command.note)
        self.flush()
        return updated

    def _who(self, command: OperatorCommand) -> dict[str, str]:
        """The audit's role and scope of the operator behind ``command``: from the level and the responder it acted
        for (a station's precinct, a guard room's site; the command center has no scope)."""
        city, target = self.roster.city, command.target
        match command.level:
            case Level.POLICE_STATION:
                scope = next((p.id for p in city.precincts.values() if p.station_id == target), target)
            case Level.GUARD_ROOM:
                scope = next((s.id for s in city.sites.values() if s.guard_room_id == target), target)
            case _:
                scope = ""
        return {"role": _ROLE_OF_LEVEL.get(command.level, command.level.value), "scope": scope}

    def on_deliveries(self, notes: list[DeliveryNote], now_s: float) -> list[IncidentRecord | UnknownIncident | None]:
        """A console gateway's word on notifications (delivered, seen, not delivered), a timeline line each, written in
        one step (a storm's thousands of lines are not a journal write each); not delivered may escalate at once (the
        kind's policy). Per line: the incident after it, None (nothing new: already noted, or ended), or the refusal
        of an incident this host does not have (returned, not raised: the other lines are written all the same)."""
        out: list[IncidentRecord | UnknownIncident | None] = []
        for note in notes:
            try:
                out.append(self._on_delivery(note, now_s))
            except UnknownIncident as exc:
                out.append(exc)
        self.flush()
        return out

    def _on_delivery(self, note: DeliveryNote, now_s: float) -> IncidentRecord | None:
        record = self.store.get(note.incident_id)
        if record is None or record.host_id != self.host_id:
            raise UnknownIncident(note.incident_id)
        device = self.roster.city.devices.get(record.device_id)
        policy = self.policies.for_incident(record.kind, device.kind if device else None)
        outcome = note_delivery(record, note, policy=policy, now_s=now_s,
                                targets=lambda level: self.roster.city.target_for(level, device) if device else None)
        if outcome is None:
            return None
        updated, effects = outcome
        self.store.store(updated, record, effects, now_s)
        return updated

    def on_device(self, device_id: str, command: str, args: dict, *, actor: str, now_s: float, role: str = "",
                  scope: str = "", reason: str = "") -> None:
        """A command for a device of this host: audited (the actor's role and scope when the caller names them; the
        row's reason ``<command>: <reason>`` when one is given, else the command and its arguments), then queued for
        its bridge."""
        if self.roster.device(device_id) is None:
            raise UnknownDevice(device_id)
        self.staging.audit(now_s, actor, "device.command", device_id, "ok", role=role, scope=scope,
                           reason=f"{command}: {reason}" if reason else f"{command} {args}"[:200])
        self.device_commands.add(DeviceCommand(device_id, command, dict(args)), now_s)
        self.flush()
