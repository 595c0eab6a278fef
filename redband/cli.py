"""``redband``: the command line, assembled from one module per command group.

    redband run --city FILE | --config FILE [--mqtt mqtt://USER:PASS@HOST:PORT] [--bridges N] [--journal-dir DIR]
    redband status [--ray-address ADDR] [--namespace NS] [--json]
    redband simulate SCENARIO.toml [--json] [--realtime] [--until S] [--report DIR]
                     [--mqtt mqtt://redband-sim:PASS@HOST:PORT [--console ws://OPERATOR:PASS@HOST:PORT] | --stack]
    redband bench [--quick] [--json FILE] [--only NAMES]
    redband user add NAME --role ROLE [--scope ID --city FILE] [--users FILE]
    redband mqtt-config --city FILE --out DIR [--port 1883] [--bind 127.0.0.1] [--simulator]
    redband broker --dir DIR
    redband city generate [--precincts N ...] --seed N -o city.toml
    redband city check FILE
    redband demo [--keep]
"""

from __future__ import annotations

import argparse
import sys

from engine.errors import ConfigError
from protocols.errors import ProtocolError
from redband import bench, city, demo, mqtt_config, run, simulate, status, user
from redband.run_config import UsageError

COMMAND_GROUPS = (run, status, simulate, bench, user, mqtt_config, city, demo)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (ConfigError, ProtocolError, ConnectionError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="redband", description="Real-time dispatch engine for community security.")
    sub = parser.add_subparsers()
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser


if __name__ == "__main__":
    sys.exit(main())
