"""`strideguard export`: sessions out for research, as Motion-BIDS, Parquet and CSV."""

from __future__ import annotations

import argparse
import datetime as dt
import pathlib
import sys

from strideguard.sensors.types import Placement
from strideguard.stream.errors import UsageError
from strideguard.stream.export import FORMATS
from strideguard.stream.sqlite.store import SessionStore, default_db_path

EXAMPLES = """\
examples:
  strideguard export anna-20261121 -o out/anna-run           one session (id or unique prefix)
  strideguard export --runner anna -o out/anna                a runner's whole history
  strideguard export --team club --from 2026-10-01 --to 2026-10-31 -o out/october \\
      --pseudonymise --shift-dates --author "A. Researcher" --author "B. Coach" --license CC-BY-4.0
  strideguard export --runner anna --format parquet -o out/anna-parquet
Then: bids-validator-deno out/october/bids ; cd out/october && sha256sum -c SHA256SUMS
A pseudonymised export writes its key beside the folder (out/october.key.json, or --key PATH), never
inside it: keep the key private, and pass it again to give runners the same pseudonyms next time.
Formats, the data dictionary and how to load the files in Python, R and MATLAB: docs/export.md."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export sessions as Motion-BIDS, Parquet and CSV (optionally pseudonymised)",
        description="Export stored sessions with their raw samples (read back from each session's "
        "recording), steps, windows, alerts and pain log: a Motion-BIDS dataset, "
        "Parquet and CSV tables, a data dictionary with units, and SHA-256 checksums.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "session", nargs="?", help="one session id or unique prefix (else select with --runner, --team, --from, --to)"
    )
    p.add_argument(
        "-o",
        "--out",
        type=pathlib.Path,
        required=True,
        metavar="DIR",
        help="new folder to write (must not exist or be empty)",
    )
    p.add_argument("--runner", metavar="NAME", help="every session of this runner")
    p.add_argument("--team", metavar="NAME", help="every session of this team")
    p.add_argument("--from", dest="since", type=_date, metavar="YYYY-MM-DD", help="first day (UTC) to include")
    p.add_argument("--to", dest="until", type=_date, metavar="YYYY-MM-DD", help="last day (UTC) to include")
    p.add_argument(
        "--format",
        default=",".join(FORMATS),
        metavar="LIST",
        help=f"comma-separated subset of {','.join(FORMATS)} (default: all)",
    )
    p.add_argument(
        "--pseudonymise",
        "--pseudonymize",
        action="store_true",
        help="replace runner, team, session and device names with labels; key kept apart",
    )
    p.add_argument(
        "--keep-notes",
        action="store_true",
        help="with --pseudonymise: keep runners' free-text notes, with names, phone and other long numbers, "
        "e-mail addresses and dates scrubbed (default: notes are left out)",
    )
    p.add_argument(
        "--key",
        type=pathlib.Path,
        metavar="PATH",
        help="key file (default: DIR.key.json beside the export); an existing key is reused",
    )
    shift = p.add_mutually_exclusive_group()
    shift.add_argument(
        "--shift-dates",
        action="store_true",
        help="shift every date by a random whole number of days (1-10 years back), kept in the key",
    )
    shift.add_argument("--date-shift-days", type=int, metavar="N", help="shift every date by N days (e.g. -1000)")
    p.add_argument(
        "--author",
        action="append",
        default=[],
        metavar="NAME",
        help="dataset author for dataset_description.json (repeat for each)",
    )
    p.add_argument("--license", default="n/a", metavar="SPDX", help="data licence, e.g. CC-BY-4.0 or CC0-1.0")
    p.add_argument("--institution", default="n/a", metavar="NAME", help="institution that recorded the data")
    p.add_argument(
        "--csv-placement",
        choices=[pl.value for pl in Placement],
        default="chest",
        help="where the sensor was worn for sessions analysed from CSV files (default: chest)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument(
        "--db",
        type=pathlib.Path,
        metavar="PATH",
        help="session store (SQLite); default $STRIDEGUARD_DB or ~/.local/share/strideguard/strideguard.db",
    )
    p.set_defaults(func=run)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def run(args: argparse.Namespace) -> int:
    from strideguard.stream.export import (  # pyarrow: only when exporting
        ExportOptions,
        export_sessions,
        select_sessions,
    )

    if all(x is None for x in (args.session, args.runner, args.team, args.since, args.until)):
        raise UsageError("say what to export: a SESSION id, --runner NAME, --team NAME or a --from/--to range")
    if (args.shift_dates or args.date_shift_days is not None or args.key or args.keep_notes) and not args.pseudonymise:
        raise UsageError("--shift-dates, --date-shift-days, --key and --keep-notes need --pseudonymise")
    db = args.db or default_db_path()
    if not db.exists():
        raise UsageError(f"no session store at {db}: analyse something first (`strideguard analyze FILE`)")
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    store = SessionStore(db)
    try:
        rows = select_sessions(
            store, session=args.session, runner=args.runner, team=args.team, since=args.since, until=args.until
        )
        opts = ExportOptions(
            out_dir=args.out,
            formats=formats,
            pseudonymise=args.pseudonymise,
            key_path=args.key,
            date_shift_days=args.date_shift_days,
            random_date_shift=args.shift_dates,
            keep_notes=args.keep_notes,
            csv_placement=Placement(args.csv_placement),
            authors=tuple(args.author),
            license_id=args.license,
            institution=args.institution,
            progress=not args.no_progress and sys.stderr.isatty(),
        )
        result = export_sessions(store, rows, opts)
    finally:
        store.close()
    size_mb = sum(f.stat().st_size for f in result.files) / 1e6
    print(
        f"exported {len(result.sessions)} session(s), {result.n_samples:,} samples, {len(result.files)} files "
        f"({size_mb:.1f} MB) to {result.out_dir} in {result.seconds:.1f} s"
    )
    if result.key_path is not None:
        print(f"pseudonymisation key: {result.key_path} (keep it private and apart from the export)")
    for problem in result.problems:  # incomplete sessions (gaps, unreadable recordings, store losses) first
        print(f"  {'INCOMPLETE' if ' is incomplete: ' in problem else 'note'}: {problem}")
    if "bids" in formats and len(args.author) < 2:
        print("  note: name the dataset's authors with --author (twice or more) to satisfy the BIDS validator")
    return 0
