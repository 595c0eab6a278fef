"""Which host owns an incident, remembered from the records a driver has seen (each record names its host), in
a bounded map: the least recently used entries go first. A miss is answered by asking the hosts, never by
parsing the incident's id. Safe to share between threads (the console gateway asks from several)."""

from __future__ import annotations

import threading
from collections import OrderedDict

from protocols.records import IncidentRecord


class OwnerIndex:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity: must be at least 1")
        self.capacity = capacity
        self._owners: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def learn(self, record: IncidentRecord) -> None:
        self.remember(record.id, record.host_id)

    def remember(self, incident_id: str, host_id: str) -> None:
        with self._lock:
            self._owners[incident_id] = host_id
            self._owners.move_to_end(incident_id)
            while len(self._owners) > self.capacity:
                self._owners.popitem(last=False)

    def owner(self, incident_id: str) -> str | None:
        with self._lock:
            host = self._owners.get(incident_id)
            if host is not None:
                self._owners.move_to_end(incident_id)
            return host

    def __len__(self) -> int:
        return len(self._owners)
