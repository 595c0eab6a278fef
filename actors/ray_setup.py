"""Starting and ending Ray in a driver, sizing the hosts to the machine, and stopping a set of actors whatever
state they are in."""

from __future__ import annotations

import contextlib
import logging
import os

import ray

from actors.engine_options import CALL_TIMEOUT_S
from actors.ray_cluster import apply_join_auth, project_runtime_env, refused_message, ship_by_default
from engine.placement import Placement
from engine.topology import City

log = logging.getLogger(__name__)


def ensure_ray(address: str | None = None, *, log_format: str = "text", ship_project: bool | None = None) -> bool:
    """Start (or join) Ray once per process; returns True if this call started it. ``log_format="json"``: every
    process of the job (this driver, the hosts, the bridges) logs JSON lines, a log call's ``extra`` ids included
    (Ray's ``LoggingConfig``; ``docs/architecture.md``, "Logs").

    Joining a cluster by ``address``: in token mode when the environment hands this driver a token, and with the
    project's packages shipped to the workers in the job's ``runtime_env`` (``ship_project``; by default unless
    ``REDBAND_SHIP_PROJECT=0``), so that a node without redband installed hosts actors all the same
    (``actors/ray_cluster.py``)."""
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS")  # Ray's own convention: join the cluster it names
    kwargs: dict = dict(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=True,
                        configure_logging=True)
    if log_format == "json":
        kwargs["logging_config"] = ray.LoggingConfig(encoding="JSON", log_level="INFO")
    if address:
        apply_join_auth()
        if ship_project is None:
            ship_project = ship_by_default(os.environ)
        with project_runtime_env() if ship_project else contextlib.nullcontext() as runtime_env:
            try:
                ray.init(address=address, runtime_env=runtime_env, **kwargs)
            except ConnectionError as exc:
                message = refused_message(address, exc, os.environ)
                if message:
                    raise ConnectionError(message) from exc
                raise
    else:
        # runtime_env would ship the working dir; our packages are installed in the venv instead
        os.environ.setdefault("RAY_DEDUP_LOGS", "1")
        ray.init(num_cpus=max(2, os.cpu_count() or 2), **kwargs)
    return True


def shutdown_ray() -> None:
    if ray.is_initialized():
        ray.shutdown()


def cluster_cpus() -> int | None:
    """The CPUs of the Ray cluster this process is connected to (every node's), None when Ray is not started."""
    if not ray.is_initialized():
        return None
    return int(ray.cluster_resources().get("CPU", 0)) or None


def default_precinct_hosts(city: City, *, cores: int | None = None) -> int:
    """One precinct host per CPU core, at most one per precinct shard; the cores are the cluster's when Ray is
    started (``cluster_cpus``: a driver joined to a cluster counts its nodes', not its own machine's), else this
    machine's. More host processes than cores only add Ray calls: on 2 cores, the demo city's 6 precinct hosts took
    7,800 telemetry events/s where 2 took all 10,000 (``docs/benchmarks.md``)."""
    shards = len(Placement.plan(city).precinct_hosts)
    return max(1, min(shards, cores or cluster_cpus() or os.cpu_count() or 1))


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
