"""Broker provisioning for a city: ``mosquitto.conf``, ``dynamic-security.json`` and ``credentials.csv``.

Users, passwords and ACLs live in Mosquitto's dynamic-security plugin, the one part of Mosquitto 2.0.11
that refuses a subscription at SUBSCRIBE time (the ``acl_file`` grants any subscription and filters only
at delivery, so a device could join the bridge's share group and be dealt other devices' alarms;
``shared/notes/mosquitto-acl.md``). Every device is a client named by its id with a role of its own, whose
ACLs name its topics literally (2.0.11 does not substitute ``%u`` in plugin ACLs):

- it may publish only ``rb/v1/dev/<id>/alarm``, ``/evt`` and ``/state``;
- it may subscribe only ``rb/v1/dev/<id>/ack``, ``/cmd`` and its site's notice topic, nothing else, not ``#``;
- it must connect with its id as client id, so it cannot take another client's id (a bridge's, say).

The bridge client subscribes its share group (``$share/rb-<tag>/…``, the tag derived from its password,
``protocols.topics.bridge_share_group``) and writes acks, commands, notices and its probe alarms. An optional
simulator client may publish for any device (the load generator's shortcut; left out unless asked for).

Passwords are hashed the way the plugin stores them (PBKDF2-HMAC-SHA512, 101 iterations, 12-byte salt,
base64). Passwords already issued (read back from an earlier ``credentials.csv``) are kept, so provisioning
again does not lock deployed devices out. Pure: ``redband/files.write_broker_files`` writes the files.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from engine.listen import bind_problem, listen_host
from engine.topology import City
from protocols.topics import (
    MAX_BRIDGES,
    PREFIX,
    Channel,
    bridge_share_group,
    probe_answer_topic,
    probe_device_id,
)

BRIDGE_USER: Final = "redband-bridge"
SIMULATOR_USER: Final = "redband-sim"
CSV_HEADER: Final = ("device_id", "kind", "site_id", "username", "password")
HASH_ITERATIONS: Final = 101
DYNSEC_PLUGIN: Final = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
"""Where Debian's ``mosquitto`` package puts the plugin (``actors.broker.dynsec_plugin`` finds it elsewhere)."""
DYNSEC_FILE: Final = "dynamic-security.json"


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
    dynsec: str
    """The plugin's JSON: clients, roles, default ACL access."""
    credentials_csv: str
    credentials: tuple[Credential, ...]
    share_group: str


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
                 existing: dict[str, Credential] | None = None, plugin: str = DYNSEC_PLUGIN) -> BrokerFiles:
    if why := bind_problem(bind):  # the listener line would be Mosquitto's error, found only when it starts
        raise ValueError(f"bind: {why}")
    creds = issue_credentials(city, simulator=simulator, existing=existing)
    out_dir = out_dir.resolve()
    bridge = next(c for c in creds if c.username == BRIDGE_USER)
    group = bridge_share_group(bridge.password)
    return BrokerFiles(
        conf=_conf(out_dir, port=port, bind=bind, city_id=city.id, plugin=plugin),
        dynsec=json.dumps(dynsec_config(creds, share_group=group), separators=(",", ":")) + "\n",
        credentials_csv=_csv(creds),
        credentials=tuple(creds),
        share_group=group,
    )


STALE_FILES: Final = ("passwd", "acl")
"""An earlier version's files: Mosquitto would consult them before the plugin, so whoever writes the files removes
them."""


def file_entries(files: BrokerFiles) -> list[tuple[str, str, int]]:
    """(file name, text, mode) of each broker file, for the writer (``redband/files.py``)."""
    return [("mosquitto.conf", files.conf, 0o644), (DYNSEC_FILE, files.dynsec, 0o600),
            ("credentials.csv", files.credentials_csv, 0o600)]


