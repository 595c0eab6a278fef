"""The city as the engine sees it: precincts (one police station and one maintenance queue each) → sites
(guard room) → devices; the command center; residents per door unit; volunteers in teams. Frozen records, and
the lookups every host needs: which entity answers for a device at a level, every responder, the part of a city
one host holds.

Every entity is addressed by an id from one namespace: devices, guard rooms, stations, maintenance
queues and the command center.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocols import DeviceKind, Level, SiteKind


@dataclass(slots=True, frozen=True)
class CommandCenter:
    id: str
    name: str
    lat: float
    lon: float


@dataclass(slots=True, frozen=True)
class Precinct:
    id: str
    name: str
    station_id: str
    lat: float
    lon: float
    bounds: tuple[float, float, float, float] | None

    @property
    def maintenance_id(self) -> str:
        """The precinct's maintenance queue: device faults and offline devices go there."""
        return f"{self.id}-maint"


@dataclass(slots=True, frozen=True)
class Site:
    id: str
    kind: SiteKind
    precinct_id: str
    name: str
    lat: float
    lon: float
    guard_room_id: str | None
    address: str = ""
    zone: str = ""
    """The part of the precinct it lies in (a grid, a beat), as people name it."""


@dataclass(slots=True, frozen=True)
class Device:
    id: str
    kind: DeviceKind
    precinct_id: str
    site_id: str | None
    team_id: str | None
    unit: str
    lat: float
    lon: float
    heartbeat_s: float | None
    label: str = ""
    """What people call it ("Main gate door"); empty: named by its kind and id."""


@dataclass(slots=True, frozen=True)
class Resident:
    id: str
    site_id: str
    unit: str
    phone_id: str
    verified: bool
    name: str


@dataclass(slots=True, frozen=True)
class Team:
    id: str
    precinct_id: str
    name: str
    street: str = ""
    """The street (subdistrict) the team patrols, as people name it; empty: its precinct stands for it."""


@dataclass(slots=True, frozen=True)
class Volunteer:
    id: str
    team_id: str
    phone_id: str
    name: str


@dataclass(slots=True)
class City:
    id: str
    name: str
    command_center: CommandCenter
    precincts: dict[str, Precinct]
    sites: dict[str, Site] = field(default_factory=dict)
    devices: dict[str, Device] = field(default_factory=dict)
    residents: dict[str, Resident] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    volunteers: dict[str, Volunteer] = field(default_factory=dict)

    def target_for(self, level: Level, device: Device) -> str | None:
        """The entity that answers for ``device`` at ``level``; None when there is none (no guard room)."""
        match level:
            case Level.GUARD_ROOM:
                site = self.sites.get(device.site_id) if device.site_id else None
                return site.guard_room_id if site else None
            case Level.POLICE_STATION:
                return self.precincts[device.precinct_id].station_id
            case Level.COMMAND_CENTER:
                return self.command_center.id
            case Level.MAINTENANCE:
                return self.precincts[device.precinct_id].maintenance_id
        return None  # pragma: no cover - Level is closed

    def responder_ids(self) -> dict[str, tuple[Level, str]]:
        """Every responder entity: id → (level, precinct id, or "" for the command center)."""
        out: dict[str, tuple[Level, str]] = {self.command_center.id: (Level.COMMAND_CENTER, "")}
        for precinct in self.precincts.values():
            out[precinct.station_id] = (Level.POLICE_STATION, precinct.id)
            out[precinct.maintenance_id] = (Level.MAINTENANCE, precinct.id)
        for site in self.sites.values():
            if site.guard_room_id:
                out[site.guard_room_id] = (Level.GUARD_ROOM, site.precinct_id)
        return out

    def summary(self) -> dict[str, int]:
        return {
            "precincts": len(self.precincts),
            "sites": len(self.sites),
            "devices": len(self.devices),
            "residents": len(self.residents),
            "teams": len(self.teams),
            "volunteers": len(self.volunteers),
        }


def subset_for(city: City, device_ids: set[str], site_ids: set[str]) -> City:
    """The part of a city one host needs: its devices and sites, all precincts and the command center."""
    return City(
        city.id,
        city.name,
        city.command_center,
        dict(city.precincts),
        {sid: city.sites[sid] for sid in site_ids},
        {did: city.devices[did] for did in device_ids},
        {rid: r for rid, r in city.residents.items() if r.site_id in site_ids},
        dict(city.teams),
        {vid: v for vid, v in city.volunteers.items() if v.phone_id in device_ids},
    )
