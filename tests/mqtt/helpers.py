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
