"""Small cities and hosts for engine unit tests (no Ray)."""

from __future__ import annotations

from engine.citygen import CitySpec, generate_city
from engine.host import HostConfig, HostCore
from engine.journal import MemoryJournal
from engine.placement import CC_HOST, Placement
from engine.policy import default_policies
from protocols.batch import Ingest
from protocols.device import make_message

SMALL = CitySpec(precincts=1, communities=2, schools=2, kiosk_halls=1, volunteers=4, doors_per_community=2,
                 cameras_per_community=1, residents_per_door=2, seed=3)


class Pair:
    """One precinct host and the command-center host, with batches carried between them by hand."""

    def __init__(self, spec: CitySpec = SMALL, *, journal: MemoryJournal | None = None,
                 cc_journal: MemoryJournal | None = None, now_s: float = 0.0, policies=None) -> None:
        self.city = generate_city(spec)
        self.placement = Placement.plan(self.city, precinct_hosts=1)
        self.policies = policies or default_policies()
        self.journal = journal or MemoryJournal()
        self.cc_journal = cc_journal or MemoryJournal()
        self.now_s = now_s
        self.host = HostCore(HostConfig("h0", exact_deadlines=True), city=self.placement.city_for_host(self.city, "h0"),
                             policies=self.policies, journal=self.journal, now_s=now_s)
        self.cc = HostCore(HostConfig(CC_HOST, exact_deadlines=True),
                           city=self.placement.city_for_host(self.city, CC_HOST), policies=self.policies,
                           journal=self.cc_journal, now_s=now_s)
        self.seq: dict[str, int] = {}

    def send(self, device_id: str, kind: str, data: dict | None = None, *, seq: int | None = None,
             ts_ms: int | None = None, boot: int = 0):
        """``ts_ms`` defaults to the host's clock: pass the first send's to send the same message again."""
        if seq is None:
            seq = self.seq.get(device_id, 0) + 1
        self.seq[device_id] = max(self.seq.get(device_id, 0), seq)
        message = make_message(kind, seq=seq, ts=int(self.now_s * 1000) if ts_ms is None else ts_ms, data=data,
                               boot=boot)
        result = self.host.ingest([Ingest(device_id, message)], now_s=self.now_s)
        self.carry()
        return result

    def advance(self, to_s: float) -> None:
        self.now_s = to_s
        self.host.advance(now_s=to_s)
        self.carry()

    def carry(self) -> None:
        for dest, batch in self.host.take_outbox(now_s=self.now_s).items():
            assert dest == CC_HOST
            self.cc.deliver(batch, now_s=self.now_s)

    def restart(self) -> None:
        self.host = HostCore(HostConfig("h0", exact_deadlines=True),
                             city=self.placement.city_for_host(self.city, "h0"), policies=self.policies,
                             journal=self.journal, now_s=self.now_s)

    def device(self, kind: str, site_kind: str | None = None) -> str:
        for device in self.city.devices.values():
            if device.kind == kind and (site_kind is None or self.city.sites[device.site_id].kind == site_kind):
                return device.id
        raise LookupError(kind)
