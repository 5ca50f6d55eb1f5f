"""Input and output shared by the peer runners (they run in .venv-peers, without StrideGuard).

Input: a CSV `t_s, ax_g, ay_g, az_g` (acceleration in g, gravity included). Output: a JSON object
{"step_times_s": [...], "seconds": <algorithm wall time>, "params": {...}, ...} - the candidate format
of the project's step scorer, so any peer output can be scored by it too.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


def parser(description: str, presets: dict[str, str]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="presets:\n"
        + "\n".join(f"  {k}: {v}" for k, v in presets.items())
        + "\n\nbatch: --batch JOBS.json runs a list of {csv, out, preset, vertical_axis,"
        " ap_axis, repeat} objects in one process (imports paid once).",
    )
    p.add_argument("csv", nargs="?", help="t_s, ax_g, ay_g, az_g (g, gravity included)")
    p.add_argument("out", nargs="?", help='JSON file to write ({"step_times_s": [...], "seconds": ...})')
    p.add_argument("--batch", default=None, help="JSON list of jobs instead of CSV OUT")
    p.add_argument(
        "--vertical-axis",
        type=int,
        choices=(0, 1, 2),
        default=None,
        help="column (0=ax) that is vertical; default: the axis with the largest mean |acc|",
    )
    p.add_argument(
        "--ap-axis",
        type=int,
        choices=(0, 1, 2),
        default=None,
        help="column that is anteroposterior; default: the peer estimates it (where it can)",
    )
    p.add_argument("--preset", choices=sorted(presets), default="running")
    p.add_argument("--repeat", type=int, default=1, help="run the algorithm N times, report the fastest")
    return p


def read_csv(path: str) -> tuple[np.ndarray, np.ndarray, float]:
    """(t_s, acc_g (n, 3), rate_hz from the median sample interval)."""
    d = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    t = d[:, 0]
    return t, d[:, 1:4], float(1.0 / np.median(np.diff(t)))


def vertical_axis(acc_g: np.ndarray, given: int | None) -> int:
    return int(np.argmax(np.abs(acc_g.mean(axis=0)))) if given is None else given


def timed(fn: Callable[[], T], repeat: int, *, quiet_stderr: bool = False) -> tuple[T, float]:
    """(result of the last run, fastest wall time in s) with the peer's prints and warnings kept off
    our output."""

    def once() -> tuple[T, float]:
        err = contextlib.redirect_stderr(io.StringIO()) if quiet_stderr else contextlib.nullcontext()
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), err:
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            result = fn()
            return result, time.perf_counter() - t0

    result, best = once()
    for _ in range(repeat - 1):
        result, seconds = once()
        best = min(best, seconds)
    return result, best


def write(path: str, obj: dict) -> None:
    with open(path, "w") as f:
        json.dump(obj, f)


def fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


def jobs(a: argparse.Namespace) -> list[dict]:
    """The jobs of one call: the --batch list, or the single CSV OUT from the command line."""
    if a.batch:
        with open(a.batch) as f:
            return json.load(f)
    if not (a.csv and a.out):
        raise SystemExit("need CSV OUT or --batch JOBS.json")
    return [
        {
            "csv": a.csv,
            "out": a.out,
            "preset": a.preset,
            "vertical_axis": a.vertical_axis,
            "ap_axis": a.ap_axis,
            "repeat": a.repeat,
        }
    ]


def run_jobs(a: argparse.Namespace, one: Callable[[dict[str, Any]], dict]) -> int:
    """Run `one(job) -> dict` for every job; a failing job writes {"error": ...} and the rest go on."""
    status = 0
    for job in jobs(a):
        try:
            obj = one(job)
        except Exception as exc:  # a peer failing on one input is a result, not a crash
            obj = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            status = 1
        write(job["out"], obj)
    return status
