"""``redband simulate``: run a scenario against an engine of its own (virtual or real time), through a broker
(``--mqtt``) to the engine of ``redband run``, or with a whole stack of its own (``--stack``); print the timeline
or one JSON object, and optionally an HTML report."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

from protocols.endpoint import parse_console_url, parse_mqtt_url
from simulation.report import format_row, format_tables


def register(sub) -> None:
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
    from redband.stack import Stack

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
    if alarms := metrics.get("alarms"):
        print(f"alarms: sent {alarms['sent']}, acked {alarms['acked']}, lost {alarms['lost']}, duplicated "
              f"{alarms['duplicated']}; ack p99 {alarms.get('ack_p99_ms', 0):.0f} ms, console p99 "
              f"{alarms.get('console_p99_ms', 0):.0f} ms")
    if lane := metrics.get("alarm_lane"):
        print(f"alarm lane: received {lane['received']} in {lane['batches']} batches (mean {lane['mean_batch']}), "
              f"acks {lane['acks_sent']}, not taken {lane['not_taken']}, process CPU {lane['cpu_s']} s, "
              f"arrival → ack published p99 <= {lane['bridge_ack_p99_s_at_most']} s")
    if checker := metrics.get("checker"):
        print(f"checker ({checker['incidents_from']}): alarms sent {checker['sent']}, lost {checker['lost']}, "
              f"duplicated {checker['duplicated']}, unexpected {checker['unexpected']}")


def _print_outcome(result, verb: str) -> None:
    for refusal in result.refusals:
        print(f"refused: {refusal}")
    for fault in result.faults:
        print(f"fault: {fault}")
    print(f"events {verb} {result.events_sent}, accounted {result.events_accounted}, lost {result.lost}")
    for line in [*result.notes, *format_tables(result.tables)]:
        print(line)
    for expectation in result.expectations:
        print(f"{expectation.verdict}  {expectation.name}: {expectation.detail}")
