"""`strideguard analyze FILE`: a whole recording as fast as possible, summary and per-step times."""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import sys
import time
from typing import Any

from strideguard.sensors.types import Placement
from strideguard.stream.cli.commands._common import (
    add_input_options,
    add_shoe_option,
    add_store_options,
    kept_before_damage,
    runner_for_file,
)

EXAMPLES = """\
examples:
  strideguard analyze run.sgcap                     summary table, session kept in the store
  strideguard analyze run.sgcap --json > out.json   summary + per-step times as JSON
  strideguard analyze treadmill.csv --runner anna --placement sacrum --no-store
  strideguard analyze lab.csv --start 2026-11-20T07:30   a CSV timed from 0 s, dated when it was recorded
CSV files need a header with t and ax, ay, az (g or m/s^2) and optionally gx, gy, gz;
units are taken from column names such as ax_g or t_s (see docs/formats.md)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="analyse a capture or CSV as fast as possible",
        description="Analyse a whole recording as fast as possible and print the session "
        "summary (cadence, impact, sway, lean, asymmetry, alerts).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", type=pathlib.Path, help="a .sgcap capture or a CSV file")
    p.add_argument("--json", action="store_true", help="print JSON: summary and per-step times per runner")
    add_input_options(p)
    add_store_options(p)
    add_shoe_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from strideguard.stream.runtime.app import (  # imported here: scipy makes it slow, --help need not wait
        RunOptions,
        run_file,
    )

    opts = RunOptions(
        path=args.file,
        runner=runner_for_file(args.file, args.runner),
        placement=Placement(args.placement),
        db_path=args.db,
        store=not args.no_store,
        live_view=False,
        keep_outputs=True,
        config_path=args.config,
        chunk_s=60.0,
        start_t_ns=args.start,
        shoe=args.shoe,
    )
    started = time.perf_counter()
    with kept_before_damage(opts.store):
        result = asyncio.run(run_file(opts))
    seconds = time.perf_counter() - started
    runners: dict[str, dict[str, Any]] = {}
    report: dict[str, Any] = {"file": str(args.file), "seconds": round(seconds, 3), "runners": runners}
    for runner, summary in result.summaries.items():
        out = result.pipeline.outputs(runner)
        segments = [s.as_dict() for s in result.pipeline.engine.summaries.values() if s.runner == runner]
        runners[runner] = {
            "summary": summary.as_dict(),
            **({"segments": segments} if len(segments) > 1 else {}),  # a long gap split the run into sessions
            "step_times_s": [s.t_ns / 1e9 for s in out.steps],
            "alerts": [e.as_row() for e in out.risk_events],
        }
    if result.stats.decode_errors:
        report["decode_errors"] = result.stats.decode_errors
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print_summary(report)
    return 0


def print_summary(report: dict) -> None:
    print(f"{report['file']}: analysed in {report['seconds']:.2f} s")
    for runner, r in report["runners"].items():
        s = r["summary"]
        print(f"  {runner}: " + ", ".join(f"{k} {v}" for k, v in s.items() if not isinstance(v, dict)))
        for a in r["alerts"]:
            if a["kind"] == "onset":
                print(f"    alert: {a['message']} — {a['cue']}")
