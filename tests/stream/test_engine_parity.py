"""One engine behind both runtimes: the same run with heart-rate and footpod readings and a snooze gives
identical steps, windows, alerts and summary through the embedded pipeline and through collector ->
real Mosquitto -> worker."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import AsyncIterator, Iterable

import pytest

from strideguard.sensors.types import HeartRateReading, SampleBatch, StrideReading
from strideguard.stream.mqtt.connection import MqttSettings
from strideguard.stream.runtime.collector import Collector
from strideguard.stream.runtime.engine import RunnerControl
from strideguard.stream.runtime.pipeline import Pipeline
from strideguard.stream.runtime.worker import Worker, WorkerOptions
from tests.fixtures_services import MosquittoService
from tests.stream.engine_helpers import Recorder
from tests.stream.snooze_helpers import NS, RUNNER, analyzer, onsets_s, snooze_run

pytestmark = [pytest.mark.services, pytest.mark.slow]

RUN = snooze_run()
T0 = RUN.start_t_ns
SNOOZE_AT_S = 90.0
SNOOZE = {"action": "snooze", "metric": "cadence", "minutes": 3.0, "request_id": "r1"}

Item = SampleBatch | HeartRateReading | StrideReading | RunnerControl


def run_items() -> list[Item]:
    """The run's 1-s batches, a heart-rate and a footpod reading after each, and the snooze at 90 s."""
    items: list[Item] = []
    snoozed = False
    for k, batch in enumerate(RUN.iter_batches(1.0)):
        if not snoozed and batch.t_ns[0] - T0 >= SNOOZE_AT_S * NS:
            items.append(RunnerControl(runner=RUNNER, message=SNOOZE))
            snoozed = True
        items.append(batch)
        t_ns = int(batch.t_ns[-1])
        items.append(HeartRateReading(runner=RUNNER, device="h10", t_ns=t_ns, heart_rate_bpm=140 + k % 20))
        items.append(
            StrideReading(
                runner=RUNNER,
                device="pod",
                t_ns=t_ns,
                speed_mps=3.0 + (k % 5) / 10,
                cadence_spm=170,
                stride_length_m=1.1,
            )
        )
    return items


async def embedded(items: Iterable[Item]) -> tuple[Recorder, Pipeline]:
    recorder = Recorder()
    pipeline = Pipeline(analyzer_factory=analyzer, sinks=[recorder], team="parity")
    for item in items:
        await pipeline.push(item)
    await pipeline.finish()
    await pipeline.close()
    return recorder, pipeline


async def through_mqtt(items: list[Item], settings: MqttSettings, state_dir: pathlib.Path) -> tuple[Recorder, Worker]:
    recorder = Recorder()
    stop = asyncio.Event()
    worker = Worker(
        settings=settings,
        options=WorkerOptions(state_dir=state_dir, team="parity"),
        analyzer_factory=analyzer,
        sinks=[recorder],
    )
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(worker.ready.wait(), 10)

    async def source() -> AsyncIterator[object]:
        for item in items:
            yield item

    async with Collector(settings=settings, team="parity") as collector:
        await collector.publish_session(RUNNER, source())
    await asyncio.wait_for(recorder.closed.wait(), 60)
    stop.set()
    await asyncio.wait_for(task, 30)
    return recorder, worker


async def test_readings_and_a_snooze_give_the_same_results_embedded_and_through_the_worker(
    mosquitto: MosquittoService, tmp_path: pathlib.Path
) -> None:
    items = run_items()
    local, pipeline = await embedded(items)
    team, worker = await through_mqtt(items, MqttSettings(host=mosquitto.host, port=mosquitto.port), tmp_path / "w")

    # the readings reached the windows and the snooze held the second cadence drop, on both paths
    assert any(w.heart_rate_bpm is not None and w.speed_mps is not None for w in local.outputs.windows)
    assert [m for m, _ in onsets_s(list(local.outputs.risk_events), T0)] == ["cadence", "lean", "cadence"]
    (reply,) = pipeline.control_replies
    assert reply["action"] == "snoozed" and worker.stats.controls == 1

    assert team.outputs.steps == local.outputs.steps
    assert team.outputs.windows == local.outputs.windows
    assert team.outputs.risk_events == local.outputs.risk_events
    (local_summary,) = local.summaries
    (team_summary,) = team.summaries
    assert {**team_summary.as_dict(), "session_id": ""} == {**local_summary.as_dict(), "session_id": ""}
    assert worker.stats.bad_payloads == worker.stats.foreign == worker.stats.gaps == 0
