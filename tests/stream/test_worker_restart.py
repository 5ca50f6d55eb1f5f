"""A worker stopped mid-session and started again rebuilds the runner's state from its journal: the
outputs equal the embedded analysis, MQTT subscribers see each step once, and the journal survives a
torn last record."""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any

import pytest

from strideguard.analytics.results import AnalyzerOutput
from strideguard.stream.mqtt.connection import MqttConnection, MqttSettings
from strideguard.stream.mqtt.journal import Journal, read_records, segments
from strideguard.stream.mqtt.payload import encode_imu, loads, steps_from_message
from strideguard.stream.mqtt.topics import imu_topic
from strideguard.stream.runtime.app import analyzer_factory
from strideguard.stream.runtime.session import SessionInfo
from strideguard.stream.runtime.worker import Worker, WorkerOptions
from tests.fixtures_services import MosquittoService
from tests.stream.test_worker import embedded, run_batches

pytestmark = pytest.mark.services


class CollectingSink:
    """A real (in-memory) Sink: keeps what it is given, like a store would."""

    name = "memory"

    def __init__(self) -> None:
        self.outputs: dict[str, AnalyzerOutput] = {}
        self.closed: dict[str, dict[str, Any]] = {}

    async def open_session(self, session: SessionInfo) -> None:
        self.outputs.setdefault(session.session_id, AnalyzerOutput())

    async def write(self, session: SessionInfo, output: AnalyzerOutput) -> None:
        self.outputs[session.session_id] = self.outputs[session.session_id] + output

    async def close_session(self, session: SessionInfo, summary: dict[str, Any]) -> None:
        self.closed[session.session_id] = summary

    async def close(self) -> None:
        return None


async def test_a_restarted_worker_rebuilds_from_its_journal_and_publishes_nothing_twice(
    mosquitto: MosquittoService, tmp_path: pathlib.Path
) -> None:
    team, runner, sid = "restart", "dora", "dora-1"
    settings = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    batches = run_batches(runner, 4, duration_s=40)
    half = len(batches) // 2
    options = WorkerOptions(state_dir=tmp_path, team=team)
    steps_seen: list = []
    finished = asyncio.Event()

    async def observe(ready: asyncio.Event) -> None:
        async with MqttConnection(
            settings=settings,
            client_id="restart-observer",
            subscriptions=[f"strideguard/v1/{team}/+/steps", f"strideguard/v1/{team}/+/status"],
        ) as c:
            ready.set()
            async for m in c.messages():
                message = loads(m.payload)
                if m.topic.endswith("/steps"):
                    steps_seen.extend(steps_from_message(message))
                elif message["state"] == "finished":
                    finished.set()

    ready = asyncio.Event()
    observer = asyncio.create_task(observe(ready))
    await ready.wait()
    first, first_sink, stop = (
        Worker(
            settings=settings, options=options, analyzer_factory=analyzer_factory(""), sinks=[s := CollectingSink()]
        ),
        s,
        asyncio.Event(),
    )
    task = asyncio.create_task(first.run(stop))
    await first.ready.wait()
    async with MqttConnection(settings=settings, client_id="restart-publisher") as pub:
        for seq, batch in enumerate(batches[:half]):
            await pub.publish(imu_topic(team, runner), encode_imu(batch, session=sid, seq=seq))
        while first.stats.messages < half:
            await asyncio.sleep(0.02)
        stop.set()
        await task
        assert segments(tmp_path / "journal"), "an unfinished session keeps its journal"
        # The worker is away: the broker queues the rest for its persistent session.
        for seq, batch in enumerate(batches[half:], start=half):
            await pub.publish(
                imu_topic(team, runner), encode_imu(batch, session=sid, seq=seq, final=seq == len(batches) - 1)
            )
    second_sink, stop = CollectingSink(), asyncio.Event()
    second = Worker(settings=settings, options=options, analyzer_factory=analyzer_factory(""), sinks=[second_sink])
    task = asyncio.create_task(second.run(stop))
    await asyncio.wait_for(finished.wait(), 30)
    stop.set()
    await task
    observer.cancel()

    expected = embedded(runner, batches)
    assert second.stats.sessions_rebuilt == 1 and second.stats.gaps == 0
    assert second.stats.messages == len(batches) - half  # only the queued rest came from the broker
    assert second_sink.outputs[sid] == expected  # rebuild + rest = the whole session, in order
    assert first_sink.outputs[sid].steps == expected.steps[: len(first_sink.outputs[sid].steps)]
    assert steps_seen == list(expected.steps)  # every step published once, in order
    assert sid in second_sink.closed and not segments(tmp_path / "journal")


async def test_a_session_whose_collector_went_silent_is_finished_and_closed(
    mosquitto: MosquittoService, tmp_path: pathlib.Path
) -> None:
    team, runner, sid = "silent", "finn", "finn-1"
    settings = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    batches = run_batches(runner, 5, duration_s=30)[:40]  # 20 s, and never a final message
    sink, stop = CollectingSink(), asyncio.Event()
    worker = Worker(
        settings=settings,
        options=WorkerOptions(state_dir=tmp_path, team=team, idle_close_s=0.5, housekeeping_s=0.1),
        analyzer_factory=analyzer_factory(""),
        sinks=[sink],
        publish_outputs=False,
    )
    task = asyncio.create_task(worker.run(stop))
    await worker.ready.wait()
    async with MqttConnection(settings=settings, client_id="silent-publisher") as pub:
        for seq, batch in enumerate(batches):
            await pub.publish(imu_topic(team, runner), encode_imu(batch, session=sid, seq=seq))
    for _ in range(200):
        if sid in sink.closed:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert worker.stats.sessions_idle_closed == 1 and sid in sink.closed
    assert sink.outputs[sid] == embedded(runner, batches)  # finish() flushed the held-back windows
    assert not segments(tmp_path / "journal") and list(tmp_path.glob("journal/*.done"))


def test_journal_reads_back_records_and_stops_at_a_torn_tail(tmp_path: pathlib.Path) -> None:
    journal = Journal(tmp_path)
    journal.append_message("s/1 with odd chars", "strideguard/v1/t/r/imu/3", b"\x01\x02payload")
    journal.append_watermark("s/1 with odd chars", {"steps": 5})
    journal.append_message("s/1 with odd chars", "strideguard/v1/t/r/imu/3", b"second")
    journal.close()
    with open(journal.path, "ab") as f:
        f.write(b"\x10\x00\x00\x00\x00\x00\x00\x00Itorn")
    assert list(read_records(journal.path)) == [
        ("message", "s/1 with odd chars", ("strideguard/v1/t/r/imu/3", b"\x01\x02payload")),
        ("watermark", "s/1 with odd chars", {"steps": 5}),
        ("message", "s/1 with odd chars", ("strideguard/v1/t/r/imu/3", b"second")),
    ]
    reopened = Journal(tmp_path)  # a new segment: nothing is ever appended behind a torn tail
    assert reopened.path != journal.path
    assert list(reopened.replay()) == [
        ("s/1 with odd chars", "strideguard/v1/t/r/imu/3", b"\x01\x02payload"),
        ("s/1 with odd chars", "strideguard/v1/t/r/imu/3", b"second"),
    ]
    assert reopened.recovered.watermarks == {"s/1 with odd chars": {"steps": 5}}
    reopened.finish("s/1 with odd chars")
    assert "/" not in next(tmp_path.glob("*.done")).name
    assert segments(tmp_path) == [reopened.path], "the finished session's segment is deleted, the open one kept"
    reopened.close()
    assert segments(tmp_path) == []
