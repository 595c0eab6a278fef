"""Broker provisioning for a city: ``mosquitto.conf``, ``passwd``, ``acl`` and ``credentials.csv``.

Every device gets a user named by its id, so one ACL pattern (``%u``) confines it to its own topics:
it may publish only ``rb/v1/dev/<id>/alarm``, ``/evt`` and ``/state``, and read only its own ``ack``
and ``cmd`` and its site's notice topic. The bridge user reads every device's inbound topics and
writes acks, commands and notices. An optional simulator user may publish for any device (it is the
load generator's shortcut and is left out unless asked for).

Pure: the caller writes the files. Passwords are hashed the way Mosquitto 2 stores them
(``$7$``: PBKDF2-HMAC-SHA512, 101 iterations, 12-byte salt). Passwords already issued (read back
from an earlier ``credentials.csv``) are kept, so provisioning again does not lock deployed devices out.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from engine.topology import City
from protocols.topics import PREFIX

BRIDGE_USER: Final = "redband-bridge"
SIMULATOR_USER: Final = "redband-sim"
CSV_HEADER: Final = ("device_id", "kind", "site_id", "username", "password")
HASH_ITERATIONS: Final = 101


@dataclass(frozen=True, slots=True)
class Credential:
    device_id: str
    kind: str
    site_id: str
    username: str
    password: str


@dataclass(frozen=True, slots=True)
class BrokerFiles:
    conf: str
    passwd: str
    acl: str
    credentials_csv: str
    credentials: tuple[Credential, ...]


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = HASH_ITERATIONS) -> str:
    """A Mosquitto 2 password-file hash: ``$7$<iterations>$<b64 salt>$<b64 PBKDF2-SHA512>``."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def read_credentials(text: str) -> dict[str, Credential]:
    """Rows of an earlier ``credentials.csv`` by username (a missing or foreign file gives none)."""
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None or tuple(header) != CSV_HEADER:
        return {}
    return {row[3]: Credential(*row) for row in rows if len(row) == len(CSV_HEADER) and row[4]}


def issue_credentials(city: City, *, simulator: bool = False,
                      existing: dict[str, Credential] | None = None) -> list[Credential]:
    existing = existing or {}

    def password_of(username: str) -> str:
        known = existing.get(username)
        return known.password if known else secrets.token_urlsafe(18)

    creds = [Credential(d.id, d.kind.value, d.site_id or "", d.id, password_of(d.id))
             for d in sorted(city.devices.values(), key=lambda d: d.id)]
    creds.append(Credential(BRIDGE_USER, "bridge", "", BRIDGE_USER, password_of(BRIDGE_USER)))
    if simulator:
        creds.append(Credential(SIMULATOR_USER, "simulator", "", SIMULATOR_USER, password_of(SIMULATOR_USER)))
    return creds


def broker_files(city: City, out_dir: Path, *, port: int = 1883, bind: str = "127.0.0.1", simulator: bool = False,
                 existing: dict[str, Credential] | None = None) -> BrokerFiles:
    creds = issue_credentials(city, simulator=simulator, existing=existing)
    out_dir = out_dir.resolve()
    return BrokerFiles(
        conf=_conf(out_dir, port=port, bind=bind, city_id=city.id),
        passwd="".join(f"{c.username}:{hash_password(c.password)}\n" for c in creds),
        acl=_acl(creds),
        credentials_csv=_csv(creds),
        credentials=tuple(creds),
    )


def write_broker_files(files: BrokerFiles, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "data").mkdir(exist_ok=True)
    written = []
    for name, text, mode in (("mosquitto.conf", files.conf, 0o644), ("passwd", files.passwd, 0o600),
                             ("acl", files.acl, 0o644), ("credentials.csv", files.credentials_csv, 0o600)):
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        path.chmod(mode)
        written.append(path)
    return written


def _conf(out_dir: Path, *, port: int, bind: str, city_id: str) -> str:
    return f"""# Mosquitto configuration for redband city {city_id}, written by `redband mqtt-config`.
per_listener_settings false
listener {port} {bind}
protocol mqtt
allow_anonymous false
password_file {out_dir / "passwd"}
acl_file {out_dir / "acl"}

# QoS 1 messages for a bridge that is away wait in its persistent session, up to these bounds
persistence true
persistence_location {out_dir / "data"}/
autosave_interval 30
persistent_client_expiration 1d
max_queued_messages 20000
max_inflight_messages 200
max_packet_size 16384
max_keepalive 300

# small packets (acks, alarms) go out at once instead of waiting on Nagle's algorithm (~40 ms)
set_tcp_nodelay true

log_type error
log_type warning
log_type notice
connection_messages true
"""


def _acl(creds: list[Credential]) -> str:
    dev = f"{PREFIX}/dev"
    lines = ["# redband ACL, written by `redband mqtt-config`: each device only on its own topics.", "",
             f"user {BRIDGE_USER}"]
    lines += [f"topic read {dev}/+/{channel}" for channel in ("alarm", "evt", "state")]
    lines += [f"topic write {dev}/+/{channel}" for channel in ("ack", "cmd")]
    lines += [f"topic write {PREFIX}/site/+/notice", ""]
    if any(c.username == SIMULATOR_USER for c in creds):
        lines += [f"user {SIMULATOR_USER}"]
        lines += [f"topic write {dev}/+/{channel}" for channel in ("alarm", "evt", "state")]
        lines += [f"topic read {dev}/+/{channel}" for channel in ("ack", "cmd")]
        lines += [f"topic read {PREFIX}/site/+/notice", ""]
    for cred in creds:
        if cred.kind not in ("bridge", "simulator") and cred.site_id:
            lines += [f"user {cred.username}", f"topic read {PREFIX}/site/{cred.site_id}/notice", ""]
    lines += ["# every device user, by its own name"]
    lines += [f"pattern write {dev}/%u/{channel}" for channel in ("alarm", "evt", "state")]
    lines += [f"pattern read {dev}/%u/{channel}" for channel in ("ack", "cmd")]
    return "\n".join(lines) + "\n"


def _csv(creds: list[Credential]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows((c.device_id, c.kind, c.site_id, c.username, c.password) for c in creds)
    return out.getvalue()
