"""Site outages (engine.hosting.site_health through engine.hosting.supervision): one ``site.offline`` incident when
every supervised device of a site goes offline, the device incidents folded into it, withdrawn when the site speaks
again; and supervision's figures from the same state. Time is passed in; no Ray."""

from __future__ import annotations

from engine.hosting.supervision import SUPERVISION
from engine.incident import system_cancel
from engine.hosting.stats import DeviceHealth
from protocols import IncidentState
from protocols.batch import StateChange
from protocols.kinds import IncidentKind
from tests.engine.helpers import Pair
from tests.engine.host_parts import Parts

OFFLINE_AFTER_S = 30.0 * 3  # the engine's default interval × misses
COMMUNITY = ("C0001-door1", "C0001-door2", "C0001-cam1")


def _run_until(parts: Parts, now_s: float) -> None:
    """The host's deadline loop, for supervision's timers only, then the step written."""
    for due_s, (_kind, device_id) in parts.scheduler.drain_due(now_s):
        parts.supervision.deadline(device_id, due_s, due_s)
    parts.write()


def _seen(parts: Parts, device_ids, now_s: float) -> None:
    for device_id in device_ids:
        parts.supervision.seen(parts.roster.device(device_id), now_s)
    parts.write()


def _active(parts: Parts, kind: IncidentKind, site_id: str = "C0001"):
    return sorted((r for r in parts.store.incidents.values() if r.kind is kind and r.site_id == site_id
                   and r.is_active), key=lambda r: r.raised_s)


def _community_dark(parts: Parts) -> str:
    """The community's three devices heard at 0, 10 and 20 s, then silent: offline at 90, 100 and 110 s."""
    for n, device_id in enumerate(COMMUNITY):
        _seen(parts, [device_id], 10.0 * n)
    _run_until(parts, 100.0)
    assert len(_active(parts, IncidentKind.DEVICE_OFFLINE)) == 2 and not _active(parts, IncidentKind.SITE_OFFLINE)
    _run_until(parts, 110.0)
    (site,) = _active(parts, IncidentKind.SITE_OFFLINE)
    return site.id


def test_a_whole_site_going_silent_is_one_site_incident_and_the_device_incidents_are_folded_into_it():
    parts = Parts()
    site_id = _community_dark(parts)
    site = parts.store.get(site_id)
    assert site_id.startswith("C0001#offline@") and site.device_id == "C0001-door1"  # a door before a camera
    assert "all 3 supervised devices of Community 1 offline" in site.timeline[0].note
    assert _active(parts, IncidentKind.DEVICE_OFFLINE) == []
    folded = [r for r in parts.journal.incidents.values() if r.kind is IncidentKind.DEVICE_OFFLINE]
    assert sorted(r.device_id for r in folded) == ["C0001-door1", "C0001-door2"]  # the third never had its own
    assert all(r.state is IncidentState.CANCELLED and r.disposition == f"folded into site outage {site_id}"
               for r in folded)
    assert all(parts.roster.devices[d].offline_incident == site_id for d in COMMUNITY)
    assert parts.supervision.health() == DeviceHealth(supervised=3, offline=3, sites_offline=1)
    audit = [(r.action, r.target, r.outcome) for r in parts.journal.audit]
    assert audit[-2:] == [("site.offline", "C0001", "raised"), ("device.offline", "C0001-cam1", "folded")]


def test_the_first_device_back_withdraws_the_site_incident_and_a_sibling_still_silent_is_reported_alone_later():
    parts = Parts()
    site_id = _community_dark(parts)
    _seen(parts, ["C0001-door1"], 200.0)  # power back: the first device reports
    assert parts.store.get(site_id) is None
    withdrawn = parts.journal.incidents[site_id]
    assert withdrawn.state is IncidentState.CANCELLED
    assert withdrawn.disposition == "site back online: C0001-door1 reporting again"
    assert parts.supervision.health() == DeviceHealth(supervised=3, offline=0, sites_offline=0)
    assert parts.scheduler.due_of((SUPERVISION, "C0001-cam1")) == 200.0 + OFFLINE_AFTER_S  # a fresh period
    _seen(parts, ["C0001-door1", "C0001-door2"], 250.0)
    _run_until(parts, 200.0 + OFFLINE_AFTER_S)
    (alone,) = _active(parts, IncidentKind.DEVICE_OFFLINE)
    assert alone.device_id == "C0001-cam1" and not _active(parts, IncidentKind.SITE_OFFLINE)
    assert parts.supervision.health() == DeviceHealth(supervised=3, offline=1, sites_offline=0)


def test_a_device_heard_for_the_first_time_at_a_dark_site_withdraws_the_site_incident():
    parts = Parts()
    _seen(parts, ["C0001-door1", "C0001-door2"], 0.0)
    _run_until(parts, OFFLINE_AFTER_S)
    (site,) = _active(parts, IncidentKind.SITE_OFFLINE)
    _seen(parts, ["C0001-cam1"], 100.0)
    assert parts.store.get(site.id) is None and parts.supervision.health().sites_offline == 0


