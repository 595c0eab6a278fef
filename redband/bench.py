"""``redband bench``: every benchmark program, one process after another, summed up in one JSON object with the
targets beside the figures (``benchmarks/suite.py``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub) -> None:
    bench = sub.add_parser("bench", help="run the benchmark programs and sum them up in one JSON object")
    bench.add_argument("--quick", action="store_true", help="smoke runs: seconds each, figures not meaningful")
    bench.add_argument("--json", default=None, metavar="FILE", help="also write the JSON here")
    bench.add_argument("--only", default=None, help="comma-separated program names (default: all)")
    bench.set_defaults(func=cmd_bench)



def cmd_bench(args) -> int:
    from benchmarks.suite import PROGRAMS, run_bench

    programs = tuple(args.only.split(",")) if args.only else PROGRAMS
    unknown = sorted(set(programs) - set(PROGRAMS))
    if unknown:
        print(f"error: --only: unknown programs {unknown}; known: {', '.join(PROGRAMS)}", file=sys.stderr)
        return 2
    result = run_bench(quick=args.quick, programs=programs,
                       on_done=lambda name, figures: print(f"{name}: {'error' if 'error' in figures else 'done'} "
                                                           f"({figures.get('wall_s', '?')} s)", file=sys.stderr))
    text = json.dumps(result)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 1 if any("error" in figures for figures in result["runs"].values()) else 0
