"""`strideguard coach`: the team and runner pages of the team set-up, fed from the workers' MQTT outputs."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import pathlib
import signal
import sys

from strideguard.stream.cli.commands.collect import add_broker_options, broker_settings

EXAMPLES = """\
examples:
  strideguard coach --broker mqtt://127.0.0.1:1883 --team club --username coach
        the team page at http://127.0.0.1:8765/ (password in $STRIDEGUARD_MQTT_PASSWORD)
  strideguard coach --team club --host 0.0.0.0
        open to phones on this network: prints the addresses with their key and a QR code
  strideguard coach --team club --db /srv/strideguard/club.db
        also lists past sessions at /sessions, each with its report (the workers' store, read only)
environment: STRIDEGUARD_MQTT_URL, STRIDEGUARD_MQTT_USERNAME/PASSWORD, STRIDEGUARD_TEAM, STRIDEGUARD_DB
Stop with Ctrl-C or SIGTERM. See docs/live.md ("Coach")."""


def register(sub: argparse._SubParsersAction) -> None:
    from strideguard.stream.runtime.live import DEFAULT_PORT

    p = sub.add_parser(
        "coach",
        help="serve the live team and runner pages from a team's MQTT outputs (team set-up)",
        description="Subscribes to the status, alerts and metrics the analyzer workers publish for the "
        "team and serves the same live pages as `strideguard demo`: the team page ranked by need and "
        "each runner's page. A runner page's snooze and GPS speed go to the worker through the runner's control topic.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_broker_options(p, every_team=True)
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address for the pages (default 127.0.0.1: this computer only; 0.0.0.0 lets a phone on your "
        "network in with the key printed in the address and its QR code)",
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port for the pages (default {DEFAULT_PORT})")
    p.add_argument(
        "--db",
        type=pathlib.Path,
        default=os.environ.get("STRIDEGUARD_DB") or None,  # set but empty: no store (not the folder ".")
        metavar="PATH",
        help="the session store the workers write (`worker --db`): the pages then list past sessions with "
        "their reports, read only (default $STRIDEGUARD_DB; none if unset)",
    )
    p.add_argument(
        "--no-snooze",
        action="store_true",
        help="do not forward the pages' snoozes and speeds to the workers (for a broker user without control access)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from strideguard.stream.runtime import bus as busmod
    from strideguard.stream.runtime.coach import Coach
    from strideguard.stream.web import WebServer

    settings = broker_settings(args)
    check_store(args.db)
    logging.basicConfig(level=logging.WARNING, format="coach: %(message)s", stream=sys.stderr)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        bus = busmod.Bus()
        coach = Coach(settings=settings, team=args.team, bus=bus, forward_snoozes=not args.no_snooze)
        server = WebServer(bus, host=args.host, port=args.port, store_path=args.db)
        await server.start()
        try:
            print(f"coach: {settings.endpoint}, team {args.team!r}", flush=True)
            print(server.announcement(), file=sys.stderr, flush=True)
            await coach.run(stop)
        finally:
            await server.stop()
            bus.close()
        print(f"coach: stopped; {coach.stats.as_dict()}", flush=True)

    asyncio.run(main())
    return 0


def check_store(path: pathlib.Path | None) -> None:
    """A store that is there must be readable now (one-line error, exit 2); one not there yet is said
    once: the past-sessions page lists sessions as soon as a worker writes them."""
    from strideguard.stream.errors import UsageError
    from strideguard.stream.sqlite.store import SessionStore, StoreError

    if path is None:
        return
    if not path.exists():
        print(
            f"coach: no session store at {path} yet: past sessions appear once a worker writes there", file=sys.stderr
        )
        return
    try:
        SessionStore(path, readonly=True).close()
    except StoreError as exc:
        raise UsageError(str(exc)) from None
