"""``redband status``: the running engine as its hosts and bridges see themselves — each host's node, pid,
starts, devices, open incidents and journal; each bridge's lanes. Attaches to the cluster read-only."""

from __future__ import annotations

import json
import logging
import os
import sys


def register(sub) -> None:
    status = sub.add_parser("status", help="the running engine: hosts and their nodes, restarts, bridges and lanes")
    status.add_argument("--ray-address", default="auto", help="the Ray cluster the engine runs on (default: auto)")
    status.add_argument("--namespace", default="redband")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(func=cmd_status)


def cmd_status(args) -> int:
    import ray

    from actors.ray_cluster import ClusterJoinError, apply_join_auth, refused_message
    from actors.runtime import engine_status

    try:
        apply_join_auth()  # the cluster's token, when this process was handed one (actors/ray_cluster.py)
        ray.init(address=args.ray_address, namespace=args.namespace, logging_level=logging.ERROR,
                 include_dashboard=False, log_to_driver=False)
    except ClusterJoinError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ConnectionError as exc:
        refused = refused_message(args.ray_address, exc, os.environ)
        print(f"error: {refused or f'--ray-address {args.ray_address}: no Ray cluster there ({exc})'}",
              file=sys.stderr)
        return 2
    try:
        status = engine_status(args.namespace)
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        if args.json:
            print(json.dumps(status, indent=2, default=str))
        else:
            print_status(status)
        return 0
    finally:
        ray.shutdown()


def print_status(status: dict) -> None:
    engine = status["engine"]
    print(f"engine in namespace {status['namespace']}: city {engine['city']}, journal {engine['journal_dir']}")
    print(f"{'host':<8} {'node':<14} {'pid':>7} {'starts':>6} {'devices':>8} {'active':>7} {'open':>5} "
          f"{'journal failures':>16}  journal")
    for h in status["hosts"]:
        if not h["answering"]:
            print(f"{h['host_id']:<8} not answering: {h['error']}")
            continue
        print(f"{h['host_id']:<8} {h['node_id'][:12]:<14} {h['pid']:>7} {h['starts']:>6} {h['devices']:>8} "
              f"{h['devices_active']:>7} {h['incidents_open']:>5} {h['journal_failures']:>16}  {h['journal']}")
    for b in status["bridges"]:
        lanes = "; ".join(f"{lane}: " + ", ".join(f"{k} {v}" for k, v in figures.items())
                          for lane, figures in b.get("lanes", {}).items())
        state = lanes if b["answering"] else f"not answering: {b['error']}"
        print(f"{b['name']:<22} node {b['node_id'][:12]} starts {b['starts']}  {state}")
    if (g := status.get("gateway")) is not None:
        state = (f"{g['url']} node {g['node_id'][:12]} pid {g['pid']}, {g['consoles']} consoles" if g["answering"]
                 else f"not answering: {g['error']}")
        print(f"{'console-gateway':<22} starts {g['starts']}  {state}")
