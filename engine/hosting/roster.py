"""The entities that live on a host: a device entity per device, activated on its first message (virtual
actors) with the recent alarms the journal remembers for it, and the responders (guard rooms, stations,
maintenance queues, or the command center) made from the city."""

from __future__ import annotations

from engine.entities import DeviceEntity, Responder
from engine.journal import AlarmSeq
from engine.topology import City
from protocols import Level


class Roster:
    def __init__(self, city: City, *, is_cc: bool, alarm_memory: int) -> None:
        self.city = city
        self.alarm_memory = alarm_memory
        self.devices: dict[str, DeviceEntity] = {}
        self.responders: dict[str, Responder] = make_responders(city, is_cc=is_cc)
        self.recovered_seqs: dict[str, list[AlarmSeq]] = {}
        """Each device's recent alarms from the journal, given to its entity when it is activated."""

    def device(self, device_id: str) -> DeviceEntity | None:
        """The device's entity, activated on first use; None for a device not on this host."""
        entity = self.devices.get(device_id)
        if entity is None:
            device = self.city.devices.get(device_id)
            if device is None:
                return None
            entity = self.devices[device_id] = DeviceEntity(device)
            for row in self.recovered_seqs.pop(device_id, ()):
                entity.remember_alarm(row.seq, row.incident_id, boot=row.boot, digest=row.digest,
                                      memory_size=self.alarm_memory)
        return entity

    def speaks_json(self, device_id: str) -> bool:
        """The encoding of the device's last accepted message (a device not heard from: not JSON)."""
        entity = self.devices.get(device_id)
        return entity.speaks_json if entity else False

    def last_seen(self) -> dict[str, tuple[float, bool]]:
        """(last seen, offline) of each device heard from."""
        return {d: (e.last_seen_s, e.offline) for d, e in self.devices.items() if e.last_seen_s is not None}


def make_responders(city: City, *, is_cc: bool) -> dict[str, Responder]:
    """The command center alone on its host; elsewhere the stations and maintenance queues of every precinct
    the host has a device or site in, and the guard rooms of its sites."""
    if is_cc:
        cc = city.command_center
        return {cc.id: Responder(cc.id, Level.COMMAND_CENTER, "")}
    responders: dict[str, Responder] = {}
    precincts = {d.precinct_id for d in city.devices.values()} | {s.precinct_id for s in city.sites.values()}
    for pid in sorted(precincts):
        precinct = city.precincts[pid]
        responders[precinct.station_id] = Responder(precinct.station_id, Level.POLICE_STATION, pid)
        responders[precinct.maintenance_id] = Responder(precinct.maintenance_id, Level.MAINTENANCE, pid)
    for site in city.sites.values():
        if site.guard_room_id:
            responders[site.guard_room_id] = Responder(site.guard_room_id, Level.GUARD_ROOM, site.precinct_id)
    return responders
