"""Where a host actor runs and how it is, as it answers ``where`` (and ``connect``): typed, across Ray."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class HostPlace:
    host_id: str
    node_id: str
    pid: int
    restarted: bool
    """This process rebuilt the host from its journal (Ray restarted it), rather than starting it fresh."""
    started_at: float
    journal: str
    journal_failures: int

    def to_dict(self) -> dict:
        return asdict(self)
