"""What ``redband status`` shows: the engine running in a namespace, found through its directory and its actors'
names — every host (node, pid, starts, journal, devices, open incidents) and every bridge process (its lanes),
each answering within a deadline or shown as not answering."""

from __future__ import annotations

import ray

from actors.directory import DIRECTORY_NAME
from actors.host_actor import host_actor_name


def engine_status(namespace: str, *, timeout_s: float = 5.0) -> dict:
    """The state of the engine running in ``namespace``, found through its directory and actor names."""
    try:
        directory = ray.get_actor(DIRECTORY_NAME, namespace=namespace)
    except ValueError:
        raise LookupError(f"no redband engine runs in namespace {namespace!r}") from None
    engine = ray.get(directory.engine.remote(), timeout=timeout_s)
    starts = ray.get(directory.starts.remote(), timeout=timeout_s)
    if engine is None:
        raise LookupError(f"no redband engine runs in namespace {namespace!r}")
    hosts = []
    for host_id in engine["hosts"]:
        name = host_actor_name(host_id)
        row = {"host_id": host_id, "starts": len(starts.get(name, []))}
        try:
            handle = ray.get_actor(name, namespace=namespace)
            where, stats = ray.get([handle.where.remote(), handle.statistics.remote()], timeout=timeout_s)
            row.update(where.to_dict(), devices=stats.devices, devices_active=stats.devices_active,
                       incidents_open=stats.incidents_open, deadlines=stats.deadlines, accepted=stats.accepted,
                       journal_failures=stats.journal_failures, answering=True)
        except Exception as exc:  # noqa: BLE001 - a host restarting or lost: shown as such
            row.update(answering=False, error=str(exc).splitlines()[0][:160])
        hosts.append(row)
    bridges = []
    for name in sorted(n for n in starts if n.startswith("bridge:")):
        row = {"name": name, "starts": len(starts[name]), "node_id": starts[name][-1].get("node_id", "")}
        try:
            stats = ray.get(ray.get_actor(name, namespace=namespace).statistics.remote(), timeout=timeout_s)
            row.update(answering=True, pid=stats.get("pid"), lanes={
                lane: {k: v for k, v in s.items() if k in ("connected", "received", "accepted", "refused",
                                                           "dropped", "retrying", "probes_lost", "dead_lettered")}
                for lane, s in stats.get("lanes", {}).items()})
        except Exception as exc:  # noqa: BLE001
            row.update(answering=False, error=str(exc).splitlines()[0][:160])
        bridges.append(row)
    return {"namespace": namespace, "engine": engine, "hosts": hosts, "bridges": bridges,
            "gateway": _gateway(namespace, starts, timeout_s)}


def _gateway(namespace: str, starts: dict, timeout_s: float) -> dict | None:
    """The console gateway actor (``redband run``): where it serves and how often it started; None if there is none."""
    from actors.gateway_actor import GATEWAY_NAME

    row = {"starts": len(starts.get(GATEWAY_NAME, []))}
    try:
        row.update(ray.get(ray.get_actor(GATEWAY_NAME, namespace=namespace).where.remote(), timeout=timeout_s),
                   answering=True)
    except ValueError:  # no such actor: the console is off (or served by a driver of its own)
        return None
    except Exception as exc:  # noqa: BLE001 - restarting: shown as such
        row.update(answering=False, error=str(exc).splitlines()[0][:160])
    return row
