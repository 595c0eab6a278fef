"""What a host is told when it starts: its id, the command center's, and its limits and timings."""

from __future__ import annotations

from dataclasses import dataclass

from engine.entities import ALARM_MEMORY
from engine.placement import CC_HOST


@dataclass(frozen=True, slots=True)
class HostConfig:
    host_id: str
    cc_host_id: str = CC_HOST
    heartbeat_interval_s: float = 30.0
    heartbeat_misses: int = 3
    alarm_memory: int = ALARM_MEMORY
    max_changes: int = 100_000
    max_outbox: int = 100_000
    max_device_commands: int = 100_000
    exact_deadlines: bool = False
    """Virtual time: a deadline is handled at its due time, not at the (later) time the clock was moved to."""
    seen_flush_s: float = 1.0
    """How often supervised devices' last-seen times are journaled (a restarted host supervises from them)."""
    deadline_retry_s: float = 1.0
    """A deadline whose handling raised is tried again this much later (and counted), never dropped."""
    command_confirm_s: float = 10.0
    """A device command handed to a bridge that confirms (``take_device_commands(now_s=...)``) and not confirmed
    in this time is handed out again..."""
    command_attempts: int = 3
    """...at most this many times in all; then it is audited as failed."""

    def __post_init__(self) -> None:
        if self.heartbeat_interval_s <= 0 or self.heartbeat_misses < 1:
            raise ValueError("heartbeat_interval_s must be > 0 and heartbeat_misses >= 1")
