"""The engine's dispatch recommendation, asked of the incident's owner host (its units are the ones near it): kept
out of ``actors/runtime.py``, which is at its size limit. The console gateway calls it off its loop."""

from __future__ import annotations

from engine.errors import UnknownIncident
from engine.patrol.nearest import Recommendation


def recommend_units(engine, incident_id: str, k: int = 5) -> Recommendation:
    """The ``k`` nearest available units for an incident and why the others were not chosen; an incident no host
    holds raises :class:`UnknownIncident`."""
    from actors.runtime import typed  # the runtime imports nothing of this module

    host = engine.owner_of(incident_id)
    answer = None if host is None else typed(engine.hosts[host].recommend_units.remote(incident_id, k))
    if answer is None:
        raise UnknownIncident(incident_id)
    return answer
