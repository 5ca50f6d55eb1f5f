"""`strideguard demo`: the bundled runs replayed with the live view, alerts and a stored session.

A demo is nobody's training: it is stored (and listed by `sessions`, reported, exported) like any session,
but as a session of a bundled sample it is left out of the prior baseline, `load` and the shoe history
(`history.is_demo`): every demo of a sample has the same date, so two demos looked like a training spike
(acute:chronic 4.0) and handed their baseline to the next demo."""

from __future__ import annotations

import argparse
import asyncio
import importlib.resources
import pathlib

from strideguard.stream.runtime.live import add_live_options, run_live

SAMPLES = {
    "fatigue": (
        "fatigue_run.sgcap",
        60.0,
        "synthetic chest strap, 25 min: steady running, then from minute 20 a fatigue episode "
        "(cadence -6 %, sway +30 %, lean +6°) that makes alerts fire",
    ),
    "treadmill": (
        "uci_treadmill_p1.sgcap",
        10.0,
        "real chest IMU, 5 min of treadmill running at 8 km/h (UCI Daily and Sports Activities, "
        "CC BY 4.0: Altun, Barshan & Tuncel 2010; Barshan & Yuksek 2014)",
    ),
}

EXAMPLES = """\
examples:
  strideguard demo                      the fatigue run at 60x: about 25 s, alerts near the end
  strideguard demo --speed 1            in real time, as a runner would live it
  strideguard demo --sample treadmill   a real treadmill recording
  strideguard demo --web                also serve the live pages (open the printed address)
samples:
""" + "\n".join(f"  {name:<10} {text}" for name, (_, _, text) in SAMPLES.items())


def sample_path(name: str) -> pathlib.Path:
    return pathlib.Path(str(importlib.resources.files("strideguard.sensors") / "samples" / SAMPLES[name][0]))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="replay a bundled run with the live view, alerts and a stored session",
        description="Replay a bundled run through the whole pipeline — no sensor, broker or "
        "database server needed: live terminal view, alerts as they fire, the "
        "session stored in the embedded SQLite store (marked a demo: kept out of baselines, training "
        "load and shoe history).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--sample", choices=sorted(SAMPLES), default="fatigue", help="which bundled run (default fatigue)")
    p.add_argument(
        "--speed",
        type=float,
        metavar="N",
        help="N x real time (default 60 for fatigue, 10 for treadmill; 0 = as fast as possible)",
    )
    p.add_argument(
        "--db",
        type=pathlib.Path,
        metavar="PATH",
        help="session store (default: the usual store; a demo is left out of baselines, load and history)",
    )
    p.add_argument("--no-store", action="store_true", help="do not keep the session")
    p.add_argument("--config", type=pathlib.Path, metavar="TOML", help="risk thresholds (see `strideguard config`)")
    add_live_options(p, web_default=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from strideguard.stream.runtime.app import RunOptions  # imported here: scipy makes it slow, --help need not wait

    _, default_speed, text = SAMPLES[args.sample]
    speed = default_speed if args.speed is None else args.speed
    print(f"demo: {text}; replaying at {speed:g}x" if speed else f"demo: {text}; as fast as possible")
    opts = RunOptions(
        path=sample_path(args.sample),
        speed=speed or None,
        db_path=args.db,
        store=not args.no_store,
        config_path=args.config,
        team="demo",
    )
    return asyncio.run(run_live(opts, args))
