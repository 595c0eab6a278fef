"""Crash safety against the real parts: a journal that refuses writes, a host process killed under load.

Every promise here is the device's view (acks on its ack topic, through a real Mosquitto) checked against the
journal on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time

import pytest
import ray
import tomli_w

from actors.journal_sqlite import SqliteJournal
from engine.citygen import generate_city_dict
from engine.mqtt_provision import BRIDGE_USER
from protocols.kinds import EventKind, IncidentKind
from simulation.mqtt_device import MqttDevice
from tests.mqtt.conftest import HEARTBEAT_S, MISSES, SMALL, start_engine
from tests.mqtt.test_cli_mqtt import ENV, ROOT
from tests.mqtt.helpers import wait_until

pytestmark = [pytest.mark.ray, pytest.mark.mqtt]


def _panic_boxes(broker, engine) -> dict[str, list[str]]:
    """The panic boxes of each precinct host."""
    out: dict[str, list[str]] = {}
    for device in sorted(broker.city.devices.values(), key=lambda d: d.id):
        if device.kind == "panic_box":
            out.setdefault(engine.placement.host_for_device(device.id), []).append(device.id)
    return out


def _journal(tmp_path, host_id: str) -> SqliteJournal:
    return SqliteJournal(tmp_path / "journal" / f"{host_id}.sqlite")


async def _online(*devices: MqttDevice) -> list[asyncio.Task]:
    tasks = [asyncio.create_task(d.run()) for d in devices]
    await asyncio.wait_for(asyncio.gather(*(d.connected.wait() for d in devices)), timeout=20)
    return tasks


async def _stop(tasks: list[asyncio.Task]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def test_a_journal_that_refuses_writes_acks_nothing_and_the_retry_is_raised_once(broker, ray_session, tmp_path):
    engine = start_engine(broker, tmp_path, precinct_hosts=2)
    try:
        boxes = _panic_boxes(broker, engine)
        failing, healthy = sorted(boxes)[:2]
        box, other = boxes[failing][0], boxes[healthy][0]
        ray.get(engine.hosts[failing].fail_journal_writes.remote(True))

        async def scenario():
            device, neighbour = MqttDevice(broker.endpoint(box)), MqttDevice(broker.endpoint(other))
            tasks = await _online(device, neighbour)
            try:
                seq, ts_ms = device.next_seq(), int(time.time() * 1000)
                await device.publish(EventKind.SCHOOL_PANIC, {"zone": "gym"}, seq=seq, qos=1, ts_ms=ts_ms)
                refusal = await device.wait_ack(seq, 20)
                assert refusal is not None and not refusal.ok, refusal
                assert refusal.reason.startswith("unavailable, retry: ") and "journal" in refusal.reason, refusal
                # the other precinct's host is not held up by this one's disk
                neighbour_ack = await neighbour.alarm(EventKind.SCHOOL_PANIC, timeout_s=20)
                assert neighbour_ack.ok and not neighbour_ack.duplicate
                assert await asyncio.to_thread(engine.incident, f"{box}#{seq}") is None  # nothing kept, nothing acked

                ray.get(engine.hosts[failing].fail_journal_writes.remote(False))
                device.acks.pop(seq)  # from here on, only an ack counts
                ack = await device.alarm(EventKind.SCHOOL_PANIC, {"zone": "gym"}, seq=seq, ts_ms=ts_ms, timeout_s=30)
                # the bridge's own retry or the device's: raised once either way, and a re-send is its duplicate
                assert ack.ok and ack.incident
                answers = [ack]
                deadline = time.monotonic() + 20
                while not answers[-1].duplicate and time.monotonic() < deadline:
                    device.acks.pop(seq, None)
                    await device.publish(EventKind.SCHOOL_PANIC, {"zone": "gym"}, seq=seq, qos=1, ts_ms=ts_ms)
                    if (answer := await device.wait_ack(seq, 2)) is not None:
                        answers.append(answer)
                return ack, answers
            finally:
                await _stop(tasks)

        ack, answers = asyncio.run(scenario())
        assert answers[-1].duplicate, answers
        assert {a.incident for a in answers} == {ack.incident} and all(a.ok for a in answers), answers
        statistics_ = {s.host_id: s for s in engine.statistics()}
        assert statistics_[failing].journal_failures >= 1
        alarm_lane = engine.lane_statistics("alarm")
        assert alarm_lane["not_taken"] >= 1
    finally:
        engine.stop()
    raised = [r for r in _journal(tmp_path, failing).all_incidents() if r.device_id == box]
    assert [r.id for r in raised] == [ack.incident]


ESCALATE_AFTER_S = 6.0
FAST_POLICY = f"""
[policies."school.panic"]
priority = 1
steps = [
  {{ notify = ["guard_room", "police_station"], ack_within_s = {ESCALATE_AFTER_S} }},
  {{ notify = ["command_center"], ack_within_s = 600 }},
]
"""


def test_a_host_killed_under_load_comes_back_by_itself_and_loses_no_time(broker, ray_session, tmp_path):
    """The process of one precinct host is killed with SIGKILL while both precincts raise alarms: it is back without
    help, its escalation fires on time, its silent device is reported offline on time, and the other precinct's
    acks never stop."""
    policy = tmp_path / "fast.toml"
    policy.write_text(FAST_POLICY)
    engine = start_engine(broker, tmp_path, precinct_hosts=2, policies=policy)
    try:
        boxes = _panic_boxes(broker, engine)
        victim, survivor = sorted(boxes)[:2]
        silent_id = sorted(d.id for d in broker.city.devices.values()
                           if d.kind == "camera" and engine.placement.host_for_device(d.id) == victim)[0]
        victim_where = ray.get(engine.hosts[victim].where.remote())

        async def scenario():
            silent = MqttDevice(broker.endpoint(silent_id), heartbeat_s=HEARTBEAT_S / 2)
            victims = [MqttDevice(broker.endpoint(b), retry_s=0.5) for b in boxes[victim]]
            survivors = [MqttDevice(broker.endpoint(b), retry_s=0.5) for b in boxes[survivor]]
            tasks = await _online(silent, *victims, *survivors)
            latencies: list[tuple[float, float]] = []  # (sent at, latency) of the surviving precinct's alarms
            stop_load = asyncio.Event()

            async def load(device: MqttDevice) -> None:
                while not stop_load.is_set():
                    sent = time.time()
                    ack = await device.alarm(EventKind.SCHOOL_PANIC, {"zone": "hall"}, timeout_s=30)
                    assert ack.ok
                    latencies.append((sent, time.time() - sent))
                    await asyncio.sleep(0.1)  # pacing: about ten alarms a second per device

            try:
                loaders = [asyncio.create_task(load(d)) for d in survivors]
                pending = await victims[0].alarm(EventKind.SCHOOL_PANIC, {"zone": "lab"}, timeout_s=20)
                assert pending.ok
                await asyncio.to_thread(wait_until, lambda: ray.get(engine.hosts[victim].statistics.remote())
                                        .devices_active >= 2, timeout_s=10, what="the camera supervised")
                await asyncio.sleep(1.5)  # the camera's last heartbeats reach the journal (flushed every second)
                silent.heartbeats_on = False
                silent_since = time.time()
                await asyncio.sleep(0.5)  # load keeps running: the kill comes in the middle of it
                killed_at = time.time()
                os.kill(victim_where.pid, signal.SIGKILL)

                def back():
                    try:
                        where = ray.get(engine.hosts[victim].where.remote(), timeout=5)
                    except (ray.exceptions.ActorUnavailableError, ray.exceptions.ActorDiedError,
                            ray.exceptions.GetTimeoutError):
                        return None
                    return where if where.restarted else None

                where = await asyncio.to_thread(wait_until, back, timeout_s=30, what="the host back", every_s=0.05)
                back_after_s = time.time() - killed_at
                # the killed host takes alarms again: one raised during the outage is acked once it is back
                during = await victims[1].alarm(EventKind.SCHOOL_PANIC, {"zone": "yard"}, timeout_s=30)
                assert during.ok
                await asyncio.sleep(2.0)  # two more seconds of the surviving precinct's load after the restart
                stop_load.set()
                await asyncio.gather(*loaders)
                return pending, where, back_after_s, killed_at, silent_since, latencies
            finally:
                stop_load.set()
                await _stop(tasks)

        pending, where, back_after_s, killed_at, silent_since, latencies = asyncio.run(scenario())
        assert where.pid != victim_where.pid
        # "without help": nothing above called the host; Ray started it and it rebuilt itself
        assert back_after_s < 15, f"the host took {back_after_s:.1f} s to come back (target 2 s: docs/benchmarks.md)"

        record = engine.incident(pending.incident)
        due_s = record.raised_s + ESCALATE_AFTER_S
        assert killed_at < due_s, "the kill must come before the escalation is due"

        def escalated():
            current = engine.incident(pending.incident)
            return next((e for e in current.timeline if e.event.value == "escalated"), None)

        entry = wait_until(escalated, timeout_s=30, what="the escalation after the restart")
        # on time; or, when the rebuilt host was running only after the deadline (a busy machine), at once then
        rebuilt_at = where.started_at
        assert entry.t_s - max(due_s, rebuilt_at) <= 1.0, \
            f"escalated {entry.t_s - due_s:.2f} s late (the host rebuilt {rebuilt_at - due_s:+.2f} s from the deadline)"

        offline_due = silent_since + HEARTBEAT_S * MISSES  # its last heartbeat was at most half a period earlier

        def offline():
            return [r for r in engine.open_incidents() if r.kind is IncidentKind.DEVICE_OFFLINE
                    and r.device_id == silent_id]

        (reported,) = wait_until(offline, timeout_s=30, what=f"{silent_id} reported offline")
        assert reported.raised_s - max(offline_due, rebuilt_at) <= 1.0, \
            f"offline {reported.raised_s - offline_due:.2f} s late (host rebuilt {rebuilt_at - offline_due:+.2f} s)"
        assert reported.raised_s >= silent_since, "reported offline before it fell silent"

        before = [lat for sent, lat in latencies if sent < killed_at]
        during = [lat for sent, lat in latencies if killed_at <= sent <= killed_at + back_after_s + 1]
        assert len(before) >= 10 and during, (len(before), len(during))
        normal_p99 = statistics.quantiles(before, n=100)[98] if len(before) >= 100 else max(before)
        # the surviving precinct is answered through the crash; on a shared 2-core machine the restarting
        # process competes for the CPU, so "no gap" is read as: no ack slower than the normal worst by 1 s
        print(f"host back after {back_after_s:.2f} s (rebuilt {rebuilt_at - due_s:+.2f} s from the escalation's "
              f"time); escalation {entry.t_s - due_s:+.2f} s; offline "
              f"{reported.raised_s - offline_due:+.2f} s; surviving acks: normal p99 {normal_p99 * 1000:.0f} ms, "
              f"worst during the outage {max(during) * 1000:.0f} ms ({len(during)} alarms)")
        assert max(during) <= normal_p99 + 1.0, (max(during), normal_p99)
    finally:
        engine.stop()


RESTART_ESCALATE_S = 16
"""Long enough for both engine starts and the hosts' restart before it falls due, so the pending escalation is fired
by the restarted host, on time; the test waits for it, so no longer. Under the lock on the 2-core machine: the second
engine running 8.6 s after the alarm, its hosts killed and restarted by 11.4 s."""
RESTART_POLICY = f"""
[policies."school.panic"]
priority = 1
steps = [
  {{ notify = ["guard_room", "police_station"], ack_within_s = {RESTART_ESCALATE_S} }},
  {{ notify = ["command_center"], ack_within_s = 600 }},
]
"""


def _kill_everything(pid: int) -> int:
    """SIGKILL a process and every process under it at once (the driver, Ray's GCS, raylet and workers)."""
    import psutil

    root = psutil.Process(pid)
    procs = [root, *root.children(recursive=True)]
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(procs, timeout=30)
    return len(procs)


def _actor_processes(pid: int, titles: tuple[str, ...]) -> list:
    """The live processes under ``pid`` whose title (Ray names actor processes ``ray::<Class>``) is one of these."""
    import psutil

    out = []
    for proc in psutil.Process(pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if proc.status() != psutil.STATUS_ZOMBIE and any(proc.cmdline()[0].startswith(t) for t in titles
                                                             if proc.cmdline()):
                out.append(proc)
    return out


def _escalation(journal_path, incident_id: str):
    journal = SqliteJournal(journal_path)
    try:
        return next((row for row in journal.transitions(incident_id) if row[1] == "escalated"), None)
    finally:
        journal.close()


def test_every_engine_process_killed_just_after_an_ack_loses_nothing_and_repeats_nothing(broker, tmp_path):
    """``kill -9`` of the whole engine (driver, Ray, hosts, bridges) 20 ms after the device's ack; ``redband run``
    again: the alarm and the tip exist once, their re-sends are duplicates, the pending escalation fires on time."""
    city_file = tmp_path / "city.toml"
    city_file.write_text(tomli_w.dumps(generate_city_dict(SMALL)))
    policy = tmp_path / "policy.toml"
    policy.write_text(RESTART_POLICY)
    journal_dir = tmp_path / "journal"
    bridge_url = f"mqtt://{BRIDGE_USER}:{broker.credentials[BRIDGE_USER].password}@127.0.0.1:{broker.port}"
    command = [sys.executable, "-m", "redband", "run", "--city", str(city_file), "--policies", str(policy),
               "--journal-dir", str(journal_dir), "--mqtt", bridge_url, "--users", str(tmp_path / "no-users.toml"),
               "--precinct-hosts", "1"]
    box = broker.device("panic_box")
    phone = broker.device("volunteer_phone")
    tip = {"category": "suspicious", "text": "someone trying car doors", "lat": 31.82, "lon": 117.23}

    def start(log_path):
        log_out = log_path.open("w")
        process = subprocess.Popen(command, stdout=log_out, stderr=subprocess.STDOUT, cwd=ROOT, env=ENV)
        wait_until(lambda: "engine running" in log_path.read_text() or process.poll() is not None, timeout_s=120,
                   what="the engine to start", every_s=0.1)
        assert process.poll() is None, log_path.read_text()[-3000:]
        return process

    first = start(tmp_path / "first.log")
    try:
        async def before_the_crash():
            panic, volunteer = MqttDevice(broker.endpoint(box)), MqttDevice(broker.endpoint(phone))
            tasks = await _online(panic, volunteer)
            try:
                seq, ts_ms = panic.next_seq(), int(time.time() * 1000)
                alarm = await panic.alarm(EventKind.SCHOOL_PANIC, {"zone": "gate"}, seq=seq, ts_ms=ts_ms)
                tip_seq, tip_ts = volunteer.next_seq(), int(time.time() * 1000)
                tip_ack = await volunteer.alarm(EventKind.PATROL_CLUE, tip, seq=tip_seq, ts_ms=tip_ts)
                await asyncio.sleep(0.02)  # the fault comes 20 ms after the ack
                killed = _kill_everything(first.pid)
                return (seq, ts_ms, alarm), (tip_seq, tip_ts, tip_ack), killed
            finally:
                await _stop(tasks)

        (seq, ts_ms, alarm), (tip_seq, tip_ts, tip_ack), killed = asyncio.run(before_the_crash())
    finally:
        if first.poll() is None:
            _kill_everything(first.pid)
    assert alarm.ok and tip_ack.ok and alarm.incident and tip_ack.incident
    assert killed >= 5, f"only {killed} processes killed: is Ray running under the driver?"
    raised_at = ts_ms / 1000  # about when the incident was raised: the ack came within a second of it
    host = "h0"

    second = start(tmp_path / "second.log")
    try:
        async def after_the_restart():
            panic, volunteer = MqttDevice(broker.endpoint(box)), MqttDevice(broker.endpoint(phone))
            tasks = await _online(panic, volunteer)
            try:
                again = await panic.alarm(EventKind.SCHOOL_PANIC, {"zone": "gate"}, seq=seq, ts_ms=ts_ms)
                tip_again = await volunteer.alarm(EventKind.PATROL_CLUE, tip, seq=tip_seq, ts_ms=tip_ts)
                return again, tip_again
            finally:
                await _stop(tasks)

        again, tip_again = asyncio.run(after_the_restart())
        assert again.ok and again.duplicate and again.incident == alarm.incident, again
        assert tip_again.ok and tip_again.duplicate and tip_again.incident == tip_ack.incident, tip_again
        # and now every host and bridge process of the new engine dies too: the driver carries on, Ray restarts them
        victims = _actor_processes(second.pid, ("ray::HostActor", "ray::BridgeActor"))
        assert len(victims) >= 4, victims
        for proc in victims:
            proc.kill()
        wait_until(lambda: len(_actor_processes(second.pid, ("ray::HostActor",))) >= 2, timeout_s=60,
                   what="the hosts restarted")
        assert second.poll() is None, (tmp_path / "second.log").read_text()[-3000:]
        journal_path = journal_dir / f"{host}.sqlite"
        row = wait_until(lambda: _escalation(journal_path, alarm.incident), timeout_s=90,
                         what="the pending escalation after the restart", every_s=0.2)
        record = SqliteJournal(journal_path).incident(alarm.incident)
        due_s = record.raised_s + RESTART_ESCALATE_S
        assert abs(row[0] - due_s) <= 1.0, f"escalated {row[0] - due_s:+.2f} s from its original time"
        assert raised_at - 5 < record.raised_s < raised_at + 5
        second.send_signal(signal.SIGINT)
        assert second.wait(timeout=60) == 0, (tmp_path / "second.log").read_text()[-3000:]
    finally:
        if second.poll() is None:
            _kill_everything(second.pid)
    incidents = SqliteJournal(journal_dir / f"{host}.sqlite").all_incidents()
    assert sorted(r.id for r in incidents if r.device_id in (box, phone)) == sorted([alarm.incident, tip_ack.incident])


def test_the_bridge_keeps_what_a_host_did_not_take_and_offers_it_again_itself(broker, tmp_path):
    """A host that cannot take a batch (here: overloaded twice) gets it again from the bridge, which acks the device
    when it is taken: the device, told ``unavailable, retry`` once, never has to send it again."""
    from actors.mqtt_bridge import BridgeOptions, MqttBridge, run_until_stopped
    from protocols.batch import DeviceAck, IngestResult
    from protocols.kinds import AckStatus

    box = broker.device("panic_box")
    offered: list[int] = []

    class Sink:
        async def ingest(self, items):
            offered.append(len(items))
            if len(offered) <= 2:
                return IngestResult(0, 0, 0, [], list(items), "host h0: Overloaded: overloaded: outbox")
            return IngestResult(len(items), 0, 0, [DeviceAck(i.device_id, i.message.seq, AckStatus.ACK, "", "X#1")
                                                   for i in items])

        async def states(self, states):
            pass

        async def take_device_commands(self, wait_s=0.0):
            await asyncio.sleep(wait_s)
            return []

        async def dead_letter(self, row):
            pass

    async def scenario():
        options = BridgeOptions(broker.bridge, lanes=("alarm",), state_dir=str(tmp_path / "state"),
                                poll_commands=False, probe_interval_s=0, retry_first_s=0.1)
        bridge = MqttBridge(options, Sink())
        runner = asyncio.create_task(run_until_stopped(bridge))
        device = MqttDevice(broker.endpoint(box), retry_s=600)  # this device would wait ten minutes to retry
        tasks = await _online(device)
        try:
            await asyncio.wait_for(_until_true(lambda: bridge.connected), 20)
            seq = device.next_seq()
            await device.publish(EventKind.SCHOOL_PANIC, seq=seq, qos=1)
            first = await device.wait_ack(seq, 20)
            assert first is not None and not first.ok and first.reason.startswith("unavailable, retry: host h0")
            device.acks.pop(seq)
            taken = await device.wait_ack(seq, 20)
            return taken, bridge.stats[next(iter(bridge.stats))]
        finally:
            bridge.stop()
            await asyncio.wait_for(runner, 20)
            await _stop(tasks)

    taken, stats = asyncio.run(scenario())
    assert taken is not None and taken.ok and taken.incident == "X#1"
    assert offered == [1, 1, 1]  # the first offer, one retry refused, one taken
    assert (stats.not_taken, stats.retried, stats.retrying) == (1, 2, 0)


async def _until_true(predicate) -> None:
    while not predicate():
        await asyncio.sleep(0.05)  # polling a flag the bridge's tasks set; the caller bounds the wait


def test_a_notice_the_broker_never_got_is_an_error_for_the_caller(broker, ray_session, tmp_path):
    """Posted while the broker is down: the caller is told it was not delivered (and may post it again), instead of
    a notice queued in a bridge that may die with it. The bridge waits 1 s here (BridgeOptions.notice_timeout_s;
    10 s in the product)."""
    from protocols.replies import Notice

    engine = start_engine(broker, tmp_path, notice_timeout_s=1.0)
    try:
        site = sorted(broker.city.sites)[0]
        engine.post_notice(site, Notice(text="Lift out of order", ts=1))  # delivered: returns quietly
        broker.process.stop()
        started = time.monotonic()
        with pytest.raises(Exception, match="not published in 1 s"):
            engine.post_notice(site, Notice(text="Water off 9-12", ts=2))
        assert time.monotonic() - started < 8  # the option's 1 s, not the product's 10 s
    finally:
        engine.stop()
