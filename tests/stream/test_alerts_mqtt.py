"""MQTT alert channel against a real Mosquitto on 127.0.0.1 (tests/fixtures_services.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json

import aiomqtt
import pytest

from strideguard.analytics.results import AnalyzerOutput, RiskEventKind
from strideguard.stream.alerts import AlertDispatcher, MqttChannel, TerminalChannel
from strideguard.stream.mqtt.connection import MqttSettings
from tests.fixtures_services import MosquittoService
from tests.stream.alert_helpers import SESSION, event

pytestmark = pytest.mark.services


async def receive(broker: MosquittoService, topic: str, n: int, ready: asyncio.Event) -> list[tuple[str, dict]]:
    got = []
    async with aiomqtt.Client(hostname=broker.host, port=broker.port) as sub:
        await sub.subscribe(topic, qos=1)
        ready.set()
        async with asyncio.timeout(10):
            async for message in sub.messages:
                got.append((str(message.topic), json.loads(message.payload)))
                if len(got) == n:
                    return got
    return got


async def test_alerts_arrive_as_json_on_the_notify_topic(mosquitto: MosquittoService) -> None:
    session = dataclasses.replace(SESSION, team="mqtt-alerts")
    ready = asyncio.Event()
    listener = asyncio.create_task(receive(mosquitto, "strideguard/v1/mqtt-alerts/+/notify", 2, ready))
    await ready.wait()
    d = AlertDispatcher([MqttChannel(settings=MqttSettings.from_url(mosquitto.url))])
    await d.write(
        session, AnalyzerOutput(risk_events=(event(), event(at_s=700, onset_s=540, kind=RiskEventKind.CLEARED)))
    )
    got = await listener
    await d.close()
    assert [t for t, _ in got] == ["strideguard/v1/mqtt-alerts/anna/notify"] * 2
    first, second = (p for _, p in got)
    assert (first["kind"], first["metric"], first["cue"], first["schema"]) == (
        "onset",
        "cadence",
        "shorter, quicker steps",
        1,
    )
    assert first["text"].startswith("anna: WARNING Cadence 6 % below your baseline")
    assert second["kind"] == "cleared"


async def test_a_broker_that_is_away_fails_only_its_channel(mosquitto_private: MosquittoService) -> None:
    mosquitto_private.stop()
    out = io.StringIO()
    settings = MqttSettings.from_url(mosquitto_private.url, connect_timeout_s=1.0)
    d = AlertDispatcher([MqttChannel(settings=settings), TerminalChannel(out=out)])
    await d.write(SESSION, AnalyzerOutput(risk_events=(event(),)))
    await d.close()
    assert d.stats["mqtt"].failed == 1
    assert d.stats["terminal"].delivered == 1
    # the broker comes back: the next alert connects again
    mosquitto_private.start()
    ready = asyncio.Event()
    listener = asyncio.create_task(receive(mosquitto_private, "strideguard/v1/club/anna/notify", 1, ready))
    await ready.wait()
    channel = MqttChannel(settings=settings)
    d2 = AlertDispatcher([channel])
    await d2.write(SESSION, AnalyzerOutput(risk_events=(event("lean"),)))
    ((_topic, payload),) = await listener
    await d2.close()
    assert payload["metric"] == "lean"
