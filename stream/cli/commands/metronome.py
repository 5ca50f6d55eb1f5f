"""`strideguard metronome`: the retraining mode's cadence cue in a terminal, for a laptop on a treadmill.

The target is the runner page's: the runner's stored baseline cadence (their latest finished session)
plus a percentage, or a fixed rate (analytics.retraining.cadence.target_spm). Beats are scheduled on a
grid (beat k at start + k x 60 / target), not by sleeping one period after the last beat, so an hour of
beats does not drift by the time each print takes. Each beat rings the terminal bell (most laptops
sound it) and prints a tick. Impact sonification and the faded programme live on the runner page only.
"""

from __future__ import annotations

import argparse
import itertools
import pathlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import TextIO

from strideguard.analytics.errors import ConfigError
from strideguard.analytics.retraining.cadence import Reference, target_spm
from strideguard.analytics.retraining.config import MAX_INCREASE_PCT, RetrainingConfig
from strideguard.stream import names
from strideguard.stream.errors import UsageError
from strideguard.stream.sqlite.store import SessionStore, default_db_path

EXAMPLES = """\
examples:
  strideguard metronome --runner anna              your usual cadence + 5 %, from your last stored run
  strideguard metronome --runner anna --plus-pct 7.5
  strideguard metronome --spm 176 --duration 600   a fixed rate for 10 minutes

Evidence and limits: docs/retraining.md (a cue that raised step rate 7.5 % lowered loading; not shown to
prevent low-back pain). Stop with Ctrl-C."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "metronome",
        help="a cadence metronome in the terminal (gait retraining on a treadmill)",
        description="Ring the terminal bell at a target step rate: the runner's stored baseline cadence plus "
        "a percentage, or a fixed rate.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--runner", type=names.argument("runner"), metavar="NAME", help="target from this runner's baseline"
    )
    who.add_argument("--spm", type=float, metavar="N", help="a fixed target step rate")
    p.add_argument(
        "--plus-pct",
        type=float,
        default=5.0,
        metavar="P",
        help=f"%% over the baseline (0-{MAX_INCREASE_PCT:g}; default 5)",
    )
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (default: until Ctrl-C)")
    p.add_argument("--db", type=pathlib.Path, metavar="PATH", help="session store (default: the usual store)")
    p.set_defaults(func=run)


def beat_times(start_s: float, spm: float) -> Iterator[float]:
    """Beat k at start + k x 60 / spm: on a grid, so the error never accumulates."""
    period = 60.0 / spm
    return (start_s + k * period for k in itertools.count())


def play(
    spm: float,
    *,
    duration_s: float | None,
    out: TextIO,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Ring until `duration_s` has passed (None: for ever); returns the number of beats."""
    start = clock()
    n = 0
    for t in beat_times(start, spm):
        if duration_s is not None and t - start >= duration_s:
            break
        wait = t - clock()
        if wait > 0:
            sleep(wait)
        out.write("\a" + ("|" if n % 2 == 0 else ".") + ("\n" if n % 40 == 39 else ""))
        out.flush()
        n += 1
    return n


def baseline_cadence(db: pathlib.Path, runner: str) -> Reference | None:
    """The cadence baseline of the runner's latest finished session with one (as the runner page uses)."""
    from strideguard.stream.runtime.app import prior_baseline  # the runtime imports scipy: only when asked

    if not db.is_file():
        return None
    store = SessionStore(db, readonly=True)
    try:
        prior = prior_baseline(store, runner)
    finally:
        store.close()
    metric = prior.get("cadence") if prior is not None else None
    return Reference.from_metric(metric, RetrainingConfig().cadence_speed_slope_pct_per_mps) if metric else None


def run(args: argparse.Namespace) -> int:
    try:
        config = RetrainingConfig(cadence_increase_pct=args.plus_pct, fixed_target_spm=args.spm)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    reference = None if args.spm is not None else baseline_cadence(args.db or default_db_path(), args.runner)
    target = target_spm(reference, config)
    if target is None:
        raise UsageError(f"no stored cadence baseline for {args.runner}: run once with the monitor (or give --spm)")
    where = f"{args.runner}'s usual cadence + {args.plus_pct:g} %" if args.spm is None else "a fixed rate"
    print(f"metronome: {target:.1f} steps/min ({where}); Ctrl-C stops", file=sys.stderr, flush=True)
    try:
        n = play(target, duration_s=args.duration, out=sys.stdout)
    except KeyboardInterrupt:
        print(file=sys.stdout)
        return 0
    print(f"\n{n} beats at {target:.1f} steps/min", file=sys.stderr)
    return 0
