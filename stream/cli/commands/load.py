"""`strideguard load`: a runner's training load from the stored sessions."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import pathlib

from strideguard.analytics.pain import latest_red_flag
from strideguard.analytics.training_load import RunRecord, load_report
from strideguard.stream.runtime.history import impact_observation, own_sessions, recovery
from strideguard.stream.sqlite.painlog import PainLog
from strideguard.stream.sqlite.store import SessionRow, SessionStore, default_db_path

EXAMPLES = """\
examples:
  strideguard load --runner anna          the latest run vs the longest of the previous 30 days, weekly totals
  strideguard load --runner anna --json   for scripts

A run more than 10 % longer than the longest of the previous 30 days is flagged (Frandsen 2025). The weekly
change and the acute:chronic ratio are shown for context only (both are disputed as injury predictors)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "load",
        help="training load: run length vs the last 30 days, weekly change",
        description="Training load from the stored sessions of one runner: the latest run against "
        "the longest run of the previous 30 days (flagged above +10 %), weekly totals "
        "with the week-to-week change, and the acute:chronic ratio with its caveat. "
        "Distance is used when every run has one, else duration.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--runner", required=True, metavar="NAME")
    p.add_argument("--db", type=pathlib.Path, metavar="PATH", help="session store (default: the usual store)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run_record(row: SessionRow) -> RunRecord | None:
    """A stored session as a run (None when it has no length)."""
    duration = row.summary.get("duration_s")
    if not isinstance(duration, (int, float)) and row.ended_t_ns:
        duration = (row.ended_t_ns - row.started_t_ns) / 1e9
    if not isinstance(duration, (int, float)) or duration <= 0:
        return None
    distance = row.summary.get("distance_m")
    return RunRecord(
        start_t_ns=row.started_t_ns,
        duration_s=float(duration),
        distance_m=float(distance) if isinstance(distance, (int, float)) else None,
        session_id=row.session_id,
    )


def run(args: argparse.Namespace) -> int:
    path = args.db or default_db_path()
    if not path.exists():
        print(f"no sessions yet ({path} does not exist): try `strideguard demo`")
        return 0
    store = SessionStore(path)
    try:
        own = own_sessions(store, args.runner)  # no demos
        demos = len(store.sessions(runner=args.runner)) - len(own)
        runs = [r for r in (run_record(s) for s in own) if r is not None]
        pairs = recovery(store, args.runner)
        impact = impact_observation(store, args.runner)
    finally:
        store.close()
    with PainLog(path) as log:
        flagged = latest_red_flag(log.entries(runner=args.runner))
    if not runs:
        left_out = (
            f" ({demos} demo session{'s' if demos != 1 else ''} of the bundled samples left out)" if demos else ""
        )
        print(f"no finished sessions for {args.runner}{left_out}")
        return 0
    report = load_report(runs)
    if args.json:
        print(
            json.dumps(
                {
                    "runner": args.runner,
                    "unit": report.unit,
                    "spike": None
                    if report.spike is None
                    else {
                        "run": report.spike.run_amount,
                        "longest_30d": report.spike.longest_amount,
                        "change_pct": report.spike.change_pct,
                        "flagged": report.spike.flagged,
                        "message": report.spike.message,
                    },
                    "weeks": [
                        {"end_t_ns": w.end_t_ns, "amount": w.amount, "change_pct": w.change_pct} for w in report.weeks
                    ],
                    "acute_chronic_ratio": report.acute_chronic_ratio,
                    "acwr_caveat": report.acwr_caveat,
                    "red_flag": flagged is not None,
                    "recovery": [
                        {
                            "first": p.first.session_id,
                            "second": p.second.session_id if p.second else None,
                            "rest_h": p.rest_h,
                            "message": p.message,
                            "advice": p.advice,
                        }
                        for p in pairs
                    ],
                    "impact_across_sessions": None if impact is None else dataclasses.asdict(impact),
                },
                indent=1,
            )
        )
        return 0
    if flagged is not None:
        print(
            f"{args.runner}: a red flag is in the pain log ({', '.join(flagged.flags_raised)}): stop running and "
            "see a clinician. Training load is not a reason to run through it."
        )
    if report.spike is not None:  # always there: the report is of at least one run
        print(("FLAG  " if report.spike.flagged else "") + report.spike.message)
    print(f"weekly totals ({report.unit}), 7-day blocks up to the latest run; {report.weekly_caveat}:")
    for w in report.weeks:
        end = dt.datetime.fromtimestamp(w.end_t_ns / 1e9, tz=dt.UTC).strftime("%Y-%m-%d")
        change = f"{w.change_pct:+.0f} %" if w.change_pct is not None else "-"
        print(f"  to {end}  {w.amount:7.1f}  {change:>7}")
    acwr = f"{report.acute_chronic_ratio:.2f}" if report.acute_chronic_ratio is not None else "-"
    print(f"acute:chronic ratio {acwr} ({report.acwr_caveat})")
    for pair in pairs[-3:]:  # the latest few: a history of years need not scroll by
        when = dt.datetime.fromtimestamp(pair.first.start_t_ns / 1e9, tz=dt.UTC).strftime("%Y-%m-%d")
        print(f"recovery: {when}: {pair.message}: {pair.advice} (heuristic)")
    if impact is not None:
        print(f"impact: {impact.message}: {impact.cue} (an observation, not an alarm)")
    return 0
