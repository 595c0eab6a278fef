"""A kiosk hall's health for the console's kiosk hall view (``protocols.kiosk.KioskHealth``): each kiosk of the hall
online or not (the supervision's flag on its entity), its consumables' last levels (kept by the kiosk domain from
``kiosk.supplies``), the supplies that are low, and its open maintenance tickets and SOS alarms (the incident
store). Pure reading: answered at the desk, it changes nothing."""

from __future__ import annotations

from collections.abc import Mapping

from engine.entities import DeviceEntity
from engine.hosting import kiosk_rows as rows
from engine.topology import City
from protocols.kinds import DeviceKind, IncidentKind
from protocols.kiosk import KioskHealthAnswer, KioskState


def hall_health(hall: str, *, city: City, halls: frozenset[str], entities: Mapping[str, DeviceEntity],
                levels: Mapping[str, rows.LevelsRow], low: Mapping[str, rows.LowRow], store) -> KioskHealthAnswer:
    """The health of ``hall``'s kiosks; a hall this host does not hold: no kiosks."""
    if hall not in halls:
        return KioskHealthAnswer(hall)
    kiosks = sorted(d.id for d in city.devices.values() if d.site_id == hall and d.kind is DeviceKind.KIOSK)
    open_by_kiosk: dict[str, dict[IncidentKind, list[str]]] = {}
    if store is not None:
        for record in store.open_incidents():
            if record.device_id in kiosks and record.host_id == store.host_id and record.kind in (
                    IncidentKind.KIOSK_FAULT, IncidentKind.KIOSK_SOS):
                open_by_kiosk.setdefault(record.device_id, {}).setdefault(record.kind, []).append(record.id)
    states = []
    for kiosk in kiosks:
        entity, level, mine = entities.get(kiosk), levels.get(kiosk), open_by_kiosk.get(kiosk, {})
        heard = entity is not None and (entity.last_seen_s is not None or entity.offline)
        states.append(KioskState(
            kiosk, city.devices[kiosk].label or kiosk, online=(not entity.offline) if heard else None,
            last_seen_s=entity.last_seen_s if entity is not None else None,
            paper=level.paper if level else None, card=level.card if level else None,
            supplies_at_s=level.at_s if level else None,
            low=list(low[kiosk].supplies) if kiosk in low else [],
            tickets=sorted(mine.get(IncidentKind.KIOSK_FAULT, [])), sos=sorted(mine.get(IncidentKind.KIOSK_SOS, []))))
    return KioskHealthAnswer(hall, states)
