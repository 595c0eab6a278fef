"""Talking to the broker as a stranger would: ``mosquitto_pub`` and ``mosquitto_sub``, not our client."""

from __future__ import annotations

import json
import subprocess

from engine.mqtt_provision import SIMULATOR_USER
import time
import uuid

CLI_TIMEOUT_S = 20


def _auth(broker, user: str | tuple[str, str] | None) -> list[str]:
    """A provisioned user by name, or ``(user, password)`` to try a wrong one, or None: anonymous."""
    if user is None:
        return []
    if isinstance(user, tuple):
        return ["-u", user[0], "-P", user[1]]
    return ["-u", user, "-P", broker.credentials[user].password]


def pub(broker, user: str | None, topic: str, payload: bytes | str | dict, *, qos: int = 1,
        retain: bool = False) -> subprocess.CompletedProcess:
    """One ``mosquitto_pub`` (MQTT v5, so a refused publish is reported); returns the finished process."""
    if isinstance(payload, dict):
        payload = json.dumps(payload)
    data = payload.encode() if isinstance(payload, str) else payload
    cmd = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-V", "mqttv5", "-q", str(qos), "-t", topic,
           "-s", *_auth(broker, user)] + (["-r"] if retain else [])
    if isinstance(user, str) and user in broker.city.devices:
        cmd += ["-i", user]  # a device connects with its own id as client id
    return subprocess.run(cmd, input=data, capture_output=True, timeout=CLI_TIMEOUT_S)


class Inbox:
    """A ``mosquitto_sub`` session that outlives its processes: subscribed first (``-E`` returns once the
    broker granted it), then read later, with QoS 1 messages kept for it by the broker in between."""

    def __init__(self, broker, user: str | tuple[str, str] | None, topic: str) -> None:
        self.broker, self.user, self.topic = broker, user, topic
        self.client_id = f"inbox-{uuid.uuid4().hex[:10]}"
        if isinstance(user, str) and user in broker.city.devices:
            # A device connects only under its own id, and its publisher (``pub``) is that same client: reading
            # its answers under its id would end the session that holds them. So the broker is asked whether the
            # device may subscribe (under its id, SUBACK checked), and the messages are read by an observer.
            probe = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-V", "mqttv5", "-i", user,
                     "-q", "1", "-t", topic, *_auth(broker, user), "-E"]
            done = subprocess.run(probe, capture_output=True, timeout=CLI_TIMEOUT_S)
            self.error = done.stderr.decode(errors="replace") + done.stdout.decode(errors="replace")
            self.subscribed = done.returncode == 0 and "denied" not in self.error
            self.user = SIMULATOR_USER
            if not self.subscribed:
                return
        done = subprocess.run(self._cmd("-E"), capture_output=True, timeout=CLI_TIMEOUT_S)
        self.error = done.stderr.decode(errors="replace") + done.stdout.decode(errors="replace")
        self.subscribed = done.returncode == 0 and "denied" not in self.error

    def _cmd(self, *extra: str) -> list[str]:
        return ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.broker.port), "-V", "mqttv5", "-c", "-i",
                self.client_id, "-x", "600", "-q", "1", "-t", self.topic, *_auth(self.broker, self.user), *extra]

    def read(self, count: int, *, timeout_s: int = 15) -> list[bytes]:
        done = subprocess.run(self._cmd("-C", str(count), "-W", str(timeout_s), "-N", "-F", "%p\n"),
                              capture_output=True, timeout=timeout_s + CLI_TIMEOUT_S)
        return [line for line in done.stdout.split(b"\n") if line][:count]

    def read_acks(self, count: int, *, timeout_s: int = 15) -> list:
        """Acks in either encoding (a MessagePack payload may hold a newline: read as hex)."""
        from protocols.replies import decode_ack

        done = subprocess.run(self._cmd("-C", str(count), "-W", str(timeout_s), "-N", "-F", "%x\n"),
                              capture_output=True, timeout=timeout_s + CLI_TIMEOUT_S)
        return [decode_ack(bytes.fromhex(line.decode())) for line in done.stdout.split(b"\n") if line][:count]

    def read_json(self, count: int, *, timeout_s: int = 15) -> list[dict]:
        return [json.loads(line) for line in self.read(count, timeout_s=timeout_s)]


def wait_until(predicate, *, timeout_s: float, what: str, every_s: float = 0.05):
    """Poll a condition until it holds or the deadline passes (then fail, saying what was awaited)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what() if callable(what) else what}")
        time.sleep(every_s)


M_LAT = 1 / 111_195.0
"""Degrees of latitude in a metre."""


def message(seq: int, kind: str, **data) -> dict:
    """A device event's JSON body, stamped now."""
    return {"seq": seq, "ts": int(time.time() * 1000), "kind": kind, "data": data}


def units(engine, state: str) -> int:
    """The units in ``state`` over all hosts."""
    return sum(s.units_by_state.get(state, 0) for s in engine.statistics())


class PatrolPhone:
    """Volunteer phone ``index`` on patrol 100 m north of the first panic box of its precinct, its commands read by
    ``commands`` and its events sent to ``evt`` (seqs 1 and 2 taken: the start and the position)."""

    def __init__(self, broker, engine, index: int = 0) -> None:
        self.phone = phone = broker.device("volunteer_phone", index)
        precinct = broker.city.devices[phone].precinct_id
        self.box = box = next(d for d in sorted(broker.city.devices.values(), key=lambda d: d.id)
                              if d.kind == "panic_box" and d.precinct_id == precinct)
        self.commands = Inbox(broker, phone, f"rb/v1/dev/{phone}/cmd")
        assert self.commands.subscribed, self.commands.error
        self.evt = f"rb/v1/dev/{phone}/evt"
        assert pub(broker, phone, self.evt, message(1, "patrol.start")).returncode == 0
        pub(broker, phone, self.evt, message(2, "patrol.position", lat=box.lat + 100 * M_LAT, lon=box.lon,
                                             accuracy_m=5.0))
        wait_until(lambda: units(engine, "available") == 1, timeout_s=20, what="the phone on patrol")

    def box_alarm(self, broker) -> dict:
        """The panic box's ``school.panic``, and its ack (taken)."""
        acks = Inbox(broker, self.box.id, f"rb/v1/dev/{self.box.id}/ack")
        pub(broker, self.box.id, f"rb/v1/dev/{self.box.id}/alarm", message(1, "school.panic"))
        (ack,) = acks.read_json(1)
        assert ack["ok"], ack
        return ack
