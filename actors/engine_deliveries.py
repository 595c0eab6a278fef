"""The console gateway's delivery lines to their owner hosts, one Ray call per host (``Engine.deliveries``).

A storm of 5,000 incidents whose guard rooms had no console open made 5,000 ``not_delivered`` lines; one Ray call and
one journal write each, they took the hosts' time in the middle of the storm and the gateway's process ~1 s of CPU.
Now each host gets its lines together and writes them in one step (``OperatorCommands.on_deliveries``)."""

from __future__ import annotations

from collections.abc import Callable

from engine.errors import UnknownIncident
from protocols.records import DeliveryNote


def deliver_by_host(notes: list[DeliveryNote], owner_of: Callable[[str], str | None], hosts: dict,
                    get: Callable) -> list:
    """Per line, in order: the incident after it, None (nothing new), or why not: its refusal (``UnknownIncident``),
    or the error of a host that failed the call (every line of that host; the caller may send them again). ``get``:
    how a result is taken (``runtime.typed``)."""
    out: list = [None] * len(notes)
    by_host: dict[str, list[int]] = {}
    for k, note in enumerate(notes):
        host = owner_of(note.incident_id)
        if host is None:
            out[k] = UnknownIncident(note.incident_id)
        else:
            by_host.setdefault(host, []).append(k)
    calls = {host: hosts[host].deliveries.remote([notes[k] for k in ks]) for host, ks in by_host.items()}
    for host, ks in by_host.items():
        try:
            outcomes = get(calls[host])
        except Exception as exc:  # noqa: BLE001 - a host down, restarting or failing its journal: said per line
            outcomes = [exc] * len(ks)
        for k, outcome in zip(ks, outcomes):
            out[k] = outcome
    return out
