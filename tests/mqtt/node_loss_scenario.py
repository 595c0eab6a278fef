"""A Ray node lost under load, against the real parts: a two-node ``ray.cluster_utils.Cluster`` with token auth on
(a token of its own in a file every node and the driver read: ``RAY_AUTH_MODE=token``, ``RAY_AUTH_TOKEN_PATH``), the
driver joined as ``redband run --ray-address`` joins (``actors.ray_setup.ensure_ray``: the project shipped to the
workers in the job's ``runtime_env``), a real Mosquitto, devices with their own credentials, and the engine with its
journal on PostgreSQL (``--journal-url``; without it, SQLite files on the disk both nodes share). A driver with another
token is refused meanwhile.

One precinct host is placed on the worker node (``EngineOptions.host_nodes``), the other precinct's host and the bridges
on the head node. Devices of both precincts raise alarms at ``--rate`` a second (each published again every second
until its ack comes back, as a panic button does), for ``--before`` seconds; then the worker node is removed as a
crash would (``cluster.remove_node(worker, allow_graceful=False)``) and the alarms go on for ``--after`` seconds more.
Every alarm is followed to its first ``ok`` ack; the engine's incidents (live, then in the journal) are checked
against what was sent. The lost host's pending deadlines are taken from it just before the removal (school panics
escalate after ``PANIC_ACK_WITHIN_S`` here, so that theirs fall due while the host is away) and followed in the
journal: each fired once the host was back, or is still pending at its time.

It runs in a process of its own (``tests/mqtt/test_node_loss.py`` starts it), because a test process has a local Ray
already. Its answer is a JSON file: the figures and every alarm; the test asserts the promises on it::

    python -m tests.mqtt.node_loss_scenario --out RESULT.json --dir TMPDIR [--journal-url postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiomqtt

from protocols.kinds import ALARM_KIND_OF, DeviceKind, EventKind
from protocols.replies import RETRY_LATER, decode_ack
from simulation.mqtt_device import MqttDevice

log = logging.getLogger("node_loss")

ALARM_OF = {kind: ALARM_KIND_OF[kind] for kind in (DeviceKind.PANIC_BOX, DeviceKind.DOOR, DeviceKind.CAMERA)}
RETRY_S = 1.0
"""How often a device publishes an unanswered alarm again."""
GIVE_UP_S = 120.0
"""An alarm not acked this long after its first send is recorded as never acked (the promise is 30 s)."""
CONNECT_TIMEOUT_S = 30.0
HOST_BACK_TIMEOUT_S = 120.0
ALL_ACKED_TIMEOUT_S = 120.0
"""After the last alarm is sent, how long to wait for the acks still missing."""
WHERE_TIMEOUT_S = 5.0
WATCH_EVERY_S = 0.1
RETRY_DRAIN_TIMEOUT_S = 30.0
PANIC_ACK_WITHIN_S = 12
"""A school panic's first escalation step here (30 s shipped): due while the lost host is away (removed 5 s in, back
about 15 s later: Ray's default health checks declare the node dead after some 14 s)."""
POLICIES = f"""
[policies."school.panic"]
priority = 1
siren = true
steps = [
  {{ notify = ["guard_room", "police_station"], ack_within_s = {PANIC_ACK_WITHIN_S} }},
  {{ notify = ["command_center"], ack_within_s = 60 }},
]
reminder_every_s = 60
"""


@dataclass
class Alarm:
    device: str
    seq: int
    host: str
    precinct: str
    lost_precinct: bool
    phase: str  # "before" or "after" the node was removed
    sent_at: float  # first send, wall clock
    acked_at: float | None = None  # the first ok ack
    ok: bool = False
    duplicate: bool = False
    incident: str = ""
    sends: int = 0
    naks: int = 0
    refusals: list[str] = field(default_factory=list)  # NAKs other than "retry later"

    @property
    def latency_s(self) -> float | None:
        return None if self.acked_at is None else self.acked_at - self.sent_at


