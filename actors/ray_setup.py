"""Starting and ending Ray in a driver, sizing the hosts to the machine, and stopping a set of actors whatever
state they are in."""

from __future__ import annotations

import logging
import os

import ray

from actors.engine_options import CALL_TIMEOUT_S
from engine.placement import Placement
from engine.topology import City

log = logging.getLogger(__name__)


def ensure_ray(address: str | None = None, *, log_format: str = "text") -> bool:
    """Start (or join) Ray once per process; returns True if this call started it. ``log_format="json"``: every
    process of the job (this driver, the hosts, the bridges) logs JSON lines, a log call's ``extra`` ids included
    (Ray's ``LoggingConfig``; ``docs/architecture.md``, "Logs")."""
    if ray.is_initialized():
        return False
    kwargs: dict = dict(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=True,
                        configure_logging=True)
    if log_format == "json":
        kwargs["logging_config"] = ray.LoggingConfig(encoding="JSON", log_level="INFO")
    if address:
        ray.init(address=address, **kwargs)
    else:
        # runtime_env would ship the working dir; our packages are installed in the venv instead
        os.environ.setdefault("RAY_DEDUP_LOGS", "1")
        ray.init(num_cpus=max(2, os.cpu_count() or 2), **kwargs)
    return True


def shutdown_ray() -> None:
    if ray.is_initialized():
        ray.shutdown()


def default_precinct_hosts(city: City, *, cores: int | None = None) -> int:
    """For a program that runs the engine on this machine: one precinct host per CPU core, at most one per
    precinct shard. More host processes than cores only add Ray calls: on 2 cores, the demo city's 6 precinct
    hosts took 7,800 telemetry events/s where 2 took all 10,000 (``docs/benchmarks.md``)."""
    shards = len(Placement.plan(city).precinct_hosts)
    return max(1, min(shards, cores or os.cpu_count() or 1))


def stop_all(handles: list, what: str, *, method: str | None = "stop") -> None:
    """Ask each actor to stop (each on its own: one dead actor does not keep the others running), then end it."""
    refs = []
    for handle in handles:
        try:
            refs.append(getattr(handle, method).remote() if method else None)
        except Exception:  # noqa: BLE001 - an actor handle that cannot even be called
            refs.append(None)
    for handle, ref in zip(handles, refs):
        if ref is not None:
            try:
                ray.get(ref, timeout=CALL_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - dead or hung: it is killed below all the same
                log.warning("%s did not stop cleanly: %s", what, str(exc).splitlines()[0][:200])
        try:
            ray.kill(handle, no_restart=True)
        except Exception:  # noqa: BLE001 - gone already
            pass
