"""``redband demo``: the shipped city with its own Mosquitto, the engine and its bridge, the console, demo
operators, the school panic scenario through the broker, then (with ``--keep``) an alarm every so often
from a random device of the city until Ctrl-C.

The city's fixed devices (doors, cameras, panic boxes, kiosks: the ones the engine supervises once they speak)
heartbeat through the broker from the start to the end, each on the interval the engine expects of it, so no
healthy device of the demo is ever reported offline; a device the demo silences is (:class:`Demo`).

Every police car and foot officer and a few volunteers of each precinct go on duty and report their positions
(``simulation.demo_duty``), so the console's units layer shows them; they answer the task offers of P1 alarms through
the broker (accept, decline or let it expire), and the one that accepts goes en route, on scene and back.

The community and the kiosk hall nearest the school live a little (``simulation.demo_community``), so the console's
Sites tab shows them: a few visitor calls a minute at the community's door panels answered by the residents' phones,
now and then a visitor pass typed at a panel, a notice posted at the start to two of its buildings and shown by their
door screens, a kiosk session every so often and the kiosks' supplies."""

from __future__ import annotations

import random
import secrets
import signal
import threading
import time
from collections import deque
from pathlib import Path

from actors.broker import free_port
from engine.grids import grid_of
from engine.operators import Role
from engine.topology import City
from protocols.device import make_message
from protocols.kinds import ALARM_KIND_OF, DeviceKind, TimelineEvent
from redband.files import add_operator
from simulation.report import format_row, rows_of
from simulation.shipped import DEMO_SCENARIO, shipped

#: the devices the demo presses, and what they raise
DEMO_ALARMS = {kind: ALARM_KIND_OF[kind] for kind in (DeviceKind.PANIC_BOX, DeviceKind.DOOR, DeviceKind.CAMERA,
                                                      DeviceKind.KIOSK)}
CONSOLE_PORT = 8080
KEEP_TICK_S = 0.2
"""How often the keep phase prints what changed and looks whether an alarm is due."""
ALARM_SEQ_FROM = 100
"""The keep phase's alarms count from here: above the scenario's (alarms are told apart by seq and content)."""
RAISED_KEPT = 10_000


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


def demo_operators(city: City, users: Path, school_id: str, community_id: str | None = None) -> dict[str, str]:
    """The command center, the school's police station, the school's guard room, a grid worker of the school's
    grid (when it has one) and the guard room of the community that lives (``community_id``); fresh passwords."""
    school = city.sites[school_id]
    grid = grid_of(school)
    logins = {}
    for name, role, scope in (("cc-duty", Role.COMMAND_CENTER, ""),
                              (f"{school.precinct_id.lower()}-duty", Role.STATION, school.precinct_id),
                              (f"{school_id.lower()}-guard", Role.GUARD_ROOM, school_id),
                              *([(f"{grid.lower()}-worker", Role.GRID_WORKER, grid)] if grid else []),
                              *([(f"{community_id.lower()}-guard", Role.GUARD_ROOM, community_id)]
                                if community_id else [])):
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
    return Demo(scenario, out=out, every_s=every_s).run(until_s=until_s, keep=keep)


