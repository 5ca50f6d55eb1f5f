"""MQTT against hostile names and logins, on the real Mosquitto (the project's ACL file where it matters):
a topic the broker would refuse is refused here on one line instead of dropping the connection for ever,
and a runner's login cannot knock a worker off the broker by taking its client id."""

from __future__ import annotations

import asyncio
import logging
import pathlib
import threading
import time

import aiomqtt
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from strideguard.sensors.synthetic import SyntheticConfig, SyntheticRunner
from strideguard.stream.mqtt.connection import (
    InvalidTopicError,
    MqttConnection,
    MqttSettings,
    stored_client_id,
    topic_problem,
)
from strideguard.stream.mqtt.topics import imu_topic
from strideguard.stream.runtime.app import analyzer_factory
from strideguard.stream.runtime.collector import Collector, split_batches
from strideguard.stream.runtime.worker import Worker, WorkerOptions
from tests.fixtures_services import REPO_ROOT, MosquittoService

pytestmark = pytest.mark.services

DEPLOY = REPO_ROOT / "deploy" / "mosquitto"
# Characters Mosquitto 2.0 drops a client for, in a topic (measured below), and ones it takes.
REFUSED = ["\x00", "\x01", "\t", "\n", "\x1f", "\x7f", "\x85", "\x9f", "\ufdd0", "\ufffe", "\uffff", "\U0001fffe"]
ACCEPTED = ["é", "\xa0", "\u200b", "\u2028", "🏃", "\\", "'"]


def settings_for(broker: MosquittoService, user: str | None = None, password: str | None = None) -> MqttSettings:
    return MqttSettings(host=broker.host, port=broker.port, username=user, password=password, connect_timeout_s=3)


