"""The parts of one precinct host (``engine.hosting``), wired by hand for unit tests of each part: no façade,
no Ray, time passed in by the test."""

from __future__ import annotations

from engine.citygen import generate_city
from engine.hosting.changes import ChangeStream
from engine.hosting.config import HostConfig
from engine.hosting.incidents import IncidentStore
from engine.hosting.outboxes import DeviceCommandOutbox, PeerOutbox
from engine.hosting.roster import Roster
from engine.hosting.staging import JournalStaging
from engine.hosting.stats import Counters
from engine.hosting.supervision import SeenLog, Supervision
from engine.journal import MemoryJournal
from engine.placement import Placement
from engine.policy import default_policies
from engine.scheduler import DeadlineScheduler
from protocols import IncidentState, Level, TimelineEvent
from protocols.kinds import IncidentKind
from protocols.records import IncidentRecord, TimelineEntry
from tests.engine.helpers import SMALL

CITY = generate_city(SMALL)
HOST_CITY = Placement.plan(CITY, precinct_hosts=1).city_for_host(CITY, "h0")


class Parts:
    def __init__(self, *, now_s: float = 0.0, journal: MemoryJournal | None = None,
                 config: HostConfig | None = None) -> None:
        self.city = HOST_CITY
        self.policies = default_policies()
        self.config = config or HostConfig("h0", exact_deadlines=True)
        self.journal = journal or MemoryJournal()
        self.counters = Counters()
        self.staging = JournalStaging()
        self.changes = ChangeStream(max_changes=self.config.max_changes, counters=self.counters)
        self.peers = PeerOutbox("h0", max_outbox=self.config.max_outbox)
        self.device_commands = DeviceCommandOutbox(self.config, counters=self.counters, staging=self.staging,
                                                   city=self.city, speaks_json=lambda device_id: False)
        self.seen_log = SeenLog(flush_s=self.config.seen_flush_s, now_s=now_s)
        self.rebuild_parts()

    def rebuild_parts(self) -> None:
        """The parts a host makes anew from its journal."""
        self.scheduler = DeadlineScheduler()
        self.roster = Roster(self.city, is_cc=False, alarm_memory=self.config.alarm_memory)
        self.store = IncidentStore(self.config, city=self.city, policies=self.policies, journal=self.journal,
                                   scheduler=self.scheduler, responders=self.roster.responders, staging=self.staging,
                                   changes=self.changes, device_commands=self.device_commands, peers=self.peers)
        self.supervision = Supervision(self.config, policies=self.policies, scheduler=self.scheduler,
                                       roster=self.roster, store=self.store, staging=self.staging,
                                       seen_log=self.seen_log)

    def write(self) -> None:
        """End the step: the staged batch to the journal, the outputs kept."""
        batch = self.staging.take()
        if batch is not None:
            self.journal.write(batch)
        for output in (self.changes, self.device_commands, self.peers):
            output.keep()

    def device(self, kind: str, site_kind: str | None = None) -> str:
        for device in self.city.devices.values():
            if device.kind == kind and (site_kind is None or self.city.sites[device.site_id].kind == site_kind):
                return device.id
        raise LookupError(kind)


def make_record(entries: int, version: int = 1, *, incident_id: str = "d#1") -> IncidentRecord:
    """A raised incident with ``entries`` timeline entries, for parts that only carry records."""
    timeline = tuple(TimelineEntry(float(i), TimelineEvent.NOTIFIED, Level.GUARD_ROOM, "g", "system")
                     for i in range(entries))
    return IncidentRecord(id=incident_id, kind=IncidentKind.SCHOOL_PANIC, device_id="d", site_id="s",
                          precinct_id="p", host_id="h0", priority=1, state=IncidentState.RAISED, raised_s=0.0,
                          level=Level.GUARD_ROOM, timeline=timeline, version=version)
