"""``redband mqtt-config`` writes a city's broker files (mosquitto.conf, the dynamic-security file with a user
and role per device, credentials.csv; passwords already issued are kept); ``redband broker`` runs Mosquitto with
them in the foreground."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from engine.topology import load_city


def register(sub) -> None:
    mqtt = sub.add_parser("mqtt-config",
                          help="broker files for a city: mosquitto.conf, dynamic-security.json, credentials.csv")
    mqtt.add_argument("--city", required=True)
    mqtt.add_argument("--out", required=True, help="directory for the files (passwords already issued there are kept)")
    mqtt.add_argument("--port", type=int, default=1883)
    mqtt.add_argument("--bind", default="127.0.0.1",
                      help="the broker's listener address, an IP address or a host name (loopback unless you mean it)")
    mqtt.add_argument("--simulator", action="store_true",
                      help="also a user that may publish for every device (load tests and the demo only)")
    mqtt.set_defaults(func=cmd_mqtt_config)

    broker = sub.add_parser("broker", help="run Mosquitto with the files of mqtt-config, in the foreground")
    broker.add_argument("--dir", required=True, help="the directory mqtt-config wrote")
    broker.set_defaults(func=cmd_broker)


def cmd_mqtt_config(args) -> int:
    from actors.broker import BrokerError, dynsec_plugin
    from redband.files import write_broker_files
    from engine.listen import bind_problem
    from engine.mqtt_provision import DYNSEC_PLUGIN, broker_files, read_credentials
    from redband.run_config import UsageError

    if why := bind_problem(args.bind):
        raise UsageError(f"--bind: {why}")
    if not 0 < args.port < 65536:
        raise UsageError(f"--port: expected 1 to 65535, got {args.port}")
    city = load_city(args.city)
    out = Path(args.out)
    previous = out / "credentials.csv"
    existing = read_credentials(previous.read_text(encoding="utf-8")) if previous.exists() else {}
    try:
        plugin = dynsec_plugin()
    except BrokerError as exc:  # files for another machine can still be written; say what this one lacks
        print(f"note: {exc}; the configuration names {DYNSEC_PLUGIN}", file=sys.stderr)
        plugin = DYNSEC_PLUGIN
    files = broker_files(city, out, port=args.port, bind=args.bind, simulator=args.simulator, existing=existing,
                         plugin=plugin)
    written = write_broker_files(files, out)
    kept = sum(1 for c in files.credentials if c.username in existing)
    print(f"wrote {', '.join(str(p) for p in written)}: {len(city.devices)} devices, the bridge user"
          f"{' and the simulator user' if args.simulator else ''}; {kept} passwords kept from before")
    print(f"start the broker: redband broker --dir {out.resolve()}")
    return 0


def cmd_broker(args) -> int:
    """Mosquitto in the foreground with the files of ``mqtt-config``: as root too (it keeps root's rights on the
    files instead of dropping to the ``mosquitto`` user, which cannot read them)."""
    from actors.broker import BrokerError, mosquitto_binary, runtime_conf

    conf = Path(args.dir) / "mosquitto.conf"
    if not conf.exists():
        print(f"redband broker: {conf}: no such file; write it with `redband mqtt-config --out {args.dir}`",
              file=sys.stderr)
        return 2
    try:
        binary, runtime = mosquitto_binary(), runtime_conf(conf)
    except BrokerError as exc:
        print(f"redband broker: {exc}", file=sys.stderr)
        return 2
    os.execv(binary, [binary, "-c", str(runtime)])
    return 0  # not reached
