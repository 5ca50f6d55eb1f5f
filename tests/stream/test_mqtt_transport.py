"""The MQTT transport (stream/mqtt/connection.py) against a real Mosquitto: what it once reached into
aiomqtt's and paho's private attributes for, now on their public API (manual ack, waiting for PUBACKs by
message id, batched publish, noticing a lost link), and a guard that no private attribute of another
object is read anywhere in the packages (ruff SLF001, with suppressions ignored)."""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable

import pytest

from strideguard.stream.mqtt.connection import MqttConnection, MqttSettings, Received
from tests.fixtures_services import REPO_ROOT, MosquittoService


def settings_for(broker: MosquittoService) -> MqttSettings:
    return MqttSettings(host=broker.host, port=broker.port, reconnect_initial_s=0.05, reconnect_max_s=0.5)


async def take_until(conn: MqttConnection, enough: Callable[[list[Received]], bool]) -> list[Received]:
    """Messages in arrival order until `enough` says so (bounded: a missing message fails, not hangs)."""
    got: list[Received] = []
    try:
        async with asyncio.timeout(20):
            async for message in conn.messages():
                got.append(message)
                if enough(got):
                    return got
    except TimeoutError:
        pytest.fail(f"not enough within 20 s: {[m.payload for m in got]}", pytrace=False)
    return got


def until_payload(payload: bytes) -> Callable[[list[Received]], bool]:
    return lambda got: got[-1].payload == payload


@pytest.mark.services
async def test_an_unacknowledged_message_comes_again_to_the_same_client_id_and_an_acknowledged_one_not(
    mosquitto: MosquittoService,
) -> None:
    """Manual ack: PUBACK only on `ack()`; a redelivery after a reconnect is acknowledged too. A marker
    published after each reconnect bounds the wait: the session's redeliveries come before it."""
    run = uuid.uuid4().hex[:8]
    prefix = f"transport/{run}/ack"
    settings = settings_for(mosquitto)

    def receiver() -> MqttConnection:
        return MqttConnection(
            settings=settings, client_id=f"transport-ack-{run}", subscriptions=[f"{prefix}/#"], manual_ack=True
        )

    async with MqttConnection(settings=settings, client_id=f"transport-ack-sender-{run}") as sender:
        async with receiver() as first:
            await sender.publish(f"{prefix}/1", b"a")
            await sender.publish(f"{prefix}/2", b"b")
            a, b = await take_until(first, lambda got: len(got) == 2)
            assert (a.payload, b.payload) == (b"a", b"b")
            first.ack(a)  # b stays unacknowledged
        first.ack(b)  # its connection has gone: a no-op, the broker keeps b for the session
        async with receiver() as second:
            await sender.publish(f"{prefix}/3", b"c")
            got = await take_until(second, until_payload(b"c"))
            assert [m.payload for m in got] == [b"b", b"c"]
            for message in got:
                second.ack(message)
        async with receiver() as third:
            await sender.publish(f"{prefix}/4", b"d")
            got = await take_until(third, until_payload(b"d"))
            assert [m.payload for m in got] == [b"d"]


@pytest.mark.services
@pytest.mark.slow
async def test_publish_returns_only_on_the_puback_and_is_issued_again_after_a_broker_restart(
    mosquitto_private: MosquittoService,
) -> None:
    """The broker is frozen (SIGSTOP: the bytes reach its socket, no PUBACK comes back), then killed,
    so the message is neither acknowledged nor stored; after the restart the same publish call issues it
    again on the new connection and returns once that one is acknowledged."""
    broker = mosquitto_private
    settings = settings_for(broker)
    topic = "transport/puback"
    async with MqttConnection(settings=settings, client_id="transport-puback") as pub:
        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGSTOP)
        try:
            publishing = asyncio.create_task(pub.publish(topic, b"kept", retain=True))
            await asyncio.sleep(1.0)
            assert not publishing.done(), "publish returned without the broker's PUBACK"
        finally:
            broker.kill()  # SIGKILL ends a stopped process too
        broker.start()
        await asyncio.wait_for(publishing, 30)
        assert pub.connections >= 2
    async with MqttConnection(settings=settings, client_id="transport-puback-check", subscriptions=[topic]) as check:
        (message,) = await take_until(check, lambda got: len(got) == 1)
        assert (message.topic, message.payload) == (topic, b"kept")  # retained: it reached the broker


@pytest.mark.services
@pytest.mark.slow
async def test_a_batch_waits_for_every_puback_and_its_unacknowledged_rest_goes_again_in_order(
    mosquitto_private: MosquittoService,
) -> None:
    """publish_batch: 50 messages acknowledged, then 50 more while the broker is frozen and killed; the
    call returns only after the restart, and the subscriber (persistent session, on disk since a graceful
    restart before: a killed Mosquitto keeps what it saved) sees all 100, the first time each in publish
    order (a message may come twice: at least once)."""
    broker = mosquitto_private
    settings = settings_for(broker)
    prefix = "transport/batch"
    batch = [(f"{prefix}/{i % 4}", str(i).encode()) for i in range(100)]
    async with (
        MqttConnection(settings=settings, client_id="transport-batch-sub", subscriptions=[f"{prefix}/#"]) as sub,
        MqttConnection(settings=settings, client_id="transport-batch-pub") as pub,
    ):
        broker.stop()  # saves sub's session: its subscription outlives the kill below
        broker.start()
        await pub.publish_batch(batch[:50])  # across the restart: issued once pub is back
        got = await take_until(sub, lambda got: len({m.payload for m in got}) == 50)
        async with asyncio.timeout(10):
            while sub.connections < 2:  # subscribed again too: nothing of sub's is in flight at the fault
                await asyncio.sleep(0.01)
        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGSTOP)
        try:
            publishing = asyncio.create_task(pub.publish_batch(batch[50:]))
            await asyncio.sleep(1.0)
            assert not publishing.done(), "publish_batch returned without the broker's PUBACKs"
        finally:
            broker.kill()
        broker.start()
        await asyncio.wait_for(publishing, 30)
        got += await take_until(sub, lambda more: len({m.payload for m in got + more}) == 100)
        await asyncio.wait_for(sub.wait_connected(), 10)  # the session's messages come before its SUBACK
    first_seen = list(dict.fromkeys(int(m.payload) for m in got))
    assert first_seen == list(range(100))
    assert pub.connections >= 3 and sub.connections >= 3


def ruff_slf001(*paths: str) -> subprocess.CompletedProcess[str]:
    """ruff's SLF001 (a private member of another object) over `paths`, suppressions ignored."""
    options = ["--no-cache", "--select=SLF001", "--ignore-noqa", "--output-format=concise"]
    return subprocess.run(
        [sys.executable, "-m", "ruff", "check", *options, *paths],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


PACKAGES = ("sensors", "analytics", "stream", "dashboards", "benchmarks")  # what the quality gates check


def test_no_private_attribute_of_another_object_is_read_anywhere() -> None:
    """No `noqa: SLF001` either: a private attribute of a library pins the code to one release."""
    result = ruff_slf001(*PACKAGES)
    assert result.returncode == 0, result.stdout + result.stderr
    suppressed = [
        str(path.relative_to(REPO_ROOT))
        for package in PACKAGES
        for path in pathlib.Path(REPO_ROOT, package).rglob("*.py")
        if "noqa: SLF001" in path.read_text()
    ]
    assert suppressed == []
