"""Options several subcommands share, defined once."""

from __future__ import annotations

import argparse
import datetime
import pathlib

from strideguard.sensors.types import Placement


def add_store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        type=pathlib.Path,
        metavar="PATH",
        help="session store (SQLite); default $STRIDEGUARD_DB or ~/.local/share/strideguard/strideguard.db",
    )
    p.add_argument("--no-store", action="store_true", help="do not keep the session")


def start_time_ns(text: str) -> int:
    """`--start` as ns since the epoch: an ISO 8601 date-time; without a zone it is this machine's local time."""
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date-time: {text!r} (e.g. 2026-11-20T07:30)") from None
    if when.tzinfo is None:
        when = when.astimezone()  # local time
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1_000


def add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runner", metavar="NAME", help="runner name for a CSV import (default: the file name)")
    p.add_argument(
        "--placement",
        choices=[pl.value for pl in Placement],
        default="chest",
        help="where the sensor of a CSV import was worn (default: chest)",
    )
    p.add_argument(
        "--start",
        type=start_time_ns,
        metavar="WHEN",
        default=0,
        help="when a CSV with relative times (from 0 s) was recorded, ISO 8601, e.g. 2026-11-20T07:30 "
        "(local time unless a zone is given): the session is dated then instead of 1970. "
        "Absolute CSV times and captures keep their own clock",
    )
    p.add_argument(
        "--config",
        type=pathlib.Path,
        metavar="TOML",
        help="risk thresholds and per-runner overrides (default: ~/.config/strideguard/config.toml; "
        "see `strideguard config`)",
    )
