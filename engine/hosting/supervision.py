"""Supervision of fixed devices (doors, cameras, panic boxes, kiosks): one timer per device, due
``interval × misses`` after it was last seen. A device silent that long, or whose connection the broker reports
lost (Last Will), is taken offline once per outage and a ``device.offline`` incident raised; when it speaks again
the incident is withdrawn. When the device going offline is the last of its site's supervised devices, the site's
one ``site.offline`` incident is raised instead and the others folded into it (:mod:`engine.hosting.site_health`).
Last-seen times are journaled about once a second (:class:`SeenLog`), so a restarted host supervises from them.

A device is supervised from the first time it is heard from (a fixed device never heard from is not reporting, and
nothing is expected of it); :meth:`Supervision.health` counts the supervised and the offline ones, from the same
state that raises the incidents.
"""

from __future__ import annotations

from typing import Final

from engine.entities import SUPERVISED_KINDS, DeviceEntity
from engine.hosting.config import HostConfig
from engine.hosting.incidents import IncidentStore
from engine.hosting.roster import Roster
from engine.hosting.site_health import SiteHealth
from engine.hosting.staging import JournalStaging
from engine.hosting.stats import DeviceHealth
from engine.incident import system_cancel
from engine.policy import PolicySet
from engine.scheduler import DeadlineScheduler
from engine.topology import Device
from protocols.batch import StateChange
from protocols.kinds import IncidentKind

SUPERVISION: Final = "s"
"""Deadline key kind: ``(SUPERVISION, device id)``, when the device is due to be taken offline."""

SeenRows = dict[str, tuple[float, bool]]


class SeenLog:
    """Supervised devices' (last seen, offline) not yet journaled; staged with a step once per ``flush_s``.
    It outlives a failed step: the times are observations, not decisions."""

    def __init__(self, *, flush_s: float, now_s: float) -> None:
        self.flush_s = flush_s
        self.pending: SeenRows = {}
        self._next_flush_s = now_s + flush_s

    def note(self, device_id: str, seen_s: float, offline: bool) -> None:
        self.pending[device_id] = (seen_s, offline)

    def due(self, now_s: float) -> SeenRows | None:
        """The rows to journal now (and forget here), or None before the next flush time."""
        if now_s < self._next_flush_s:
            return None
        self._next_flush_s = now_s + self.flush_s
        rows, self.pending = self.pending, {}
        return rows

    def put_back(self, rows: SeenRows) -> None:
        """Rows of a step that was not written: written with the next flush, unless newer ones came since."""
        for device_id, row in rows.items():
            self.pending.setdefault(device_id, row)


