"""Joining a Ray cluster by address (``redband run --ray-address``): the cluster's token, and the project shipped to
the workers.

Token auth (Ray 2.60). A node or driver runs in token mode when its environment has ``RAY_AUTH_MODE=token``, and then
takes the token from ``RAY_AUTH_TOKEN`` (the token itself), else the file ``RAY_AUTH_TOKEN_PATH`` names, else
``~/.ray/auth_token``; every node of a cluster and every driver must see the same token (a ``ray.cluster_utils.Cluster``
starts its nodes as processes of its own, so they inherit the environment of the process that starts it). A bare
local ``ray.init()`` turns token mode on by itself (writing ``~/.ray/auth_token`` when missing), but a driver given an
address does not: it connects in ``disabled`` mode and the cluster refuses it (``InvalidAuthToken``). So a driver that
is handed a token (``RAY_AUTH_TOKEN`` or ``RAY_AUTH_TOKEN_PATH`` set, ``RAY_AUTH_MODE`` not) joins in token mode
(:func:`join_auth_mode`); an explicit ``RAY_AUTH_MODE`` always wins.

The project. The workers of a cluster need not have redband installed: the driver gives its job a ``runtime_env``
whose ``working_dir`` is a copy of the project's packages (:data:`PACKAGES`, sources and data files, no caches), which
Ray uploads once and puts first on every worker's ``PYTHONPATH``; the packages keep their layout, so the console's
static files stay beside ``actors/``. The third-party packages are not shipped: every node's Python must have
:data:`WORKER_REQUIREMENTS` (the ``[project]`` pins of ``pyproject.toml``), with the very Ray version of the driver.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

AUTH_MODE = "RAY_AUTH_MODE"
AUTH_TOKEN = "RAY_AUTH_TOKEN"
AUTH_TOKEN_PATH = "RAY_AUTH_TOKEN_PATH"

PACKAGES = ("protocols", "engine", "actors", "redband", "simulation", "web_console")
"""What the workers import or read (the console's files), shipped in the job's ``working_dir``."""
SKIPPED = ("__pycache__", "*.pyc", "*.pyo", "*.so", ".*")
WORKER_REQUIREMENTS = ("ray", "msgpack", "msgspec", "orjson", "uvloop", "numpy", "numba", "aiomqtt", "websockets",
                       "tomli-w", "argon2-cffi", "psycopg", "prometheus-client")
"""The distributions the actors import, at the versions ``pyproject.toml`` pins; the driver alone needs the rest
(matplotlib, rich, hdrhistogram)."""
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class ClusterJoinError(ConnectionError):
    """The driver's settings for joining (token, shipping) cannot work; the message names the variable and why."""


def join_auth_mode(env: Mapping[str, str]) -> str | None:
    """The ``RAY_AUTH_MODE`` a driver joining a cluster by address must set, or None to leave the environment as it
    is: ``token`` when it was handed a token and no mode. Refuses a token file that cannot serve (Ray aborts the
    process on an unreadable or empty ``RAY_AUTH_TOKEN_PATH`` instead of raising)."""
    mode = (env.get(AUTH_MODE) or "").strip().lower()
    if mode not in ("", "token", "disabled"):
        raise ClusterJoinError(f"{AUTH_MODE}={env[AUTH_MODE]!r}: must be token or disabled")
    path = env.get(AUTH_TOKEN_PATH)
    if path and not env.get(AUTH_TOKEN) and mode != "disabled":
        try:
            empty = not Path(path).read_text().strip()
        except OSError as exc:
            raise ClusterJoinError(f"{AUTH_TOKEN_PATH}={path}: cannot read the token ({exc.strerror})") from None
        if empty:
            raise ClusterJoinError(f"{AUTH_TOKEN_PATH}={path}: the file is empty")
    if not mode and (env.get(AUTH_TOKEN) or path):
        return "token"
    return None


def apply_join_auth() -> None:
    """Before ``ray.init(address=...)``: token mode for this process when it was handed a token and no mode
    (:func:`join_auth_mode`); raises :class:`ClusterJoinError` on settings that cannot work."""
    mode = join_auth_mode(os.environ)
    if mode:
        os.environ[AUTH_MODE] = mode
        # Ray read its config (the auth mode among it) when it was imported: read again, and forget any token loaded
        from ray._raylet import AuthenticationTokenLoader, Config

        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()


def refused_message(address: str, exc: BaseException, env: Mapping[str, str]) -> str | None:
    """What to tell the operator when Ray refused this driver's token (``InvalidAuthToken`` somewhere in the chain
    of causes), or None when the failure is something else."""
    chain, seen = [], exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    if not any("InvalidAuthToken" in str(e) or type(e).__name__ == "AuthenticationError" for e in chain):
        return None
    source = (f"{AUTH_TOKEN}" if env.get(AUTH_TOKEN) else f"{AUTH_TOKEN_PATH}={env[AUTH_TOKEN_PATH]}"
              if env.get(AUTH_TOKEN_PATH) else "~/.ray/auth_token")
    return (f"--ray-address {address}: the cluster refused this driver's token ({AUTH_MODE}="
            f"{env.get(AUTH_MODE) or 'unset'}, token from {source}); give it the cluster's token with "
            f"{AUTH_TOKEN_PATH}=FILE or {AUTH_TOKEN}=TOKEN")


SHIP_PROJECT = "REDBAND_SHIP_PROJECT"


def ship_by_default(env: Mapping[str, str]) -> bool:
    """Whether a driver joining by address ships the project: yes, unless ``REDBAND_SHIP_PROJECT=0`` says the nodes
    have this very code already (one machine: the tests' programs joining the session's Ray, ~0.5 s a job saved)."""
    value = env.get(SHIP_PROJECT, "1").strip().lower()
    if value not in ("0", "1", "false", "true", "no", "yes"):
        raise ClusterJoinError(f"{SHIP_PROJECT}={env[SHIP_PROJECT]!r}: must be 0 or 1")
    return value in ("1", "true", "yes")


@contextlib.contextmanager
def project_runtime_env(root: Path = PROJECT_ROOT) -> Iterator[dict]:
    """A job ``runtime_env`` shipping :data:`PACKAGES` from ``root``: a copy of them in a temporary directory, for as
    long as the block lasts (``ray.init`` uploads it before it returns)."""
    missing = [name for name in PACKAGES if not (root / name).is_dir()]
    if missing:
        raise FileNotFoundError(f"cannot ship the project: {', '.join(missing)} not found in {root}")
    with tempfile.TemporaryDirectory(prefix="redband-job-") as staging:
        for name in PACKAGES:
            shutil.copytree(root / name, Path(staging) / name, ignore=shutil.ignore_patterns(*SKIPPED))
        yield {"working_dir": staging}
