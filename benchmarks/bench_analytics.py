"""Throughput, latency and memory of the streaming analytics (not a test: prints a table).

    .venv/bin/python -m benchmarks.bench_analytics [--minutes 60] [--rate 100] [--runners 1000]

1. One runner, a 1-hour synthetic chest recording at 100 Hz analysed as fast as possible, pushed as one
   batch and as 1-s batches: seconds, samples/s, x real time, peak traced memory (tracemalloc).
   Throughput is per CPU second of this process (wall time is shown too; it suffers on a shared machine).
2. N concurrent runners each pushing 1-s batches round-robin for `--seconds` of data: per-batch latency
   p50/p99 and whether N runners fit in real time on one core; memory per runner (tracemalloc).
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc

import numpy as np

from strideguard.analytics.runner import RunnerAnalyzer
from strideguard.sensors.synthetic import SyntheticConfig, SyntheticRunner
from strideguard.sensors.types import Placement, SampleBatch


def recording(minutes: float, rate_hz: float, runner: str = "bench") -> SampleBatch:
    return (
        SyntheticRunner(SyntheticConfig(standing_s=5.0))
        .generate(minutes * 60.0, rate_hz, seed=1, runner=runner, placement=Placement.CHEST)
        .acc
    )


def run_once(batch: SampleBatch, pieces: list[SampleBatch]) -> tuple[float, float, int]:
    """(wall s, CPU s of this process, steps): CPU time is the fairer figure on a shared machine."""
    analyzer = RunnerAnalyzer(runner=batch.runner)
    t, c = time.perf_counter(), time.process_time()
    n_steps = sum(len(analyzer.push(piece).steps) for piece in pieces) + len(analyzer.finish().steps)
    return time.perf_counter() - t, time.process_time() - c, n_steps


def one_runner(batch: SampleBatch, batch_s: float | None) -> dict:
    step = len(batch) if batch_s is None else max(1, round(batch_s * batch.rate_hz))
    pieces = [batch.slice(i, i + step) for i in range(0, len(batch), step)]
    seconds, cpu, n_steps = min(run_once(batch, pieces) for _ in range(2))  # without tracemalloc (slows allocation)
    tracemalloc.start()
    run_once(batch, pieces)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    duration = len(batch) / batch.rate_hz
    return {
        "seconds": seconds,
        "cpu_s": cpu,
        "samples_per_s": len(batch) / cpu,
        "x_real_time": duration / cpu,
        "peak_mib": peak / 2**20,
        "steps": n_steps,
    }


def many_runners(n_runners: int, seconds_of_data: int, rate_hz: float) -> dict:
    base = recording(seconds_of_data / 60.0, rate_hz)
    per_s = round(rate_hz)
    batches = [base.slice(i, i + per_s) for i in range(0, len(base), per_s)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    held_analyzers = [RunnerAnalyzer(runner=base.runner) for _ in range(n_runners)]
    for batch in batches:
        for analyzer in held_analyzers:
            analyzer.push(batch)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del held_analyzers
    analyzers = [RunnerAnalyzer(runner=base.runner) for _ in range(n_runners)]
    latencies = []
    t0 = time.process_time()
    for batch in batches:
        for analyzer in analyzers:
            t = time.perf_counter()
            analyzer.push(batch)
            latencies.append(time.perf_counter() - t)
    total = time.process_time() - t0
    lat = np.array(latencies) * 1000
    return {
        "runners": n_runners,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "cpu_s_per_data_s": total / len(batches),
        "kib_per_runner": held / n_runners / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--runners", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=20, help="seconds of data per runner in the N-runner test")
    args = parser.parse_args()

    batch = recording(args.minutes, args.rate)
    print(f"1 runner, {args.minutes:g} min at {args.rate:g} Hz ({len(batch)} samples)")
    print(
        f"{'batches':<14}{'wall s':>9}{'CPU s':>9}{'samples/CPU s':>15}{'x real time':>13}{'peak MiB':>10}{'steps':>8}"
    )
    for label, size in (("one batch", None), ("1-s batches", 1.0)):
        r = one_runner(batch, size)
        print(
            f"{label:<14}{r['seconds']:>9.3f}{r['cpu_s']:>9.3f}{r['samples_per_s']:>15,.0f}{r['x_real_time']:>13,.0f}"
            f"{r['peak_mib']:>10.1f}{r['steps']:>8}"
        )
    print()
    print(f"N runners pushing 1-s batches at {args.rate:g} Hz, {args.seconds} s of data each")
    print(f"{'runners':>8}{'p50 ms':>10}{'p99 ms':>10}{'CPU s per data s':>18}{'KiB/runner':>12}")
    for n in sorted({10, args.runners}):
        r = many_runners(n, args.seconds, args.rate)
        print(
            f"{r['runners']:>8}{r['p50_ms']:>10.3f}{r['p99_ms']:>10.3f}{r['cpu_s_per_data_s']:>18.3f}"
            f"{r['kib_per_runner']:>12.0f}"
        )
    print(
        "(CPU s per data s < 1 means that many runners keep up in real time on one core; latencies are wall\n"
        " time per push and include waits for the CPU when the machine is shared: see `uptime`)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
