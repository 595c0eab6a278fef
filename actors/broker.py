"""A Mosquitto broker we start ourselves: for ``make demo`` and the tests, on a loopback port.

It runs the configuration ``redband mqtt-config`` wrote, with one line added when we are root:
``user root``, so Mosquitto keeps the rights it needs on the files we made instead of dropping to
the ``mosquitto`` user (which cannot read the 0600 plugin file, nor reach a directory under ``/root``).
``redband broker --dir DIR`` runs the same in the foreground, for people.
"""

from __future__ import annotations

import getpass
import glob
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


class BrokerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mosquitto_binary() -> str:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise BrokerError("mosquitto is not installed: apt-get install mosquitto (make test and make demo do this)")


def dynsec_plugin() -> str:
    """The dynamic-security plugin of the installed Mosquitto (Debian ships it in the ``mosquitto`` package)."""
    for pattern in ("/usr/lib/*/mosquitto_dynamic_security.so", "/usr/lib/mosquitto_dynamic_security.so",
                    "/usr/local/lib/mosquitto_dynamic_security.so", "/usr/lib/*/mosquitto/mosquitto_dynamic_security.so"):
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    raise BrokerError("mosquitto_dynamic_security.so not found: apt-get install mosquitto (2.0 or newer)")


def runtime_conf(conf: Path) -> Path:
    """The configuration as this machine runs it: the plugin where it is installed here, and ``user`` kept when
    we are root. Written beside ``conf`` as ``mosquitto.runtime.conf``."""
    lines = []
    for line in conf.read_text(encoding="utf-8").splitlines():
        if line.startswith("plugin ") and not os.path.exists(line.split(None, 1)[1]):
            line = f"plugin {dynsec_plugin()}"
        lines.append(line)
    if os.geteuid() == 0:
        lines.append(f"user {getpass.getuser()}")
    out = conf.with_name("mosquitto.runtime.conf")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


class Mosquitto:
    """One ``mosquitto`` process; ``kill`` and ``start`` again keep its persistence directory."""

    def __init__(self, conf: Path, *, host: str = "127.0.0.1", port: int, log_path: Path | None = None) -> None:
        self.conf = conf
        self.host = host
        self.port = port
        self.log_path = log_path or conf.with_name("mosquitto.log")
        self.process: subprocess.Popen | None = None

    def start(self) -> "Mosquitto":
        conf = runtime_conf(self.conf)
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen([mosquitto_binary(), "-c", str(conf)], stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
        self._wait_listening()
        return self

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise BrokerError(f"mosquitto exited with {self.process.returncode}; see {self.log_path}:\n"
                                  + self.log_tail())
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)  # polling a port that is not open yet; bounded by the deadline
        raise BrokerError(f"mosquitto did not listen on {self.host}:{self.port} in {START_TIMEOUT_S} s")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill(self) -> None:
        """As a crash would: SIGKILL, nothing saved since the last autosave."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        self._signal(signal.SIGTERM)

    def _signal(self, sig: int) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_S)
        self.process = None

    def __enter__(self) -> "Mosquitto":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
