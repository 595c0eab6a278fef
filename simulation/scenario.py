"""Scenario files: a city, scripted device events at times, responder behaviour, expectations.

    name = "School panic, nobody acknowledges"
    duration_s = 95
    [city]
    file = "../cities/demo.toml"          # relative to the scenario; or generate = { precincts = 2, ... }
    [engine]
    precinct_hosts = 2                    # optional; policies = "my_policies.toml"
    [[events]]
    at_s = 0
    device = "S0001-panic1"
    kind = "school.panic"
    data = { zone = "main gate" }
    [[responders]]                        # who acts, how long after being notified (none: nobody acts)
    level = "police_station"
    acknowledge_after_s = 12
    [[expect]]
    name = "station notified at once"
    event = "notified"
    level = "police_station"
    at_s = 0.0                            # ± tolerance_s (0.05)

Volunteer patrols (``[patrols]``) and figures expected of the hosts' statistics at the end (``[[expect_figures]]``):
see ``simulation.scenario_patrols``; a community evening (``[community]``): ``simulation.scenario_community``; a kiosk
hall (``[kiosks]``): ``simulation.scenario_kiosk``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from engine.citygen import CitySpec, generate_city
from engine.errors import ConfigError
from engine.policy import PolicySet, load_policy_set
from engine.tomlconf import convert, error_at, parse_toml, read_text
from engine.entities import ALLOWED_KINDS
from engine.topology import City, load_city
from protocols import DeviceKind, EventKind, Level, ProtocolError, TimelineEvent
from protocols.device import DeviceMessage, make_message
from protocols.kinds import IncidentKind
from simulation.community_plan import CommunityPlan
from simulation.community_tables import CommunityTable
from simulation.kiosk_plan import KioskPlan
from simulation.kiosk_table import KiosksTable
from simulation.patrol_emergencies import Emergency
from simulation.scenario_community import check_community_figure, is_community_figure
from simulation.scenario_kiosk import check_kiosk_figure, is_kiosk_figure, kiosk_plan
from simulation.scenario_patrols import ExpectFigure, PatrolsTable, PatrolTruth, check_figure_spec, patrol_events

Seconds = Annotated[float, Meta(ge=0)]


class _CityRef(Struct, forbid_unknown_fields=True):
    file: str | None = None
    generate: dict[str, int] | None = None


class _EngineOptions(Struct, forbid_unknown_fields=True, frozen=True):
    precinct_hosts: Annotated[int, Meta(ge=1)] | None = None
    policies: str | None = None


class _Event(Struct, forbid_unknown_fields=True):
    at_s: Seconds
    device: str
    kind: EventKind
    data: dict[str, Any] = {}
    seq: Annotated[int, Meta(ge=0)] | None = None
    count: Annotated[int, Meta(ge=1)] = 1
    every_s: Annotated[float, Meta(gt=0)] = 1.0


class _Phase(Struct, forbid_unknown_fields=True):
    """Load: events of one kind arriving as a Poisson process at ``rate_per_s``, each from a device picked
    at random among those that send that kind (optionally only devices of ``device_kind``)."""

    kind: EventKind
    duration_s: Annotated[float, Meta(gt=0)]
    rate_per_s: Annotated[float, Meta(gt=0, le=200_000)] | None = None
    count: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None
    """Instead of a rate: exactly this many arrivals at uniformly random times (a Poisson process given its count)."""
    distinct_devices: bool = False
    """Every arrival from a device of its own, none twice in the phase (a storm: 5,000 doors forced at once)."""
    start_s: Seconds = 0.0
    name: str = ""
    device_kind: DeviceKind | None = None
    data: dict[str, Any] = {}
    seed: int = 1


class _Fault(Struct, forbid_unknown_fields=True):
    """``silence``: from ``at_s`` the device sends nothing more (its scripted and load events are dropped), as a
    device that lost power would; the engine's supervision must notice. ``gps_jump``: one position report
    ``jump_m`` metres away from the phone's home. ``host_kill``: the host actor that owns ``device`` is killed
    as a crash would and started again from its journal. ``broker_kill``: the MQTT broker is killed (SIGKILL)
    and started again ``down_s`` later; only a run that owns its broker can do it (``simulate --stack``)."""

    at_s: Seconds
    kind: Literal["silence", "gps_jump", "host_kill", "broker_kill"]
    device: str | None = None
    until_s: Seconds | None = None
    jump_m: Annotated[float, Meta(gt=0)] = 5000.0
    down_s: Annotated[float, Meta(gt=0, le=600)] = 5.0


class _Responder(Struct, forbid_unknown_fields=True):
    level: Level
    kind: IncidentKind | None = None
    acknowledge_after_s: Seconds | None = None
    dispatch_after_s: Seconds | None = None
    unit: str = "patrol car 1"
    on_scene_after_s: Seconds | None = None
    resolve_after_s: Seconds | None = None
    close_after_s: Seconds | None = None
    disposition: str = "handled"
    operator: str = ""


class _Expect(Struct, forbid_unknown_fields=True):
    name: str
    event: TimelineEvent
    level: Level | None = None
    target: str | None = None
    kind: IncidentKind | None = None
    at_s: Seconds | None = None
    tolerance_s: Seconds = 0.05
    count: Annotated[int, Meta(ge=0)] | None = None
    never: bool = False


class _ScenarioFile(Struct, forbid_unknown_fields=True):
    name: str
    city: _CityRef
    duration_s: Annotated[float, Meta(gt=0)]
    description: str = ""
    engine: _EngineOptions = _EngineOptions()
    events: list[_Event] = []
    phases: list[_Phase] = []
    faults: list[_Fault] = []
    responders: list[_Responder] = []
    expect: list[_Expect] = []
    patrols: PatrolsTable | None = None
    community: CommunityTable | None = None
    kiosks: KiosksTable | None = None
    expect_figures: list[ExpectFigure] = []


@dataclass(frozen=True, slots=True)
class ScriptedEvent:
    at_s: float
    device_id: str
    message: DeviceMessage


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    duration_s: float
    city: City
    policies: PolicySet
    precinct_hosts: int | None
    events: tuple[ScriptedEvent, ...]
    responders: tuple[_Responder, ...]
    expectations: tuple[_Expect, ...]
    file: str
    host_kills: tuple[tuple[float, str], ...] = ()
    """(at_s, device id): the host owning the device is killed and restarted then."""
    broker_kills: tuple[tuple[float, float], ...] = ()
    """(at_s, down_s): the broker is killed then and started again ``down_s`` later."""
    patrol_truth: PatrolTruth | None = None
    """What the ``[patrols]`` plan meant the engine to count (``simulation.scenario_patrols``)."""
    expect_figures: tuple[ExpectFigure, ...] = ()
    """Checked at the end of a run against the hosts' summed statistics."""
    patrols: PatrolsTable | None = None
    emergencies: tuple[Emergency, ...] = ()
    """P1 alarms of the ``[patrols]`` plan, raised near volunteers on patrol (``simulation.patrol_emergencies``)."""
    community: CommunityPlan | None = None
    """The ``[community]`` evening: visitors, residents' phones, passes, doors, cameras (``simulation.community_plan``)."""
    kiosk_plan: KioskPlan | None = None
    """The ``[kiosks]`` hall: sessions, bookings, codes, supplies (``simulation.kiosk_plan``)."""


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    file = str(path)
    text = read_text(path)
    raw = convert(parse_toml(text, file=file), _ScenarioFile, file=file, text=text)
    base = path.parent

    if (raw.city.file is None) == (raw.city.generate is None):
        raise error_at(file, text, ("city",), "give exactly one of file or generate")
    if raw.city.file is not None:
        city = load_city(base / raw.city.file)
    else:
        try:
            city = generate_city(CitySpec(**raw.city.generate))
        except (TypeError, ValueError) as exc:
            raise error_at(file, text, ("city", "generate"), str(exc)) from None
    policies = load_policy_set(base / raw.engine.policies if raw.engine.policies else None)

    events: list[ScriptedEvent] = []
    next_seq: dict[str, int] = {}
    for i, ev in enumerate(raw.events):
        if ev.device not in city.devices:
            raise error_at(file, text, ("events", i, "device"), f"unknown device {ev.device!r}")
        for n in range(ev.count):
            seq = (ev.seq + n) if ev.seq is not None else next_seq.get(ev.device, 1)
            next_seq[ev.device] = max(next_seq.get(ev.device, 1), seq + 1)
            at_s = ev.at_s + n * ev.every_s
            try:
                message = make_message(ev.kind, seq=seq, ts=int(at_s * 1000), data=ev.data)
            except ProtocolError as exc:
                raise error_at(file, text, ("events", i, *exc.field.split(".")), exc.reason) from None
            events.append(ScriptedEvent(at_s, ev.device, message))
    load: list[ScriptedEvent] = []
    for i, phase in enumerate(raw.phases):
        load += _phase_events(phase, city, where=(file, text, ("phases", i)))
    load.sort(key=lambda e: e.at_s)
    for n, event in enumerate(load):  # seqs in time order per device, above the scripted events' own
        seq = next_seq.get(event.device_id, 1)
        next_seq[event.device_id] = seq + 1
        load[n] = ScriptedEvent(event.at_s, event.device_id, msgspec.structs.replace(event.message, seq=seq))
    events += load
    truth, emergencies = None, []
    if raw.patrols is not None:
        try:
            planned, truth, emergencies = patrol_events(raw.patrols, city, policies)
        except ValueError as exc:
            key, _, reason = str(exc).partition(": ")
            raise error_at(file, text, ("patrols", key), reason) from None
        events += [ScriptedEvent(at_s, device_id, message) for at_s, device_id, message in planned]
    community = None
    if raw.community is not None:
        try:
            community = CommunityPlan(raw.community, city, policies)
        except ValueError as exc:
            key, _, reason = str(exc).partition(": ")
            raise error_at(file, text, ("community", *key.split(".")), reason) from None
        events += [ScriptedEvent(at_s, device_id, message) for at_s, device_id, message in community.messages]
    kiosks = None
    if raw.kiosks is not None:
        try:
            kiosks = kiosk_plan(raw.kiosks, city)
        except ValueError as exc:
            key, _, reason = str(exc).partition(": ")
            raise error_at(file, text, ("kiosks", key), reason) from None
        if kiosks.end_s > raw.duration_s:
            raise error_at(file, text, ("duration_s",), f"ends before the hall's last booked slot ends at "
                           f"{kiosks.end_s:g} s")
        events += [ScriptedEvent(at_s, device_id, message) for at_s, device_id, message in kiosks.events]
    for i, ex in enumerate(raw.expect_figures):
        wrong = (check_community_figure(ex, community) if is_community_figure(ex.figure)
                 else check_kiosk_figure(ex, raw.kiosks) if is_kiosk_figure(ex.figure)
                 else check_figure_spec(ex, truth))
        if wrong is not None:
            raise error_at(file, text, ("expect_figures", i, wrong[0]), wrong[1])
    events = _with_faults(events, raw.faults, city, where=(file, text))
    events.sort(key=lambda e: e.at_s)
    if events and events[-1].at_s > raw.duration_s:
        raise ConfigError(file, None, "duration_s", f"ends before the last event at {events[-1].at_s} s")
    return Scenario(raw.name, raw.description, raw.duration_s, city, policies, raw.engine.precinct_hosts,
                    tuple(events), tuple(raw.responders), tuple(raw.expect), file,
                    tuple((f.at_s, f.device) for f in raw.faults if f.kind == "host_kill"),
                    tuple((f.at_s, f.down_s) for f in raw.faults if f.kind == "broker_kill"),
                    truth, tuple(raw.expect_figures), raw.patrols, tuple(emergencies), community, kiosks)


