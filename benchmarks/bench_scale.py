"""The issue-8 scale targets beside measurements, in one table (not a test: prints; run on an idle machine).

    .venv/bin/python -m benchmarks.bench_scale            # the full table (about 4 minutes)
    .venv/bin/python -m benchmarks.bench_scale --quick    # smaller runs, for a smoke check (about 1 minute)
    .venv/bin/python -m benchmarks.bench_scale --profile-only   # just the MQTT worker profile

Reuses benchmarks/bench_analytics.py (in-process analytics: 1 h offline, N runners pushing 1-s batches)
and benchmarks/bench_mqtt.py (collector -> real Mosquitto -> worker processes -> MQTT outputs), and adds:
- offline through the whole embedded pipeline (`run_file`: capture replay, re-chunking, the analyzer and
  the sinks `strideguard analyze` uses), not only the analyzer;
- real-time runs of 100 and 200 runners against one worker for the p99 collector-to-metric latency;
- a cProfile of one worker process at saturation, summarised by where its time goes.
Every number is measured in this run; the verdict column compares it with the issue's target.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import os
import pathlib
import pstats
import sys
import tempfile
import time
from typing import TypedDict

from benchmarks import bench_analytics, bench_mqtt
from strideguard.sensors import capture
from strideguard.stream.runtime.app import RunOptions, run_file
from tests.fixtures_services import MosquittoService

REPO = pathlib.Path(__file__).resolve().parents[1]


class Targets(TypedDict):
    runners_one_core: int
    p99_batch_ms: float
    mib_per_runner: float
    mqtt_runners_per_worker: int
    mqtt_p99_ms: float
    offline_1h_s: float


TARGETS: Targets = {
    "runners_one_core": 1000,  # concurrent runners at 100 Hz, all metrics, one core
    "p99_batch_ms": 20.0,  # per 1-s batch push
    "mib_per_runner": 2.0,
    "mqtt_runners_per_worker": 200,  # at 100 Hz
    "mqtt_p99_ms": 250.0,  # collector publish -> metric/step message at a subscriber
    "offline_1h_s": 1.0,  # 1 h of 100 Hz chest data
}


def analytics_rows(quick: bool) -> list[tuple[str, str, str, bool]]:
    minutes = 10.0 if quick else 60.0
    batch = bench_analytics.recording(minutes, 100.0)
    one = bench_analytics.one_runner(batch, None)
    chunked = bench_analytics.one_runner(batch, 1.0)
    scale = 60.0 / minutes
    n = 200 if quick else TARGETS["runners_one_core"]
    many = bench_analytics.many_runners(n, 10 if quick else 20, 100.0)
    capacity = n / many["cpu_s_per_data_s"]
    mib = many["kib_per_runner"] / 1024
    return [
        (
            "in-process: runners at 100 Hz on one core",
            f">= {TARGETS['runners_one_core']}",
            f"{capacity:,.0f} ({many['cpu_s_per_data_s']:.2f} CPU s per data s for {n})",
            capacity >= TARGETS["runners_one_core"],
        ),
        (
            "in-process: p99 latency of a 1-s batch push",
            f"<= {TARGETS['p99_batch_ms']:g} ms",
            f"{many['p99_ms']:.2f} ms (p50 {many['p50_ms']:.2f}) with {n} runners",
            many["p99_ms"] <= TARGETS["p99_batch_ms"],
        ),
        (
            "in-process: memory per runner",
            f"<= {TARGETS['mib_per_runner']:g} MiB",
            f"{mib:.2f} MiB (traced)",
            mib <= TARGETS["mib_per_runner"],
        ),
        (
            "offline: 1 h of 100 Hz chest data, analyzer",
            f"<= {TARGETS['offline_1h_s']:g} s",
            f"{one['cpu_s'] * scale:.2f} CPU s as one batch, {chunked['cpu_s'] * scale:.2f} in 1-s batches"
            + ("" if scale == 1 else f" (x{scale:g} from {minutes:g} min)"),
            one["cpu_s"] * scale <= TARGETS["offline_1h_s"],
        ),
    ]


def offline_pipeline_row(quick: bool) -> tuple[str, str, str, bool]:
    """`strideguard analyze`'s path: a 1-h capture through run_file (replay, rechunk, analyzer, sinks)."""
    minutes = 10.0 if quick else 60.0
    batch = bench_analytics.recording(minutes, 100.0)
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "hour.sgcap"
        capture.write_batches(path, [batch], batch_s=60.0)
        opts = RunOptions(path=path, store=True, db_path=pathlib.Path(tmp) / "s.db", live_view=False, chunk_s=60.0)
        t, c = time.perf_counter(), time.process_time()
        asyncio.run(run_file(opts))
        wall, cpu = time.perf_counter() - t, time.process_time() - c
    scale = 60.0 / minutes
    return (
        "offline: 1 h through `analyze` (replay + store)",
        f"<= {TARGETS['offline_1h_s']:g} s",
        f"{cpu * scale:.2f} CPU s, {wall * scale:.2f} wall s",
        cpu * scale <= TARGETS["offline_1h_s"],
    )