def _conf(out_dir: Path, *, port: int, bind: str, city_id: str, plugin: str) -> str:
    return f"""# Mosquitto configuration for redband city {city_id}, written by `redband mqtt-config`.
# Start it with `redband broker --dir {out_dir}` (as root too), or `mosquitto -c` as the user owning these files.
per_listener_settings false
listener {port} {listen_host(bind)}
protocol mqtt
allow_anonymous false

# users, passwords and ACLs: the dynamic-security plugin only (no password_file or acl_file: with those,
# Mosquitto 2.0.11 answers from the files and grants any subscription, a device's `$share/...` included)
plugin {plugin}
plugin_opt_config_file {out_dir / DYNSEC_FILE}

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


def _acl(acltype: str, topic: str) -> dict:
    return {"acltype": acltype, "topic": topic, "priority": 0, "allow": True}


def _dynsec_client(cred: Credential, role: str, *, clientid: str | None) -> dict:
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", cred.password.encode(), salt, HASH_ITERATIONS)
    client = {"username": cred.username, "textname": f"{cred.kind} {cred.device_id}".strip(),
              "password": base64.b64encode(digest).decode(), "salt": base64.b64encode(salt).decode(),
              "iterations": HASH_ITERATIONS, "roles": [{"rolename": role, "priority": 0}]}
    if clientid is not None:
        client["clientid"] = clientid
    return client


def device_acls(device_id: str, site_id: str) -> list[dict]:
    """A device's own topics, literally: publish alarm/evt/state, subscribe ack/cmd and its site's notices."""
    dev = f"{PREFIX}/dev/{device_id}"
    acls = [_acl("publishClientSend", f"{dev}/{ch}") for ch in (Channel.ALARM, Channel.EVT, Channel.STATE)]
    acls += [_acl("subscribeLiteral", f"{dev}/{ch}") for ch in (Channel.ACK, Channel.CMD)]
    if site_id:
        acls.append(_acl("subscribeLiteral", f"{PREFIX}/site/{site_id}/notice"))
    return acls


def bridge_acls(share_group: str) -> list[dict]:
    dev = f"{PREFIX}/dev"
    acls = [_acl("subscribeLiteral", f"$share/{share_group}/{dev}/+/{ch}")
            for ch in (Channel.ALARM, Channel.EVT, Channel.STATE)]
    acls += [_acl("publishClientSend", f"{dev}/+/{ch}") for ch in (Channel.ACK, Channel.CMD)]
    acls += [_acl("publishClientSend", f"{PREFIX}/site/+/notice")]
    for index in range(MAX_BRIDGES):  # each bridge's probe: its alarms out, the answers back
        probe = probe_device_id(f"b{index}")
        acls += [_acl("publishClientSend", f"{dev}/{probe}/alarm"),
                 _acl("publishClientSend", probe_answer_topic(f"b{index}")),
                 _acl("subscribeLiteral", probe_answer_topic(f"b{index}"))]
    return acls


def simulator_acls() -> list[dict]:
    """Load tests and benchmarks: publish as any device, read anything (the bare-subscriber baseline reads the
    inbound topics beside the bridge). Never provisioned unless asked for."""
    dev = f"{PREFIX}/dev"
    acls = [_acl("publishClientSend", f"{dev}/+/{ch}") for ch in (Channel.ALARM, Channel.EVT, Channel.STATE)]
    acls += [_acl("subscribePattern", f"{dev}/+/{ch}") for ch in Channel]
    acls += [_acl("subscribePattern", f"{PREFIX}/site/+/notice")]
    return acls


def dynsec_config(creds: list[Credential], *, share_group: str) -> dict:
    """The plugin's whole configuration. Anything not granted is refused: publishing, and subscribing at
    SUBSCRIBE time; delivery is allowed (a client only gets what it was allowed to subscribe to)."""
    clients, roles = [], []
    for cred in creds:
        if cred.kind == "bridge":
            clients.append(_dynsec_client(cred, "redband-bridge", clientid=None))  # several lanes, several ids
            roles.append({"rolename": "redband-bridge", "acls": bridge_acls(share_group)})
        elif cred.kind == "simulator":
            clients.append(_dynsec_client(cred, "redband-simulator", clientid=None))
            roles.append({"rolename": "redband-simulator", "acls": simulator_acls()})
        else:
            role = f"device-{cred.device_id}"
            clients.append(_dynsec_client(cred, role, clientid=cred.device_id))
            roles.append({"rolename": role, "acls": device_acls(cred.device_id, cred.site_id)})
    return {
        # unsubscribing is allowed: it can only take away what a client was granted (one ACL fewer per device)
        "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": True, "subscribe": False,
                             "unsubscribe": True},
        "clients": clients,
        "groups": [],
        "roles": roles,
    }


def _csv(creds: list[Credential]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows((c.device_id, c.kind, c.site_id, c.username, c.password) for c in creds)
    return out.getvalue()