def _phase_events(phase: _Phase, city: City, *, where) -> list[ScriptedEvent]:
    """Poisson arrivals (exponential gaps, seeded) over the phase; each event from a random eligible device
    (its seq is given later, in time order over all phases). Positions without data stay near home."""
    file, text, path = where
    devices = [d for d in city.devices.values() if phase.kind in ALLOWED_KINDS[d.kind]
               and (phase.device_kind is None or d.kind is phase.device_kind)]
    if not devices:
        raise error_at(file, text, path + ("kind",), f"no device in the city sends {phase.kind.value}"
                       + (f" among {phase.device_kind.value}s" if phase.device_kind else ""))
    if (phase.rate_per_s is None) == (phase.count is None):
        raise error_at(file, text, path + ("rate_per_s",), "give exactly one of rate_per_s or count")
    rng = random.Random(phase.seed)
    end = phase.start_s + phase.duration_s
    times = (sorted(phase.start_s + rng.random() * phase.duration_s for _ in range(phase.count)) if phase.count
             else _poisson(rng, phase.rate_per_s, phase.start_s, end))  # lazy: a device drawn after each time
    if phase.distinct_devices:
        times = list(times)
        if len(times) > len(devices):
            raise error_at(file, text, path + ("count" if phase.count else "rate_per_s",),
                           f"{len(times)} arrivals from distinct devices, but {len(devices)} devices send "
                           f"{phase.kind.value}")
        picked = rng.sample(devices, len(times))
    out: list[ScriptedEvent] = []
    for n, t in enumerate(times):
        device = picked[n] if phase.distinct_devices else devices[rng.randrange(len(devices))]
        data = phase.data
        if phase.kind is EventKind.PATROL_POSITION and not data:
            data = {"lat": device.lat + rng.uniform(-0.002, 0.002), "lon": device.lon + rng.uniform(-0.002, 0.002)}
        try:
            message = make_message(phase.kind, seq=0, ts=int(t * 1000), data=data)
        except ProtocolError as exc:
            raise error_at(file, text, path + ("data", *exc.field.split(".")[1:]), exc.reason) from None
        out.append(ScriptedEvent(t, device.id, message))
    return out


