#!/usr/bin/env python3
"""`strideguard analyze` on a 1-hour 100 Hz synthetic chest recording: wall seconds and peak memory of
the whole command as a user runs it (process start, reading the capture, analysis, SQLite store).

    .venv/bin/python -m benchmarks.bench_analyze_cli [--minutes 60] [--rate 100] [--repeat 3]

Not a test: prints a table. Peak memory is the child's max RSS (resource.getrusage), which includes the
Python interpreter, numpy and scipy (about 100 MB before any data is read).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

from strideguard.sensors.capture import write_batches
from strideguard.sensors.synthetic.presets import fatigue_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "hour.sgcap"
        t0 = time.perf_counter()
        run = fatigue_run(duration_s=args.minutes * 60, rate_hz=args.rate, runner="bench")
        write_batches(path, [run.acc])
        print(
            f"made {path.name}: {len(run.acc):,} samples, {path.stat().st_size / 1e6:.1f} MB "
            f"in {time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
        rows = []
        for i in range(args.repeat):
            for store in (True, False):
                cmd = [sys.executable, "-m", "strideguard.stream.cli", "analyze", str(path)]
                cmd += ["--db", str(pathlib.Path(tmp) / f"s{i}.db")] if store else ["--no-store"]
                before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                t = time.perf_counter()
                out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ})
                wall = time.perf_counter() - t
                if out.returncode:
                    sys.exit(out.stderr)
                inner = float(out.stdout.split("analysed in ")[1].split(" s")[0])
                peak_mb = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
                rows.append((store, wall, inner, peak_mb))
    print(
        f"strideguard analyze, {args.minutes:g} min at {args.rate:g} Hz ({int(args.minutes * 60 * args.rate):,} "
        "samples), synthetic chest"
    )
    print(f"{'store':<7}{'command s':>11}{'analysis s':>12}{'x real time':>13}{'peak RSS MB':>13}")
    for store, wall, inner, peak in rows:
        print(
            f"{'sqlite' if store else 'none':<7}{wall:>11.2f}{inner:>12.2f}{args.minutes * 60 / inner:>13,.0f}"
            f"{peak:>13.0f}"
        )
    print(
        "(command s includes interpreter start and imports; analysis s is what `analyze` reports; "
        "peak RSS is the running maximum over the child processes so far)"
    )


if __name__ == "__main__":
    main()