class RecordingDevice(MqttDevice):
    """A device that notes the arrival of every answer to its alarms: the first ``ok`` (when, and what it said),
    the NAKs ("unavailable, retry" while a host is away) and any other refusal."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.first_ok: dict[int, tuple[float, object]] = {}
        self.later_oks: dict[int, int] = defaultdict(int)
        self.naks: dict[int, int] = defaultdict(int)
        self.refusals: dict[int, list[str]] = defaultdict(list)
        self._ok_events: dict[int, asyncio.Event] = {}

    def ok_event(self, seq: int) -> asyncio.Event:
        return self._ok_events.setdefault(seq, asyncio.Event())

    async def _receive(self, message: aiomqtt.Message) -> None:
        if message.topic.value.endswith("/ack"):
            ack = decode_ack(bytes(message.payload))
            if ack.seq is not None:
                if not ack.ok:
                    if ack.reason.startswith(RETRY_LATER):
                        self.naks[ack.seq] += 1
                    else:
                        self.refusals[ack.seq].append(ack.reason)
                elif ack.seq in self.first_ok:
                    self.later_oks[ack.seq] += 1  # the answer to a copy sent before the first answer arrived
                else:
                    self.first_ok[ack.seq] = (time.time(), ack)
                    self.ok_event(ack.seq).set()
        await super()._receive(message)


async def raise_alarm(device: RecordingDevice, kind: EventKind, alarm: Alarm) -> None:
    """Publish the very same alarm (same seq and ts) every ``RETRY_S`` until its first ok ack, as a panic box does:
    a NAK ("unavailable, retry") does not stop it."""
    ts_ms = int(alarm.sent_at * 1000)
    acked = device.ok_event(alarm.seq)
    give_up = time.monotonic() + GIVE_UP_S
    while not acked.is_set() and time.monotonic() < give_up:
        if device.connected.is_set():
            with contextlib.suppress(aiomqtt.MqttError):
                await device.publish(kind, seq=alarm.seq, qos=1, ts_ms=ts_ms)
                alarm.sends += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(acked.wait(), timeout=max(0.0, min(RETRY_S, give_up - time.monotonic())))
    if alarm.seq in device.first_ok:
        at, ack = device.first_ok[alarm.seq]
        alarm.acked_at, alarm.ok, alarm.duplicate, alarm.incident = at, ack.ok, ack.duplicate, ack.incident
    alarm.naks = device.naks.get(alarm.seq, 0)
    alarm.refusals = list(device.refusals.get(alarm.seq, []))


# -- the run ---------------------------------------------------------------------------------------------------------


def run(work: Path, *, rate: float, before_s: float, after_s: float, journal_url: str | None = None) -> dict:
    import ray
    from ray.cluster_utils import Cluster

    from actors.broker import Mosquitto, free_port
    from actors.ray_setup import ensure_ray
    from actors.journal_open import open_journal
    from actors.runtime import Engine, EngineOptions
    from engine.citygen import generate_city
    from redband.files import write_broker_files
    from engine.mqtt_provision import BRIDGE_USER, broker_files
    from engine.placement import Placement
    from engine.policy import load_policy_set
    from protocols.endpoint import MqttEndpoint
    from simulation.checker import check_alarms
    from tests.mqtt.conftest import SMALL

    out: dict = {"figures": {}, "placement": {}}
    figures = out["figures"]
    city = generate_city(SMALL)
    placement = Placement.plan(city, precinct_hosts=2)
    lost_host, surviving_host = placement.precinct_hosts[0], placement.precinct_hosts[1]
    out["placement"].update(lost_host=lost_host, surviving_host=surviving_host)

    broker_dir = work / "broker"
    port = free_port()
    files = broker_files(city, broker_dir, port=port, simulator=True)
    write_broker_files(files, broker_dir)
    credentials = {c.username: c for c in files.credentials}
    broker = cluster = engine = None
    try:
        broker = Mosquitto(broker_dir / "mosquitto.conf", port=port).start()

        def endpoint(user: str) -> MqttEndpoint:
            return MqttEndpoint("127.0.0.1", port, user, credentials[user].password)

        started = time.monotonic()
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
        worker = cluster.add_node(num_cpus=2)
        # meanwhile, two drivers of their own handed a token and no RAY_AUTH_MODE: the cluster's file, and another
        token_file = os.environ["RAY_AUTH_TOKEN_PATH"]
        others = {"token_file_driver": _other_driver(cluster.address, RAY_AUTH_TOKEN_PATH=token_file),
                  "wrong_token_driver": _other_driver(cluster.address, RAY_AUTH_TOKEN=secrets.token_hex(32))}
        ensure_ray(cluster.address, ship_project=True)  # as ``redband run --ray-address`` joins: the project shipped
        head_id, worker_id = cluster.head_node.node_id, worker.node_id
        figures["cluster_start_s"] = round(time.monotonic() - started, 2)
        out["cluster_cpus"] = ray.cluster_resources().get("CPU")
        driver_node = ray.get_runtime_context().get_node_id()
        if driver_node != head_id:
            raise RuntimeError(f"the driver joined node {driver_node}, not the head node {head_id}: removing the "
                               "worker node would take the driver with it")
        out["placement"].update(head_node=head_id, worker_node=worker_id)

        started = time.monotonic()
        # with PostgreSQL the directory holds only the bridges' state (on the head node); the hosts need nothing of it
        options = EngineOptions(precinct_hosts=2, journal_dir=str(work / "journal"), journal_url=journal_url,
                                realtime=True,
                                mqtt=endpoint(BRIDGE_USER), bridge={"backoff_cap_s": 1.0},
                                host_num_cpus=0.01, host_nodes={lost_host: worker_id, surviving_host: head_id})
        (work / "policies.toml").write_text(POLICIES)
        engine = Engine(city, load_policy_set(work / "policies.toml"), options).start()
        figures["engine_start_s"] = round(time.monotonic() - started, 2)
        where = {h: ray.get(engine.hosts[h].where.remote(), timeout=60) for h in placement.hosts}
        out["placement"]["hosts_before"] = {h: w.node_id for h, w in where.items()}
        out["code_before"] = {h: _code_of(w.pid) for h, w in where.items()}
        out.update({name: _finish(process) for name, process in others.items()})
        bridges = engine.status()["bridges"]
        out["placement"]["bridges"] = {b["name"]: b["node_id"] for b in bridges}
        if where[lost_host].node_id != worker_id or where[surviving_host].node_id != head_id:
            raise RuntimeError(f"the hosts were not placed as asked: {out['placement']}")
        if not bridges or any(b["node_id"] != head_id for b in bridges):
            raise RuntimeError(f"a bridge is not on the head node: {out['placement']}")

        alarms, watch = asyncio.run(_drive(engine, cluster, worker, endpoint, city, placement, lost_host,
                                           rate=rate, before_s=before_s, after_s=after_s,
                                           old_pid=where[lost_host].pid))
        out["alarms"] = [dict(asdict(a), latency_s=a.latency_s) for a in alarms]
        out["watch"] = watch

        # the engine after the loss, still running
        sent = [(a.device, a.seq) for a in alarms]
        out["verdict_live"] = check_alarms(sent, engine.open_incidents()).to_json()
        statistics = engine.statistics()
        out["statistics_hosts"] = sorted(s.host_id for s in statistics)
        out["hosts_expected"] = sorted(placement.hosts)
        out["where_after"] = {h: ray.get(engine.hosts[h].where.remote(), timeout=60).to_dict()
                              for h in placement.hosts}
        out["code_after"] = {h: _code_of(w["pid"]) for h, w in out["where_after"].items()}
        out["alive_nodes"] = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
        # the copies the bridge kept while the host was away are offered again until taken (answered as duplicates)
        drained_by = time.monotonic() + RETRY_DRAIN_TIMEOUT_S
        while (lane := engine.lane_statistics("alarm"))["retrying"] and time.monotonic() < drained_by:
            time.sleep(0.2)  # polling the bridge's counters; bounded by the deadline
        out["alarm_lane"] = lane
        figures["bridge_retry_buffer_drained_after_removal_s"] = (
            None if lane["retrying"] else round(time.time() - watch["removed_at"], 2))
        out["host_counters"] = {s.host_id: {"accepted": s.accepted, "duplicates": s.duplicates,
                                            "journal_failures": s.journal_failures} for s in statistics}
        watch["stopping_at"] = time.time()
        engine.stop()
        engine = None

        recorded, pending_after = [], {}
        for host_id in placement.precinct_hosts:  # the engine is stopped: opening a host's journal takes it over
            journal = open_journal(journal_url or str(work / "journal"), host_id)
            try:
                recorded += journal.all_incidents()
                if host_id == lost_host:
                    pending_after = journal.pending_deadlines()
            finally:
                journal.close()
        out["verdict_journal"] = check_alarms(sent, recorded).to_json()
        out["deadlines"] = _deadlines_followed(watch, recorded, pending_after)
        out["journal"] = "postgresql" if journal_url else "sqlite"
        incidents_of = defaultdict(set)
        for record in recorded:
            incidents_of[record.device_id].add(record.id)
        out["acks_naming_no_incident"] = [f"{a.device} seq {a.seq}: {a.incident!r}" for a in alarms
                                          if a.ok and a.incident not in incidents_of[a.device]]
        out.update(_figures(alarms, watch, figures, lost_host))
        return out
    finally:
        if engine is not None:
            with contextlib.suppress(Exception):
                engine.stop()
        with contextlib.suppress(Exception):
            ray.shutdown()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.shutdown()
        if broker is not None:
            broker.stop()


JOIN = """
import sys
import ray
from actors.ray_setup import ensure_ray
try:
    ensure_ray(sys.argv[1], ship_project=False)
