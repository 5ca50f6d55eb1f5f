"""Export speed for a 1-hour 100 Hz chest session (acc + gyro: 720,000 samples), and the report.

    .venv/bin/python -m benchmarks.bench_export [--minutes 60] [--repeat 3]

A synthetic run is recorded as a capture and analysed into a fresh store (not timed), then each export
variant is timed end to end (reading the recording back, writing, checksumming), best of --repeat.
Prints one table: seconds, output size and samples per second per variant.
"""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import shutil
import tempfile
import time

from strideguard.sensors.capture import write_batches
from strideguard.sensors.synthetic import SyntheticConfig, SyntheticRunner
from strideguard.stream.export import ExportOptions, export_sessions, select_sessions
from strideguard.stream.export.reimport import read_samples
from strideguard.stream.runtime.app import RunOptions, run_file
from strideguard.stream.sqlite.store import SessionStore

VARIANTS = (
    ("bids", ("bids",), False),
    ("parquet", ("parquet",), False),
    ("csv", ("csv",), False),
    ("all formats", ("bids", "parquet", "csv"), False),
    ("all, pseudonymised + shifted", ("bids", "parquet", "csv"), True),
)


def prepare(root: pathlib.Path, minutes: float) -> tuple[pathlib.Path, str]:
    run = SyntheticRunner(SyntheticConfig(cadence_spm=170.0)).generate(
        minutes * 60, 100, seed=7, runner="benchmark", device="bench-strap"
    )
    capture = root / "hour.sgcap"
    write_batches(capture, [run.acc, run.gyro])
    result = asyncio.run(run_file(RunOptions(path=capture, db_path=root / "store.db", live_view=False)))
    [summary] = result.summaries.values()
    return root / "store.db", summary.session_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = pathlib.Path(tempfile.mkdtemp(prefix="bench-export-"))
    try:
        db, session_id = prepare(root, args.minutes)
        store = SessionStore(db)
        rows = select_sessions(store, session=session_id)
        n_samples = 0
        table: list[tuple[str, float, float, float]] = []  # variant, best s, MB, samples/s
        for label, formats, pseudo in VARIANTS:
            best, size = float("inf"), 0
            for i in range(args.repeat):
                out = root / f"out-{len(table)}-{i}"
                key = root / f"key-{len(table)}-{i}.json"
                started = time.perf_counter()
                result = export_sessions(
                    store,
                    rows,
                    ExportOptions(
                        out_dir=out,
                        formats=formats,
                        pseudonymise=pseudo,
                        key_path=key if pseudo else None,
                        random_date_shift=pseudo,
                    ),
                )
                best = min(best, time.perf_counter() - started)
                size = sum(f.stat().st_size for f in result.files)
                n_samples = result.n_samples
                if i < args.repeat - 1:
                    shutil.rmtree(out)
            table.append((label, best, size / 1e6, n_samples / best))
        parquet_out = root / f"out-1-{args.repeat - 1}"  # the kept parquet-only export
        started = time.perf_counter()
        batches = read_samples(parquet_out, subject="sub-benchmark", session=result_session_label(parquet_out))
        reimport_s = time.perf_counter() - started
        from strideguard.stream.report import write_report

        started = time.perf_counter()
        write_report(store, session_id, root / "report")
        report_s = time.perf_counter() - started
        store.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"export of one {args.minutes:g}-min session at 100 Hz, acc + gyro = {n_samples:,} samples "
        f"(best of {args.repeat})"
    )
    print(f"{'variant':<32}{'seconds':>9}{'MB':>9}{'samples/s':>14}")
    for label, seconds, mb, rate in table:
        print(f"{label:<32}{seconds:>9.2f}{mb:>9.1f}{rate:>14,.0f}")
    n_back = sum(len(b) for b in batches)
    print(f"{'parquet re-import (read_samples)':<32}{reimport_s:>9.2f}{'':>9}{n_back / reimport_s:>14,.0f}")
    print(f"{'report (5 PNGs + HTML)':<32}{report_s:>9.2f}")


def result_session_label(export_dir: pathlib.Path) -> str:
    import pyarrow.parquet as pq

    return pq.read_table(export_dir / "parquet" / "sessions.parquet", columns=["session"])["session"][0].as_py()


if __name__ == "__main__":
    main()
