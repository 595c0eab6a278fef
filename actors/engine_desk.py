"""Desk requests (``protocols/desk.py``) put to the right host: the owner of an incident, the host of a device, or
every host (answers gathered). Kept out of ``actors/runtime.py``, which is at its size limit; the console gateway
calls these off its loop. Refusals arrive as the engine's own errors (``UnknownIncident``, ``OfferRefused``...)."""

from __future__ import annotations

import ray

from engine.errors import HostUnavailable, UnknownDevice, UnknownIncident
from engine.notices import refuse
from engine.patrol.nearest import Recommendation
from protocols.desk import RecommendUnits
from protocols.notices import NoticeList, NoticeQuery, NoticeRefusal, NoticeView, PostNotice, WithdrawNotice

ALL_HOSTS_TIMEOUT_S = 5.0


def _typed(call):
    from actors.runtime import typed  # the runtime imports nothing of this module

    return typed(call)


def ask_host(engine, host_id: str, request):
    return _typed(engine.hosts[host_id].ask.remote(request))


def ask_incident_owner(engine, incident_id: str, request):
    """The request put to the host that owns ``incident_id``; no host holds it: :class:`UnknownIncident`."""
    host = engine.owner_of(incident_id)
    if host is None:
        raise UnknownIncident(incident_id)
    return ask_host(engine, host, request)


def ask_device_host(engine, device_id: str, request):
    host = engine.placement.host_for_device(device_id)
    if host is None:
        raise UnknownDevice(device_id)
    return ask_host(engine, host, request)


def ask_site_host(engine, site_id: str, request):
    """The request put to the host that holds the site (its devices, its notices); no host holds it: the notices'
    ``unknown_site`` refusal."""
    host = engine.placement.host_of_site.get(site_id)
    if host is None:  # the refusal a host gives for a site it does not hold
        raise refuse(NoticeRefusal.UNKNOWN_SITE, f"site: no site {site_id!r} in this city")
    return ask_host(engine, host, request)


def post_notice(engine, request: PostNotice) -> NoticeView:
    """A notice to a community's door screens (``protocols/notices.py``); refusals raise ``NoticeRefused``."""
    return ask_site_host(engine, request.site, request)


def withdraw_notice(engine, request: WithdrawNotice) -> NoticeView:
    return ask_site_host(engine, request.site, request)


def site_notices(engine, request: NoticeQuery) -> NoticeList:
    """A site's notices with their state and receipts per door screen."""
    return ask_site_host(engine, request.site, request)


def ask_every_host(engine, request, hosts: list[str] | None = None) -> dict:
    """``{host id: answer}`` of every host (or those named); a host silent past the deadline raises
    :class:`HostUnavailable` naming it."""
    names = list(engine.hosts) if hosts is None else hosts
    refs = {engine.hosts[h].ask.remote(request): h for h in names}
    ready, pending = ray.wait(list(refs), num_returns=len(refs), timeout=ALL_HOSTS_TIMEOUT_S)
    if pending:
        raise HostUnavailable(tuple(sorted(refs[r] for r in pending)), type(request).__name__)
    return {refs[r]: _typed(r) for r in ready}


def recommend_units(engine, incident_id: str, k: int = 5) -> Recommendation:
    """The ``k`` nearest available units for an incident and why the others were not chosen."""
    return ask_incident_owner(engine, incident_id, RecommendUnits(incident_id, k))