except ConnectionError as exc:
    print("REFUSED", exc)
else:
    print("JOINED", ray.cluster_resources().get("CPU"))
"""


def _other_driver(address: str, **token) -> subprocess.Popen:
    """A driver trying to join as ``redband run --ray-address`` does, handed ``token`` (an environment variable) and no
    ``RAY_AUTH_MODE`` (a refused one: Ray tries 20 times a second apart; 2 here)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env.update(token, RAY_NUM_REDIS_GET_RETRIES="2")
    return subprocess.Popen([sys.executable, "-c", JOIN, address], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=Path(__file__).resolve().parents[2])


def _finish(process: subprocess.Popen) -> dict:
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    lines = output.strip().splitlines()
    return {"returncode": process.returncode, "last_line": lines[-1][:500] if lines else ""}


def _code_of(pid: int) -> dict:
    """Where a host's process takes the project from: its working directory and the head of its ``PYTHONPATH`` (the
    job's ``runtime_env`` working_dir, a copy Ray unpacked, when the project was shipped)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        python_path = next((e[len(b"PYTHONPATH="):].decode() for e in environ if e.startswith(b"PYTHONPATH=")), "")
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError as exc:
        return {"error": str(exc)}
    return {"cwd": cwd, "python_path_first": python_path.split(os.pathsep)[0],
            "has_host_actor": os.path.isfile(os.path.join(cwd, "actors", "host_actor.py"))}


async def _drive(engine, cluster, worker, endpoint, city, placement, lost_host: str, *, rate: float,
                 before_s: float, after_s: float, old_pid: int) -> tuple[list[Alarm], dict]:
    by_precinct: dict[bool, list[tuple[RecordingDevice, EventKind]]] = {True: [], False: []}
    for device in sorted(city.devices.values(), key=lambda d: d.id):
        if device.kind in ALARM_OF:
            lost = placement.host_for_device(device.id) == lost_host
            by_precinct[lost].append((RecordingDevice(endpoint(device.id), retry_s=RETRY_S),
                                      ALARM_OF[device.kind]))
    devices = [d for pairs in by_precinct.values() for d, _ in pairs]
    runs = [asyncio.create_task(d.run()) for d in devices]
    alarms: list[Alarm] = []
    raising: list[asyncio.Task] = []
    watch: dict = {"devices": {"lost": [d.device_id for d, _ in by_precinct[True]],
                               "surviving": [d.device_id for d, _ in by_precinct[False]]}}
    watcher = None
    try:
        await asyncio.wait_for(asyncio.gather(*(d.connected.wait() for d in devices)), timeout=CONNECT_TIMEOUT_S)
        total_before = round(before_s * rate)
        total = total_before + round(after_s * rate)
        turn = {True: 0, False: 0}
        t0 = time.monotonic()
        for i in range(total):
            await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))  # pacing: ``rate`` alarms a second
            if i == total_before:
                open_now = await asyncio.wait_for(engine.hosts[lost_host].open_incidents.remote(), WHERE_TIMEOUT_S)
                watch["deadlines_at_removal"] = {r.id: r.deadline_s for r in open_now if r.deadline_s is not None}
                watch["removing_at"] = time.time()
                await asyncio.to_thread(cluster.remove_node, worker, allow_graceful=False)
                watch["removed_at"] = time.time()
                watcher = asyncio.create_task(_watch(engine, lost_host, worker.node_id, old_pid, watch))
            lost = i % 2 == 0
            device, kind = by_precinct[lost][turn[lost] % len(by_precinct[lost])]
            turn[lost] += 1
            alarm = Alarm(device.device_id, device.next_seq(), placement.host_for_device(device.device_id),
                          city.devices[device.device_id].precinct_id, lost, "before" if i < total_before else "after",
                          time.time())
            alarms.append(alarm)
            raising.append(asyncio.create_task(raise_alarm(device, kind, alarm)))
        watch["last_sent_at"] = time.time()
        done, pending = await asyncio.wait(raising, timeout=ALL_ACKED_TIMEOUT_S)
        watch["unfinished_alarm_tasks"] = len(pending)
        for task in done:
            task.result()
        if watcher is not None:
            await asyncio.wait_for(watcher, timeout=HOST_BACK_TIMEOUT_S)
        watch["later_oks"] = sum(sum(d.later_oks.values()) for d in devices)
        return alarms, watch
    finally:
        for task in [*raising, *runs, *([watcher] if watcher else [])]:
            task.cancel()
        await asyncio.gather(*raising, *runs, *([watcher] if watcher else []), return_exceptions=True)


async def _watch(engine, host_id: str, node_id: str, old_pid: int, watch: dict) -> None:
    """From the node's removal: when the lost host's old process is gone, when Ray declares the node dead, when the
    host answers again (restarted, and where). A call to a host whose node is being lost takes seconds to fail, so a
    new ``where`` goes out every ``WATCH_EVERY_S`` without waiting for the ones before."""
    import ray

    deadline = time.monotonic() + HOST_BACK_TIMEOUT_S
    failures: dict[str, int] = defaultdict(int)
    back = asyncio.Event()

    async def ask() -> None:
        try:
            where = await asyncio.wait_for(engine.hosts[host_id].where.remote(), timeout=WHERE_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - unavailable while its node is being declared dead, then restarting
            failures[type(exc).__name__] += 1
            return
        if where.restarted and not back.is_set():
            watch["host_back_at"] = time.time()
            watch["host_back_where"] = where.to_dict()
            back.set()

    asks: set[asyncio.Task] = set()
    try:
        while not back.is_set() and time.monotonic() < deadline:
            if "old_process_gone_at" not in watch and not os.path.exists(f"/proc/{old_pid}"):
                watch["old_process_gone_at"] = time.time()
            if "node_dead_at" not in watch:
                nodes = await asyncio.to_thread(ray.nodes)
                if any(n["NodeID"] == node_id and not n["Alive"] for n in nodes):
                    watch["node_dead_at"] = time.time()
            task = asyncio.create_task(ask())
            asks.add(task)
            task.add_done_callback(asks.discard)
            with contextlib.suppress(TimeoutError):  # the probe period, cut short when the host is back
                await asyncio.wait_for(back.wait(), timeout=WATCH_EVERY_S)
    finally:
        for task in list(asks):
            task.cancel()
        await asyncio.gather(*asks, return_exceptions=True)
        watch["where_failures"] = dict(failures)


def _deadlines_followed(watch: dict, recorded: list, pending_after: dict[str, float]) -> list[dict]:
    """Each deadline the lost host held just before its node was removed, followed in the journal: when it fired (the
    first escalation or reminder at or after its time), and what is pending for its incident at the end."""
    records = {r.id: r for r in recorded}
    started = (watch.get("host_back_where") or {}).get("started_at")
    followed = []
    for incident_id, due_s in sorted(watch["deadlines_at_removal"].items(), key=lambda item: item[1]):
        record = records.get(incident_id)
        fired = [e.t_s for e in (record.timeline if record else ()) if e.event in ("escalated", "reminder")
                 and e.t_s >= due_s - 1e-6]
        followed.append({"incident": incident_id, "due_s": due_s, "fired_at": min(fired) if fired else None,
                         "host_restarted_at": started, "stopping_at": watch["stopping_at"],
                         "in_journal": record is not None, "pending_at_end": pending_after.get(incident_id)})
    return followed


def _figures(alarms: list[Alarm], watch: dict, figures: dict, lost_host: str) -> dict:
    removed = watch["removed_at"]
    back = watch.get("host_back_at")
    if "node_dead_at" in watch:
        figures["node_declared_dead_after_s"] = round(watch["node_dead_at"] - removed, 2)
    if "old_process_gone_at" in watch:
        figures["old_host_process_gone_after_s"] = round(watch["old_process_gone_at"] - removed, 2)
    figures["lost_host_answering_after_s"] = round(back - removed, 2) if back else None
    if back:
        figures["lost_host_restarted_after_s"] = round(watch["host_back_where"]["started_at"] - removed, 2)
    figures["alarms_sent"] = len(alarms)
    figures["alarms_acked_ok"] = sum(a.ok for a in alarms)
    figures["acks_flagged_duplicate"] = sum(a.duplicate for a in alarms)
    figures["naks_retry_later"] = sum(a.naks for a in alarms)
    figures["refusals"] = sum(len(a.refusals) for a in alarms)
    figures["send_span_s"] = round(watch["last_sent_at"] - min(a.sent_at for a in alarms), 2)
    latencies = [a.latency_s for a in alarms if a.latency_s is not None]
    figures["max_ack_latency_s"] = round(max(latencies), 3) if latencies else None

    def stats(group: list[Alarm]) -> dict:
        lat = sorted(a.latency_s for a in group if a.latency_s is not None)
        if not lat:
            return {"count": len(group), "acked": 0}
        return {"count": len(group), "acked": len(lat), "p50_s": round(lat[len(lat) // 2], 3),
                "max_s": round(lat[-1], 3)}

    survivors = [a for a in alarms if not a.lost_precinct]
    lost = [a for a in alarms if a.lost_precinct]
    outage_end = back if back else max((a.acked_at or 0) for a in alarms)
    figures["surviving_before"] = stats([a for a in survivors if a.sent_at < removed])
    figures["surviving_during_outage"] = stats([a for a in survivors if removed <= a.sent_at <= outage_end])
    figures["lost_before"] = stats([a for a in lost if a.sent_at < removed])
    figures["lost_after_removal"] = stats([a for a in lost if a.sent_at >= removed])
    # the lost precinct's outage as its devices saw it: from the first of its alarms left unanswered (its old
    # process may answer for a moment after the removal) to the first ack of those alarms
    waiting = [a for a in lost if a.sent_at >= removed and (a.latency_s is None or a.latency_s > RETRY_S)]
    if waiting:
        figures["lost_precinct_unanswered_from_s"] = round(min(a.sent_at for a in waiting) - removed, 2)
        answered = [a.acked_at for a in waiting if a.acked_at]
        if answered:
            figures["lost_precinct_answered_again_at_s"] = round(min(answered) - removed, 2)
            figures["lost_precinct_backlog_cleared_at_s"] = round(max(answered) - removed, 2)
    # the surviving precinct's acks through the outage: the largest gap between consecutive acks, from the last ack
    # before the removal to the first after the lost host was back, counted from when an alarm was waiting: a pause
    # of this driver's own sending (a stall of the whole shared machine) leaves nothing for the engine to answer
    times = sorted(a.acked_at for a in survivors if a.acked_at)
    window = [t for t in times if removed <= t <= outage_end]
    before_t = [t for t in times if t < removed]
    after_t = [t for t in times if t > outage_end]
    edges = before_t[-1:] + window + after_t[:1]

    def waited(a: float, b: float) -> float:
        sent = [x.sent_at for x in survivors if x.sent_at < b and (x.acked_at is None or x.acked_at >= b)]
        return b - max(a, min(sent)) if sent else 0.0

    gaps = [waited(a, b) for a, b in zip(edges, edges[1:])]
    figures["surviving_max_gap_between_acks_raw_s"] = round(max((b - a for a, b in zip(edges, edges[1:])),
                                                                default=0.0), 3)
    figures["surviving_acks_during_outage"] = len(window)
    figures["surviving_max_gap_between_acks_s"] = round(max(gaps), 3) if gaps else None
    if gaps:
        worst = max(range(len(gaps)), key=gaps.__getitem__)
        figures["surviving_max_gap_from_s"] = round(edges[worst] - removed, 2)  # relative to the removal
    return {"figures": figures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mqtt.node_loss_scenario")
    parser.add_argument("--out", required=True, help="where to write the result (JSON)")
    parser.add_argument("--dir", required=True, help="a directory for the broker's files and the journals")
    parser.add_argument("--rate", type=float, default=5.0, help="alarms a second, both precincts together")
    parser.add_argument("--before", type=float, default=5.0, help="seconds of alarms before the node is removed")
    parser.add_argument("--after", type=float, default=15.0, help="seconds of alarms after")
    parser.add_argument("--journal-url", default=None, help="the hosts' journal on this PostgreSQL (else SQLite)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    # Ray's own directory (sockets, logs, and the "current cluster" file a bare ray.init() elsewhere would join): one
    # of this run's own, short, since a unix socket path is at most 107 bytes
    own_ray_dir = "RAY_TMPDIR" not in os.environ
    if own_ray_dir:
        os.environ["RAY_TMPDIR"] = tempfile.mkdtemp(prefix="rb-node-loss-", dir="/tmp")
    # token auth on: a token of this cluster's own, in a file that the nodes (processes this one starts) and the
    # driver read; RAY_AUTH_TOKEN would outrank the file
    token = Path(os.environ["RAY_TMPDIR"]) / "auth_token"
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    os.environ.pop("RAY_AUTH_TOKEN", None)
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token))
    work = Path(args.dir)
    work.mkdir(parents=True, exist_ok=True)
    result: dict = {"error": None, "ray_tmpdir": os.environ["RAY_TMPDIR"],
                    "parameters": {"rate": args.rate, "before_s": args.before, "after_s": args.after}}
    started = time.monotonic()
    try:
        result.update(run(work, rate=args.rate, before_s=args.before, after_s=args.after,
                          journal_url=args.journal_url))
    except BaseException as exc:  # noqa: BLE001 - reported in the result, for the test to show
        result["error"] = "".join(traceback.format_exception(exc))
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    Path(args.out).write_text(json.dumps(result, indent=1, default=str))
    if own_ray_dir and result["error"] is None:
        shutil.rmtree(os.environ["RAY_TMPDIR"], ignore_errors=True)
    return 0 if result["error"] is None else 1


if __name__ == "__main__":
    sys.exit(main())
