"""The city: precincts (one police station each) → sites (guard room) → devices; the command center;
residents per door unit; volunteers in teams. Loaded from TOML; errors name the file, line and field.

Every entity is addressed by an id from one namespace: devices, guard rooms, stations, maintenance
queues and the command center. Ids go into MQTT topics, so they are checked like topic ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from msgspec import Meta, Struct

from engine.errors import ConfigError
from engine.tomlconf import convert, error_at, format_path, parse_toml, read_text
from protocols import DeviceKind, Level, ProtocolError, SiteKind
from protocols.topics import check_id

Lat = Annotated[float, Meta(ge=-90.0, le=90.0)]
Lon = Annotated[float, Meta(ge=-180.0, le=180.0)]
Id = Annotated[str, Meta(min_length=1, max_length=64)]


# -- the file's shape (strict: a misspelt key is an error, not a silent default) ------------------


class _CityInfo(Struct, forbid_unknown_fields=True):
    id: Id
    name: str = ""


class _CommandCenter(Struct, forbid_unknown_fields=True):
    id: Id
    name: str = "Command center"
    lat: Lat = 0.0
    lon: Lon = 0.0


class _Precinct(Struct, forbid_unknown_fields=True):
    id: Id
    station: Id
    name: str = ""
    lat: Lat = 0.0
    lon: Lon = 0.0
    bounds: tuple[Lat, Lon, Lat, Lon] | None = None


class _Site(Struct, forbid_unknown_fields=True):
    id: Id
    kind: SiteKind
    precinct: Id
    name: str = ""
    lat: Lat = 0.0
    lon: Lon = 0.0
    guard_room: Id | None = None


class _Device(Struct, forbid_unknown_fields=True):
    id: Id
    kind: DeviceKind
    site: Id | None = None
    team: Id | None = None
    unit: str = ""
    lat: Lat | None = None
    lon: Lon | None = None
    heartbeat_s: Annotated[float, Meta(gt=0)] | None = None


class _Resident(Struct, forbid_unknown_fields=True):
    id: Id
    site: Id
    unit: str
    phone: Id
    verified: bool = False
    name: str = ""


class _Team(Struct, forbid_unknown_fields=True):
    id: Id
    precinct: Id
    name: str = ""


class _Volunteer(Struct, forbid_unknown_fields=True):
    id: Id
    team: Id
    phone: Id
    name: str = ""


class _CityFile(Struct, forbid_unknown_fields=True):
    city: _CityInfo
    command_center: _CommandCenter
    precincts: list[_Precinct]
    sites: list[_Site] = []
    devices: list[_Device] = []
    residents: list[_Resident] = []
    teams: list[_Team] = []
    volunteers: list[_Volunteer] = []


# -- the loaded city -----------------------------------------------------------------------------


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


_DEVICE_SITE_KINDS: dict[DeviceKind, frozenset[SiteKind]] = {
    DeviceKind.DOOR: frozenset({SiteKind.COMMUNITY}),
    DeviceKind.CAMERA: frozenset(SiteKind),
    DeviceKind.PANIC_BOX: frozenset({SiteKind.SCHOOL}),
    DeviceKind.KIOSK: frozenset({SiteKind.KIOSK_HALL}),
    DeviceKind.RESIDENT_PHONE: frozenset({SiteKind.COMMUNITY}),
}


def load_city(path: str | Path) -> City:
    text = read_text(path)
    return city_from_dict(parse_toml(text, file=str(path)), file=str(path), text=text)


def city_from_dict(data: dict[str, Any], *, file: str = "<city>", text: str | None = None) -> City:
    """Validate a TOML-shaped dict (from a file or the generator) into a :class:`City`."""
    raw = convert(data, _CityFile, file=file, text=text)
    return _Builder(raw, file=file, text=text).build()


class _Builder:
    def __init__(self, raw: _CityFile, *, file: str, text: str | None) -> None:
        self.raw, self.file, self.text = raw, file, text
        self.owner: dict[str, tuple[str | int, ...]] = {}

    def fail(self, path: tuple[str | int, ...], reason: str) -> ConfigError:
        return error_at(self.file, self.text, path, reason)

    def claim(self, entity_id: str, path: tuple[str | int, ...]) -> str:
        try:
            check_id(entity_id, field="id")
        except ProtocolError as exc:
            raise self.fail(path, exc.reason) from None
        if entity_id in self.owner:
            raise self.fail(path, f"duplicate id {entity_id!r}, first used at {format_path(self.owner[entity_id])}")
        self.owner[entity_id] = path
        return entity_id

    def build(self) -> City:
        raw = self.raw
        cc = CommandCenter(
            self.claim(raw.command_center.id, ("command_center", "id")),
            raw.command_center.name,
            raw.command_center.lat,
            raw.command_center.lon,
        )
        if not raw.precincts:
            raise self.fail(("precincts",), "at least one precinct is required")
        city = City(raw.city.id, raw.city.name, cc, {})
        for i, p in enumerate(raw.precincts):
            self.claim(p.id, ("precincts", i, "id"))
            self.claim(p.station, ("precincts", i, "station"))
            city.precincts[p.id] = Precinct(p.id, p.name, p.station, p.lat, p.lon, p.bounds)
            self.claim(city.precincts[p.id].maintenance_id, ("precincts", i, "id"))
        for i, s in enumerate(raw.sites):
            self.claim(s.id, ("sites", i, "id"))
            if s.precinct not in city.precincts:
                raise self.fail(("sites", i, "precinct"), f"unknown precinct {s.precinct!r}")
            if s.guard_room is not None:
                if s.kind is SiteKind.KIOSK_HALL:
                    raise self.fail(("sites", i, "guard_room"), "a kiosk hall has no guard room")
                self.claim(s.guard_room, ("sites", i, "guard_room"))
            elif s.kind is not SiteKind.KIOSK_HALL:
                raise self.fail(("sites", i, "guard_room"), f"required for a {s.kind.value}")
            city.sites[s.id] = Site(s.id, s.kind, s.precinct, s.name, s.lat, s.lon, s.guard_room)
        for i, t in enumerate(raw.teams):
            self.claim(t.id, ("teams", i, "id"))
            if t.precinct not in city.precincts:
                raise self.fail(("teams", i, "precinct"), f"unknown precinct {t.precinct!r}")
            city.teams[t.id] = Team(t.id, t.precinct, t.name)
        for i, d in enumerate(raw.devices):
            city.devices[d.id] = self._device(city, i, d)
        for i, r in enumerate(raw.residents):
            self.claim(r.id, ("residents", i, "id"))
            site = city.sites.get(r.site)
            if site is None or site.kind is not SiteKind.COMMUNITY:
                raise self.fail(("residents", i, "site"), f"unknown community {r.site!r}")
            phone = city.devices.get(r.phone)
            if phone is None or phone.kind is not DeviceKind.RESIDENT_PHONE:
                raise self.fail(("residents", i, "phone"), f"not a resident_phone device: {r.phone!r}")
            city.residents[r.id] = Resident(r.id, r.site, r.unit, r.phone, r.verified, r.name)
        for i, v in enumerate(raw.volunteers):
            self.claim(v.id, ("volunteers", i, "id"))
            if v.team not in city.teams:
                raise self.fail(("volunteers", i, "team"), f"unknown team {v.team!r}")
            phone = city.devices.get(v.phone)
            if phone is None or phone.kind is not DeviceKind.VOLUNTEER_PHONE:
                raise self.fail(("volunteers", i, "phone"), f"not a volunteer_phone device: {v.phone!r}")
            city.volunteers[v.id] = Volunteer(v.id, v.team, v.phone, v.name)
        return city

    def _device(self, city: City, i: int, d: _Device) -> Device:
        self.claim(d.id, ("devices", i, "id"))
        if d.kind is DeviceKind.VOLUNTEER_PHONE:
            team = city.teams.get(d.team or "")
            if team is None:
                raise self.fail(("devices", i, "team"), f"a volunteer_phone needs a known team, got {d.team!r}")
            precinct = city.precincts[team.precinct_id]
            lat, lon = d.lat if d.lat is not None else precinct.lat, d.lon if d.lon is not None else precinct.lon
            return Device(d.id, d.kind, team.precinct_id, None, team.id, d.unit, lat, lon, d.heartbeat_s)
        site = city.sites.get(d.site or "")
        if site is None:
            raise self.fail(("devices", i, "site"), f"unknown site {d.site!r}")
        if site.kind not in _DEVICE_SITE_KINDS[d.kind]:
            raise self.fail(("devices", i, "kind"), f"a {d.kind.value} cannot be at a {site.kind.value} ({site.id})")
        if d.kind is DeviceKind.DOOR and not d.unit:
            raise self.fail(("devices", i, "unit"), "a door needs the unit it serves")
        lat, lon = d.lat if d.lat is not None else site.lat, d.lon if d.lon is not None else site.lon
        return Device(d.id, d.kind, site.precinct_id, site.id, None, d.unit, lat, lon, d.heartbeat_s)


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


def city_to_dict(city: City) -> dict[str, Any]:
    """The TOML-shaped dict of a city (the inverse of :func:`city_from_dict`)."""

    def drop_none(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if v is not None and v != ""}

    return {
        "city": {"id": city.id, "name": city.name},
        "command_center": {"id": city.command_center.id, "name": city.command_center.name,
                           "lat": city.command_center.lat, "lon": city.command_center.lon},
        "precincts": [
            drop_none({"id": p.id, "name": p.name, "station": p.station_id, "lat": p.lat, "lon": p.lon,
                       "bounds": list(p.bounds) if p.bounds else None})
            for p in city.precincts.values()
        ],
        "sites": [
            drop_none({"id": s.id, "kind": s.kind.value, "precinct": s.precinct_id, "name": s.name,
                       "lat": s.lat, "lon": s.lon, "guard_room": s.guard_room_id})
            for s in city.sites.values()
        ],
        "devices": [
            drop_none({"id": d.id, "kind": d.kind.value, "site": d.site_id, "team": d.team_id, "unit": d.unit,
                       "lat": round(d.lat, 6), "lon": round(d.lon, 6), "heartbeat_s": d.heartbeat_s})
            for d in city.devices.values()
        ],
        "residents": [
            drop_none({"id": r.id, "site": r.site_id, "unit": r.unit, "phone": r.phone_id,
                       "verified": r.verified, "name": r.name})
            for r in city.residents.values()
        ],
        "teams": [drop_none({"id": t.id, "precinct": t.precinct_id, "name": t.name}) for t in city.teams.values()],
        "volunteers": [
            drop_none({"id": v.id, "team": v.team_id, "phone": v.phone_id, "name": v.name})
            for v in city.volunteers.values()
        ],
    }

