"""MQTT pipeline benchmark: collector (this process) -> real Mosquitto -> N worker processes -> MQTT outputs.

Prints a table: messages/s and samples/s through the whole path when replaying as fast as possible,
how many 100 Hz runners one worker keeps up with, and the latency from the collector's publish of an
IMU message to the arrival (at a subscriber) of a step or metric message it produced (`input_seq`),
p50 / p99, with the runners paced in real time.

    .venv/bin/python -m benchmarks.bench_mqtt                 # the default table (about 2 minutes)
    .venv/bin/python -m benchmarks.bench_mqtt --quick         # smaller, for a smoke run
    .venv/bin/python -m benchmarks.bench_mqtt --realtime 100,200,300 --seconds 40 --no-throughput
        # the issue's latency target: N runners in real time against ONE worker
    .venv/bin/python -m benchmarks.bench_mqtt --realtime 200 --profile /tmp/w.prof --no-throughput
        # the same with the worker under cProfile, summarised by where its time goes

A step comes out once the analyzer has seen the samples after it, a window once the stream has passed its
end by the declared latency (1.5 s): the latency measured here is the pipeline's (transport, queueing,
analysis) on top of the message that completed the output, not that analytic look-ahead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import NotRequired, TypedDict

from strideguard.sensors.types import SampleBatch
from strideguard.stream.cli.commands.collect import synthetic_team
from strideguard.stream.mqtt.connection import MqttConnection, MqttSettings
from strideguard.stream.mqtt.payload import loads
from strideguard.stream.runtime.collector import Collector
from tests.fixtures_services import MosquittoService

REPO = pathlib.Path(__file__).resolve().parents[1]
RATE_HZ = 100.0


class Scenario(TypedDict):
    """The keyword arguments of one `scenario` row."""

    name: str
    runners: int
    workers: int
    duration_s: float
    speed: float | None
    chunk_s: NotRequired[float]


class Outputs:
    """Subscriber that timestamps every output message on arrival."""

    def __init__(self, settings: MqttSettings, team: str) -> None:
        self.settings, self.team = settings, team
        self.arrivals: list[tuple[str, str, int, float]] = []  # (kind, session, input_seq, wall s)
        self.finished: set[str] = set()
        self.ready = asyncio.Event()

    async def run(self) -> None:
        conn = MqttConnection(
            settings=self.settings,
            client_id=f"bench-observer-{self.team}",
            subscriptions=[f"strideguard/v1/{self.team}/+/{k}" for k in ("steps", "metrics", "status")],
        )
        async with conn:
            self.ready.set()
            async for m in conn.messages():
                now = time.time()
                kind = m.topic.rsplit("/", 1)[1]
                msg = loads(m.payload)
                if kind == "status":
                    if msg.get("state") == "finished":
                        self.finished.add(msg["session_id"])
                elif "input_seq" in msg:
                    self.arrivals.append((kind, msg["session_id"], msg["input_seq"], now))


PROFILE: pathlib.Path | None = None  # --profile: run worker 0 under cProfile, written at its clean stop
WORKER_ARGS: list[str] = []  # --worker-args: passed to `strideguard worker`
SYNC_STARTS = False  # --sync-starts: every runner's batches at the same instant (the worst case: bursts)


def start_worker(
    broker: MosquittoService,
    team: str,
    index: int,
    count: int,
    state: pathlib.Path,
    *,
    profile_path: pathlib.Path | None = None,
) -> subprocess.Popen:
    """Worker `index` of `count` as a process; under cProfile when `profile_path` is given (any worker)
    or, with --profile, worker 0 (written at its clean SIGTERM stop)."""
    if profile_path is None and index == 0:
        profile_path = PROFILE
    profile = ["-m", "cProfile", "-o", str(profile_path)] if profile_path is not None else []
    return subprocess.Popen(
        [
            sys.executable,
            *profile,
            "-m",
            "strideguard.stream.cli",
            "worker",
            "--broker",
            f"mqtt://{broker.host}:{broker.port}",
            "--team",
            team,
            "--index",
            str(index),
            "--count",
            str(count),
            "--state-dir",
            str(state / f"w{index}"),
            *WORKER_ARGS,
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


# how a scenario starts worker `index` of `count` (bench_scale passes one that profiles the worker)
StartWorker = Callable[[MosquittoService, str, int, int, pathlib.Path], subprocess.Popen]


def staggered(runs: dict[str, list[SampleBatch]], chunk_s: float = 0.5) -> dict[str, list[SampleBatch]]:
    """Real runners do not send their batches at the same instant: spread the starts over one batch
    interval (the synthetic team shares one start time, which would make every batch a burst)."""
    out = {}
    for i, (runner, batches) in enumerate(runs.items()):
        offset_ns = int(i * chunk_s / len(runs) * 1e9)
        out[runner] = [
            SampleBatch(
                runner=b.runner,
                device=b.device,
                placement=b.placement,
                kind=b.kind,
                rate_hz=b.rate_hz,
                t_ns=b.t_ns + offset_ns,
                values=b.values,
            )
            for b in batches
        ]
    return out


async def scenario(
    broker: MosquittoService,
    state: pathlib.Path,
    *,
    name: str,
    runners: int,
    workers: int,
    duration_s: float,
    speed: float | None,
    chunk_s: float = 0.5,
    start: StartWorker = start_worker,
) -> dict[str, object]:
    team = f"bench{abs(hash((name, runners, workers))) % 10**6}"
    settings = MqttSettings(host=broker.host, port=broker.port)
    observer = Outputs(settings, team)
    observer_task = asyncio.create_task(observer.run())
    await observer.ready.wait()
    procs = [start(broker, team, i, workers, state / team) for i in range(workers)]
    status = MqttConnection(
        settings=settings, client_id=f"bench-status-{team}", subscriptions=["strideguard/v1/_services/+/status"]
    )
    async with status:  # wait until every worker has subscribed
        online: set[str] = set()
        async for m in status.messages():
            if loads(m.payload).get("state") == "online" and team in m.topic:
                online.add(m.topic)
            if len(online) == workers:
                break
    runs = synthetic_team(runners, duration_s, rate_hz=RATE_HZ)
    if speed is not None and not SYNC_STARTS:
        runs = staggered(runs, chunk_s)
    load_before = os.getloadavg()[0]
    cpu_before = _children_cpu_s()
    self_before = time.process_time()
    t0 = time.perf_counter()
    async with Collector(settings=settings, team=team, collector_id=team, record_publish_times=True) as collector:
        stats = await collector.replay(runs, speed=speed, chunk_s=chunk_s, common_clock=not SYNC_STARTS)
    publish_s = time.perf_counter() - t0
    sessions = {s.session_id for s in stats.values()}
    while not sessions <= observer.finished:  # noqa: ASYNC110 - the 20-ms poll is part of the measured total_s
        await asyncio.sleep(0.02)
    total_s = time.perf_counter() - t0
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(timeout=60)
    worker_cpu_s = _children_cpu_s() - cpu_before
    bench_cpu_s = time.process_time() - self_before
    observer_task.cancel()
    by_session = {s.session_id: s.publish_wall_s for s in stats.values()}
    latencies_ms = sorted(
        (arrival - by_session[sid][seq]) * 1000
        for _, sid, seq, arrival in observer.arrivals
        if sid in by_session and seq in by_session[sid]
    )
    messages = sum(s.messages for s in stats.values())
    samples = sum(s.samples for s in stats.values())
    return {
        "scenario": name,
        "runners": runners,
        "workers": workers,
        "data_s": duration_s,
        "speed": "max" if speed is None else f"{speed:g}x",
        "messages": messages,
        "msgs_per_s": messages / total_s,
        "samples_per_s": samples / total_s,
        "publish_s": publish_s,
        "total_s": total_s,
        "runners_per_worker_100hz": samples / total_s / RATE_HZ / workers,
        "p50_ms": statistics.median(latencies_ms) if latencies_ms else float("nan"),
        "p99_ms": latencies_ms[min(len(latencies_ms) - 1, int(0.99 * len(latencies_ms)))]
        if latencies_ms
        else float("nan"),
        "outputs": len(latencies_ms),
        "lat": [
            (seq, kind, arrival - by_session[sid][seq])
            for kind, sid, seq, arrival in observer.arrivals
            if sid in by_session and seq in by_session[sid]
        ],
        "chunk_s": chunk_s,
        "load": max(load_before, os.getloadavg()[0]),
        "worker_busy": worker_cpu_s / total_s / workers,  # share of one CPU per worker (incl. its start)
        "bench_busy": bench_cpu_s / total_s,  # this process: collector + subscriber
    }


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def main(args: argparse.Namespace) -> None:
    quick = args.quick
    plan: list[Scenario] = []
    if not args.no_throughput:
        plan += [
            {"name": "throughput", "runners": 8, "workers": 1, "duration_s": 60 if quick else 300, "speed": None},
            {"name": "throughput", "runners": 8, "workers": 2, "duration_s": 60 if quick else 300, "speed": None},
        ]
    if args.realtime:
        plan += [
            {
                "name": "latency, real time",
                "runners": n,
                "workers": 1,
                "duration_s": args.seconds,
                "speed": 1.0,
                "chunk_s": args.chunk_s,
            }
            for n in args.realtime
        ]
    else:
        plan += [
            {
                "name": "latency, real time",
                "runners": 20 if quick else 50,
                "workers": 1,
                "duration_s": 20 if quick else 40,
                "speed": 1.0,
            },
            {
                "name": "latency, real time",
                "runners": 20 if quick else 50,
                "workers": 2,
                "duration_s": 20 if quick else 40,
                "speed": 1.0,
            },
        ]
    with tempfile.TemporaryDirectory() as tmp:
        broker = MosquittoService(workdir=pathlib.Path(tmp) / "mosquitto")
        broker.start()
        try:
            rows = [await scenario(broker, pathlib.Path(tmp), **p) for p in plan]
        finally:
            broker.stop()
    print(
        f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; load = 1-min load average (max of "
        "before/after the row)"
    )
    header = (
        f"{'scenario':<20} {'runners':>7} {'workers':>7} {'speed':>6} {'batch s':>7} {'messages':>8} "
        f"{'msgs/s':>8} {'samples/s':>10} {'runners/worker@100Hz':>20} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'outputs':>7} {'worker CPU':>10} {'bench CPU':>9} {'load':>5}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['scenario']:<20} {r['runners']:>7} {r['workers']:>7} {r['speed']:>6} {r['chunk_s']:>7g} "
            f"{r['messages']:>8} {r['msgs_per_s']:>8.0f} {r['samples_per_s']:>10.0f} "
            f"{r['runners_per_worker_100hz']:>20.0f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['outputs']:>7} "
            f"{r['worker_busy']:>10.0%} {r['bench_busy']:>9.0%} {r['load']:>5.2f}"
        )
    print(
        "\nreal-time rows: "
        + (
            "every runner's batches at the same instant (--sync-starts: bursts of one "
            "message per runner each batch period)."
            if SYNC_STARTS
            else "runner starts staggered over one batch "
            "interval, paced on one clock (Collector.replay(common_clock=True))."
        )
    )
    print(
        "msgs/s and samples/s: end to end (first publish to last session finished). runners/worker@100Hz: "
        "samples/s per worker / 100 (for 'max' rows: how many 100 Hz runners one worker could keep up with; "
        "for real-time rows it is just the load offered). Latency: IMU publish -> step/metric message arrival. "
        "worker CPU: the worker processes' CPU time over the row's wall time, per worker (100% = one core); "
        "bench CPU: this process's (collector + timing subscriber), which also delays the timestamps it takes."
    )
    if PROFILE is not None and PROFILE.exists():
        from benchmarks.bench_scale import summarise_profile  # here: bench_scale imports this module

        print()
        print("\n".join(summarise_profile(PROFILE)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller runs (about 40 s)")
    parser.add_argument(
        "--realtime",
        type=lambda v: [int(x) for x in v.split(",")],
        metavar="N,N",
        help="real-time rows for these runner counts against one worker (instead of the defaults)",
    )
    parser.add_argument("--seconds", type=float, default=40.0, help="data seconds per real-time row (default 40)")
    parser.add_argument("--chunk-s", type=float, default=0.5, help="collector batch period in s (default 0.5)")
    parser.add_argument("--no-throughput", action="store_true", help="skip the as-fast-as-possible rows")
    parser.add_argument(
        "--profile",
        type=pathlib.Path,
        metavar="FILE",
        help="run worker 0 under cProfile into FILE (use with one row) and print a summary",
    )
    parser.add_argument(
        "--sync-starts",
        action="store_true",
        help="all runners send their batches at the same instant (bursts; the worst case)",
    )
    parser.add_argument(
        "--worker-args",
        default="",
        metavar="ARGS",
        help="extra `strideguard worker` arguments, e.g. --worker-args='--linger-ms 0'",
    )
    arguments = parser.parse_args()
    PROFILE = arguments.profile
    WORKER_ARGS = arguments.worker_args.split()
    SYNC_STARTS = arguments.sync_starts
    asyncio.run(main(arguments))
