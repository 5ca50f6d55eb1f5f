"""The runner's sensor state in the team set-up: collector -> real Mosquitto -> worker -> retained status.

Before: the collector dropped the BLE link events ("capture events stay local") and the worker's status
said "running" through a dropout and through a silence.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
from collections.abc import AsyncIterator

import pytest

from strideguard.sensors.capture import CaptureEvent
from strideguard.sensors.errors import DecodeError
from strideguard.sensors.synthetic import SyntheticConfig, SyntheticRunner
from strideguard.stream.mqtt.connection import MqttConnection, MqttSettings
from strideguard.stream.mqtt.inband import LinkMessage, decode_input, encode_link
from strideguard.stream.mqtt.payload import loads
from strideguard.stream.runtime.app import analyzer_factory
from strideguard.stream.runtime.collector import Collector, split_batches
from strideguard.stream.runtime.worker import Worker, WorkerOptions
from tests.fixtures_services import MosquittoService


def test_link_events_travel_in_band() -> None:
    payload = encode_link("link_lost", device="h10", t_ns=5, session="s1", seq=7)
    assert decode_input(payload, runner="anna") == LinkMessage(
        session="s1", seq=7, device="h10", t_ns=5, event="link_lost"
    )
    with pytest.raises(DecodeError, match="link event must be one of"):
        decode_input(payload.replace(b"link_lost", b"link_gone"), runner="anna")
    with pytest.raises(ValueError, match="link event must be one of"):
        encode_link("gap", device="h10", t_ns=5, session="s1", seq=8)


async def statuses(settings: MqttSettings, team: str, ready: asyncio.Event, into: list[dict]) -> None:
    conn = MqttConnection(
        settings=settings, client_id=f"observer-{team}", subscriptions=[f"strideguard/v1/{team}/+/status"]
    )
    async with conn:
        ready.set()
        async for m in conn.messages():
            into.append(loads(m.payload))


def changes(seen: list[dict]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for s in seen:
        pair = (s["state"], s.get("sensor", "ok"))
        if not out or out[-1] != pair:
            out.append(pair)
    return out


def comebacks(seen: list[dict]) -> list[float]:
    """`gap_s` of each status that says the sensor is back (later snapshots repeat the last gap)."""
    out, was = [], "ok"
    for s in seen:
        if s.get("sensor", "ok") == "ok" and was != "ok":
            out.append(s["gap_s"])
        was = s.get("sensor", "ok")
    return out


@pytest.mark.services
async def test_worker_publishes_link_loss_and_silence_as_sensor_state(
    mosquitto: MosquittoService, tmp_path: pathlib.Path, caplog
) -> None:
    caplog.set_level(logging.WARNING)
    team = "sensorstate"
    settings = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    run = SyntheticRunner(SyntheticConfig(cadence_spm=170.0)).generate(30.0, 50.0, seed=3, runner="anna", device="h10")
    batches = list(split_batches([run.acc], 1.0))
    seen: list[dict] = []
    ready, stop = asyncio.Event(), asyncio.Event()
    observer = asyncio.create_task(statuses(settings, team, ready, seen))
    await ready.wait()
    worker = Worker(
        settings=settings,
        options=WorkerOptions(state_dir=tmp_path / "w", team=team, silent_after_s=0.5, housekeeping_s=0.1),
        analyzer_factory=analyzer_factory(""),
    )
    worker_task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(worker.ready.wait(), 10)

    async def items() -> AsyncIterator[object]:
        for b in batches[:10]:
            yield b
        yield CaptureEvent(t_ns=0, kind="link_lost", fields={"runner": "anna", "device": "h10"})
        await asyncio.sleep(0.8)  # lost, not silent: a lost link is the more specific state
        yield CaptureEvent(t_ns=0, kind="link_restored", fields={"runner": "anna", "device": "h10"})
        for b in batches[10:20]:
            yield b
        await asyncio.sleep(1.5)  # the strap slipped: no disconnect, no data
        for b in batches[20:]:
            yield b

    async with Collector(settings=settings, team=team) as collector:
        await collector.publish_session("anna", items())
    for _ in range(200):
        if any(s["state"] == "finished" for s in seen):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await worker_task
    observer.cancel()
    assert changes(seen) == [
        ("running", "ok"),
        ("running", "lost"),
        ("running", "ok"),
        ("running", "silent"),
        ("running", "ok"),
        ("finished", "ok"),
    ]
    back = comebacks(seen)
    assert len(back) == 2 and back[0] >= 0.7 and back[1] >= 0.5
    assert "anna: sensor lost (h10)" in caplog.text and "anna: no data from the sensor (silent)" in caplog.text


async def outputs(settings: MqttSettings, team: str, ready: asyncio.Event, into: list[tuple[str, dict]]) -> None:
    conn = MqttConnection(
        settings=settings,
        client_id=f"observer-out-{team}",
        subscriptions=[f"strideguard/v1/{team}/+/metrics", f"strideguard/v1/{team}/+/status"],
    )
    async with conn:
        ready.set()
        async for m in conn.messages():
            into.append((m.topic.rsplit("/", 1)[1], loads(m.payload)))


@pytest.mark.services
async def test_the_coach_gets_no_window_over_a_dropout_and_the_gap_in_data_time(
    mosquitto: MosquittoService, tmp_path: pathlib.Path
) -> None:
    """The team set-up published the dropout's windows (0 steps: "not running") to the coach, and, fed
    faster than real time, said the sensor was back after 0 s. The worker shares the embedded run's
    engine: the same withholding and the same gap."""
    team = "dropoutwin"
    settings = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    run = SyntheticRunner(SyntheticConfig(cadence_spm=170.0)).generate(90.0, 25.0, seed=5, runner="anna", device="h10")
    batches = list(split_batches([run.acc], 1.0))
    t0 = int(batches[0].t_ns[0])
    lost_at, back_at = t0 + 40 * 10**9, t0 + 65 * 10**9
    seen: list[tuple[str, dict]] = []
    ready, stop = asyncio.Event(), asyncio.Event()
    observer = asyncio.create_task(outputs(settings, team, ready, seen))
    await ready.wait()
    worker = Worker(
        settings=settings,
        options=WorkerOptions(state_dir=tmp_path / "w", team=team, silent_after_s=None),
        analyzer_factory=analyzer_factory(""),
    )
    worker_task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(worker.ready.wait(), 10)

    async def items() -> AsyncIterator[object]:
        lost = False
        for b in batches:
            start = int(b.t_ns[0])
            if lost_at <= start < back_at:
                if not lost:
                    yield CaptureEvent(t_ns=lost_at, kind="link_lost", fields={"runner": "anna", "device": "h10"})
                    lost = True
                continue
            if lost and start >= back_at:
                yield CaptureEvent(t_ns=back_at, kind="link_restored", fields={"runner": "anna", "device": "h10"})
                lost = False
            yield b

    async with Collector(settings=settings, team=team) as collector:
        await collector.publish_session("anna", items())
    for _ in range(400):
        if any(kind == "status" and s["state"] == "finished" for kind, s in seen):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await worker_task
    observer.cancel()
    windows = [w for kind, w in seen if kind == "metrics"]
    assert windows, "the run's other windows reach the coach"
    over = [w for w in windows if w["t_start_ns"] < back_at and lost_at - 10**9 < w["t_end_ns"]]
    assert over == [], f"{len(over)} windows over the dropout were published"
    assert worker.engine.withheld >= 5
    back = comebacks([s for kind, s in seen if kind == "status"])
    assert back == [pytest.approx(25.0, abs=0.1)]  # fed in ~0 s of wall time
    # the whole snapshot every time, as the embedded run's: the page's elapsed time and baseline countdown
    running = [s for kind, s in seen if kind == "status" and s["state"] == "running"]
    assert running and all(s["started_t_ns"] == t0 for s in running)
    ready_at = {s.get("baseline_ready_t_ns") for s in running[1:]}
    assert len(ready_at) == 1 and None not in ready_at, ready_at
