"""Site outages: one ``site.offline`` incident when a whole site goes dark, not one ``device.offline`` per device.

When the device that goes offline leaves every supervised device of its site offline (every fixed device of the
site the host has heard from, at least :data:`MIN_DEVICES` of them), the cause is the site's — a power cut, a lost
uplink — not each device's. Devices of a site go offline at slightly different times (each timer runs from the
device's own last heartbeat), so the first ones are reported alone, as they would be anyway; the one that completes
the outage raises the site's incident in place of its own, and the site's open ``device.offline`` incidents are
folded into it: cancelled, the reason naming the site's incident. A single device's report is never delayed
waiting to see whether its site follows.

The first device of the site heard from again (back, or heard for the first time) withdraws the site's incident;
its siblings still silent get a fresh offline period from that moment (their power is likely coming back too), and
one still silent after it is reported alone (:class:`engine.hosting.supervision.Supervision` does the timing).

The site's incident is raised on a representative device of the site — a panic box first, then a kiosk, a door, a
camera — so its responders (``City.target_for``) and its policy (with the kind's per-device overrides: a school
whose panic boxes are all dark is the urgent case) come from the usual lookups. A device folded into it keeps the
site incident's id as its ``offline_incident``. Nothing else is kept here: the state is the devices' offline flags
and the open incidents, which a restarted host has back from its journal.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Final

from engine.entities import SUPERVISED_KINDS, DeviceEntity
from engine.hosting.incidents import IncidentStore
from engine.hosting.roster import Roster
from engine.hosting.staging import JournalStaging
from engine.incident import system_cancel
from engine.policy import PolicySet
from protocols.kinds import DeviceKind, IncidentKind

MIN_DEVICES: Final = 2
"""A site with fewer supervised devices has no outage of its own: its one device's incident says it all."""

_RANK: Final = {DeviceKind.PANIC_BOX: 0, DeviceKind.KIOSK: 1, DeviceKind.DOOR: 2, DeviceKind.CAMERA: 3}
"""Which device of a site carries the site's incident (lowest first)."""


class SiteHealth:
    def __init__(self, *, policies: PolicySet, roster: Roster, store: IncidentStore, staging: JournalStaging) -> None:
        self.policies = policies
        self.roster = roster
        self.store = store
        self.staging = staging
        self._members: dict[str, tuple[str, ...]] | None = None  # made on first use (hosts without outages: never)

    def members(self, site_id: str) -> tuple[str, ...]:
        """The site's devices of a supervised kind on this host (a site never splits over hosts)."""
        if self._members is None:
            members: dict[str, list[str]] = defaultdict(list)
            for device in self.roster.city.devices.values():
                if device.site_id is not None and device.kind in SUPERVISED_KINDS:
                    members[device.site_id].append(device.id)
            self._members = {site_id: tuple(sorted(ids)) for site_id, ids in members.items()}
        return self._members.get(site_id, ())

    def supervised(self, site_id: str) -> list[DeviceEntity]:
        """The site's devices under supervision: heard from (or reported offline) at least once."""
        devices = self.roster.devices
        return [e for e in (devices.get(d) for d in self.members(site_id))
                if e is not None and (e.last_seen_s is not None or e.offline)]

    def outage_of(self, site_id: str | None) -> str | None:
        """The site's active ``site.offline`` incident, if it has one."""
        if site_id is None:
            return None
        for device_id in self.members(site_id):
            incident_id = self.store.open_id(device_id, IncidentKind.SITE_OFFLINE)
            if incident_id is not None:
                return incident_id
        return None

    def completes_outage(self, entity: DeviceEntity) -> bool:
        """Would ``entity`` going offline leave every supervised device of its site offline?"""
        site_id = entity.device.site_id
        if site_id is None:
            return False
        supervised = self.supervised(site_id)
        if entity not in supervised:
            supervised.append(entity)
        return len(supervised) >= MIN_DEVICES and all(e.offline or e is entity for e in supervised)

    def raise_outage(self, entity: DeviceEntity, at_s: float, note: str) -> str:
        """``entity`` completes its site's outage: the site's incident is raised and every sibling's open
        ``device.offline`` folded into it. Returns the site incident's id (each sibling's ``offline_incident``)."""
        site_id = entity.device.site_id
        assert site_id is not None
        supervised = self.supervised(site_id)
        if entity not in supervised:
            supervised.append(entity)
        representative = min(supervised, key=lambda e: (_RANK.get(e.device.kind, len(_RANK)), e.device.id)).device
        site = self.roster.city.sites.get(site_id)
        incident_id = self.store.raise_or_repeat(
            representative, IncidentKind.SITE_OFFLINE, at_s, incident_id=f"{site_id}#offline@{int(at_s * 1000)}",
            note=f"all {len(supervised)} supervised devices of {site.name if site else site_id} offline; "
                 f"the last, {entity.device.id}: {note}")
        folded = 0
        for sibling in supervised:
            if sibling is not entity:
                folded += self._fold(sibling, incident_id, at_s)
                sibling.offline_incident = incident_id
        self.staging.audit(at_s, "system", "site.offline", site_id, "raised", role="system",
                           reason=f"{incident_id}; {folded} device incidents folded into it")
        return incident_id

    def _fold(self, entity: DeviceEntity, site_incident_id: str, at_s: float) -> int:
        record = self.store.get(entity.offline_incident) if entity.offline_incident else None
        if record is None or not record.is_active or record.kind is not IncidentKind.DEVICE_OFFLINE:
            return 0
        policy = self.policies.for_incident(record.kind, entity.device.kind)
        updated, effects = system_cancel(record, reason=f"folded into site outage {site_incident_id}",
                                         policy=policy, now_s=at_s)
        self.store.store(updated, record, effects, at_s)
        return 1

    def end_outage(self, entity: DeviceEntity, incident_id: str, now_s: float) -> list[DeviceEntity]:
        """``entity``, of a site folded into ``incident_id``, is heard from: the site's incident is withdrawn (if
        still active) and the siblings folded into it and still offline are returned, to be timed afresh."""
        site_id = entity.device.site_id
        if site_id is None:
            return []
        record = self.store.get(incident_id)
        if record is not None and record.is_active and record.kind is IncidentKind.SITE_OFFLINE:
            policy = self.policies.for_incident(record.kind, self.roster.city.devices[record.device_id].kind)
            updated, effects = system_cancel(record, reason=f"site back online: {entity.device.id} reporting again",
                                             policy=policy, now_s=now_s)
            self.store.store(updated, record, effects, now_s)
            self.staging.audit(now_s, entity.device.id, "site.online", site_id, "ok", role="device",
                               scope=entity.device.site_id or entity.device.precinct_id, reason=incident_id)
        return [e for e in self.supervised(site_id)
                if e is not entity and e.offline and e.offline_incident == incident_id]

    def outages(self, offline: list[DeviceEntity]) -> int:
        """How many sites are in an outage, from the devices offline (an ended site incident no longer counts)."""
        ids = {e.offline_incident for e in offline if e.offline_incident is not None}
        return sum(1 for i in ids if (r := self.store.get(i)) is not None and r.kind is IncidentKind.SITE_OFFLINE
                   and r.is_active)