def profiled_worker(profile_path: pathlib.Path) -> bench_mqtt.StartWorker:
    """A `start` for bench_mqtt.scenario: bench_mqtt.start_worker with the worker under cProfile."""
    return functools.partial(bench_mqtt.start_worker, profile_path=profile_path)


CATEGORIES = (  # (label, substrings of a profiled function's file) - first match wins
    ("startup: imports", ("importlib", "_docscrape", "inspect.py", "<frozen")),
    ("analytics (analyzer push)", ("/analytics/",)),
    ("IMU payload decode", ("stream/mqtt/payload.py", "sensors/types.py")),
    ("JSON encode of outputs", ("json/encoder", "json/__init__")),
    ("journal (durable state)", ("stream/mqtt/journal.py",)),
    ("MQTT client (paho/aiomqtt)", ("paho/", "aiomqtt/")),
    ("asyncio loop", ("asyncio/", "selectors.py", "socket.py", "ssl.py")),
    ("worker logic", ("stream/runtime/worker.py", "stream/mqtt/")),
    ("numpy/scipy Python code", ("numpy/", "scipy/")),
)
IDLE = "idle: waiting in epoll (not CPU)"
BUILTINS = (  # C functions (file "~"), by name; cProfile times them in wall time, so the wait is split off
    (IDLE, ("epoll",)),
    ("startup: imports", ("compile", "marshal", "exec", "_imp.", "posix.stat", "posix.listdir")),
    (
        "journal fsync and disk writes",
        ("fsync", "posix.write", "posix.open", "posix.replace", "TextIOWrapper", "BufferedWriter"),
    ),
    ("network syscalls (socket send/recv)", ("socket", "select")),
    ("numpy kernels", ("numpy", "ufunc", "ndarray", "scipy", "sosfilt")),
)


def _category(filename: str, func: str) -> str:
    if filename == "~":
        return next((lab for lab, keys in BUILTINS if any(k in func for k in keys)), "other C built-ins")
    return next((lab for lab, keys in CATEGORIES if any(k in filename for k in keys)), "other Python")


ProfileKey = tuple[str, int, str]  # (file, line, function)
ProfileRow = tuple[int, int, float, float, dict]  # (primitive calls, calls, own time, cumulative time, callers)


def summarise_profile(path: pathlib.Path) -> list[str]:
    stats = pstats.Stats(str(path))
    # Stats.total_tt and Stats.stats are set by Stats.__init__ but missing from typeshed's pstats stub; the
    # documented get_stats_profile() rounds times to 1 ms and keys functions by name alone (same-named
    # functions of different files overwrite each other), which would change the summary
    total: float = stats.total_tt  # type: ignore[attr-defined]  # set at run time, not in the stub
    raw: dict[ProfileKey, ProfileRow] = stats.stats  # type: ignore[attr-defined]  # set at run time, not in the stub
    by_category: dict[str, float] = collections.defaultdict(float)
    rows = []
    for (filename, line, func), (_, _, tottime, _, _) in raw.items():
        by_category[_category(filename, func)] += tottime
        rows.append((tottime, f"{pathlib.Path(filename).name}:{line}({func})" if filename != "~" else func))
    fsyncs = sum(v[1] for (f, _, func), v in raw.items() if f == "~" and "fsync" in func)
    busy = total - by_category.get(IDLE, 0.0)
    lines = [
        f"worker profile: {total:.1f} s profiled, {busy:.1f} s busy ({fsyncs} fsync calls); share of busy time "
        f"(own time):"
    ]
    for label, seconds in sorted(by_category.items(), key=lambda kv: -kv[1]):
        share = "" if label == IDLE else f"{seconds / busy:>6.1%}"
        lines.append(f"  {label:<46}{seconds:>7.2f} s {share}")
    lines.append("  top functions (own time):")
    for tottime, name in sorted(rows, reverse=True)[:15]:
        lines.append(f"    {tottime:>7.2f} s  {name}")
    return lines


