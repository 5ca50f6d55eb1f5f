"""`strideguard runner`: a runner's profile (height, mass, birth year, sex; all optional)."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import pathlib

from strideguard.stream import names
from strideguard.stream.errors import UsageError
from strideguard.stream.sqlite.profiles import SEXES, Profile, Profiles, check
from strideguard.stream.sqlite.store import default_db_path

EXAMPLES = """\
examples:
  strideguard runner set anna --height-cm 168 --mass-kg 61 --birth-year 1990 --sex female
  strideguard runner set anna --mass-kg 60      change one field, keep the others
  strideguard runner show anna --json

Used by the research export (participants.tsv: age in years, never the birth date; coarsened to 5 years,
5 cm and 5 kg under --pseudonymise) and to give trunk impact in newtons where the mass is known."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "runner",
        help="a runner's profile: height, mass, birth year, sex (all optional)",
        description="Keep a runner's profile beside the sessions, for the research export.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--db", type=pathlib.Path, metavar="PATH", help="session store (default: the usual store)")
    actions = p.add_subparsers(dest="runner_action", metavar="ACTION", required=True)
    s = actions.add_parser("set", help="set some or all fields")
    s.add_argument("name", type=names.argument("runner"), metavar="NAME")
    s.add_argument("--height-cm", type=float, metavar="CM")
    s.add_argument("--mass-kg", type=float, metavar="KG")
    s.add_argument("--birth-year", type=int, metavar="YYYY")
    s.add_argument("--sex", choices=SEXES)
    show = actions.add_parser("show", help="the stored profile")
    show.add_argument("name", type=names.argument("runner"), metavar="NAME")
    show.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = args.db or default_db_path()
    if args.runner_action == "set":
        profile = Profile(
            runner=args.name, height_cm=args.height_cm, mass_kg=args.mass_kg, birth_year=args.birth_year, sex=args.sex
        )
        try:
            check(profile, this_year=dt.datetime.now(tz=dt.UTC).year)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        with Profiles(path) as profiles:
            stored = profiles.set(profile)
        print(f"{args.name}: {describe(stored)}")
        return 0
    if not path.is_file():
        raise UsageError(f"no store at {path}")
    with Profiles(path, readonly=True) as profiles:
        found = profiles.get(args.name)
    if args.json:
        print(json.dumps(dataclasses.asdict(found) if found is not None else None))
    else:
        print(f"{args.name}: {describe(found) if found is not None else 'no profile'}")
    return 0


def describe(p: Profile) -> str:
    parts = [
        f"{p.height_cm:g} cm" if p.height_cm is not None else None,
        f"{p.mass_kg:g} kg" if p.mass_kg is not None else None,
        f"born {p.birth_year}" if p.birth_year is not None else None,
        p.sex,
    ]
    return ", ".join(x for x in parts if x) or "no fields set"
