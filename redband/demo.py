"""``redband demo``: the shipped city with its own Mosquitto, the engine and its bridge, the console, demo
operators, the school panic scenario through the broker, then (with ``--keep``) an alarm every so often
from a random device of the city until Ctrl-C."""

from __future__ import annotations

import random
import secrets
import signal
import threading
import time
from pathlib import Path

from actors.broker import free_port
from redband.files import add_operator
from engine.operators import Role
from engine.topology import City
from protocols.device import make_message
from protocols.kinds import ALARM_KIND_OF, DeviceKind
from simulation.report import format_row, rows_of
from simulation.shipped import DEMO_SCENARIO, shipped

#: the devices the demo presses, and what they raise
DEMO_ALARMS = {kind: ALARM_KIND_OF[kind] for kind in (DeviceKind.PANIC_BOX, DeviceKind.DOOR, DeviceKind.CAMERA,
                                                      DeviceKind.KIOSK)}
CONSOLE_PORT = 8080


def register(sub) -> None:
    demo = sub.add_parser("demo", help="the shipped city and the school panic scenario, in real time")
    demo.add_argument("--until", type=float, default=35.0, help="length of the school panic scenario (s)")
    demo.add_argument("--dir", default="var/demo", help="where the demo's broker files and operators live")
    demo.add_argument("--keep", action="store_true", help="then keep incidents coming until Ctrl-C")
    demo.add_argument("--every", type=float, default=20.0, help="with --keep: seconds between alarms")
    demo.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    from simulation.scenario import load_scenario

    return run_demo(load_scenario(shipped(DEMO_SCENARIO)), out=Path(args.dir), until_s=args.until, keep=args.keep,
                    every_s=args.every)


def demo_operators(city: City, users: Path, school_id: str) -> dict[str, str]:
    """The command center, the school's police station and the school's guard room; fresh passwords."""
    school = city.sites[school_id]
    logins = {}
    for name, role, scope in (("cc-duty", Role.COMMAND_CENTER, ""),
                              (f"{school.precinct_id.lower()}-duty", Role.STATION, school.precinct_id),
                              (f"{school_id.lower()}-guard", Role.GUARD_ROOM, school_id)):
        logins[name] = secrets.token_urlsafe(8)
        add_operator(users, name=name, role=role, scope=scope, password=logins[name], city=city)
    return logins


def console_port(preferred: int = CONSOLE_PORT) -> int:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            return free_port()


def run_demo(scenario, *, out: Path, until_s: float, keep: bool, every_s: float = 20.0) -> int:
    from simulation.driver import ScenarioRun
    from simulation.mqtt_fleet import Fleet, Outgoing
    from redband.stack import Stack

    city = scenario.city
    school = city.devices[scenario.events[0].device_id].site_id
    stack = Stack(city, scenario.policies, out, console_port=console_port())
    logins = demo_operators(city, stack.users, school)
    print("redband demo: the shipped city, its own Mosquitto on loopback, the engine with its MQTT bridge, the")
    print("console, and a simulated school panic button publishing through the broker. Nobody acknowledges: the")
    print("campus guard room and the police station are alarmed at once, the command center after 30 s.\n")
    with stack:
        print(f"broker: 127.0.0.1:{stack.provisioned.port} (config in {out / 'broker'})")
        print(f"console: {stack.gateway.url}  logins:")
        for name, password in logins.items():
            print(f"  {name:<16} {password}")
        print(flush=True)
        run = ScenarioRun(scenario, realtime=True, until_s=until_s, mqtt=stack.simulator, engine=stack.engine,
                          take_changes=stack.take_changes, on_row=lambda row: print(format_row(row), flush=True))
        result = run.run()
        for expectation in result.expectations:
            print(f"{expectation.verdict}  {expectation.name}: {expectation.detail}")
        if keep:
            print(f"\nthe demo goes on: an alarm every {every_s:g} s from a random device; Ctrl-C stops.", flush=True)
            with Fleet(stack.simulator) as fleet:
                _keep_incidents_coming(city, fleet, stack.take_changes, every_s, Outgoing)
    return 0 if result.passed else 1


def _keep_incidents_coming(city: City, fleet, take_changes, every_s: float, outgoing) -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    rng = random.Random()
    devices = [d for d in city.devices.values() if d.kind in DEMO_ALARMS]
    seq = 100  # above the scenario's; the engine is this demo's own, so its devices start from nothing
    next_alarm = time.monotonic()
    while not stop.wait(0.2):
        for change in take_changes():
            for row in rows_of(change.record, change.new_from):
                print(format_row(row), flush=True)
        if time.monotonic() >= next_alarm:
            next_alarm += every_s
            device = rng.choice(devices)
            seq += 1
            fleet.send([outgoing(device.id, make_message(DEMO_ALARMS[device.kind], seq=seq,
                                                         ts=int(time.time() * 1000)))])
