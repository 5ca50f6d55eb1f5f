"""`strideguard replay FILE`: a recording played back in (scaled) real time with the live view."""

from __future__ import annotations

import argparse
import asyncio
import pathlib

from strideguard.sensors.types import Placement
from strideguard.stream.cli.commands._common import (
    add_input_options,
    add_shoe_option,
    add_store_options,
    kept_before_damage,
    runner_for_file,
)
from strideguard.stream.runtime.live import add_live_options, run_live

EXAMPLES = """\
examples:
  strideguard replay run.sgcap                  real time, live view in the terminal
  strideguard replay run.sgcap --speed 10       ten times faster
  strideguard replay run.sgcap --speed 0        as fast as possible
  strideguard replay run.sgcap --web            also serve the runner and team pages"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "replay",
        help="replay a recording with the live view, alerts and a stored session",
        description="Replay a capture (.sgcap) or CSV through the live pipeline: terminal view, "
        "alerts as they fire, optional web pages; the session is stored.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", type=pathlib.Path, help="a .sgcap capture or a CSV file")
    p.add_argument(
        "--speed", type=float, default=1.0, metavar="N", help="N x real time (default 1; 0 = as fast as possible)"
    )
    add_input_options(p)
    add_store_options(p)
    add_shoe_option(p)
    add_live_options(p, web_default=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from strideguard.stream.runtime.app import RunOptions  # imported here: scipy makes it slow, --help need not wait

    opts = RunOptions(
        path=args.file,
        speed=args.speed or None,
        runner=runner_for_file(args.file, args.runner),
        placement=Placement(args.placement),
        db_path=args.db,
        store=not args.no_store,
        config_path=args.config,
        start_t_ns=args.start,
        shoe=args.shoe,
    )
    with kept_before_damage(opts.store):
        return asyncio.run(run_live(opts, args))
