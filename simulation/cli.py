"""``redband``: the command line.

    redband run [--city FILE] [--mqtt mqtt://USER:PASS@HOST:PORT] [--bridges N] [--journal-dir DIR]
    redband simulate SCENARIO.toml [--json] [--realtime] [--until S] [--report DIR]
                     [--mqtt mqtt://redband-sim:PASS@HOST:PORT [--console ws://OPERATOR:PASS@HOST:PORT] | --stack]
    redband mqtt-config --city FILE --out DIR [--port 1883] [--bind 127.0.0.1] [--simulator]
    redband city generate [--precincts N ...] --seed N -o city.toml
    redband city check FILE
    redband demo
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from importlib import resources
from pathlib import Path

import tomli_w

from engine.citygen import CitySpec, generate_city_dict
from engine.errors import ConfigError
from protocols.endpoint import parse_console_url, parse_mqtt_url
from protocols.errors import ProtocolError
from engine.policy import load_policy_set
from engine.topology import city_from_dict, load_city
from simulation.report import format_row

DEMO_CITY = "cities/demo.toml"
DEMO_SCENARIO = "scenarios/school_panic.toml"
DEFAULT_USERS = "var/users.toml"


def shipped(relative: str) -> Path:
    return Path(str(resources.files("simulation").joinpath(relative)))


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (ConfigError, ProtocolError, ConnectionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="redband", description="Real-time dispatch engine for community security.")
    sub = parser.add_subparsers()

    run = sub.add_parser("run", help="start the engine and keep it running; logs the incident timeline")
    run.add_argument("--city", default=None, help="city TOML (default: the shipped demo city)")
    run.add_argument("--policies", default=None, help="policy TOML overriding the shipped defaults per kind")
    run.add_argument("--ray-address", default=None, help="join an existing Ray cluster instead of starting one")
    run.add_argument("--namespace", default="redband",
                     help="Ray namespace of the engine's actors: a second `redband run` in it attaches to the running "
                          "engine (on a cluster, --ray-address) instead of starting another")
    run.add_argument("--journal-dir", default="var/journal", help="where the hosts' SQLite journals live")
    run.add_argument("--precinct-hosts", type=int, default=None,
                     help="host actors for the precincts (default: one per CPU core, at most one per precinct)")
    run.add_argument("--mqtt", default=None, metavar="URL",
                     help="bridge devices from this broker: mqtt://redband-bridge:PASS@HOST:PORT")
    run.add_argument("--bridges", type=int, default=1, help="bridge processes on the shared subscription")
    run.add_argument("--users", default=DEFAULT_USERS,
                     help=f"console operators (redband user add); the console is served when this file exists "
                          f"(default {DEFAULT_USERS})")
    run.add_argument("--console", default="127.0.0.1:8080", metavar="HOST:PORT", help="where the console listens")
    run.add_argument("--stats-every", type=float, default=60.0, metavar="S",
                     help="print the bridges' counters every S seconds (0: never)")
    run.set_defaults(func=cmd_run)

    status = sub.add_parser("status", help="the running engine: hosts and their nodes, restarts, bridges and lanes")
    status.add_argument("--ray-address", default="auto", help="the Ray cluster the engine runs on (default: auto)")
    status.add_argument("--namespace", default="redband")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(func=cmd_status)

    simulate = sub.add_parser("simulate", help="run a scenario: against an engine of its own (virtual or real time), "
                                               "through a broker (--mqtt), or with a whole stack of its own (--stack)")
    simulate.add_argument("scenario")
    simulate.add_argument("--json", action="store_true", help="print one JSON object instead of the timeline")
    simulate.add_argument("--realtime", action="store_true", help="wall-clock time instead of virtual time")
    simulate.add_argument("--until", type=float, default=None, help="stop at this scenario time (s)")
    simulate.add_argument("--ray-address", default=None)
    simulate.add_argument("--mqtt", default=None, metavar="URL",
                          help="publish the events through this broker as the simulator user "
                               "(mqtt://redband-sim:PASS@HOST:PORT) to the engine of `redband run --mqtt`")
    simulate.add_argument("--stack", action="store_true",
                          help="run a whole redband of its own: Mosquitto on a free loopback port, the engine with its "
                               "bridge, the console; events go through the broker, alarm latency is measured to the "
                               "incident, the ack and the console, and broker_kill faults can be carried out")
    simulate.add_argument("--stack-dir", default=None, metavar="DIR",
                          help="with --stack: where its broker files, journals and logs go (default: a temporary "
                               "directory, removed after a run that passed)")
    simulate.add_argument("--console", default=None, metavar="URL",
                          help="with --mqtt: also watch this operator's console (ws://USER:PASS@HOST:PORT) to measure "
                               "publish → console and, for a command-center operator, check every alarm")
    simulate.add_argument("--json-devices", action="store_true", help="devices speak JSON instead of MessagePack")
    simulate.add_argument("--progress", action="store_true",
                          help="show the live progress bar even when stderr is not a terminal (real time only)")
    simulate.add_argument("--report", default=None, metavar="DIR",
                          help="write summary.json and report.html (with plots) here")
    simulate.set_defaults(func=cmd_simulate)

    bench = sub.add_parser("bench", help="run the benchmark programs and sum them up in one JSON object")
    bench.add_argument("--quick", action="store_true", help="smoke runs: seconds each, figures not meaningful")
    bench.add_argument("--json", default=None, metavar="FILE", help="also write the JSON here")
    bench.add_argument("--only", default=None, help="comma-separated program names (default: all)")
    bench.set_defaults(func=cmd_bench)

    user = sub.add_parser("user", help="console operators").add_subparsers()
    add = user.add_parser("add", help="add or replace an operator (argon2-hashed password)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["command_center", "station", "guard_room"])
    add.add_argument("--scope", default="", help="a station's precinct id, a guard room's site id")
    add.add_argument("--users", default=DEFAULT_USERS, help="the users file")
    add.add_argument("--city", default=None, help="check the scope against this city (default: the demo city)")
    add.add_argument("--password", default=None, help="default: asked for on the terminal")
    add.set_defaults(func=cmd_user_add)

    mqtt = sub.add_parser("mqtt-config",
                          help="broker files for a city: mosquitto.conf, dynamic-security.json, credentials.csv")
    mqtt.add_argument("--city", required=True)
    mqtt.add_argument("--out", required=True, help="directory for the files (passwords already issued there are kept)")
    mqtt.add_argument("--port", type=int, default=1883)
    mqtt.add_argument("--bind", default="127.0.0.1", help="listener address (loopback unless you mean it)")
    mqtt.add_argument("--simulator", action="store_true",
                      help="also a user that may publish for every device (load tests and the demo only)")
    mqtt.set_defaults(func=cmd_mqtt_config)

    broker = sub.add_parser("broker", help="run Mosquitto with the files of mqtt-config, in the foreground")
    broker.add_argument("--dir", required=True, help="the directory mqtt-config wrote")
    broker.set_defaults(func=cmd_broker)

    city = sub.add_parser("city", help="make or check city files").add_subparsers()
    gen = city.add_parser("generate", help="a seeded synthetic city")
    defaults = CitySpec()
    for name in ("precincts", "communities", "schools", "kiosk_halls", "volunteers", "doors_per_community",
                 "cameras_per_community", "residents_per_door", "panic_boxes_per_school", "kiosks_per_hall",
                 "team_size", "seed"):
        gen.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    gen.add_argument("-o", "--output", required=True)
    gen.set_defaults(func=cmd_city_generate)
    check = city.add_parser("check", help="load a city file and print its size, or the first error")
    check.add_argument("file")
    check.set_defaults(func=cmd_city_check)

    demo = sub.add_parser("demo", help="the shipped city and the school panic scenario, in real time")
    demo.add_argument("--until", type=float, default=35.0, help="length of the school panic scenario (s)")
    demo.add_argument("--dir", default="var/demo", help="where the demo's broker files and operators live")
    demo.add_argument("--keep", action="store_true", help="then keep incidents coming until Ctrl-C")
    demo.add_argument("--every", type=float, default=20.0, help="with --keep: seconds between alarms")
    demo.set_defaults(func=cmd_demo)
    return parser


def cmd_city_generate(args) -> int:
    fields = {name: getattr(args, name) for name in CitySpec.__slots__}
    try:
        spec = CitySpec(**fields)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    data = generate_city_dict(spec)
    city = city_from_dict(data, file=args.output)
    Path(args.output).write_text(_header(spec) + tomli_w.dumps(data), encoding="utf-8")
    print(f"wrote {args.output}: " + ", ".join(f"{n} {k}" for k, n in city.summary().items()))
    return 0


def _header(spec: CitySpec) -> str:
    flags = " ".join(f"--{k.replace('_', '-')} {getattr(spec, k)}" for k in CitySpec.__slots__)
    return f"# Generated by: redband city generate {flags}\n\n"


def cmd_city_check(args) -> int:
    city = load_city(args.file)
    print(f"{args.file}: " + ", ".join(f"{n} {k}" for k, n in city.summary().items()))
    return 0


def cmd_simulate(args) -> int:
    from simulation.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    mqtt = parse_mqtt_url(args.mqtt) if getattr(args, "mqtt", None) else None
    stack = getattr(args, "stack", False)
    console = parse_console_url(args.console) if getattr(args, "console", None) else None
    if stack and mqtt:
        print("error: --stack and --mqtt: the stack brings its own broker; give one of them", file=sys.stderr)
        return 2
    if console and not mqtt:
        print("error: --console: only with --mqtt (--stack watches its own console)", file=sys.stderr)
        return 2
    realtime = args.realtime or mqtt is not None or stack
    if not args.json:
        through = f", through {mqtt!r}" if mqtt else ", through a stack of its own" if stack else ""
        print(f"scenario: {scenario.name} ({'real time' if realtime else 'virtual time'}, "
              f"{args.until or scenario.duration_s:g} s{through})")
    show_progress = realtime and not args.json and (getattr(args, "progress", False) or sys.stderr.isatty())
    quiet_rows = show_progress and len(scenario.events) > 1000  # a load run: the bar, not a line per change
    on_row = None if args.json or quiet_rows else (lambda row: print(format_row(row), flush=True))
    progress = None
    if show_progress:
        from simulation.progress import LiveProgress

        progress = LiveProgress(scenario.name, args.until or scenario.duration_s)
    options = dict(realtime=realtime, until_s=args.until, on_row=on_row,
                   json_devices=getattr(args, "json_devices", False),
                   on_progress=progress.update if progress else None)
    with progress or contextlib.nullcontext():
        if stack:
            result = _simulate_with_stack(scenario, args, options)
        else:
            result = _simulate(scenario, args, options, mqtt, console)
    if getattr(args, "report", None):
        from simulation.report_html import write_report

        written = write_report(result, Path(args.report), title=scenario.name)
        if not args.json:
            print(f"report: {written[1]}")
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        _print_outcome(result, "sent")
        _print_measurements(result.metrics)
    return 0 if result.passed else 1


def _simulate(scenario, args, options: dict, mqtt, console):
    from simulation.driver import run_scenario

    if console is None:
        return run_scenario(scenario, ray_address=args.ray_address, mqtt=mqtt, own_engine=mqtt is None, **options)
    from simulation.console_watch import ConsoleWatch

    with ConsoleWatch(console) as watch:
        return run_scenario(scenario, ray_address=args.ray_address, mqtt=mqtt, own_engine=False, console=watch,
                            **options)


def _simulate_with_stack(scenario, args, options: dict):
    import shutil
    import tempfile

    from simulation.console_watch import ConsoleWatch
    from simulation.driver import run_scenario
    from simulation.stack import Stack

    out = Path(args.stack_dir) if args.stack_dir else Path(tempfile.mkdtemp(prefix="redband-stack-"))
    passed = False
    try:
        with Stack(scenario.city, scenario.policies, out, precinct_hosts=scenario.precinct_hosts) as stack:
            if not args.json:
                print(f"stack: broker 127.0.0.1:{stack.provisioned.port}, console {stack.gateway.url}, files in {out}",
                      flush=True)
            with ConsoleWatch(stack.watcher) as watch:
                result = run_scenario(scenario, mqtt=stack.simulator, engine=stack.engine,
                                      take_changes=stack.take_changes, broker=stack.broker, console=watch, **options)
        passed = result.passed
        return result
    finally:
        if passed and not args.stack_dir:
            shutil.rmtree(out, ignore_errors=True)
        elif not args.json:
            print(f"stack files kept in {out} (broker log: {out / 'broker' / 'mosquitto.log'})", flush=True)


def _print_measurements(metrics: dict) -> None:
    for name, latency in (metrics.get("latency_paths") or {}).items():
        print(f"alarm latency ({latency['measured']}): p50 {latency['p50_ms']:.2f} ms, "
              f"p99 {latency['p99_ms']:.2f} ms, max {latency['max_ms']:.2f} ms over {latency['count']} alarms")
    if lateness := metrics.get("escalation_lateness"):
        if lateness.get("count"):
            print(f"escalation deadline lateness: p50 {lateness['p50_ms']:.2f} ms, p99 {lateness['p99_ms']:.2f} ms, "
                  f"max {lateness['max_ms']:.2f} ms over {lateness['count']} deadlines")
    if telemetry := metrics.get("telemetry"):
        print(f"telemetry (QoS 0): published {telemetry['published']}, taken by the engine "
              f"{telemetry['taken_by_engine']}, lost after publish {telemetry['lost_after_publish']}, "
              f"not sent while disconnected {telemetry['not_sent_while_disconnected']}")
    if checker := metrics.get("checker"):
        print(f"checker ({checker['incidents_from']}): alarms sent {checker['sent']}, lost {checker['lost']}, "
              f"duplicated {checker['duplicated']}, unexpected {checker['unexpected']}")


def _print_outcome(result, verb: str) -> None:
    for refusal in result.refusals:
        print(f"refused: {refusal}")
    for fault in result.faults:
        print(f"fault: {fault}")
    print(f"events {verb} {result.events_sent}, accounted {result.events_accounted}, lost {result.lost}")
    for expectation in result.expectations:
        print(f"{expectation.verdict}  {expectation.name}: {expectation.detail}")


def cmd_bench(args) -> int:
    from benchmarks.suite import PROGRAMS, run_bench

    programs = tuple(args.only.split(",")) if args.only else PROGRAMS
    unknown = sorted(set(programs) - set(PROGRAMS))
    if unknown:
        print(f"error: --only: unknown programs {unknown}; known: {', '.join(PROGRAMS)}", file=sys.stderr)
        return 2
    result = run_bench(quick=args.quick, programs=programs,
                       on_done=lambda name, figures: print(f"{name}: {'error' if 'error' in figures else 'done'} "
                                                           f"({figures.get('wall_s', '?')} s)", file=sys.stderr))
    text = json.dumps(result)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 1 if any("error" in figures for figures in result["runs"].values()) else 0


def cmd_user_add(args) -> int:
    import getpass

    from actors.config_files import add_operator
    from engine.operators import Role

    city = load_city(args.city or shipped(DEMO_CITY))
    password = args.password or getpass.getpass(f"password for {args.name}: ")
    if not password:
        print("error: password: must not be empty", file=sys.stderr)
        return 2
    operator = add_operator(Path(args.users), name=args.name, role=Role(args.role), scope=args.scope,
                            password=password, city=city)
    where = f" for {operator.jurisdiction.scope}" if operator.jurisdiction.scope else ""
    print(f"{args.users}: operator {operator.name}, {operator.jurisdiction.role.value}{where}")
    return 0


def cmd_mqtt_config(args) -> int:
    from actors.broker import BrokerError, dynsec_plugin
    from actors.config_files import write_broker_files
    from engine.mqtt_provision import DYNSEC_PLUGIN, broker_files, read_credentials

    city = load_city(args.city)
    out = Path(args.out)
    previous = out / "credentials.csv"
    existing = read_credentials(previous.read_text(encoding="utf-8")) if previous.exists() else {}
    try:
        plugin = dynsec_plugin()
    except BrokerError as exc:  # files for another machine can still be written; say what this one lacks
        print(f"note: {exc}; the configuration names {DYNSEC_PLUGIN}", file=sys.stderr)
        plugin = DYNSEC_PLUGIN
    files = broker_files(city, out, port=args.port, bind=args.bind, simulator=args.simulator, existing=existing,
                         plugin=plugin)
    written = write_broker_files(files, out)
    kept = sum(1 for c in files.credentials if c.username in existing)
    print(f"wrote {', '.join(str(p) for p in written)}: {len(city.devices)} devices, the bridge user"
          f"{' and the simulator user' if args.simulator else ''}; {kept} passwords kept from before")
    print(f"start the broker: redband broker --dir {out.resolve()}")
    return 0


def cmd_broker(args) -> int:
    """Mosquitto in the foreground with the files of ``mqtt-config``: as root too (it keeps root's rights on the
    files instead of dropping to the ``mosquitto`` user, which cannot read them)."""
    from actors.broker import BrokerError, mosquitto_binary, runtime_conf

    conf = Path(args.dir) / "mosquitto.conf"
    if not conf.exists():
        print(f"redband broker: {conf}: no such file; write it with `redband mqtt-config --out {args.dir}`",
              file=sys.stderr)
        return 2
    try:
        binary, runtime = mosquitto_binary(), runtime_conf(conf)
    except BrokerError as exc:
        print(f"redband broker: {exc}", file=sys.stderr)
        return 2
    os.execv(binary, [binary, "-c", str(runtime)])
    return 0  # not reached


def cmd_demo(args) -> int:
    from simulation.demo import run_demo
    from simulation.scenario import load_scenario

    return run_demo(load_scenario(shipped(DEMO_SCENARIO)), out=Path(args.dir), until_s=args.until, keep=args.keep,
                    every_s=args.every)


def _bridge_summary(engine) -> str:
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


def cmd_status(args) -> int:
    import json

    import ray

    from actors.runtime import engine_status

    try:
        ray.init(address=args.ray_address, namespace=args.namespace, logging_level=logging.ERROR,
                 include_dashboard=False, log_to_driver=False)
    except ConnectionError as exc:
        print(f"error: --ray-address {args.ray_address}: no Ray cluster there ({exc})", file=sys.stderr)
        return 2
    try:
        status = engine_status(args.namespace)
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        if args.json:
            print(json.dumps(status, indent=2, default=str))
            return 0
        engine = status["engine"]
        print(f"engine in namespace {status['namespace']}: city {engine['city']}, journal {engine['journal_dir']}")
        print(f"{'host':<8} {'node':<14} {'pid':>7} {'starts':>6} {'devices':>8} {'active':>7} {'open':>5} "
              f"{'journal failures':>16}  journal")
        for h in status["hosts"]:
            if not h["answering"]:
                print(f"{h['host_id']:<8} not answering: {h['error']}")
                continue
            print(f"{h['host_id']:<8} {h['node_id'][:12]:<14} {h['pid']:>7} {h['starts']:>6} {h['devices']:>8} "
                  f"{h['devices_active']:>7} {h['incidents_open']:>5} {h['journal_failures']:>16}  {h['journal']}")
        for b in status["bridges"]:
            lanes = "; ".join(f"{lane}: " + ", ".join(f"{k} {v}" for k, v in figures.items())
                              for lane, figures in b.get("lanes", {}).items())
            state = lanes if b["answering"] else f"not answering: {b['error']}"
            print(f"{b['name']:<22} node {b['node_id'][:12]} starts {b['starts']}  {state}")
        return 0
    finally:
        ray.shutdown()


def cmd_run(args) -> int:
    from actors.runtime import Engine, EngineOptions, default_precinct_hosts

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    city = load_city(args.city or shipped(DEMO_CITY))
    policies = load_policy_set(args.policies)
    mqtt = parse_mqtt_url(args.mqtt) if args.mqtt else None
    console_host, _, console_port = args.console.rpartition(":")
    if not console_port.isdigit() or not 0 < int(console_port) < 65536:
        print(f"error: --console: expected HOST:PORT, got {args.console!r}", file=sys.stderr)
        return 2
    if args.bridges < 1:
        print("error: --bridges: must be at least 1", file=sys.stderr)
        return 2
    if args.precinct_hosts is not None and args.precinct_hosts < 1:
        print("error: --precinct-hosts: must be at least 1", file=sys.stderr)
        return 2
    precinct_hosts = args.precinct_hosts or default_precinct_hosts(city)
    journal_dir = str(Path(args.journal_dir).resolve())  # the hosts' processes have working directories of their own
    engine = Engine(city, policies, EngineOptions(precinct_hosts=precinct_hosts, journal_dir=journal_dir,
                                                  ray_address=args.ray_address, realtime=True, mqtt=mqtt,
                                                  bridges=args.bridges, namespace=args.namespace, detached=True))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        engine.start()
    except ConnectionError:
        engine.stop()
        raise
    except RuntimeError as exc:  # the namespace runs another engine
        print(f"error: {exc}", file=sys.stderr)
        return 2
    attached = " (attached to the engine already running)" if engine.attached else ""
    print(f"redband engine running{attached}: city {city.id} "
          f"({', '.join(f'{n} {k}' for k, n in city.summary().items())}), "
          f"hosts {', '.join(engine.placement.hosts)}; journal in {journal_dir}"
          f"{f'; {args.bridges} MQTT bridge(s) on {mqtt!r}' if mqtt else ''}. Ctrl-C stops.", flush=True)
    from simulation.report import rows_of

    def show(change) -> None:
        for row in rows_of(change.record, change.new_from):
            print(format_row(row), flush=True)

    gateway = None
    next_stats = time.monotonic() + args.stats_every
    try:
        if not Path(args.users).exists():
            print(f"console off: no operators in {args.users} (add one with `redband user add NAME --role ...`)",
                  flush=True)
        else:  # the console owns the change stream and hands each change to the log
            from actors.console_gateway import ConsoleGateway
            from engine.operators import load_operators

            gateway = ConsoleGateway(engine, load_operators(args.users, city=city),
                                     host=console_host or "127.0.0.1", port=int(console_port), on_change=show)
            try:
                gateway.start()
            except RuntimeError as exc:  # e.g. the port is taken
                print(f"error: --console {args.console}: {exc}", file=sys.stderr)
                gateway = None
                return 2
            print(f"console: {gateway.url} ({len(gateway.operators)} operators from {args.users})", flush=True)
        failing = False
        while not stop.wait(0.2):
            try:  # the driver outlives any actor's death: Ray restarts the actor, this loop carries on
                if gateway is None:
                    for change in engine.take_changes():
                        show(change)
                if mqtt and args.stats_every and time.monotonic() >= next_stats:
                    next_stats += args.stats_every
                    print(_bridge_summary(engine), flush=True)
            except Exception as exc:  # noqa: BLE001
                if not failing:
                    logging.getLogger("redband").warning("engine not answering (%s); carrying on", exc)
                failing = True
            else:
                failing = False
    finally:
        if gateway is not None:
            gateway.stop()
        engine.stop()
        print("redband engine stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
