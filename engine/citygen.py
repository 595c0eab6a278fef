"""A seeded generator of synthetic cities of any size, shaped like the Anhui deployments:
communities with door panels, residents and thrown-object cameras; schools with panic boxes;
unmanned police-station kiosk halls; red-armband volunteers in teams; optionally each precinct's patrol cars and
foot officers (``police_cars_per_precinct``, ``foot_officers_per_precinct``; none by default; the shipped demo
city has 2 cars and 3 foot officers per precinct, drawn after everything else so the rest is as without them)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from engine.topology import City, city_from_dict

CENTER_LAT, CENTER_LON = 31.8206, 117.2272  # Hefei
CITY_SPAN_DEG = 0.30


@dataclass(frozen=True, slots=True)
class CitySpec:
    precincts: int = 6
    communities: int = 100
    schools: int = 30
    kiosk_halls: int = 5
    volunteers: int = 2520
    doors_per_community: int = 4
    cameras_per_community: int = 2
    residents_per_door: int = 2
    panic_boxes_per_school: int = 2
    kiosks_per_hall: int = 3
    team_size: int = 20
    police_cars_per_precinct: int = 0
    """Patrol cars of each precinct's police (a terminal each): dispatchable units beside the volunteers."""
    foot_officers_per_precinct: int = 0
    """Foot officers of each precinct (a radio each)."""
    seed: int = 1

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if name != "seed" and value < 0:
                raise ValueError(f"{name}: must be >= 0, got {value}")
        if self.precincts < 1:
            raise ValueError(f"precincts: must be >= 1, got {self.precincts}")
        if self.team_size < 1:
            raise ValueError(f"team_size: must be >= 1, got {self.team_size}")


_STREETS = ("Renmin Road", "Jiefang Road", "Zhongshan Road", "Xinhua Street", "Heping Road", "Wenhua Road",
            "Jianshe Road", "Chaoyang Street", "Binhe Road", "Minzhu Street", "Changjiang Road", "Yingbin Avenue")


def _address(index: int) -> str:
    """A street address, the same for the same site index (no draw from the generator's random stream)."""
    return f"{(index * 37) % 280 + 1} {_STREETS[(index * 7) % len(_STREETS)]}"


def _zone(precinct: dict[str, Any], lat: float, lon: float) -> str:
    """Which quarter of its precinct a site lies in, as a grid name."""
    b = precinct["bounds"]
    north = lat >= (b[0] + b[2]) / 2
    east = lon >= (b[1] + b[3]) / 2
    return f"{precinct['id']} {'north' if north else 'south'}-{'east' if east else 'west'} grid"


