"""`strideguard report SESSION`: an HTML page with plots of one session."""

from __future__ import annotations

import argparse
import pathlib

from strideguard.stream.errors import UsageError
from strideguard.stream.sqlite.store import SessionStore, default_db_path

EXAMPLES = """\
examples:
  strideguard report anna-20261121            writes report-anna-20261121.../index.html and its PNGs
  strideguard report anna-20261121 -o runs/   into runs/
  strideguard sessions --runner anna          find a session id (a unique prefix is enough)
The page shows cadence, impact, sway and lean over time with alert spans, every step, left/right
symmetry, this run beside the baseline and earlier runs, and the training load."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write an HTML report with plots for one session",
        description="Write an HTML page and PNG figures for one stored session: metrics over time "
        "with alert spans, per-step scatter, left/right symmetry, comparison with the "
        "baseline and previous sessions, training load.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("session", help="session id or unique prefix (see `strideguard sessions`)")
    p.add_argument(
        "-o",
        "--out",
        type=pathlib.Path,
        metavar="DIR",
        help="folder for index.html and the PNGs (default: ./report-SESSION)",
    )
    p.add_argument(
        "--db",
        type=pathlib.Path,
        metavar="PATH",
        help="session store (SQLite); default $STRIDEGUARD_DB or ~/.local/share/strideguard/strideguard.db",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from strideguard.stream.report import write_report

    db = args.db or default_db_path()
    if not db.exists():
        raise UsageError(f"no session store at {db}: analyse something first (`strideguard analyze FILE`)")
    store = SessionStore(db)
    try:
        row = store.session(args.session)
        if row is None:
            raise UsageError(f"no single session matches {args.session!r}: see `strideguard sessions`")
        out = args.out or pathlib.Path(f"report-{row.session_id}")
        result = write_report(store, row.session_id, out)
    finally:
        store.close()
    print(f"report: {result.index} ({len(result.images)} figures)")
    return 0
