"""Options several subcommands share, defined once."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import pathlib
import sys
from collections.abc import Iterator

from strideguard.sensors.capture import MAGIC
from strideguard.sensors.errors import CaptureError, ImportFormatError
from strideguard.sensors.types import Placement
from strideguard.stream import names

NAMES_HELP = f"names: {names.ALLOWED_TEXT}"


def add_store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        type=pathlib.Path,
        metavar="PATH",
        help="session store (SQLite); default $STRIDEGUARD_DB or ~/.local/share/strideguard/strideguard.db",
    )
    p.add_argument("--no-store", action="store_true", help="do not keep the session")


def add_shoe_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--shoe",
        type=names.argument("shoe"),
        metavar="NAME",
        help="the shoes worn (see `strideguard shoes`; default: the runner's default shoes, if any)",
    )


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
    p.add_argument(
        "--runner",
        type=names.argument("runner"),
        metavar="NAME",
        help="runner name for a CSV import (default: the file name, made a valid name: `run #2.csv` -> run_2; "
        f"{NAMES_HELP})",
    )
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


def runner_for_file(path: pathlib.Path, runner: str | None) -> str | None:
    """The runner name to read a file under: `runner` if given; None for a capture (its runners are named
    inside it) or a CSV whose file name is already a valid name (the reader names it after the file);
    otherwise a valid name derived from the file name (`run #2.csv` -> run_2), said on stderr."""
    if runner is not None:
        return runner
    try:
        with open(path, "rb") as f:
            if f.read(len(MAGIC)) == MAGIC:
                return None
    except OSError:
        return None  # the reader says what is wrong with the file
    if names.is_valid(path.stem):
        return None
    derived = names.from_file_name(path.stem)
    print(f"runner name {derived!r}, from the file name {names.printable(path.name)!r}", file=sys.stderr)
    return derived


@contextlib.contextmanager
def kept_before_damage(stored: bool) -> Iterator[None]:
    """A damaged capture or malformed CSV still ends the command with its one-line error, which says that
    what was read before the damage is in the store (the session is left unfinished)."""
    try:
        yield
    except (CaptureError, ImportFormatError) as exc:
        if not stored:
            raise
        kept = f"{exc.args[0]} (what was read before it is kept in the store)"
        if isinstance(exc, CaptureError):
            raise CaptureError(kept, path=exc.path, offset=exc.offset, records_read=exc.records_read) from None
        raise ImportFormatError(kept, path=exc.path, line=exc.line) from None
