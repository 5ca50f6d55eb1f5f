"""`strideguard` command line: one subcommand per module in `stream.commands`.

Every subcommand module exposes `register(subparsers)` which adds its parser and sets `func` to an
`(args) -> int` callable. Errors a user can cause end here as one line on stderr and exit code 2;
nothing the user did wrong shows a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from strideguard.analytics.errors import AnalyticsError
from strideguard.sensors.errors import SensorError
from strideguard.stream.errors import StreamError

# Order here is the order in `strideguard --help`.
COMMAND_MODULES = (
    "strideguard.stream.cli.commands.demo",
    "strideguard.stream.cli.commands.replay",
    "strideguard.stream.cli.commands.analyze",
    "strideguard.stream.cli.commands.sessions",
    "strideguard.stream.cli.commands.load",
    "strideguard.stream.cli.commands.shoes",
    "strideguard.stream.cli.commands.runner",
    "strideguard.stream.cli.commands.metronome",
    "strideguard.stream.cli.commands.pain",
    "strideguard.stream.cli.commands.config",
    "strideguard.stream.cli.commands.export",
    "strideguard.stream.cli.commands.report",
    "strideguard.stream.cli.commands.collect",
    "strideguard.stream.cli.commands.worker",
    "strideguard.stream.cli.commands.coach",
    "strideguard.stream.cli.commands.scan",
    "strideguard.stream.cli.commands.record",
)

EPILOG = """\
Quick start:  strideguard demo            replay the bundled fatigue run with a live view and alerts
              strideguard analyze FILE --json   analyse a capture or CSV as fast as possible
Every subcommand has --help with examples."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="strideguard",
        description="Streaming running-gait monitor: cadence, impact, trunk sway and lean, left/right "
        "asymmetry, and low-back-pain risk alerts with reasons. Heuristic, not a diagnosis.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130
    except (SensorError, AnalyticsError, StreamError, OSError) as exc:
        print(f"strideguard {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 2


def one_line(exc: BaseException) -> str:
    """The message of an error on one line (OSErrors name the file)."""
    if isinstance(exc, OSError) and exc.filename:
        text = f"{exc.strerror or exc}: {exc.filename}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())
