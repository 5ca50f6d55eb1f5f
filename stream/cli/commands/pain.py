"""`strideguard pain`: log pain before and after a run, answer the red-flag questions, read the advice."""

from __future__ import annotations

import argparse
import json
import sys
import time

from strideguard.analytics.errors import AnalyticsError
from strideguard.analytics.pain import RED_FLAGS, PainEntry, advise, latest_red_flag
from strideguard.stream.errors import UsageError
from strideguard.stream.sqlite.painlog import PainLog
from strideguard.stream.sqlite.store import default_db_path

EXAMPLES = """\
examples:
  strideguard pain log --runner anna --before 1 --after 2          asks the red-flag questions
  strideguard pain log --runner anna --after 4 --no-red-flags       none of the red flags (scripts)
  strideguard pain log --runner anna --after 3 --flag numbness      answer yes to one question
  strideguard pain list --runner anna                               the log with the advice per entry
  strideguard pain questions                                        the red-flag questions and their keys

Any red flag gives one answer: stop running and see a clinician. No gait score replaces that."""


def _pain(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"pain is a whole number from 0 to 10, got {text!r}") from None
    if not 0 <= value <= 10:
        raise argparse.ArgumentTypeError(f"pain is a whole number from 0 to 10, got {value}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pain",
        help="pain log: pain 0-10 before/after a run and the red-flag questions",
        description="Keep a pain log beside the sessions: pain from 0 (none) to 10 (worst) before "
        "and after a run, and the red-flag questions. Red flags mean: stop running "
        "and see a clinician.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--db", metavar="PATH", help="the store's database file (default: the usual store)")
    actions = p.add_subparsers(dest="pain_action", metavar="ACTION", required=True)

    log = actions.add_parser(
        "log",
        help="add an entry",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Add a pain-log entry and print the advice for it.",
    )
    log.add_argument("--runner", required=True, metavar="NAME")
    log.add_argument("--before", type=_pain, metavar="0-10", help="pain before the run")
    log.add_argument("--after", type=_pain, metavar="0-10", help="pain after the run")
    log.add_argument("--session", metavar="ID", help="the session this belongs to")
    log.add_argument(
        "--flag",
        action="append",
        default=None,
        choices=sorted(RED_FLAGS),
        metavar="KEY",
        help="answer yes to this red-flag question (repeatable; see `pain questions`); the others count as no",
    )
    log.add_argument("--no-red-flags", action="store_true", help="answer no to every red-flag question")
    log.add_argument("--note", default="", help="free text")
    log.add_argument("--json", action="store_true", help="print the entry and advice as JSON")
    log.set_defaults(func=run_log)

    lst = actions.add_parser(
        "list",
        help="show the log with advice",
        description="Show pain-log entries, oldest first, with the advice for each.",
    )
    lst.add_argument("--runner", metavar="NAME")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=run_list)

    q = actions.add_parser("questions", help="the red-flag questions", description="Print the red-flag questions.")
    q.set_defaults(func=run_questions)


def _answers(args: argparse.Namespace) -> dict[str, bool]:
    if args.flag is not None or args.no_red_flags:
        if args.flag and args.no_red_flags:
            raise UsageError("--flag and --no-red-flags contradict each other: use one")
        yes = set(args.flag or ())
        return {k: k in yes for k in RED_FLAGS}
    if not sys.stdin.isatty():
        raise UsageError(
            "answer the red-flag questions: --no-red-flags, or --flag KEY for each yes "
            "(see `strideguard pain questions`)"
        )
    answers = {}
    for key, question in RED_FLAGS.items():
        while True:
            reply = input(f"{question} [y/n] ").strip().lower()
            if reply in ("y", "yes", "n", "no"):
                answers[key] = reply.startswith("y")
                break
    return answers


def run_log(args: argparse.Namespace) -> int:
    if args.before is None and args.after is None and not args.flag:
        raise UsageError("give --before and/or --after (pain 0-10), or a red flag with --flag")
    try:
        entry = PainEntry(
            runner=args.runner,
            t_ns=time.time_ns(),
            pain_before=args.before,
            pain_after=args.after,
            red_flags=_answers(args),
            session_id=args.session,
            note=args.note,
        )
    except AnalyticsError as exc:
        raise UsageError(str(exc)) from exc
    with PainLog(args.db or default_db_path()) as log:
        log.add(entry)
    advice = advise(entry)
    if args.json:
        print(
            json.dumps(
                {
                    "runner": entry.runner,
                    "t_ns": entry.t_ns,
                    "pain_before": entry.pain_before,
                    "pain_after": entry.pain_after,
                    "red_flags": dict(entry.red_flags),
                    "advice": advice.level,
                    "message": advice.message,
                }
            )
        )
    else:
        print(advice.message)
    return 0


def run_list(args: argparse.Namespace) -> int:
    path = args.db or default_db_path()
    with PainLog(path) as log:
        entries = log.entries(runner=args.runner)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "runner": e.runner,
                        "t_ns": e.t_ns,
                        "pain_before": e.pain_before,
                        "pain_after": e.pain_after,
                        "red_flags": dict(e.red_flags),
                        "advice": advise(e).level,
                    }
                    for e in entries
                ],
                indent=1,
            )
        )
        return 0
    if not entries:
        print("no pain-log entries yet: `strideguard pain log --runner NAME --before N --after N`")
        return 0
    import datetime as dt

    for e in entries:
        when = dt.datetime.fromtimestamp(e.t_ns / 1e9, tz=dt.UTC).strftime("%Y-%m-%d %H:%M")
        pains = (
            f"before {e.pain_before if e.pain_before is not None else '-'}/10, "
            f"after {e.pain_after if e.pain_after is not None else '-'}/10"
        )
        print(f"{when}  {e.runner:<10} {pains}  {advise(e).message}")
    by_runner = sorted({e.runner for e in entries})
    for runner in by_runner:
        flagged = latest_red_flag([e for e in entries if e.runner == runner])
        if flagged is not None:
            print(f"{runner}: a red flag stands ({', '.join(flagged.flags_raised)}): stop running and see a clinician.")
    return 0


def run_questions(args: argparse.Namespace) -> int:
    for key, question in RED_FLAGS.items():
        print(f"{key:<14} {question}")
    print("Any yes: stop running and see a clinician.")
    return 0
