"""A live run: the pipeline plus the bus, the web pages and the alert channels around it."""

from __future__ import annotations

import argparse
import sys

from stream import bus as busmod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stream.app import RunOptions

DEFAULT_PORT = 8765


def add_live_options(p: argparse.ArgumentParser, *, web_default: bool) -> None:
    web = p.add_mutually_exclusive_group()
    web.add_argument("--web", dest="web", action="store_true", default=web_default,
                     help="serve the live runner and team pages" + (" (default)" if web_default else ""))
    web.add_argument("--no-web", dest="web", action="store_false", help="no web pages")
    p.add_argument("--host", default="127.0.0.1",
                   help="address for the pages (default 127.0.0.1; 0.0.0.0 lets a phone on your network in)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port for the pages (default {DEFAULT_PORT})")


async def run_live(opts: RunOptions, args: argparse.Namespace) -> int:
    from stream.app import run_file
    from stream.pipeline import BusSink

    bus = busmod.Bus()
    opts.extra_sinks.append(BusSink(bus))
    server = None
    if getattr(args, "web", False):
        from stream.web import WebServer

        server = WebServer(bus, host=args.host, port=args.port)
        await server.start()
        print(f"live pages: {server.url}  (runner page: {server.url}runner/<name>)", file=sys.stderr)
    try:
        result = await run_file(opts)
    finally:
        if server is not None:
            await server.stop()
        bus.close()
    if result.db_path:
        print(f"stored in {result.db_path} — list with `strideguard sessions`")
    for key, n in result.stats.decode_errors.items():
        print(f"skipped {n} undecodable notifications from {key}", file=sys.stderr)
    return 0