def test_a_site_with_a_single_supervised_device_has_no_outage_of_its_own():
    parts = Parts()
    _seen(parts, ["C0002-door1"], 0.0)
    _run_until(parts, OFFLINE_AFTER_S)
    assert len(_active(parts, IncidentKind.DEVICE_OFFLINE, "C0002")) == 1
    assert _active(parts, IncidentKind.SITE_OFFLINE, "C0002") == []


def test_one_device_offline_while_its_siblings_report_stays_a_device_incident():
    parts = Parts()
    _seen(parts, COMMUNITY, 0.0)
    _seen(parts, COMMUNITY[:2], 60.0)
    _run_until(parts, 120.0)
    (alone,) = _active(parts, IncidentKind.DEVICE_OFFLINE)
    assert alone.device_id == "C0001-cam1" and not _active(parts, IncidentKind.SITE_OFFLINE)


def test_a_school_whose_panic_boxes_all_go_dark_is_raised_on_a_panic_box_under_its_policy():
    parts = Parts()
    _seen(parts, ["S0001-cam1", "S0001-panic2", "S0001-panic1"], 0.0)
    _run_until(parts, OFFLINE_AFTER_S)
    (site,) = _active(parts, IncidentKind.SITE_OFFLINE, "S0001")
    assert site.device_id == "S0001-panic1" and site.priority == 2
    assert _active(parts, IncidentKind.DEVICE_OFFLINE, "S0001") == []


def test_last_wills_of_a_whole_site_raise_the_site_incident_at_once():
    parts = Parts()
    _seen(parts, ["K0001-kiosk1", "K0001-kiosk2"], 0.0)  # kiosk3 never heard from: not supervised
    parts.supervision.connection_states([StateChange("K0001-kiosk1", False), StateChange("K0001-kiosk2", False)], 5.0)
    parts.write()
    (site,) = _active(parts, IncidentKind.SITE_OFFLINE, "K0001")
    assert "connection lost (last will)" in site.timeline[0].note
    assert parts.supervision.health() == DeviceHealth(supervised=2, offline=2, sites_offline=1)
    parts.supervision.connection_states([StateChange("K0001-kiosk2", True)], 6.0)
    assert parts.store.get(site.id) is None


def test_phones_and_devices_never_heard_from_are_not_counted_as_supervised():
    parts = Parts()
    _seen(parts, ["C0001-u1-r1-phone", "C0001-door1"], 0.0)
    assert parts.supervision.health() == DeviceHealth(supervised=1, offline=0, sites_offline=0)


def _pair_site_dark(pair: Pair) -> str:
    for device_id in COMMUNITY:
        pair.send(device_id, "heartbeat")
    pair.advance(OFFLINE_AFTER_S)
    (site,) = [r for r in pair.host.open_incidents() if r.kind is IncidentKind.SITE_OFFLINE]
    return site.id


def test_a_restarted_host_still_knows_the_outage_and_withdraws_it_when_the_site_speaks():
    pair = Pair()
    site_id = _pair_site_dark(pair)
    pair.advance(OFFLINE_AFTER_S + 2.0)  # the offline flags journaled
    pair.restart()
    stats = pair.host.statistics()
    assert (stats.devices_supervised, stats.devices_offline, stats.devices_online, stats.sites_offline) == (3, 3, 0, 1)
    pair.now_s = 150.0
    pair.send("C0001-cam1", "heartbeat")
    assert pair.host.incident(site_id).state is IncidentState.CANCELLED
    assert pair.host.statistics().devices_offline == 0


def test_a_sibling_still_silent_when_the_host_restarts_after_the_outage_ended_is_still_reported():
    pair = Pair()
    _pair_site_dark(pair)
    pair.now_s = 150.0
    pair.send("C0001-door1", "heartbeat")
    pair.advance(152.0)  # the siblings journaled as not offline, timed from their last heartbeat
    pair.restart()
    pair.advance(153.0)
    offline = sorted(r.device_id for r in pair.host.open_incidents() if r.kind is IncidentKind.DEVICE_OFFLINE)
    assert offline == ["C0001-cam1", "C0001-door2"]
    assert not [r for r in pair.host.open_incidents() if r.kind is IncidentKind.SITE_OFFLINE]  # door1 reports


def test_an_outage_an_operator_ended_still_frees_the_silent_siblings_when_one_device_returns():
    parts = Parts()
    site_id = _community_dark(parts)
    record = parts.store.get(site_id)
    updated, effects = system_cancel(record, reason="the power company called", now_s=120.0,
                                     policy=parts.policies.for_incident(record.kind))
    parts.store.store(updated, record, effects, 120.0)
    _seen(parts, ["C0001-door2"], 200.0)
    assert not parts.roster.devices["C0001-cam1"].offline
    assert parts.scheduler.due_of((SUPERVISION, "C0001-cam1")) == 200.0 + OFFLINE_AFTER_S
