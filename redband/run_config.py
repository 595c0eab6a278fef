"""What ``redband run`` runs: its options from the command line, a config file (``--config redband.toml``), or
both (the command line wins). The city must be named in one of them: an engine never runs a city by default.

A config file is flat TOML with the options' names (``city``, ``policies``, ``journal_dir``, ``mqtt``, ...);
paths in it are relative to the file. An unknown key, a wrong type or a bad value is refused with the file,
line and key.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import msgspec
from msgspec import UNSET, UnsetType

from engine.errors import ConfigError
from engine.forwarded import proxy_problem
from engine.listen import bind_problem, listen_host, origin_problem
from engine.tomlconf import convert, parse_toml, read_text

DEFAULT_USERS = "var/users.toml"
DEFAULT_METRICS = "127.0.0.1:9464"
LOG_FORMATS = ("text", "json")


class UsageError(Exception):
    """A command-line option that cannot be used; the message names the option (``--bridges: ...``)."""
PATH_KEYS = ("city", "policies", "journal_dir", "users")
FLAGS = {"allowed_origins": "--allowed-origin", "trusted_proxies": "--trusted-proxy"}
"""Options whose flag is not the key's name with dashes (one flag given again and again makes the list)."""


class RunFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    city: str | UnsetType = UNSET
    policies: str | UnsetType = UNSET
    ray_address: str | UnsetType = UNSET
    namespace: str | UnsetType = UNSET
    journal_dir: str | UnsetType = UNSET
    journal: str | UnsetType = UNSET
    precinct_hosts: int | UnsetType = UNSET
    mqtt: str | UnsetType = UNSET
    bridges: int | UnsetType = UNSET
    users: str | UnsetType = UNSET
    console: str | UnsetType = UNSET
    bind: str | UnsetType = UNSET
    allowed_origins: list[str] | UnsetType = UNSET
    trusted_proxies: list[str] | UnsetType = UNSET
    stats_every: float | UnsetType = UNSET
    metrics: str | UnsetType = UNSET
    log_format: str | UnsetType = UNSET


@dataclass(frozen=True)
class RunConfig:
    city: str
    policies: str | None = None
    ray_address: str | None = None
    namespace: str = "redband"
    journal_dir: str = "var/journal"
    journal: str | None = None
    """A PostgreSQL journal for every host (``postgresql://USER:PASS@HOST:PORT/DB``) instead of SQLite files in
    ``journal_dir`` (which then keeps only the bridges' state)."""
    precinct_hosts: int | None = None
    mqtt: str | None = None
    bridges: int = 1
    users: str = DEFAULT_USERS
    console: str = "8080"
    """PORT (on ``bind``) or HOST:PORT."""
    bind: str = "127.0.0.1"
    """The address the console listens on unless ``console`` names one (``engine/listen.py``)."""
    allowed_origins: tuple[str, ...] = ()
    """The Origins the console's sockets accept (none given: its own address's, on 127.0.0.1 and localhost)."""
    trusted_proxies: tuple[str, ...] = ()
    """The reverse proxies (addresses or networks) whose ``X-Forwarded-For`` names the client (``engine/forwarded.py``);
    none given: the header is ignored."""
    stats_every: float = 60.0
    metrics: str = DEFAULT_METRICS
    """Where ``/metrics`` listens (HOST:PORT), or ``off``."""
    log_format: str = "text"
    """``text``, or ``json``: JSON lines from every process, with the host, device and incident ids."""

    @property
    def console_address(self) -> tuple[str, int]:
        host, _, port = self.console.rpartition(":")
        return listen_host(host or self.bind), int(port)

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        if self.metrics == "off":
            return None
        host, _, port = self.metrics.rpartition(":")
        return host or "127.0.0.1", int(port)


def load_run_file(path: str | Path) -> dict:
    """The options a config file sets (paths made relative to the file's directory)."""
    text = read_text(path)
    raw = convert(parse_toml(text, file=str(path)), RunFile, file=str(path), text=text)
    base = Path(path).resolve().parent
    options = {name: getattr(raw, name) for name in RunFile.__struct_fields__ if getattr(raw, name) is not UNSET}
    for key in PATH_KEYS:
        if key in options:
            options[key] = str((base / options[key]).resolve())
    return options


def resolve_run_config(cli: dict, file: str | None) -> RunConfig:
    """The command line's options (``None`` where not given) over the config file's over the defaults. A bad
    value is refused naming the option (``--bridges``) or the file and key (``redband.toml: bridges``)."""
    options = load_run_file(file) if file else {}
    given = {key: value for key, value in cli.items() if value is not None}
    options.update(given)
    if not options.get("city"):
        raise UsageError("--city: required: name the city file the engine runs "
                         "(--city FILE, or city = \"...\" in a --config file)")
    for key in ("allowed_origins", "trusted_proxies"):
        if key in options:
            options[key] = tuple(options[key])
    config = RunConfig(**options)
    for key, reason in _problems(config):
        if key in given or file is None:
            raise UsageError(f"{FLAGS.get(key, '--' + key.replace('_', '-'))}: {reason}")
        raise ConfigError(str(file), None, key, reason)
    return config


def _problems(config: RunConfig):
    _, _, port = config.console.rpartition(":")
    if not re.fullmatch(r"[0-9]{1,5}", port) or not 0 < int(port) < 65536:
        yield "console", f"expected HOST:PORT, got {config.console!r}"
    elif (host := config.console.rpartition(":")[0]) and (why := bind_problem(host)):
        yield "console", why
    if why := bind_problem(config.bind):
        yield "bind", why
    for origin in config.allowed_origins:
        if why := origin_problem(origin):
            yield "allowed_origins", why
    for proxy in config.trusted_proxies:
        if why := proxy_problem(proxy):
            yield "trusted_proxies", why
    _, _, port = config.metrics.rpartition(":")
    if config.metrics != "off" and (not re.fullmatch(r"[0-9]{1,5}", port) or not 0 <= int(port) < 65536):
        yield "metrics", f"expected HOST:PORT or off, got {config.metrics!r}"
    if config.log_format not in LOG_FORMATS:
        yield "log_format", f"expected one of {', '.join(LOG_FORMATS)}, got {config.log_format!r}"
    if config.journal is not None:
        from actors.journal_pg_schema import url_problem

        if problem := url_problem(config.journal):
            yield "journal", problem
    if not config.namespace:
        yield "namespace", "must not be empty"
    if config.bridges < 1:
        yield "bridges", "must be at least 1"
    if config.precinct_hosts is not None and config.precinct_hosts < 1:
        yield "precinct_hosts", "must be at least 1"
    if not math.isfinite(config.stats_every) or config.stats_every < 0:
        yield "stats_every", f"expected a number of seconds, 0 or more, got {config.stats_every}"
