"""Options several subcommands share, defined once."""

from __future__ import annotations

import argparse
import pathlib

from sensors.types import Placement


def add_store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", type=pathlib.Path, metavar="PATH",
                   help="session store (SQLite); default $STRIDEGUARD_DB or ~/.local/share/strideguard/strideguard.db")
    p.add_argument("--no-store", action="store_true", help="do not keep the session")


def add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runner", metavar="NAME", help="runner name for a CSV import (default: the file name)")
    p.add_argument("--placement", choices=[pl.value for pl in Placement], default="chest",
                   help="where the sensor of a CSV import was worn (default: chest)")
    p.add_argument("--config", type=pathlib.Path, metavar="TOML",
                   help="risk thresholds and per-runner overrides (default: ~/.config/strideguard/config.toml; "
                        "see `strideguard config`)")
