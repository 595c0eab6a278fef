"""The city file's shape: strict (a misspelt key is an error, not a silent default), with the ranges of
coordinates and ids. :mod:`engine.city_file` validates a file against it and builds the model."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

from protocols import DeviceKind, SiteKind

Lat = Annotated[float, Meta(ge=-90.0, le=90.0)]
Lon = Annotated[float, Meta(ge=-180.0, le=180.0)]
Id = Annotated[str, Meta(min_length=1, max_length=64)]


class CityInfo(Struct, forbid_unknown_fields=True):
    id: Id
    name: str = ""


class CommandCenterEntry(Struct, forbid_unknown_fields=True):
    id: Id
    name: str = "Command center"
    lat: Lat = 0.0
    lon: Lon = 0.0


class PrecinctEntry(Struct, forbid_unknown_fields=True):
    id: Id
    station: Id
    name: str = ""
    lat: Lat = 0.0
    lon: Lon = 0.0
    bounds: tuple[Lat, Lon, Lat, Lon] | None = None


class SiteEntry(Struct, forbid_unknown_fields=True):
    id: Id
    kind: SiteKind
    precinct: Id
    name: str = ""
    lat: Lat = 0.0
    lon: Lon = 0.0
    guard_room: Id | None = None
    address: Annotated[str, Meta(max_length=200)] = ""
    zone: Annotated[str, Meta(max_length=100)] = ""


class DeviceEntry(Struct, forbid_unknown_fields=True):
    id: Id
    kind: DeviceKind
    site: Id | None = None
    team: Id | None = None
    precinct: Id | None = None
    """A police car's terminal or a foot officer's radio belongs to a precinct, not to a site or a team."""
    unit: str = ""
    lat: Lat | None = None
    lon: Lon | None = None
    heartbeat_s: Annotated[float, Meta(gt=0)] | None = None
    label: Annotated[str, Meta(max_length=100)] = ""


class ResidentEntry(Struct, forbid_unknown_fields=True):
    id: Id
    site: Id
    unit: str
    phone: Id
    verified: bool = False
    name: str = ""


class TeamEntry(Struct, forbid_unknown_fields=True):
    id: Id
    precinct: Id
    name: str = ""
    street: Annotated[str, Meta(max_length=100)] = ""


class VolunteerEntry(Struct, forbid_unknown_fields=True):
    id: Id
    team: Id
    phone: Id
    name: str = ""


class CityFile(Struct, forbid_unknown_fields=True):
    city: CityInfo
    command_center: CommandCenterEntry
    precincts: list[PrecinctEntry]
    sites: list[SiteEntry] = []
    devices: list[DeviceEntry] = []
    residents: list[ResidentEntry] = []
    teams: list[TeamEntry] = []
    volunteers: list[VolunteerEntry] = []
