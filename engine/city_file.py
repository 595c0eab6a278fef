"""Reading and writing a city file: TOML validated against its shape (:mod:`engine.city_schema`) and its
rules (ids unique and topic-safe, references known, devices where their kind may be) into a
:class:`~engine.city_model.City`, and the inverse (:func:`city_to_dict`). Errors name the file, line and field.
No file is written here: ``load_city`` reads one, ``city_to_dict`` returns the dict for the caller to write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.city_model import City, CommandCenter, Device, Precinct, Resident, Site, Team, Volunteer
from engine.city_schema import CityFile, DeviceEntry
from engine.errors import ConfigError
from engine.grids import zone_clash
from engine.tomlconf import convert, error_at, format_path, parse_toml, read_text
from protocols import DeviceKind, ProtocolError, SiteKind
from protocols.patrol import UNIT_KIND_OF
from protocols.topics import check_id

_DEVICE_SITE_KINDS: dict[DeviceKind, frozenset[SiteKind]] = {
    DeviceKind.DOOR: frozenset({SiteKind.COMMUNITY}),
    DeviceKind.CAMERA: frozenset(SiteKind),
    DeviceKind.PANIC_BOX: frozenset({SiteKind.SCHOOL}),
    DeviceKind.KIOSK: frozenset({SiteKind.KIOSK_HALL}),
    DeviceKind.RESIDENT_PHONE: frozenset({SiteKind.COMMUNITY}),
}
_PRECINCT_KINDS = frozenset({DeviceKind.POLICE_CAR_TERMINAL, DeviceKind.OFFICER_RADIO})
"""Devices of a precinct's police (no site, no team): they answer for the whole precinct."""


def load_city(path: str | Path) -> City:
    text = read_text(path)
    return city_from_dict(parse_toml(text, file=str(path)), file=str(path), text=text)


def city_from_dict(data: dict[str, Any], *, file: str = "<city>", text: str | None = None) -> City:
    """Validate a TOML-shaped dict (from a file or the generator) into a :class:`City`."""
    raw = convert(data, CityFile, file=file, text=text)
    return _Builder(raw, file=file, text=text).build()


class _Builder:
    def __init__(self, raw: CityFile, *, file: str, text: str | None) -> None:
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
            city.sites[s.id] = Site(s.id, s.kind, s.precinct, s.name, s.lat, s.lon, s.guard_room, s.address, s.zone)
        if (clash := zone_clash([s.zone for s in raw.sites])) is not None:
            raise self.fail(("sites", clash[0], "zone"), clash[1])
        for i, t in enumerate(raw.teams):
            self.claim(t.id, ("teams", i, "id"))
            if t.precinct not in city.precincts:
                raise self.fail(("teams", i, "precinct"), f"unknown precinct {t.precinct!r}")
            city.teams[t.id] = Team(t.id, t.precinct, t.name, t.street)
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

    def _device(self, city: City, i: int, d: DeviceEntry) -> Device:
        self.claim(d.id, ("devices", i, "id"))
        if d.precinct is not None and d.kind not in _PRECINCT_KINDS:
            raise self.fail(("devices", i, "precinct"), f"a {d.kind.value} takes its precinct from its "
                            f"{'team' if d.kind in UNIT_KIND_OF else 'site'}")
        if d.kind in _PRECINCT_KINDS:
            precinct = city.precincts.get(d.precinct or "")
            if precinct is None:
                raise self.fail(("devices", i, "precinct"),
                                f"a {d.kind.value} needs a known precinct, got {d.precinct!r}")
            if d.site is not None or d.team is not None:
                raise self.fail(("devices", i, "site" if d.site is not None else "team"),
                                f"a {d.kind.value} belongs to its precinct, not to a site or a team")
            lat, lon = d.lat if d.lat is not None else precinct.lat, d.lon if d.lon is not None else precinct.lon
            return Device(d.id, d.kind, precinct.id, None, None, d.unit, lat, lon, d.heartbeat_s, d.label)
        if d.kind is DeviceKind.VOLUNTEER_PHONE:
            team = city.teams.get(d.team or "")
            if team is None:
                raise self.fail(("devices", i, "team"), f"a volunteer_phone needs a known team, got {d.team!r}")
            precinct = city.precincts[team.precinct_id]
            lat, lon = d.lat if d.lat is not None else precinct.lat, d.lon if d.lon is not None else precinct.lon
            return Device(d.id, d.kind, team.precinct_id, None, team.id, d.unit, lat, lon, d.heartbeat_s, d.label)
        site = city.sites.get(d.site or "")
        if site is None:
            raise self.fail(("devices", i, "site"), f"unknown site {d.site!r}")
        if site.kind not in _DEVICE_SITE_KINDS[d.kind]:
            raise self.fail(("devices", i, "kind"), f"a {d.kind.value} cannot be at a {site.kind.value} ({site.id})")
        if d.kind is DeviceKind.DOOR and not d.unit:
            raise self.fail(("devices", i, "unit"), "a door needs the unit it serves")
        lat, lon = d.lat if d.lat is not None else site.lat, d.lon if d.lon is not None else site.lon
        return Device(d.id, d.kind, site.precinct_id, site.id, None, d.unit, lat, lon, d.heartbeat_s, d.label)


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
            drop_none({"id": d.id, "kind": d.kind.value, "site": d.site_id, "team": d.team_id,
                       "precinct": d.precinct_id if d.kind in _PRECINCT_KINDS else None, "unit": d.unit,
                       "lat": round(d.lat, 6), "lon": round(d.lon, 6), "heartbeat_s": d.heartbeat_s})
            for d in city.devices.values()
        ],
        "residents": [
            drop_none({"id": r.id, "site": r.site_id, "unit": r.unit, "phone": r.phone_id,
                       "verified": r.verified, "name": r.name})
            for r in city.residents.values()
        ],
        "teams": [drop_none({"id": t.id, "precinct": t.precinct_id, "name": t.name, "street": t.street})
                  for t in city.teams.values()],
        "volunteers": [
            drop_none({"id": v.id, "team": v.team_id, "phone": v.phone_id, "name": v.name})
            for v in city.volunteers.values()
        ],
    }