class Supervision:
    def __init__(self, config: HostConfig, *, policies: PolicySet, scheduler: DeadlineScheduler, roster: Roster,
                 store: IncidentStore, staging: JournalStaging, seen_log: SeenLog) -> None:
        self.config = config
        self.policies = policies
        self.scheduler = scheduler
        self.roster = roster
        self.store = store
        self.staging = staging
        self.seen_log = seen_log
        self.sites = SiteHealth(policies=policies, roster=roster, store=store, staging=staging)
        self.supervised = 0
        """Devices under supervision (the figures): heard from, or reported offline, at least once."""
        self.offline: dict[str, DeviceEntity] = {}
        """The devices offline now, by id."""

    def offline_after_s(self, device: Device) -> float:
        """``interval × misses``: the device's own interval, else its kind's (policies), else the engine's."""
        return offline_after_s(device, self.policies, interval_s=self.config.heartbeat_interval_s,
                               misses=self.config.heartbeat_misses)

    def health(self) -> DeviceHealth:
        return DeviceHealth(self.supervised, len(self.offline), self.sites.outages(list(self.offline.values())))

    def seen(self, entity: DeviceEntity, now_s: float) -> None:
        """A sign of life: the device's timer starts (if not running), and an offline device is back."""
        device = entity.device
        if device.kind not in SUPERVISED_KINDS:
            entity.last_seen_s = now_s
            return
        first = self._supervise(entity)
        entity.last_seen_s = now_s
        self.seen_log.note(device.id, now_s, False)
        if entity.offline:
            self._back_online(entity, now_s)
        elif first:  # a device heard for the first time at a site in an outage: the site is not dark
            outage = self.sites.outage_of(device.site_id)
            if outage is not None:
                self._site_back(entity, outage, now_s)
        key = (SUPERVISION, device.id)
        if self.scheduler.due_of(key) is None:
            self.scheduler.schedule(key, now_s + self.offline_after_s(device))

    def _supervise(self, entity: DeviceEntity) -> bool:
        """Counts a device the first time it is supervised; True then."""
        if entity.last_seen_s is None and not entity.offline:
            self.supervised += 1
            return True
        return False

    def _mark(self, entity: DeviceEntity, offline: bool, incident_id: str | None) -> None:
        entity.offline, entity.offline_incident = offline, incident_id
        if offline:
            self.offline[entity.device.id] = entity
        else:
            self.offline.pop(entity.device.id, None)

    def _back_online(self, entity: DeviceEntity, now_s: float) -> None:
        device = entity.device
        incident_id = entity.offline_incident
        self._mark(entity, False, None)
        self.staging.audit(now_s, device.id, "device.online", device.id, "ok", role="device",
                           scope=device.site_id or device.precinct_id)
        record = self.store.get(incident_id) if incident_id else None
        if incident_id is not None and (record is None or record.kind is IncidentKind.SITE_OFFLINE):
            self._site_back(entity, incident_id, now_s)  # (an ended device incident: nothing was folded into it)
        elif record is not None and record.is_active:
            policy = self.policies.for_incident(record.kind, device.kind)
            updated, effects = system_cancel(record, reason="device back online", policy=policy, now_s=now_s)
            self.store.store(updated, record, effects, now_s)

    def _site_back(self, entity: DeviceEntity, incident_id: str, now_s: float) -> None:
        """A device of a site in an outage is heard from: the site's incident is withdrawn, and each sibling still
        silent gets a fresh offline period from now (journaled as not offline, so a restart times it too)."""
        for sibling in self.sites.end_outage(entity, incident_id, now_s):
            self._mark(sibling, False, None)
            self.seen_log.note(sibling.device.id, _or(sibling.last_seen_s, now_s), False)
            self.scheduler.schedule((SUPERVISION, sibling.device.id), now_s + self.offline_after_s(sibling.device))

    def deadline(self, device_id: str, due_s: float, at_s: float) -> int:
        """The device's timer ran out: offline, unless it was seen since (then the timer moves on)."""
        entity = self.roster.devices.get(device_id)
        if entity is None or entity.last_seen_s is None or entity.offline:
            return 0
        still_due = entity.last_seen_s + self.offline_after_s(entity.device)
        if still_due > due_s:
            self.scheduler.schedule((SUPERVISION, device_id), still_due)
            return 0
        self.go_offline(entity, at_s, f"silent for {at_s - entity.last_seen_s:.0f} s")
        return 1

    def go_offline(self, entity: DeviceEntity, at_s: float, note: str) -> None:
        """Once per outage: the device is marked offline and a ``device.offline`` incident raised — or, when it is
        the last of its site's supervised devices, the site's ``site.offline`` (its siblings' folded into it)."""
        device = entity.device
        self._supervise(entity)
        # raised first: if that raises, the device is not marked offline unreported
        outage = self.sites.outage_of(device.site_id)
        if outage is not None:  # its site is dark already (the device was not counted in it): covered
            incident_id, outcome = outage, "folded"
        elif self.sites.completes_outage(entity):
            incident_id, outcome = self.sites.raise_outage(entity, at_s, note), "folded"
        else:
            incident_id, outcome = self.store.raise_or_repeat(
                device, IncidentKind.DEVICE_OFFLINE, at_s, note=note,
                incident_id=f"{device.id}#offline@{int(at_s * 1000)}"), "raised"
        self._mark(entity, True, incident_id)
        self.scheduler.cancel((SUPERVISION, device.id))
        self.seen_log.note(device.id, _or(entity.last_seen_s, at_s), True)  # a restart must not report it again
        self.staging.audit(at_s, "system", "device.offline", device.id, outcome, role="system",
                           reason=note if outcome == "raised" else f"{note}; site outage {incident_id}")

    def connection_states(self, states: list[StateChange], now_s: float) -> int:
        """Connection states from the broker: a Last Will ``offline`` takes a supervised device offline at once;
        ``online`` counts as a sign of life. Returns how many changed anything; unknown devices are ignored."""
        changed = 0
        for state in states:
            entity = self.roster.device(state.device_id)
            if entity is None or entity.device.kind not in SUPERVISED_KINDS:
                continue
            if state.online:
                changed += entity.offline
                self.seen(entity, now_s)
            elif not entity.offline:
                self.go_offline(entity, now_s, "connection lost (last will)")
                changed += 1
        return changed

    def resume(self, device_id: str, seen_s: float, offline: bool) -> None:
        """A device supervised before a restart: supervised again from its last-seen time, so one that fell silent
        before (or during) the outage is reported offline when it would have been."""
        device = self.roster.city.devices.get(device_id)
        if device is None or device.kind not in SUPERVISED_KINDS:
            return
        entity = self.roster.device(device_id)
        if entity.last_seen_s is not None and entity.last_seen_s >= seen_s:
            return
        self._supervise(entity)
        entity.last_seen_s = seen_s
        offline_id = self.store.open_id(device_id, IncidentKind.DEVICE_OFFLINE)
        if offline or offline_id is not None:  # reported before the restart: still offline until it speaks
            self._mark(entity, True, offline_id or self.sites.outage_of(device.site_id))
            self.scheduler.cancel((SUPERVISION, device_id))
            return
        self._mark(entity, False, None)
        self.scheduler.schedule((SUPERVISION, device_id), seen_s + self.offline_after_s(device))


def offline_after_s(device: Device, policies: PolicySet, *, interval_s: float, misses: int) -> float:
    """How long ``device`` may be silent before it is offline: its heartbeat interval (its own, else its kind's in the
    policies, else the engine's ``interval_s``) times the misses allowed (the policies', else the engine's)."""
    interval = device.heartbeat_s or policies.heartbeat_s.get(device.kind) or interval_s
    return interval * (policies.misses or misses)


def heartbeat_interval_s(device: Device, policies: PolicySet, *, interval_s: float) -> float:
    """The heartbeat interval expected of ``device`` (what a simulated device should keep to)."""
    return device.heartbeat_s or policies.heartbeat_s.get(device.kind) or interval_s


def _or(seen_s: float | None, now_s: float) -> float:
    return now_s if seen_s is None else seen_s
