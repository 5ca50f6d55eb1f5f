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
    back = [s for s in seen if "gap_s" in s]
    assert len(back) == 2 and back[0]["gap_s"] >= 0.7 and back[1]["gap_s"] >= 0.5
    assert "anna: sensor lost (h10)" in caplog.text and "anna: no data from the sensor (silent)" in caplog.text
