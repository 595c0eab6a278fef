"""What a host counts, and the frozen snapshot of it (:class:`HostStats`) that ``statistics()`` returns.

The counters outlive the parts a failed step rebuilds from the journal: one :class:`Counters` per host, shared
by every part that counts something.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Counters:
    accepted: int = 0
    duplicates: int = 0
    refused: int = 0
    deadlines_fired: int = 0
    changes_dropped: int = 0
    device_commands_dropped: int = 0
    seq_rearmed: int = 0
    clock_skewed: int = 0
    journal_failures: int = 0
    deadline_errors: int = 0
    commands_redelivered: int = 0
    commands_failed: int = 0
    rate_limited: int = 0


@dataclass(frozen=True, slots=True)
class HostStats:
    host_id: str
    devices: int
    devices_active: int
    """Devices with an entity on the host: heard from since it started (any kind, phones too)."""
    responders: int
    incidents_open: int
    deadlines: int
    accepted: int
    duplicates: int
    refused: int
    deadlines_fired: int
    changes_dropped: int
    device_commands_dropped: int
    journal_writes: int
    seq_rearmed: int = 0
    """Event windows started again: a device rebooted (new ``boot``) or jumped its seq back."""
    clock_skewed: int = 0
    """Messages stamped outside the DC-09 window (−40/+20 s) of their arrival."""
    journal_failures: int = 0
    """Steps whose journal write failed: not kept, not acked, the host back to its journal."""
    deadline_errors: int = 0
    """Deadline handlings that raised (each tried again ``deadline_retry_s`` later)."""
    commands_redelivered: int = 0
    commands_failed: int = 0
    devices_supervised: int = 0
    """Fixed devices (doors, cameras, panic boxes, kiosks) under supervision: heard from at least once (or reported
    offline by the broker), so a silence of theirs is reported. The same state that raises ``device.offline``."""
    devices_offline: int = 0
    """Of those, the ones offline now (reported alone, or folded into their site's outage)."""
    sites_offline: int = 0
    """Sites in an outage now: every supervised device offline, one ``site.offline`` incident open."""
    patrols_active: int = 0
    """Volunteer patrols under way (running, paused or suspended)."""
    patrols_ended: int = 0
    patrol_valid_s: float = 0.0
    """Valid patrol time of the ended patrols (what the points rule credits)."""
    patrol_distance_m: float = 0.0
    """Distance of the ended patrols' kept fixes."""
    fixes_kept: int = 0
    fixes_discarded: int = 0
    fixes_discarded_by_reason: dict[str, int] = field(default_factory=dict)
    """Discarded fixes per GPS filter reason (``engine.patrol.gps_filter.DiscardReason`` values)."""
    patrol_suspensions: int = 0
    """Patrols suspended for want of fixes (each time)."""
    patrols_by_team: dict[str, tuple[int, float]] = field(default_factory=dict)
    """Team id → (patrols ended, valid seconds)."""
    units_by_state: dict[str, int] = field(default_factory=dict)
    """Units tracked by this host per state (``protocols.patrol.UnitState`` values)."""
    dispatch_effects: dict[str, int] = field(default_factory=dict)
    """Dispatch effects since the host started, by kind (OfferSent, TaskAssigned, OfferExpired, ...)."""
    rate_limited: int = 0
    """Tips and points requests refused because their device sent too many (``engine/hosting/phone_limits.py``)."""
    community: dict[str, int] = field(default_factory=dict)
    """The community's counters: visitor calls by outcome, refusals by reason, passes, codes, thrown objects
    (``engine/hosting/community_domain.py``)."""
    notices: dict[str, int] = field(default_factory=dict)
    """The notice boards' counters: posted, started, expired, withdrawn, receipts, refusals by reason; active and
    scheduled now (``engine/hosting/notices.py``)."""

    @property
    def devices_online(self) -> int:
        """Supervised devices not offline: reporting within their heartbeat allowance."""
        return self.devices_supervised - self.devices_offline


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """Supervision's own counts, taken from the state that raises and withdraws the offline incidents."""

    supervised: int = 0
    offline: int = 0
    sites_offline: int = 0


@dataclass(frozen=True, slots=True)
class PatrolFigures:
    """The patrols' own counts (``engine.hosting.patrol``): under way now, and summed over the ended ones."""

    active: int = 0
    ended: int = 0
    valid_s: float = 0.0
    distance_m: float = 0.0
    fixes_kept: int = 0
    fixes_discarded: int = 0
    discarded: dict[str, int] = field(default_factory=dict)
    suspensions: int = 0
    teams: dict[str, tuple[int, float]] = field(default_factory=dict)


def host_stats(host_id: str, counters: Counters, *, devices: int, devices_active: int, responders: int,
               incidents_open: int, deadlines: int, journal_writes: int,
               health: DeviceHealth = DeviceHealth(), patrols: PatrolFigures = PatrolFigures(),
               units_by_state: dict[str, int] | None = None, dispatch_effects: dict[str, int] | None = None,
               community: dict[str, int] | None = None, notices: dict[str, int] | None = None) -> HostStats:
    c, p = counters, patrols
    return HostStats(
        host_id, devices, devices_active, responders, incidents_open, deadlines, c.accepted, c.duplicates,
        c.refused, c.deadlines_fired, c.changes_dropped, c.device_commands_dropped, journal_writes,
        c.seq_rearmed, c.clock_skewed, c.journal_failures, c.deadline_errors, c.commands_redelivered,
        c.commands_failed, health.supervised, health.offline, health.sites_offline,
        p.active, p.ended, p.valid_s, p.distance_m, p.fixes_kept, p.fixes_discarded, dict(p.discarded),
        p.suspensions, dict(p.teams), dict(units_by_state or {}), dict(dispatch_effects or {}), c.rate_limited,
        dict(community or {}), dict(notices or {}),
    )
