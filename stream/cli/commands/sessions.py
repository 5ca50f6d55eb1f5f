"""`strideguard sessions`: what the store holds."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json

from strideguard.stream.cli.commands._common import add_store_options
from strideguard.stream.names import printable
from strideguard.stream.retraining.records import progress_line, read_progress
from strideguard.stream.sqlite.shoes import ShoeLog
from strideguard.stream.sqlite.store import INCOMPLETE, STORE_LOST, SessionStore, default_db_path
from strideguard.stream.terminal import format_clock

EXAMPLES = """\
examples:
  strideguard sessions                 every stored session, oldest first
  strideguard sessions --runner anna   one runner's history
  strideguard sessions --json          for scripts"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sessions",
        help="list stored sessions",
        description="List the sessions in the store: start, duration, steps, cadence, alerts, how the run "
        "started (easy/hard: the warm-up check), the shoes worn, "
        "status (unfinished = still running, or the run was cut off; incomplete = the store could not "
        "keep all of it, e.g. a full disk: the missing rows are counted under store_lost in --json).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--runner", metavar="NAME", help="only this runner")
    p.add_argument("--team", metavar="NAME", help="only this team")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_store_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = args.db or default_db_path()
    if not path.exists():
        print(f"no sessions yet ({path} does not exist): try `strideguard demo`")
        return 0
    store = SessionStore(path, readonly=True)  # listing works on a read-only store and never changes one
    try:
        rows = store.sessions(runner=args.runner, team=args.team)
        alerts = store.alert_counts()  # from the stored events: the summary has no alert count
    finally:
        store.close()
    retraining = read_progress(path)  # the retraining mode's progress per session (docs/retraining.md)
    with ShoeLog(path, readonly=True) as log:
        shoes = {r.session_id: shoe.name for r in rows if (shoe := log.shoe_of(r.session_id)) is not None}
    if args.json:
        print(
            json.dumps(
                [
                    {
                        **dataclasses.asdict(r),
                        "status": status(r.status),
                        "n_alerts": alerts.get(r.session_id, 0),
                        "shoe": shoes.get(r.session_id),
                        "start": start_of(r.summary),
                        "retraining": retraining.get(r.session_id),
                    }
                    for r in rows
                ],
                indent=1,
            )
        )
        return 0
    if not rows:
        print("no sessions match")
        return 0
    print(
        f"{'session':<36} {'runner':<10} {'start (UTC)':<17} {'length':>8} {'steps':>6} {'cadence':>8} "
        f"{'alerts':>6} {'start':<5} {'shoes':<10}  status"
    )
    for r in rows:
        start = dt.datetime.fromtimestamp(r.started_t_ns / 1e9, tz=dt.UTC).strftime("%Y-%m-%d %H:%M")
        length = format_clock((r.ended_t_ns - r.started_t_ns) / 1e9) if r.ended_t_ns else "-"
        s = r.summary
        cadence = f"{s['cadence_spm']:.1f}" if isinstance(s.get("cadence_spm"), (int, float)) else "-"
        print(
            f"{printable(r.session_id):<36} {printable(r.runner):<10} {start:<17} {length:>8} "
            f"{s.get('n_steps', '-'):>6} {cadence:>8} {alerts.get(r.session_id, 0):>6} {start_of(s):<5} "
            f"{printable(shoes.get(r.session_id, '-')):<10}  {status(r.status, s)}"
        )
        if r.session_id in retraining:
            print(f"{'':<36} {progress_line(retraining[r.session_id])}")
    return 0


def start_of(summary: dict) -> str:
    """How the run started (the warm-up check in the summary): easy, hard, or - when not judged."""
    warmup = (summary.get("risk") or {}).get("warmup") or {}
    if not warmup.get("judged"):
        return "-"
    return "hard" if warmup.get("hard_start") else "easy"


def status(raw: str, summary: dict | None = None) -> str:
    """A session still marked running is either live now or was cut off by a crash; an incomplete one
    says how many results the store could not keep."""
    if raw == "running":
        return "unfinished"
    lost = (summary or {}).get(STORE_LOST)
    counts = ", ".join(f"{n} {table} lost" for table, n in lost.items() if n) if isinstance(lost, dict) else ""
    if raw == INCOMPLETE and counts:
        return f"{INCOMPLETE} ({counts})"
    return printable(raw)
