"""Options and reporting shared by the live commands (demo, replay, record)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from strideguard.stream.runtime.app import LiveParts, RunOptions

DEFAULT_PORT = 8765


def add_live_options(p: argparse.ArgumentParser, *, web_default: bool) -> None:
    web = p.add_mutually_exclusive_group()
    web.add_argument(
        "--web",
        dest="web",
        action="store_true",
        default=web_default,
        help="serve the live runner and team pages" + (" (default)" if web_default else ""),
    )
    web.add_argument("--no-web", dest="web", action="store_false", help="no web pages")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address for the pages (default 127.0.0.1: this computer only; 0.0.0.0 lets a phone on your "
        "network in with the key printed in the address and its QR code)",
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port for the pages (default {DEFAULT_PORT})")


def apply_live_options(opts: RunOptions, args: argparse.Namespace) -> RunOptions:
    opts.web, opts.host, opts.port = bool(args.web), args.host, args.port
    return opts


def announce(parts: LiveParts) -> None:
    """Tell the user where the pages are, before the run starts."""
    text = parts.web_announcement()
    if text:
        print(text, file=sys.stderr, flush=True)


async def run_live(opts: RunOptions, args: argparse.Namespace) -> int:
    from strideguard.stream.runtime.app import run_file

    result = await run_file(apply_live_options(opts, args), on_start=announce)
    if result.db_path:
        print(f"stored in {result.db_path} — list with `strideguard sessions`")
    for key, n in result.stats.decode_errors.items():
        print(f"skipped {n} undecodable notifications from {key}", file=sys.stderr)
    return 0