def broker_drops_the_client_for(broker: MosquittoService, topic: str) -> bool:
    """Whether Mosquitto closes a raw paho client's connection for publishing to `topic` (no checks of
    ours in the way): a good publish after it is acknowledged, or the connection goes first."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="raw-probe", protocol=paho.MQTTv5)
    gone = threading.Event()
    client.on_disconnect = lambda *_args: gone.set()
    client.connect(broker.host, broker.port)
    try:
        client.publish(topic, b"x", qos=0)
        good = client.publish("probe/ok", b"x", qos=1)
        deadline = time.monotonic() + 5
        while not (good.is_published() or gone.is_set()) and time.monotonic() < deadline:
            client.loop(timeout=0.05)
        assert good.is_published() or gone.is_set(), "the broker answered neither way"
        return not good.is_published()
    finally:
        client.disconnect()


def test_the_topic_rule_is_the_brokers(mosquitto: MosquittoService) -> None:
    """Every character `topic_problem` refuses, the real broker drops the client for; every one it
    accepts, the broker takes."""
    for char in REFUSED[1:]:  # U+0000 paho itself refuses to send
        assert topic_problem(f"probe/a{char}b") is not None, repr(char)
        assert broker_drops_the_client_for(mosquitto, f"probe/a{char}b"), repr(char)
    for char in ACCEPTED:
        assert topic_problem(f"probe/a{char}b") is None, repr(char)
        assert not broker_drops_the_client_for(mosquitto, f"probe/a{char}b"), repr(char)


async def test_a_refused_topic_fails_at_once_on_one_line_and_the_connection_stays(mosquitto: MosquittoService) -> None:
    """Before: the publish went out, Mosquitto dropped the connection ("malformed packet"), the publish was
    issued again on the next connection, and so on for ever: 49 reconnects in 4 s, logged at INFO only."""
    async with (
        MqttConnection(settings=settings_for(mosquitto), client_id="hostile-sub", subscriptions=["hostile/#"]) as sub,
        MqttConnection(settings=settings_for(mosquitto), client_id="hostile-pub") as pub,
    ):
        for topic in [*(f"hostile/a{c}b" for c in REFUSED), "hostile/+/x", "hostile/#", ""]:
            with pytest.raises(InvalidTopicError) as refused:
                async with asyncio.timeout(1):
                    await pub.publish(topic, b"x")
            assert "\n" not in str(refused.value) and "cannot go to the broker" in str(refused.value)
        await pub.publish("hostile/ok", b"fine")
        async with asyncio.timeout(5):
            message = await anext(sub.messages())
        assert (message.topic, message.payload) == ("hostile/ok", b"fine")
        assert pub.connections == 1 and pub.connected


async def test_a_runner_name_with_a_control_character_stops_the_collector_with_one_line(
    mosquitto: MosquittoService,
) -> None:
    run = SyntheticRunner(SyntheticConfig()).generate(2.0, 100, seed=1, runner="x")
    async with Collector(settings=settings_for(mosquitto), team="ctl") as collector:
        with pytest.raises(InvalidTopicError, match=r"control character U\+0001"):
            async with asyncio.timeout(5):
                await collector.replay({"ana\x01": list(split_batches([run.acc], 0.5))})
        assert collector.connection.connections == 1


async def test_a_worker_for_a_team_the_broker_would_refuse_stops_before_connecting(
    mosquitto: MosquittoService, tmp_path: pathlib.Path
) -> None:
    """Before: the SUBSCRIBE with the bad filter made Mosquitto drop the worker, which reconnected for ever."""
    worker = Worker(
        settings=settings_for(mosquitto),
        options=WorkerOptions(state_dir=tmp_path, team="club\x07"),
        analyzer_factory=analyzer_factory(""),
    )
    with pytest.raises(InvalidTopicError, match=r"club\\x07.* cannot go to the broker: control character U\+0007"):
        async with asyncio.timeout(5):
            await worker.run()


def test_client_ids_are_secret_per_instance_and_a_worker_keeps_its_own(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    kept = stored_client_id("strideguard-worker-club-0of1", tmp_path / "a" / "id")
    assert kept.startswith("strideguard-worker-club-0of1-") and len(kept) == len("strideguard-worker-club-0of1-") + 32
    assert stored_client_id("strideguard-worker-club-0of1", tmp_path / "a" / "id") == kept  # a restart: same session
    assert stored_client_id("strideguard-worker-club-0of1", tmp_path / "b" / "id") != kept  # another instance
    (tmp_path / "a" / "id").write_text("strideguard-worker-club-0of1-not-a-token")
    assert stored_client_id("strideguard-worker-club-0of1", tmp_path / "a" / "id") not in (kept, "")
    ids = {Collector(settings=MqttSettings(), team="club").connection.client_id for _ in range(2)}
    assert len(ids) == 2 and all(i.startswith("strideguard-collector-club-collector-") for i in ids)


@pytest.fixture
def secured_broker(service_factory) -> MosquittoService:
    """The Debian Mosquitto running the deployment's config, password file and ACL file."""
    lines = (DEPLOY / "mosquitto.conf").read_text().replace("/mosquitto/config/", f"{DEPLOY}/").splitlines()
    return service_factory(MosquittoService, base_config=[ln for ln in lines if ln and not ln.startswith("#")])


