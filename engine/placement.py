"""Placement: which host holds which entity.

A precinct stays together — its sites, devices, guard rooms and police station in one host — so the
alarm path from device to guard room to station never crosses a Ray boundary. A precinct with more
devices than ``max_devices_per_shard`` is split into shards by a stable hash of the site id (a site never
splits); each shard holds a replica of the station entity for the sites it carries. Shards are packed
onto ``precinct_hosts`` host actors, largest first. The command center has a host of its own.
"""

from __future__ import annotations

import math
import zlib
from collections import defaultdict
from dataclasses import dataclass

from engine.topology import City, subset_for

CC_HOST = "cc"


def stable_hash(text: str) -> int:
    """The same on every machine and every run (unlike ``hash``)."""
    return zlib.crc32(text.encode())


@dataclass(frozen=True, slots=True)
class Placement:
    hosts: tuple[str, ...]  # precinct hosts, then CC_HOST
    host_of_device: dict[str, str]
    host_of_site: dict[str, str]
    hosts_of_precinct: dict[str, tuple[str, ...]]

    @classmethod
    def plan(cls, city: City, *, precinct_hosts: int | None = None, max_devices_per_shard: int = 250_000
             ) -> "Placement":
        if max_devices_per_shard < 1:
            raise ValueError(f"max_devices_per_shard: must be >= 1, got {max_devices_per_shard}")
        devices_of_site: dict[str | None, int] = defaultdict(int)
        phones_of_precinct: dict[str, list[str]] = defaultdict(list)
        precinct_devices: dict[str, int] = defaultdict(int)
        for device in city.devices.values():
            precinct_devices[device.precinct_id] += 1
            if device.site_id is None:
                phones_of_precinct[device.precinct_id].append(device.id)
            else:
                devices_of_site[device.site_id] += 1

        shard_size: dict[tuple[str, int], int] = {}
        shard_of_site: dict[str, tuple[str, int]] = {}
        shard_count: dict[str, int] = {}
        for pid in city.precincts:
            n = max(1, math.ceil(precinct_devices[pid] / max_devices_per_shard))
            shard_count[pid] = n
            for k in range(n):
                shard_size[(pid, k)] = 0
        for site in city.sites.values():
            shard = (site.precinct_id, stable_hash(site.id) % shard_count[site.precinct_id])
            shard_of_site[site.id] = shard
            shard_size[shard] += devices_of_site[site.id] + 1

        count = precinct_hosts if precinct_hosts is not None else len(shard_size)
        if count < 1:
            raise ValueError(f"precinct_hosts: must be >= 1, got {count}")
        hosts = tuple(f"h{i}" for i in range(count))
        load = {h: 0 for h in hosts}
        host_of_shard: dict[tuple[str, int], str] = {}
        for shard in sorted(shard_size, key=lambda s: (-shard_size[s], s)):
            host = min(hosts, key=lambda h: (load[h], h))
            host_of_shard[shard] = host
            load[host] += shard_size[shard]

        host_of_site = {sid: host_of_shard[shard] for sid, shard in shard_of_site.items()}
        host_of_device: dict[str, str] = {}
        for device in city.devices.values():
            if device.site_id is not None:
                host_of_device[device.id] = host_of_site[device.site_id]
            else:
                k = stable_hash(device.id) % shard_count[device.precinct_id]
                host_of_device[device.id] = host_of_shard[(device.precinct_id, k)]
        hosts_of_precinct = {
            pid: tuple(sorted({host_of_shard[(pid, k)] for k in range(shard_count[pid])})) for pid in city.precincts
        }
        return cls(hosts + (CC_HOST,), host_of_device, host_of_site, hosts_of_precinct)

    @property
    def precinct_hosts(self) -> tuple[str, ...]:
        return tuple(h for h in self.hosts if h != CC_HOST)

    def host_for_device(self, device_id: str) -> str | None:
        return self.host_of_device.get(device_id)

    def city_for_host(self, city: City, host_id: str) -> City:
        """The slice of the city a host loads: its devices and sites (the CC host: none)."""
        devices = {d for d, h in self.host_of_device.items() if h == host_id}
        sites = {s for s, h in self.host_of_site.items() if h == host_id}
        return subset_for(city, devices, sites)
