"""A runner's own login sending well-formed but hostile messages to a real Mosquitto: time that goes back,
NaN, a changed or absurd rate, another runner's session id, a retained poison message. The worker keeps
serving the other runner exactly, counts what it dropped, and a restart replays its journal without
crashing."""

from __future__ import annotations

import asyncio
import pathlib

import numpy as np
import pytest

from strideguard.stream.mqtt.connection import MqttConnection, MqttSettings
from strideguard.stream.mqtt.payload import encode_imu
from strideguard.stream.mqtt.topics import imu_topic
from strideguard.stream.runtime.app import analyzer_factory
from strideguard.stream.runtime.worker import Worker, WorkerOptions
from tests.fixtures_services import MosquittoService
from tests.stream.engine_helpers import Recorder, batch_like
from tests.stream.test_worker import embedded, run_batches

pytestmark = [pytest.mark.services, pytest.mark.slow]

TEAM = "hostile"


async def wait_for(condition: object, what: str, timeout_s: float = 20.0) -> None:
    for _ in range(int(timeout_s / 0.05)):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


async def test_hostile_messages_are_dropped_counted_and_survive_a_restart(
    mosquitto: MosquittoService, tmp_path: pathlib.Path
) -> None:
    settings = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    good = run_batches("ana", 1, duration_s=30)
    bad = run_batches("eve", 2, duration_s=10)
    nan = np.array(bad[3].values)
    nan[::2] = np.nan
    hostile = [
        (0, bad[0]),
        (1, bad[1]),
        (2, bad[0]),  # time goes back
        (3, batch_like(bad[3], values=nan)),  # half the samples NaN
        (4, batch_like(bad[4], rate_hz=bad[4].rate_hz * 4)),  # the rate changes
        (5, batch_like(bad[5], rate_hz=1e7)),  # an absurd rate
        (6, bad[6]),
    ]
    async with MqttConnection(settings=settings, client_id="poisoner") as pub:  # retained before any worker
        await pub.publish(imu_topic(TEAM, "mallory"), b"\x01poison", retain=True)

    recorder = Recorder()

    def new_worker() -> Worker:
        return Worker(
            settings=settings,
            options=WorkerOptions(state_dir=tmp_path / "w", team=TEAM),
            analyzer_factory=analyzer_factory(""),
            sinks=[recorder],
        )

    stop = asyncio.Event()
    worker = new_worker()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(worker.ready.wait(), 10)
    async with MqttConnection(settings=settings, client_id="runners") as pub:
        for seq, batch in enumerate(good[:10]):
            await pub.publish(imu_topic(TEAM, "ana"), encode_imu(batch, session="ana-1", seq=seq))
        for seq, batch in hostile:
            await pub.publish(imu_topic(TEAM, "eve"), encode_imu(batch, session="eve-1", seq=seq))
        # eve tries to finish ana's session from her own topic
        end = batch_like(bad[0], t_ns=np.empty(0, np.int64), values=np.empty((0, 3), np.float32))
        await pub.publish(imu_topic(TEAM, "eve"), encode_imu(end, session="ana-1", seq=99, final=True))
        await wait_for(lambda: worker.stats.messages >= 10 + len(hostile) + 2, "the first messages")
    stop.set()
    await asyncio.wait_for(task, 30)
    assert worker.stats.bad_payloads == 1 and worker.stats.foreign == 1
    assert set(worker.sessions) == {"ana-1", "eve-1"}  # ana's session was not finished by eve

    # A new worker rebuilds both sessions from the journal, hostile messages included, without crashing.
    stop = asyncio.Event()
    worker = new_worker()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(worker.ready.wait(), 10)
    assert worker.stats.sessions_rebuilt == 2
    async with MqttConnection(settings=settings, client_id="runners") as pub:
        for seq, batch in enumerate(good[10:], start=10):
            await pub.publish(imu_topic(TEAM, "ana"), encode_imu(batch, session="ana-1", seq=seq))
        last = batch_like(good[-1], t_ns=np.empty(0, np.int64), values=np.empty((0, 3), np.float32))
        await pub.publish(imu_topic(TEAM, "ana"), encode_imu(last, session="ana-1", seq=len(good), final=True))
        await pub.publish(imu_topic(TEAM, "eve"), encode_imu(end, session="eve-1", seq=7, final=True))
        await wait_for(lambda: {x.runner for x in recorder.summaries} == {"ana", "eve"}, "both sessions to finish")
    stop.set()
    await asyncio.wait_for(task, 30)

    expected = embedded("ana", good)
    # the rebuild wrote the first part again (sinks are idempotent by time); the last copy is complete
    ana = recorder.by_runner["ana"]
    assert list(ana.steps)[-len(expected.steps) :] == list(expected.steps)
    assert recorder.summary_of("ana").dropped == {}
    n = len(bad[0])
    assert recorder.summary_of("eve").dropped == {
        "samples not after the previous one (time went back)": n,
        "samples not finite or out of range": int(np.isnan(nan).any(axis=1).sum()),
        "samples after the device changed its rate": n,
        "samples at an impossible rate": n,
    }