async def mqtt_measurements(
    quick: bool, profiles: dict[str, pathlib.Path], profile_dir: pathlib.Path
) -> dict[str, dict]:
    """The measured runs first (no profiler), then the same shapes again with the worker under cProfile:
    saturation (as fast as possible) and the real-time load that misses the latency target."""
    out = {}
    rt_runners = (50,) if quick else (100, TARGETS["mqtt_runners_per_worker"])
    with tempfile.TemporaryDirectory() as tmp:
        broker = MosquittoService(workdir=pathlib.Path(tmp) / "mosquitto")
        broker.start()
        try:
            state = pathlib.Path(tmp)
            out["max"] = await bench_mqtt.scenario(
                broker, state, name="saturation", runners=8, workers=1, duration_s=60 if quick else 240, speed=None
            )
            for n in rt_runners:
                out[f"rt{n}"] = await bench_mqtt.scenario(
                    broker, state, name="real time", runners=n, workers=1, duration_s=20 if quick else 40, speed=1.0
                )
            for label, runners, duration_s, speed in (
                ("saturation", 8, 60 if quick else 240, None),
                (f"{rt_runners[-1]} runners real time", rt_runners[-1], 20 if quick else 30, 1.0),
            ):
                profiles[label] = profile_dir / f"worker-{len(profiles)}.prof"
                out[f"profiled {label}"] = await bench_mqtt.scenario(
                    broker,
                    state,
                    name=f"profiled {label}",
                    runners=runners,
                    workers=1,
                    duration_s=duration_s,
                    speed=speed,
                    start=profiled_worker(profiles[label]),
                )
        finally:
            broker.stop()
    return out


def mqtt_rows(results: dict[str, dict]) -> list[tuple[str, str, str, bool]]:
    sat = results["max"]
    rows = [
        (
            "MQTT: 100 Hz runners one worker sustains",
            f">= {TARGETS['mqtt_runners_per_worker']}",
            f"{sat['runners_per_worker_100hz']:.0f} (as fast as possible: {sat['samples_per_s']:,.0f} samples/s, "
            f"{sat['msgs_per_s']:,.0f} msgs/s)",
            sat["runners_per_worker_100hz"] >= TARGETS["mqtt_runners_per_worker"],
        )
    ]
    for key in sorted((k for k in results if k.startswith("rt")), key=lambda k: int(k[2:])):
        r = results[key]
        # a real-time run only keeps up if it finished within a few seconds of its data
        keeps_up = r["total_s"] <= r["data_s"] + 10
        pace = "kept up" if keeps_up else f"fell behind: {r['total_s']:.0f} s for {r['data_s']:g} s"
        rows.append(
            (
                f"MQTT: p99 publish-to-output, {r['runners']} runners real time",
                f"<= {TARGETS['mqtt_p99_ms']:g} ms",
                f"{r['p99_ms']:.0f} ms (p50 {r['p50_ms']:.0f}; {r['outputs']} outputs; {pace})",
                r["p99_ms"] <= TARGETS["mqtt_p99_ms"] and keeps_up,
            )
        )
    return rows


def print_table(rows: list[tuple[str, str, str, bool]]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'target':<11}  {'ok':<4}  measured")
    print("-" * (width + 80))
    for measure, target, measured, ok in rows:
        print(f"{measure:<{width}}  {target:<11}  {'yes' if ok else 'NO':<4}  {measured}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller runs (scaled where marked)")
    parser.add_argument("--profile-only", action="store_true", help="only the profiled MQTT worker")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.2f} at start, Python {sys.version.split()[0]}")
    profiles: dict[str, pathlib.Path] = {}
    rows: list[tuple[str, str, str, bool]] = []
    if not args.profile_only:
        rows += analytics_rows(args.quick)
        rows.append(offline_pipeline_row(args.quick))
    with tempfile.TemporaryDirectory() as profile_dir:
        mqtt = asyncio.run(mqtt_measurements(args.quick, profiles, pathlib.Path(profile_dir)))
        if not args.profile_only:
            rows += mqtt_rows(mqtt)
            print()
            print_table(rows)
        for label, path in profiles.items():
            r = mqtt[f"profiled {label}"]
            print(
                f"\n[{label}: {r['messages']} IMU messages, {r['outputs']} outputs, p99 {r['p99_ms']:.0f} ms "
                f"under the profiler]"
            )
            print(
                "\n".join(summarise_profile(path))
                if path.exists()
                else "profile missing: the worker did not stop cleanly"
            )
    print(
        "\nCPU s are this process's (analytics) or per data second; latencies are wall time and suffer on a "
        "shared machine (see the load average above)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
