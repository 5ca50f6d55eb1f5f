"""Collector -> real Mosquitto -> worker (in this process) -> MQTT outputs and InfluxDB, compared with
the same RunnerAnalyzer run directly on the same batches."""

from __future__ import annotations

import asyncio
import pathlib

import numpy as np
import pytest

from strideguard.analytics.results import AnalyzerOutput
from strideguard.sensors.synthetic import SyntheticConfig, SyntheticRunner
from strideguard.sensors.types import SampleBatch
from strideguard.stream.influx import InfluxSink, V1Writer
from strideguard.stream.mqtt.connection import MqttConnection, MqttSettings
from strideguard.stream.mqtt.journal import segments
from strideguard.stream.mqtt.payload import encode_imu, loads, steps_from_message, window_from_message
from strideguard.stream.mqtt.topics import imu_topic
from strideguard.stream.runtime.app import analyzer_factory
from strideguard.stream.runtime.collector import Collector, split_batches
from strideguard.stream.runtime.worker import Worker, WorkerOptions
from tests.fixtures_services import InfluxDBService, MosquittoService

pytestmark = pytest.mark.services


def run_batches(runner: str, seed: int, duration_s: float = 40.0) -> list[SampleBatch]:
    run = SyntheticRunner(SyntheticConfig(cadence_spm=160 + seed)).generate(duration_s, 100, seed=seed, runner=runner)
    return list(split_batches([run.acc], 0.5))


def embedded(runner: str, batches: list[SampleBatch]) -> AnalyzerOutput:
    analyzer = analyzer_factory("")(runner)
    out = AnalyzerOutput()
    for b in batches:
        out = out + analyzer.push(b)
    return out + analyzer.finish()


async def collect_outputs(
    settings: MqttSettings, team: str, ready: asyncio.Event, done: asyncio.Event, into: dict[str, list[dict]]
) -> None:
    conn = MqttConnection(
        settings=settings,
        client_id=f"observer-{team}",
        subscriptions=[
            f"strideguard/v1/{team}/+/steps",
            f"strideguard/v1/{team}/+/metrics",
            f"strideguard/v1/{team}/+/status",
        ],
    )
    async with conn:
        ready.set()
        async for m in conn.messages():
            into.setdefault(m.topic.rsplit("/", 1)[1], []).append(loads(m.payload))
            if sum(1 for s in into.get("status", []) if s.get("state") == "finished") == 2:
                done.set()


async def test_two_runners_through_mqtt_match_the_embedded_analysis(
    mosquitto: MosquittoService, influxdb: InfluxDBService, tmp_path: pathlib.Path
) -> None:
    team = "inproc"
    settings = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    runs = {"ana": run_batches("ana", 1), "ben": run_batches("ben", 2)}
    db = influxdb.create_database("worker_inproc")
    seen: dict[str, list[dict]] = {}
    ready, done, stop = asyncio.Event(), asyncio.Event(), asyncio.Event()
    observer = asyncio.create_task(collect_outputs(settings, team, ready, done, seen))
    await ready.wait()
    worker = Worker(
        settings=settings,
        options=WorkerOptions(state_dir=tmp_path / "w", team=team),
        analyzer_factory=analyzer_factory(""),
        sinks=[InfluxSink(writer=V1Writer(url=influxdb.url, database=db), spool_dir=tmp_path / "spool")],
    )
    worker_task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(worker.ready.wait(), 10)  # subscribed: the broker now keeps its messages
    async with Collector(settings=settings, team=team) as collector:
        stats = await collector.replay(runs)
    await asyncio.wait_for(done.wait(), 30)
    stop.set()
    await worker_task
    observer.cancel()

    assert worker.stats.sessions_finished == 2 and worker.stats.gaps == 0
    for runner, batches in runs.items():
        expected = embedded(runner, batches)
        sid = stats[runner].session_id
        steps = [s for m in seen["steps"] if m["session_id"] == sid for s in steps_from_message(m)]
        windows = [window_from_message(m) for m in seen["metrics"] if m["session_id"] == sid]
        assert steps == list(expected.steps) and len(steps) > 60
        assert windows == list(expected.windows)
        rows = influxdb.series_rows(f"SELECT impact_g, index FROM steps WHERE session = '{sid}'", database=db)
        assert [r["index"] for r in rows] == [s.index for s in expected.steps]
        assert np.allclose([r["impact_g"] for r in rows], [s.impact_g for s in expected.steps])
    assert segments(worker.journal_dir) == []  # every session finished: nothing left to rebuild


async def test_duplicates_and_bad_payloads_are_dropped_and_gaps_counted(
    mosquitto: MosquittoService, tmp_path: pathlib.Path
) -> None:
    team = "dups"
    settings = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    batches = run_batches("cid", 3, duration_s=10)
    worker = Worker(
        settings=settings,
        options=WorkerOptions(state_dir=tmp_path, team=team),
        analyzer_factory=analyzer_factory(""),
        publish_outputs=False,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    topic = imu_topic(team, "cid")
    await asyncio.wait_for(worker.ready.wait(), 10)
    async with MqttConnection(settings=settings, client_id="dup-publisher") as pub:
        for seq in (0, 1, 1, 0, 2, 5):
            await pub.publish(topic, encode_imu(batches[seq], session="cid-1", seq=seq))
        await pub.publish(topic, b"\x01garbage")
        for _ in range(100):
            if worker.stats.messages == 7:
                break
            await asyncio.sleep(0.05)
    stop.set()
    await task
    assert (worker.stats.messages, worker.stats.duplicates, worker.stats.gaps, worker.stats.bad_payloads) == (
        7,
        2,
        2,
        1,
    )
    assert list(worker.sessions) == ["cid-1"]  # no final marker yet: the session stays open