def generate_city_dict(spec: CitySpec) -> dict[str, Any]:
    rng = random.Random(spec.seed)
    cols = math.ceil(math.sqrt(spec.precincts))
    rows = math.ceil(spec.precincts / cols)
    cell_lat, cell_lon = CITY_SPAN_DEG / rows, CITY_SPAN_DEG / cols
    lat0, lon0 = CENTER_LAT - CITY_SPAN_DEG / 2, CENTER_LON - CITY_SPAN_DEG / 2

    precincts = []
    for i in range(spec.precincts):
        r, c = divmod(i, cols)
        bounds = [lat0 + r * cell_lat, lon0 + c * cell_lon, lat0 + (r + 1) * cell_lat, lon0 + (c + 1) * cell_lon]
        precincts.append({
            "id": f"P{i + 1}", "name": f"Precinct {i + 1} police station", "station": f"P{i + 1}-station",
            "lat": round((bounds[0] + bounds[2]) / 2, 6), "lon": round((bounds[1] + bounds[3]) / 2, 6),
            "bounds": [round(b, 6) for b in bounds],
        })

    def spot(precinct: dict[str, Any]) -> tuple[float, float]:
        b = precinct["bounds"]
        return round(rng.uniform(b[0], b[2]), 6), round(rng.uniform(b[1], b[3]), 6)

    def near(lat: float, lon: float) -> tuple[float, float]:
        return round(lat + rng.uniform(-0.001, 0.001), 6), round(lon + rng.uniform(-0.001, 0.001), 6)

    sites, devices, residents = [], [], []
    site_specs = (
        [("community", n) for n in range(spec.communities)]
        + [("school", n) for n in range(spec.schools)]
        + [("kiosk_hall", n) for n in range(spec.kiosk_halls)]
    )
    prefix = {"community": "C", "school": "S", "kiosk_hall": "K"}
    for index, (kind, n) in enumerate(site_specs):
        precinct = precincts[index % spec.precincts]
        site_id = f"{prefix[kind]}{n + 1:04d}"
        lat, lon = spot(precinct)
        site: dict[str, Any] = {
            "id": site_id, "kind": kind, "precinct": precinct["id"], "lat": lat, "lon": lon,
            "name": {"community": f"Community {n + 1}", "school": f"School {n + 1}",
                     "kiosk_hall": f"Self-service hall {n + 1}"}[kind],
            "address": _address(index), "zone": _zone(precinct, lat, lon),
        }
        if kind != "kiosk_hall":
            site["guard_room"] = f"{site_id}-guard"
        sites.append(site)
        if kind == "community":
            for d in range(spec.doors_per_community):
                unit = f"{d + 1}"
                door_id = f"{site_id}-door{d + 1}"
                devices.append({"id": door_id, "kind": "door", "site": site_id, "unit": unit,
                                "label": f"Building {unit} door", **_ll(near(lat, lon))})
                for r in range(spec.residents_per_door):
                    phone_id = f"{site_id}-u{unit}-r{r + 1}-phone"
                    devices.append({"id": phone_id, "kind": "resident_phone", "site": site_id})
                    residents.append({
                        "id": f"{site_id}-u{unit}-r{r + 1}", "site": site_id, "unit": unit, "phone": phone_id,
                        "verified": rng.random() < 0.9,
                    })
            for c in range(spec.cameras_per_community):
                devices.append({"id": f"{site_id}-cam{c + 1}", "kind": "camera", "site": site_id,
                                "label": f"Camera {c + 1}", **_ll(near(lat, lon))})
        elif kind == "school":
            for b in range(spec.panic_boxes_per_school):
                devices.append({"id": f"{site_id}-panic{b + 1}", "kind": "panic_box", "site": site_id,
                                "label": f"Panic button {b + 1}", **_ll(near(lat, lon))})
            devices.append({"id": f"{site_id}-cam1", "kind": "camera", "site": site_id, "label": "Gate camera",
                            **_ll(near(lat, lon))})
        else:
            for k in range(spec.kiosks_per_hall):
                devices.append({"id": f"{site_id}-kiosk{k + 1}", "kind": "kiosk", "site": site_id,
                                "label": f"Kiosk {k + 1}", **_ll(near(lat, lon))})

    teams, volunteers = [], []
    team_count = math.ceil(spec.volunteers / spec.team_size) if spec.volunteers else 0
    for t in range(team_count):
        teams.append({"id": f"T{t + 1:03d}", "precinct": precincts[t % spec.precincts]["id"],
                      "name": f"Red armband team {t + 1}"})
    for v in range(spec.volunteers):
        team = teams[v % team_count]
        precinct = precincts[int(team["precinct"][1:]) - 1]
        phone_id = f"V{v + 1:05d}-phone"
        devices.append({"id": phone_id, "kind": "volunteer_phone", "team": team["id"], **_ll(spot(precinct))})
        volunteers.append({"id": f"V{v + 1:05d}", "team": team["id"], "phone": phone_id})
    for precinct in precincts:  # last, so a city without police draws the same numbers as before
        station = (precinct["lat"], precinct["lon"])
        for n in range(spec.police_cars_per_precinct):
            devices.append({"id": f"{precinct['id']}-car{n + 1}", "kind": "police_car_terminal",
                            "precinct": precinct["id"], "label": f"Patrol car {n + 1}", **_ll(near(*station))})
        for n in range(spec.foot_officers_per_precinct):
            devices.append({"id": f"{precinct['id']}-officer{n + 1}", "kind": "officer_radio",
                            "precinct": precinct["id"], "label": f"Foot officer {n + 1}", **_ll(near(*station))})

    return {
        "city": {"id": f"synthetic-{spec.seed}", "name": "Synthetic district"},
        "command_center": {"id": "CC", "name": "District command center", "lat": CENTER_LAT, "lon": CENTER_LON},
        "precincts": precincts,
        "sites": sites,
        "devices": devices,
        "residents": residents,
        "teams": teams,
        "volunteers": volunteers,
    }


def generate_city(spec: CitySpec) -> City:
    return city_from_dict(generate_city_dict(spec), file=f"<generated seed={spec.seed}>")


def _ll(point: tuple[float, float]) -> dict[str, float]:
    return {"lat": point[0], "lon": point[1]}
