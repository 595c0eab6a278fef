"""``redband run``: start the engine for a city (hosts, MQTT bridges, the console) and keep it running, logging
the incident timeline; or attach to the engine already running in the namespace. The driver outlives any
actor's death: Ray restarts the actor and this loop carries on."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from pathlib import Path

from engine.policy import load_policy_set
from engine.topology import load_city
from protocols.endpoint import parse_mqtt_url
from redband.run_config import DEFAULT_USERS, RunConfig, resolve_run_config
from simulation.report import format_row, rows_of

log = logging.getLogger("redband")


def register(sub) -> None:
    run = sub.add_parser("run", help="start the engine for a city and keep it running; logs the incident timeline")
    run.add_argument("--config", default=None, metavar="FILE",
                     help="TOML with these options by name (city, journal_dir, mqtt, ...); the command line wins")
    run.add_argument("--city", default=None, help="the city TOML (required, here or in --config)")
    run.add_argument("--policies", default=None, help="policy TOML overriding the shipped defaults per kind")
    run.add_argument("--ray-address", default=None, help="join an existing Ray cluster instead of starting one")
    run.add_argument("--namespace", default=None,
                     help="Ray namespace of the engine's actors (default redband): a second `redband run` in it "
                          "attaches to the running engine (on a cluster, --ray-address) instead of starting another")
    run.add_argument("--journal-dir", default=None, help="where the hosts' SQLite journals live (default var/journal)")
    run.add_argument("--journal", default=None, metavar="URL",
                     help="every host's journal on PostgreSQL (postgresql://USER:PASS@HOST:PORT/DB) instead of SQLite "
                          "files in --journal-dir; a host restarted on another node takes its rows over")
    run.add_argument("--precinct-hosts", type=int, default=None,
                     help="host actors for the precincts (default: one per CPU core of the Ray cluster, at most one "
                          "per precinct)")
    run.add_argument("--mqtt", default=None, metavar="URL",
                     help="bridge devices from this broker: mqtt://redband-bridge:PASS@HOST:PORT")
    run.add_argument("--bridges", type=int, default=None, help="bridge processes on the shared subscription (1)")
    run.add_argument("--users", default=None,
                     help=f"console operators (redband user add); the console is served when this file exists "
                          f"(default {DEFAULT_USERS})")
    run.add_argument("--console", default=None, metavar="[HOST:]PORT",
                     help="where the console listens (default 8080 on --bind)")
    run.add_argument("--bind", default=None, metavar="ADDRESS",
                     help="the address the console listens on (default 127.0.0.1; 0.0.0.0: every interface, with "
                          "--allowed-origin); the broker's is redband mqtt-config --bind")
    run.add_argument("--allowed-origin", dest="allowed_origins", action="append", default=None, metavar="ORIGIN",
                     help="an Origin the console's sockets accept, as a browser sends it (https://console.example.org);"
                          " again for another (default: the console's own address on 127.0.0.1 and localhost)")
    run.add_argument("--trusted-proxy", dest="trusted_proxies", action="append", default=None, metavar="ADDR",
                     help="a reverse proxy (IP address or network, 10.0.0.0/8) whose X-Forwarded-For names the "
                          "client for the login limit and the audit; again for another (default: none, the header "
                          "is ignored)")
    run.add_argument("--stats-every", type=float, default=None, metavar="S",
                     help="print the bridges' counters every S seconds (0: never; default 60)")
    run.add_argument("--metrics", default=None, metavar="HOST:PORT",
                     help="where /metrics (Prometheus) listens (default 127.0.0.1:9464; off: not served)")
    run.add_argument("--log-format", default=None, choices=("text", "json"),
                     help="json: every process logs JSON lines with host, device and incident ids (default text)")
    run.set_defaults(func=cmd_run)


def cmd_run(args) -> int:
    cli = {key: getattr(args, key) for key in ("city", "policies", "ray_address", "namespace", "journal_dir",
                                               "journal",
                                               "precinct_hosts", "mqtt", "bridges", "users", "console",
                                               "bind", "allowed_origins", "trusted_proxies", "stats_every",
                                               "metrics", "log_format")}
    config = resolve_run_config(cli, args.config)
    if config.log_format == "text":  # json: Ray's LoggingConfig sets up this process's logging too (ensure_ray)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return run_engine(config)


def run_engine(config: RunConfig) -> int:
    from actors.journal_pg_schema import JournalUrlError, redact
    from actors.ray_setup import ensure_ray
    from actors.runtime import Engine, EngineOptions, default_precinct_hosts

    city = load_city(config.city)
    policies = load_policy_set(config.policies)
    mqtt = parse_mqtt_url(config.mqtt) if config.mqtt else None
    if config.ray_address and not config.precinct_hosts:  # counted from the cluster's CPUs, not this machine's
        ensure_ray(config.ray_address, log_format=config.log_format)
    precinct_hosts = config.precinct_hosts or default_precinct_hosts(city)
    journal_dir = str(Path(config.journal_dir).resolve())  # the hosts' processes have working directories of their own
    journal_in = redact(config.journal) if config.journal else journal_dir
    engine = Engine(city, policies, EngineOptions(precinct_hosts=precinct_hosts, journal_dir=journal_dir,
                                                  journal_url=config.journal,
                                                  ray_address=config.ray_address, realtime=True, mqtt=mqtt,
                                                  bridges=config.bridges, namespace=config.namespace, detached=True))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        ensure_ray(config.ray_address, log_format=config.log_format)
        engine.start()
    except ConnectionError:
        engine.stop()
        raise
    except JournalUrlError as exc:  # the journal's server cannot be reached
        engine.stop()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # the namespace runs another engine
        print(f"error: {exc}", file=sys.stderr)
        return 2
    attached = " (attached to the engine already running)" if engine.attached else ""
    print(f"redband engine running{attached}: city {city.id} "
          f"({', '.join(f'{n} {k}' for k, n in city.summary().items())}), "
          f"hosts {', '.join(engine.placement.hosts)}; journal in {journal_in}"
          f"{f'; {config.bridges} MQTT bridge(s) on {mqtt!r}' if mqtt else ''}. Ctrl-C stops.", flush=True)
    gateway = metrics = None
    try:
        if config.metrics_address is not None:
            metrics = _start_metrics(engine, config)
        if not Path(config.users).exists():
            print(f"console off: no operators in {config.users} (add one with `redband user add NAME --role ...`)",
                  flush=True)
        else:  # the console owns the change stream; the log takes each change from it
            gateway = _start_console(engine, config, city)
            if gateway is None:
                return 2
        _serve(engine, gateway, stop, stats_every=config.stats_every if mqtt else 0)
    finally:
        if gateway is not None:
            gateway.stop()
        if metrics is not None:
            metrics.stop()
        engine.stop()
        print("redband engine stopped", flush=True)
    return 0


def show_change(change) -> None:
    for row in rows_of(change.record, change.new_from):
        print(format_row(row), flush=True)


def _start_console(engine, config: RunConfig, city):
    """The console gateway as a Ray actor of its own, restarted when its process dies (``actors/gateway_actor.py``);
    its secret and operators beside the journals (in PostgreSQL with a PostgreSQL journal), kept when this driver
    attaches to a running engine."""
    from actors.gateway_actor import start_gateway_actor
    from actors.gateway_state import write_console_state
    from engine.operators import load_operators

    host, port = config.console_address
    load_operators(config.users, city=city)  # a broken file is refused here, not in the actor
    write_console_state(config.journal or engine.options.journal_dir, Path(config.users).read_text(encoding="utf-8"),
                        keep=engine.attached)
    try:
        gateway = start_gateway_actor(engine, host=host, port=port, origins=list(config.allowed_origins) or None,
                                      trusted_proxies=list(config.trusted_proxies) or None)
    except RuntimeError as exc:  # e.g. the port is taken
        print(f"error: --console {config.console}: {exc}", file=sys.stderr)
        return None
    print(f"console: {gateway.url} ({gateway.where['operators']} operators from {config.users})", flush=True)
    if not config.allowed_origins and host not in ("127.0.0.1", "localhost", "::1"):
        print(f"note: the console listens on {host}, but its sockets take browsers' pages only from "
              f"http://127.0.0.1:{port} and http://localhost:{port}: name the address operators use with "
              f"--allowed-origin", flush=True)
    return gateway


def _start_metrics(engine, config: RunConfig):
    from actors.metrics import MetricsServer

    host, port = config.metrics_address
    try:
        server = MetricsServer(engine.namespace, host=host, port=port).start()
    except OSError as exc:  # e.g. the port is taken: the engine runs all the same, unobserved, and says so
        print(f"warning: --metrics {config.metrics}: {exc}; /metrics not served", file=sys.stderr, flush=True)
        return None
    print(f"metrics: {server.url}", flush=True)
    return server


def _serve(engine, gateway, stop: threading.Event, *, stats_every: float) -> None:
    """Until Ctrl-C: log the changes (when no console takes them) and the bridges' counters; an engine that does
    not answer is logged once per outage, and the loop carries on."""
    next_stats = time.monotonic() + stats_every
    failing = False
    while not stop.wait(0.2):
        try:
            for change in engine.take_changes() if gateway is None else gateway.take_changes():
                show_change(change)
            if stats_every and time.monotonic() >= next_stats:
                next_stats += stats_every
                print(bridge_summary(engine), flush=True)
        except Exception as exc:  # noqa: BLE001
            if not failing:
                log.warning("engine not answering (%s); carrying on", exc)
            failing = True
        else:
            failing = False


def bridge_summary(engine) -> str:
    """One line for the operator: what the bridges took, refused and shed since they started."""
    parts = []
    for lane in ("alarm", "evt"):
        s = engine.lane_statistics(lane)
        parts.append(f"{lane}: received {s.get('received', 0)}, accepted {s.get('accepted', 0)}, "
                     f"duplicates {s.get('duplicates', 0)}, refused {s.get('refused', 0)}, "
                     f"overflowed {s.get('queue_overflowed', 0)}, reconnects {s.get('connects', 0) - s['processes']}"
                     + "".join(f", {name.replace('_', ' ')} {s[name]}" for name in ("dead_lettered", "probes_lost")
                               if s.get(name)))
    return "bridge " + "; ".join(parts)
