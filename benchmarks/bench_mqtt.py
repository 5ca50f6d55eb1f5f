"""MQTT pipeline benchmark: collector (this process) -> real Mosquitto -> N worker processes -> MQTT outputs.

Prints a table: messages/s and samples/s through the whole path when replaying as fast as possible,
how many 100 Hz runners one worker keeps up with, and the latency from the collector's publish of an
IMU message to the arrival (at a subscriber) of a step or metric message it produced (`input_seq`),
p50 / p99, with the runners paced in real time.

    .venv/bin/python benchmarks/bench_mqtt.py                 # the default table (about 2 minutes)
    .venv/bin/python benchmarks/bench_mqtt.py --quick         # smaller, for a smoke run

A step comes out once the analyzer has seen the samples after it, a window once the stream has passed its
end by the declared latency (1.5 s): the latency measured here is the pipeline's (transport, queueing,
analysis) on top of the message that completed the output, not that analytic look-ahead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sensors.types import SampleBatch  # noqa: E402
from stream.collector import Collector  # noqa: E402
from stream.commands.collect import synthetic_team  # noqa: E402
from stream.mqtt.connection import MqttConnection, MqttSettings  # noqa: E402
from stream.mqtt.payload import loads  # noqa: E402
from tests.fixtures_services import MosquittoService  # noqa: E402

RATE_HZ = 100.0


class Outputs:
    """Subscriber that timestamps every output message on arrival."""

    def __init__(self, settings: MqttSettings, team: str) -> None:
        self.settings, self.team = settings, team
        self.arrivals: list[tuple[str, str, int, float]] = []  # (kind, session, input_seq, wall s)
        self.finished: set[str] = set()
        self.ready = asyncio.Event()

    async def run(self) -> None:
        conn = MqttConnection(settings=self.settings, client_id=f"bench-observer-{self.team}",
                              subscriptions=[f"strideguard/v1/{self.team}/+/{k}" for k in ("steps", "metrics", "status")])
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


def start_worker(broker: MosquittoService, team: str, index: int, count: int, state: pathlib.Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "stream.cli", "worker", "--broker", f"mqtt://{broker.host}:{broker.port}", "--team", team,
         "--index", str(index), "--count", str(count), "--state-dir", str(state / f"w{index}")],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def staggered(runs: dict[str, list[SampleBatch]], chunk_s: float = 0.5) -> dict[str, list[SampleBatch]]:
    """Real runners do not send their batches at the same instant: spread the starts over one batch
    interval (the synthetic team shares one start time, which would make every batch a burst)."""
    out = {}
    for i, (runner, batches) in enumerate(runs.items()):
        offset_ns = int(i * chunk_s / len(runs) * 1e9)
        out[runner] = [SampleBatch(runner=b.runner, device=b.device, placement=b.placement, kind=b.kind,
                                   rate_hz=b.rate_hz, t_ns=b.t_ns + offset_ns, values=b.values) for b in batches]
    return out


async def scenario(broker: MosquittoService, state: pathlib.Path, *, name: str, runners: int, workers: int,
                   duration_s: float, speed: float | None) -> dict[str, object]:
    team = f"bench{abs(hash((name, runners, workers))) % 10**6}"
    settings = MqttSettings(host=broker.host, port=broker.port)
    observer = Outputs(settings, team)
    observer_task = asyncio.create_task(observer.run())
    await observer.ready.wait()
    procs = [start_worker(broker, team, i, workers, state / team) for i in range(workers)]
    status = MqttConnection(settings=settings, client_id=f"bench-status-{team}",
                            subscriptions=["strideguard/v1/_services/+/status"])
    async with status:  # wait until every worker has subscribed
        online: set[str] = set()
        async for m in status.messages():
            if loads(m.payload).get("state") == "online" and team in m.topic:
                online.add(m.topic)
            if len(online) == workers:
                break
    runs = synthetic_team(runners, duration_s, rate_hz=RATE_HZ)
    if speed is not None:
        runs = staggered(runs)
    t0 = time.perf_counter()
    async with Collector(settings=settings, team=team, collector_id=team, record_publish_times=True) as collector:
        stats = await collector.replay(runs, speed=speed)
    publish_s = time.perf_counter() - t0
    sessions = {s.session_id for s in stats.values()}
    while not sessions <= observer.finished:
        await asyncio.sleep(0.02)
    total_s = time.perf_counter() - t0
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(timeout=30)
    observer_task.cancel()
    by_session = {s.session_id: s.publish_wall_s for s in stats.values()}
    latencies_ms = sorted((arrival - by_session[sid][seq]) * 1000 for _, sid, seq, arrival in observer.arrivals
                          if sid in by_session and seq in by_session[sid])
    messages = sum(s.messages for s in stats.values())
    samples = sum(s.samples for s in stats.values())
    return {
        "scenario": name, "runners": runners, "workers": workers, "data_s": duration_s,
        "speed": "max" if speed is None else f"{speed:g}x", "messages": messages,
        "msgs_per_s": messages / total_s, "samples_per_s": samples / total_s, "publish_s": publish_s,
        "total_s": total_s,
        "runners_per_worker_100hz": samples / total_s / RATE_HZ / workers,
        "p50_ms": statistics.median(latencies_ms) if latencies_ms else float("nan"),
        "p99_ms": latencies_ms[min(len(latencies_ms) - 1, int(0.99 * len(latencies_ms)))] if latencies_ms else float("nan"),
        "outputs": len(latencies_ms),
    }


async def main(quick: bool) -> None:
    plan = [
        dict(name="throughput", runners=8, workers=1, duration_s=60 if quick else 300, speed=None),
        dict(name="throughput", runners=8, workers=2, duration_s=60 if quick else 300, speed=None),
        dict(name="latency, real time", runners=20 if quick else 50, workers=1, duration_s=20 if quick else 40, speed=1.0),
        dict(name="latency, real time", runners=20 if quick else 50, workers=2, duration_s=20 if quick else 40, speed=1.0),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        broker = MosquittoService(workdir=pathlib.Path(tmp) / "mosquitto")
        broker.start()
        try:
            rows = [await scenario(broker, pathlib.Path(tmp), **p) for p in plan]
        finally:
            broker.stop()
    header = (f"{'scenario':<20} {'runners':>7} {'workers':>7} {'speed':>6} {'messages':>8} {'msgs/s':>8} "
              f"{'samples/s':>10} {'runners/worker@100Hz':>20} {'p50 ms':>7} {'p99 ms':>7} {'outputs':>7}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['scenario']:<20} {r['runners']:>7} {r['workers']:>7} {r['speed']:>6} {r['messages']:>8} "
              f"{r['msgs_per_s']:>8.0f} {r['samples_per_s']:>10.0f} {r['runners_per_worker_100hz']:>20.0f} "
              f"{r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['outputs']:>7}")
    print("\nreal-time rows: runner starts staggered over one 0.5-s batch interval.")
    print("msgs/s and samples/s: end to end (first publish to last session finished). runners/worker@100Hz: "
          "samples/s per worker / 100 (for 'max' rows: how many 100 Hz runners one worker could keep up with; "
          "for real-time rows it is just the load offered). Latency: IMU publish -> step/metric message arrival.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller runs (about 40 s)")
    asyncio.run(main(parser.parse_args().quick))
