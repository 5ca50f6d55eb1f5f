"""`strideguard shoes`: a runner's shoes, the distance on each, and when to replace them."""

from __future__ import annotations

import argparse
import json
import pathlib
import time

from strideguard.analytics.risk.shoes import REMIND_KM, REPLACE_KM
from strideguard.stream import names
from strideguard.stream.errors import UsageError
from strideguard.stream.runtime.history import ShoeStatus, shoe_statuses
from strideguard.stream.sqlite.shoes import ShoeLog
from strideguard.stream.sqlite.store import SessionStore, default_db_path

EXAMPLES = f"""\
examples:
  strideguard shoes add pegasus --runner anna              the first pair becomes the default
  strideguard shoes add trail --runner anna --start-km 120 already run in before
  strideguard shoes list --runner anna                     km per pair (estimated where no speed), reminders
  strideguard shoes default trail --runner anna            worn when a run names no --shoe
  strideguard shoes retire pegasus --runner anna
  strideguard record --runner anna --shoe trail            a run in these shoes

Reminders between {REMIND_KM:.0f} and {REPLACE_KM:.0f} km (EVIDENCE.md: "fresh shoes, every 500-800 km"),
per pair with --remind-km / --replace-km. Distance comes from a footpod's or the phone's speed, else it is
estimated from the running time and your usual pace (marked "about")."""


def _km(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a distance in km, got {text!r}") from None
    if not 0 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"a distance from 0 to 100000 km, got {text!r}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "shoes",
        help="shoes: km per pair and when to replace them",
        description="Keep a runner's shoes beside the sessions: the distance run in each pair and a reminder "
        f"between {REMIND_KM:.0f} and {REPLACE_KM:.0f} km; impact rising over weeks on one pair is shown.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--db", type=pathlib.Path, metavar="PATH", help="session store (default: the usual store)")
    actions = p.add_subparsers(dest="shoes_action", metavar="ACTION", required=True)
    runner = {"type": names.argument("runner"), "required": True, "metavar": "NAME"}
    shoe = {"type": names.argument("shoe"), "metavar": "SHOE"}

    add = actions.add_parser("add", help="add a pair")
    add.add_argument("name", **shoe)
    add.add_argument("--runner", **runner)
    add.add_argument("--start-km", type=_km, default=0.0, metavar="KM", help="already run in them (default 0)")
    add.add_argument("--remind-km", type=_km, default=REMIND_KM, metavar="KM", help=f"default {REMIND_KM:.0f}")
    add.add_argument("--replace-km", type=_km, default=REPLACE_KM, metavar="KM", help=f"default {REPLACE_KM:.0f}")
    add.add_argument("--default", action="store_true", help="worn when a run names no --shoe")

    lst = actions.add_parser("list", help="the runner's shoes with km and reminders")
    lst.add_argument("--runner", **runner)
    lst.add_argument("--json", action="store_true", help="print JSON")

    for action, what in (("retire", "retire a pair (kept in the history)"), ("default", "make a pair the default")):
        a = actions.add_parser(action, help=what)
        a.add_argument("name", **shoe)
        a.add_argument("--runner", **runner)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = args.db or default_db_path()
    with ShoeLog(path) as log:
        try:
            if args.shoes_action == "add":
                if args.replace_km <= args.remind_km:
                    raise UsageError(
                        f"--replace-km ({args.replace_km:g}) must be above --remind-km ({args.remind_km:g})"
                    )
                s = log.add(
                    args.runner,
                    args.name,
                    t_ns=time.time_ns(),
                    start_km=args.start_km,
                    remind_km=args.remind_km,
                    replace_km=args.replace_km,
                    default=args.default,
                )
                print(f"{args.runner}: added {s.name}" + (" (default)" if s.is_default else ""))
            elif args.shoes_action == "retire":
                print(f"{args.runner}: retired {log.retire(args.runner, args.name, t_ns=time.time_ns()).name}")
            elif args.shoes_action == "default":
                print(f"{args.runner}: {log.set_default(args.runner, args.name).name} is the default")
            else:
                store = SessionStore(path)
                try:
                    statuses = shoe_statuses(store, log, args.runner)
                finally:
                    store.close()
                if args.json:
                    print(json.dumps({"runner": args.runner, "shoes": [s.as_dict() for s in statuses]}, indent=2))
                else:
                    print_statuses(args.runner, statuses)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    return 0


def print_statuses(runner: str, statuses: list[ShoeStatus]) -> None:
    if not statuses:
        print(f"{runner} has no shoes yet: strideguard shoes add NAME --runner {runner}")
        return
    for s in statuses:
        flags = [f for f, on in (("default", s.shoe.is_default), ("retired", not s.shoe.active)) if on]
        km = f"{'about ' if s.estimated else ''}{s.km:.0f} km"
        print(f"{s.shoe.name}{' (' + ', '.join(flags) + ')' if flags else ''}: {km} in {s.n_sessions} sessions")
        if s.note:
            print(f"  {s.note}")
        if s.impact:
            print(f"  {s.impact.message}: {s.impact.cue}")
