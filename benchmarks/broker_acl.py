"""What per-device ACLs cost the broker: ``redband mqtt-config``'s dynamic-security file for a city of N devices
(one client and one role with literal ACLs per device, since Mosquitto 2.0.11 does not substitute ``%u`` in
the plugin's ACLs), and Mosquitto started on it. Prints one JSON object.

    python -m benchmarks.broker_acl [--devices 100000] [--quick]

Measured: the time to write the files, the file's size per device, the time from starting Mosquitto until a
device of the city connects and has its own subscription granted (the plugin has loaded every client), the
broker's resident memory then, and that the same device's subscription to ``#`` is refused.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from actors.broker import Mosquitto, dynsec_plugin, free_port
from engine.citygen import CitySpec, generate_city
from redband.files import write_broker_files
from engine.mqtt_provision import DYNSEC_FILE, broker_files

READY_TIMEOUT_S = 600.0


def city_spec(communities: int) -> CitySpec:
    return CitySpec(precincts=6, communities=communities, schools=max(2, communities // 100),
                    kiosk_halls=max(1, communities // 1000), volunteers=communities * 5,
                    doors_per_community=8, cameras_per_community=4, residents_per_door=4, seed=11)


def subscribe(port: int, cred, topic: str) -> bool:
    done = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv5", "-u", cred.username,
                           "-P", cred.password, "-i", cred.username, "-t", topic, "-E"],
                          capture_output=True, timeout=30)
    return done.returncode == 0 and b"denied" not in done.stdout + done.stderr


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def run(devices_wanted: int) -> dict:
    per_community = len(generate_city(city_spec(50)).devices) / 50
    city = generate_city(city_spec(max(1, math.ceil(devices_wanted / per_community))))
    work = Path(tempfile.mkdtemp(prefix="redband-acl-"))
    try:
        port = free_port()
        started = time.perf_counter()
        files = broker_files(city, work, port=port, plugin=dynsec_plugin())
        write_broker_files(files, work)
        provision_s = time.perf_counter() - started
        size = (work / DYNSEC_FILE).stat().st_size
        device = next(c for c in files.credentials if c.kind == "door")
        broker = Mosquitto(work / "mosquitto.conf", port=port)
        started = time.perf_counter()
        broker.start()
        try:
            listening_s = time.perf_counter() - started
            deadline = time.monotonic() + READY_TIMEOUT_S
            while not subscribe(port, device, f"rb/v1/dev/{device.username}/ack"):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no device served in {READY_TIMEOUT_S} s")
                time.sleep(0.1)  # polling a broker that is loading its plugin file; bounded by the deadline
            ready_s = time.perf_counter() - started
            hash_refused = not subscribe(port, device, "#")
            rss = rss_kib(broker.process.pid)
        finally:
            broker.stop()
        return {
            "benchmark": "broker_acl",
            "devices": len(city.devices),
            "provision_s": round(provision_s, 2),
            "dynsec_file_bytes": size,
            "dynsec_bytes_per_device": round(size / len(city.devices)),
            "broker_listening_s": round(listening_s, 2),
            "broker_ready_s": round(ready_s, 2),
            "broker_rss_mib": round(rss / 1024, 1),
            "broker_rss_bytes_per_device": round(rss * 1024 / len(city.devices)),
            "device_hash_subscription_refused": hash_refused,
            "samples": {name: f"{len(city.devices):,} devices, 1 broker start" for name in
                        ("broker_acl_devices", "broker_ready_s", "broker_rss_bytes_per_device")},
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="2,000 devices: a smoke run")
    args = parser.parse_args()
    result = run(2_000 if args.quick else args.devices)
    print(json.dumps(result))
    return 0 if result["device_hash_subscription_refused"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