async def test_a_runner_login_cannot_knock_the_worker_off_the_broker(
    secured_broker: MosquittoService, tmp_path: pathlib.Path
) -> None:
    """runner-1 connects with every client id it could know or guess for the worker (before this change,
    `strideguard-worker-club-0of1` WAS the worker's id: the two evicted each other 24 times in 3.5 s),
    and looks for the real one where a worker's status is published: it sees nothing of it."""
    worker = Worker(
        settings=settings_for(secured_broker, "worker", "worker-demo"),
        options=WorkerOptions(state_dir=tmp_path, team="club"),
        analyzer_factory=analyzer_factory(""),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(worker.ready.wait(), 10)
    runner = settings_for(secured_broker, "runner-1", "runner-1-demo")
    for guess in ("strideguard-worker-club-0of1", "strideguard-worker-all-0of1", "worker", "runner-1"):
        async with MqttConnection(settings=runner, client_id=guess):
            await asyncio.sleep(0.3)
    seen: list[str] = []
    async with aiomqtt.Client(
        secured_broker.host, secured_broker.port, username="runner-1", password="runner-1-demo", identifier="spy"
    ) as spy:
        for pattern in ("#", "$SYS/#", "strideguard/v1/_services/#", "strideguard/v1/_services/+/status"):
            await spy.subscribe(pattern, qos=1)
        # Retained messages come at once on SUBSCRIBE, so the spy's own control message, published after,
        # arrives after any status the ACL let through: no waiting on a timeout.
        await spy.publish("strideguard/v1/club/runner-1/control", b"own", qos=1)
        async with asyncio.timeout(10):
            async for message in spy.messages:
                seen.append(message.topic.value)
                if message.payload == b"own":
                    break
    assert seen == ["strideguard/v1/club/runner-1/control"]
    # The worker was never knocked off, and still works: a collector's message reaches it.
    assert worker._conn is not None and worker._conn.connections == 1 and worker._conn.connected
    assert not (worker.options.client_id + "\n").startswith(tuple(seen))
    run = SyntheticRunner(SyntheticConfig()).generate(3.0, 100, seed=2, runner="runner-1")
    async with Collector(settings=settings_for(secured_broker, "collector", "collector-demo"), team="club") as c:
        await c.replay({"runner-1": list(split_batches([run.acc], 0.5))})
    async with asyncio.timeout(10):
        while worker.stats.sessions_finished < 1:
            await asyncio.sleep(0.05)
    assert worker._conn.connections == 1
    stop.set()
    await task
    assert imu_topic("club", "runner-1").startswith("strideguard/v1/club/runner-1/imu/")


async def test_a_runner_login_cannot_write_what_a_worker_writes(secured_broker: MosquittoService) -> None:
    """runner-1 forges the worker's outputs for itself (an alert, a status, steps, metrics, a service
    status) and IMU below a partition level. A coach (reads every output) and a worker (reads IMU) see
    none of it, then the real thing: delivery is in order, so no timeout is needed to show that the
    forgeries never arrived."""
    forged = [
        "strideguard/v1/club/runner-1/alerts",
        "strideguard/v1/club/runner-1/status",
        "strideguard/v1/club/runner-1/steps",
        "strideguard/v1/club/runner-1/metrics",
        "strideguard/v1/_services/worker-club-0of1/status",
        "strideguard/v1/club/runner-1/imu/3/deeper",
    ]
    async with (
        MqttConnection(
            settings=settings_for(secured_broker, "coach", "coach-demo"),
            client_id="acl-coach",
            subscriptions=["strideguard/v1/#"],
        ) as coach,
        MqttConnection(
            settings=settings_for(secured_broker, "worker", "worker-demo"),
            client_id="acl-worker",
            subscriptions=["strideguard/v1/+/+/imu/#"],
        ) as worker,
    ):
        async with MqttConnection(
            settings=settings_for(secured_broker, "runner-1", "runner-1-demo"), client_id="acl-forger"
        ) as forger:
            for topic in forged:
                await forger.publish(topic, b"forged")
            await forger.publish("strideguard/v1/club/runner-1/imu/3", b"own imu")
            # Mosquitto 2.0 answers each refused QoS 1 publish "not authorized", then closes the connection:
            # the refusal is final (not issued again), the forger just reconnects.
            assert forger.connections == 1 + len(forged)
        await worker.publish("strideguard/v1/club/runner-1/status", b"worker's own")
        async with asyncio.timeout(10):
            imu = await anext(worker.messages())
            output = await anext(coach.messages())
    assert (imu.topic, imu.payload) == ("strideguard/v1/club/runner-1/imu/3", b"own imu")
    assert (output.topic, output.payload) == ("strideguard/v1/club/runner-1/status", b"worker's own")


async def test_two_clients_with_one_client_id_are_said_to_evict_each_other(
    mosquitto: MosquittoService, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: the two reconnected in turn for ever with nothing above INFO in the log."""
    caplog.set_level(logging.WARNING, logger="strideguard.stream.mqtt.connection")
    async with (
        MqttConnection(settings=settings_for(mosquitto), client_id="twin") as first,
        MqttConnection(settings=settings_for(mosquitto), client_id="twin"),
    ):
        async with asyncio.timeout(20):
            while not caplog.records:
                await asyncio.sleep(0.05)
    assert first.connections >= 3
    message = caplog.records[0].getMessage()
    assert message.startswith("mqtt twin: the connection dropped 5 times within 30 s (last: ")
    assert message.endswith("is another client using this client id, or is the broker refusing what is sent?")