def _poisson(rng: random.Random, rate_per_s: float, t: float, end: float):
    while (t := t + rng.expovariate(rate_per_s)) < end:
        yield t


def _with_faults(events: list[ScriptedEvent], faults: list[_Fault], city: City, *, where) -> list[ScriptedEvent]:
    file, text = where
    for i, fault in enumerate(faults):
        if fault.kind == "broker_kill":
            if fault.device is not None:
                raise error_at(file, text, ("faults", i, "device"), "a broker_kill concerns no one device")
            continue  # carried out by the driver at its time
        if fault.device is None:
            raise error_at(file, text, ("faults", i, "device"), f"required for a {fault.kind} fault")
        device = city.devices.get(fault.device)
        if device is None:
            raise error_at(file, text, ("faults", i, "device"), f"unknown device {fault.device!r}")
        if fault.kind == "host_kill":
            continue  # carried out by the driver at its time
        if fault.kind == "silence":
            end = fault.until_s if fault.until_s is not None else float("inf")
            events = [e for e in events if e.device_id != fault.device or not fault.at_s <= e.at_s < end]
        else:
            if EventKind.PATROL_POSITION not in ALLOWED_KINDS[device.kind]:
                raise error_at(file, text, ("faults", i, "device"), f"{fault.device} reports no position")
            seq = 1 + max((e.message.seq for e in events if e.device_id == fault.device and e.at_s < fault.at_s),
                          default=0)
            later = [e for e in events if e.device_id == fault.device and e.at_s >= fault.at_s]
            moved = {id(e) for e in later}  # renumbered after the jump, to keep the device's seqs in time order
            events = [e for e in events if id(e) not in moved]
            lat = device.lat + fault.jump_m / 111_320.0
            jump = make_message(EventKind.PATROL_POSITION, seq=seq, ts=int(fault.at_s * 1000),
                                data={"lat": max(-90.0, min(90.0, lat)), "lon": device.lon})
            events.append(ScriptedEvent(fault.at_s, fault.device, jump))
            events += [ScriptedEvent(e.at_s, e.device_id, msgspec.structs.replace(e.message, seq=seq + n + 1))
                       for n, e in enumerate(sorted(later, key=lambda e: e.at_s))]
    return events