def _stop_on_signals() -> threading.Event:
    """Ctrl-C (or SIGTERM) ends the keep phase, and the demo stops its stack in order."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


class Demo:
    """One demo: its stack, its devices' heartbeats (:attr:`beats`, started before the scenario, so a device the
    scenario makes speak is never left silent), the scenario, then (``keep``) an alarm from a random device every
    ``every_s`` until ``stop`` is set. ``engine_options``: overrides of the engine's (tests: a short heartbeat);
    ``task``: how the units on duty see a task through (``simulation.demo_duty.DEMO_TASK`` by default)."""

    def __init__(self, scenario, *, out: Path, every_s: float = 20.0, engine_options: dict | None = None,
                 port: int | None = None, rng: random.Random | None = None, task=None, life=None) -> None:
        from redband.stack import Stack

        self.scenario = scenario
        self.city: City = scenario.city
        self.every_s = every_s
        self.stack = Stack(self.city, scenario.policies, out, console_port=port or console_port(),
                           engine_options=engine_options)
        self.beats = None
        """The devices' :class:`simulation.heartbeats.HeartbeatSchedule`, once the stack runs."""
        self.duty = None
        """The units on duty (:class:`simulation.demo_duty.DutySchedule`), once the stack runs."""
        self.tasks = None
        self.task = task
        """Their answers to task offers (:class:`simulation.fleet_tasks.TaskAnswers`), once the stack runs."""
        self.life = None
        """The community's and kiosk hall's (:class:`simulation.demo_community.CommunityLife`), once the stack runs."""
        self.life_config = life
        self.notice = None
        """The notice posted at the start (``protocols.notices.NoticeView``)."""
        self.keeping = threading.Event()
        """Set when the keep phase begins."""
        self.raised: deque[tuple[str, str, str]] = deque(maxlen=RAISED_KEPT)
        """(kind, device id, site id) of the incidents raised in the keep phase, in order (the newest
        :data:`RAISED_KEPT`)."""
        self._rng = rng or random.Random()

    def run(self, *, until_s: float, keep: bool, stop: threading.Event | None = None) -> int:
        """The scenario, then (``keep``) alarms until ``stop`` is set; without ``stop``, until Ctrl-C (the command:
        its signal handlers are installed when the keep phase begins, so Ctrl-C before stops at once)."""
        from simulation.driver import ScenarioRun
        from simulation.heartbeats import HeartbeatSchedule
        from simulation.mqtt_fleet import Fleet

        city, scenario, stack = self.city, self.scenario, self.stack
        school = city.devices[scenario.events[0].device_id].site_id
        logins = demo_operators(city, stack.users, school,
                                _nearest(city, "community", city.devices[scenario.events[0].device_id]))
        print("redband demo: the shipped city, its own Mosquitto on loopback, the engine with its MQTT bridge, the")
        print("console, and a simulated school panic button publishing through the broker. Nobody acknowledges: the")
        print("campus guard room and the police station are alarmed at once, the command center after 30 s, or at")
        print("once when neither has a console open that confirms it (\"not delivered\" in the chain).\n")
        with stack, Fleet(stack.simulator, client_prefix="redband-demo") as fleet:
            options = stack.options
            self.beats = HeartbeatSchedule.for_city(
                city, scenario.policies, interval_s=options.heartbeat_interval_s, misses=options.heartbeat_misses,
                now_s=time.monotonic(), first_seqs=_after_scenario(scenario))
            fleet.beat(self.beats)
            self._on_duty(fleet, city.devices[scenario.events[0].device_id])
            self._community_life(fleet, city.devices[scenario.events[0].device_id])
            print(f"broker: 127.0.0.1:{stack.provisioned.port} (config in {stack.out / 'broker'})")
            print(f"console: {stack.gateway.url}  logins:")
            for name, password in logins.items():
                print(f"  {name:<16} {password}")
            print(f"{len(self.beats):,} doors, cameras, panic boxes and kiosks heartbeat through the broker "
                  f"(every {options.heartbeat_interval_s:g} s or so).")
            print(f"{len(self.duty)} police units and volunteers on duty, each reporting its position every "
                  f"{self.duty.every_s:g} s; they answer the task offers of P1 alarms.")
            life = self.life
            print(f"{life.site}: a visitor every {life.config.call_every_s:g} s at its door panels, answered by the "
                  f"residents' phones; notice {self.notice.notice!r} on the door screens of buildings "
                  f"{', '.join(self.notice.buildings)}. {life.hall}: a kiosk session every "
                  f"{life.config.session_every_s:g} s.\n", flush=True)
            run = ScenarioRun(scenario, realtime=True, until_s=until_s, mqtt=stack.simulator, engine=stack.engine,
                              take_changes=stack.take_changes, on_row=lambda row: print(format_row(row), flush=True))
            result = run.run()
            for expectation in result.expectations:
                print(f"{expectation.verdict}  {expectation.name}: {expectation.detail}")
            if keep:
                print(f"\nthe demo goes on: an alarm every {self.every_s:g} s from a random device; Ctrl-C stops.",
                      flush=True)
                self._keep_incidents_coming(fleet, stop or _stop_on_signals())
        return 0 if result.passed else 1

    def _on_duty(self, fleet, near) -> None:
        from simulation.demo_duty import DEMO_OFFERS, DEMO_TASK, DutySchedule, on_duty
        from simulation.patrol_phones import Phones

        self.duty = DutySchedule(on_duty(self.city, near=(near.lat, near.lon)), now_s=time.monotonic(),
                                 first_seq=int(time.time() * 1000))
        self.tasks = fleet.answer_offers(Phones(self.city, DEMO_OFFERS, alarms={}, config=self.task or DEMO_TASK),
                                        self.duty.units)
        fleet.beat(self.duty)

    def _community_life(self, fleet, near) -> None:
        """The community and the kiosk hall nearest ``near`` live (their devices through the fleet); a notice posted
        through the engine's desk to two of the community's buildings."""
        from simulation.demo_community import LifeConfig, start_life

        site, hall = (_nearest(self.city, kind, near) for kind in ("community", "kiosk_hall"))
        self.life, self.notice = start_life(fleet, self.stack.engine, self.city, site=site, hall=hall,
                                            config=self.life_config or LifeConfig(), is_silent=self.beats.is_silent)

    def _keep_incidents_coming(self, fleet, stop: threading.Event) -> None:
        from simulation.mqtt_fleet import Outgoing

        devices = [d for d in self.city.devices.values() if d.kind in DEMO_ALARMS]
        seq = ALARM_SEQ_FROM
        next_alarm = time.monotonic()
        self.keeping.set()
        while not stop.wait(KEEP_TICK_S):
            self._show(self.stack.take_changes())
            fleet.take_acks()  # nobody reads them here: not kept
            if fleet.beat_error is not None:
                raise RuntimeError("the demo's devices stopped heartbeating") from fleet.beat_error
            if time.monotonic() >= next_alarm:
                next_alarm += self.every_s
                speaking = [d for d in devices if not self.beats.is_silent(d.id)]  # a silenced device is dark
                if speaking:
                    device = self._rng.choice(speaking)
                    seq += 1
                    fleet.send([Outgoing(device.id, make_message(DEMO_ALARMS[device.kind], seq=seq,
                                                                 ts=int(time.time() * 1000)))])

    def _show(self, changes) -> None:
        for change in changes:
            record = change.record
            if any(e.event is TimelineEvent.RAISED for e in record.timeline[change.new_from:]):
                self.raised.append((record.kind.value, record.device_id, record.site_id))
            for row in rows_of(record, change.new_from):
                print(format_row(row), flush=True)


def _nearest(city: City, kind: str, near) -> str:
    """The id of the site of ``kind`` nearest the device ``near``, one of its precinct if there is one (so the
    precinct's station operator and the grid's worker see it)."""
    sites = [s for s in city.sites.values() if s.kind == kind]
    return min(sites, key=lambda s: (s.precinct_id != near.precinct_id,
                                     (s.lat - near.lat) ** 2 + (s.lon - near.lon) ** 2, s.id)).id


def _after_scenario(scenario) -> dict[str, int]:
    """Each scripted device's heartbeats start just above its scenario seqs: the scenario's later events then arrive
    as late ones of the same run (accepted), never as a device that restarted."""
    first: dict[str, int] = {}
    for event in scenario.events:
        first[event.device_id] = max(first.get(event.device_id, 1), event.message.seq + 1)
    return first
