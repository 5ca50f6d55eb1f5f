"""`strideguard record --broker`: a live (simulated) BLE recording goes to the team set-up while it is
recorded locally, and the team's worker analyses it exactly as a replay of the local capture."""

from __future__ import annotations

import asyncio
import pathlib

import pytest

from strideguard.sensors.capture import replay
from strideguard.stream.cli import main
from strideguard.stream.mqtt.connection import MqttSettings
from strideguard.stream.runtime.app import analyzer_factory
from strideguard.stream.runtime.pipeline import Pipeline
from strideguard.stream.runtime.worker import Worker, WorkerOptions
from tests.fixtures_services import MosquittoService
from tests.stream.engine_helpers import Recorder

pytestmark = [pytest.mark.services, pytest.mark.slow]


async def test_record_sends_the_run_to_the_team_worker_while_recording_locally(
    mosquitto: MosquittoService, tmp_path: pathlib.Path
) -> None:
    settings = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    recorder, stop = Recorder(), asyncio.Event()
    worker = Worker(
        settings=settings,
        options=WorkerOptions(state_dir=tmp_path / "w", team="rec"),
        analyzer_factory=analyzer_factory(""),
        sinks=[recorder],
    )
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(worker.ready.wait(), 10)
    out = tmp_path / "ann.sgcap"
    args = ["record", "--simulate", "--fast", "--duration", "60", "--runner", "ann"]
    args += ["--device", "A0:9E:1A:00:00:01:chest", "--device", "C4:00:00:00:00:01:foot", "--out", str(out)]
    args += ["--broker", f"mqtt://{mosquitto.host}:{mosquitto.port}", "--team", "rec", "--no-analysis"]
    code = await asyncio.to_thread(main, args)
    assert code == 0
    await asyncio.wait_for(recorder.closed.wait(), 30)
    stop.set()
    await asyncio.wait_for(task, 30)

    local = Recorder()
    pipeline = Pipeline(analyzer_factory=analyzer_factory(""), sinks=[local], team="rec")
    for item in replay(out):
        await pipeline.push(item)  # type: ignore[arg-type]
    await pipeline.finish()
    assert len(local.outputs.steps) > 100 and any(w.speed_mps is not None for w in local.outputs.windows)
    assert recorder.outputs == local.outputs
    assert worker.stats.gaps == worker.stats.bad_payloads == 0
