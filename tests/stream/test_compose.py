"""docker-compose.yml is valid (Debian docker-compose validates it offline), wires the services the team
demo needs, and its Mosquitto config, password and ACL files hold against a real Mosquitto."""

from __future__ import annotations

import asyncio
import functools
import json
import pathlib
import shutil
import subprocess

import aiomqtt
import pytest

from strideguard.stream.errors import SinkError
from strideguard.stream.mqtt.connection import MqttConnection, MqttSettings
from tests.fixtures_services import REPO_ROOT, MosquittoService

DEPLOY = REPO_ROOT / "deploy" / "mosquitto"


@functools.cache
def compose_config() -> dict:
    """`docker-compose config` (validates offline, resolves defaults and paths) as a dict."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail(
            "docker-compose not found: install the Debian package 'docker-compose' (scripts/install.sh test)",
            pytrace=False,
        )
    done = subprocess.run(
        [binary, "-f", str(REPO_ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr
    # YAML -> JSON with the interpreter docker-compose itself runs on (Debian python3-yaml is its dependency),
    # so the project needs no YAML library of its own.
    as_json = subprocess.run(
        ["/usr/bin/python3", "-c", "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"],
        input=done.stdout,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert as_json.returncode == 0, as_json.stderr
    return json.loads(as_json.stdout)


def volumes(service: dict) -> dict[str, str]:
    """target -> source of a service's `source:target[:mode]` volume strings."""
    out = {}
    for spec in service["volumes"]:
        source, target = spec.split(":")[:2]
        out[target] = source
    return out


def test_compose_file_validates_and_wires_the_team_demo() -> None:
    cfg = compose_config()
    services = cfg["services"]
    assert set(services) == {"mosquitto", "influxdb", "grafana", "worker-0", "worker-1", "collector", "coach"}
    influx_env = services["influxdb"]["environment"]
    assert influx_env["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert influx_env["DOCKER_INFLUXDB_INIT_BUCKET"] == services["worker-0"]["environment"]["STRIDEGUARD_INFLUX_BUCKET"]
    assert (
        influx_env["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]
        == services["worker-0"]["environment"]["STRIDEGUARD_INFLUX_TOKEN"]
    )
    mounts = volumes(services["mosquitto"])
    assert mounts["/mosquitto/config/acl"] == str(DEPLOY / "acl")
    assert mounts["/mosquitto/config/passwd"] == str(DEPLOY / "passwd")
    grafana = volumes(services["grafana"])
    assert grafana["/etc/grafana/provisioning"] == str(REPO_ROOT / "dashboards" / "provisioning")
    assert grafana["/var/lib/grafana/dashboards"] == str(REPO_ROOT / "dashboards" / "json")
    indexes = sorted(services[w]["environment"]["STRIDEGUARD_WORKER_INDEX"] for w in ("worker-0", "worker-1"))
    assert indexes == ["0", "1"] and services["worker-0"]["environment"]["STRIDEGUARD_WORKER_COUNT"] == "2"
    assert services["collector"]["command"][0] == "collect" and "--bundled" in services["collector"]["command"]
    assert set(services["collector"]["depends_on"]) >= {"worker-0", "worker-1"}  # workers subscribe first
    coach = services["coach"]  # the live team page of the team set-up, beside Grafana, as the coach user
    assert coach["command"][0] == "coach" and coach["environment"]["STRIDEGUARD_MQTT_USERNAME"] == "coach"
    assert coach["environment"]["STRIDEGUARD_TEAM"] == services["collector"]["environment"]["STRIDEGUARD_TEAM"]
    # the workers' store is the coach's: "Past sessions" and reports (WAL on one shared volume, one host)
    store = {services[n]["environment"].get("STRIDEGUARD_DB") for n in ("worker-0", "worker-1", "coach")}
    assert len(store) == 1 and None not in store, store
    folder = str(pathlib.PurePosixPath(store.pop()).parent)
    shared = {volumes(services[n]).get(folder) for n in ("worker-0", "worker-1", "coach")}
    assert len(shared) == 1 and None not in shared, shared
    for name, svc in services.items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes a port on every interface: {port}"


def test_the_compose_commands_parse_with_the_real_cli() -> None:
    from strideguard.stream.cli import build_parser

    services = compose_config()["services"]
    parser = build_parser()
    for name in ("collector", "worker-0", "coach"):
        args = parser.parse_args(services[name]["command"])
        assert args.func is not None


@pytest.fixture
def secured_broker(service_factory) -> MosquittoService:
    """The Debian Mosquitto running the compose config, password file and ACL file."""
    lines = (DEPLOY / "mosquitto.conf").read_text().replace("/mosquitto/config/", f"{DEPLOY}/").splitlines()
    return service_factory(MosquittoService, base_config=[ln for ln in lines if ln and not ln.startswith("#")])


def settings(broker: MosquittoService, user: str | None = None, password: str | None = None) -> MqttSettings:
    return MqttSettings(host=broker.host, port=broker.port, username=user, password=password, connect_timeout_s=2)


@pytest.mark.services
async def test_anonymous_and_wrong_password_clients_are_refused(secured_broker: MosquittoService) -> None:
    for user, password in ((None, None), ("runner-1", "wrong"), ("nobody", "runner-1-demo")):
        with pytest.raises(SinkError, match="refused the connection"):
            async with MqttConnection(settings=settings(secured_broker, user, password), client_id=f"x-{user}"):
                pass
    async with MqttConnection(settings=settings(secured_broker, "runner-1", "runner-1-demo"), client_id="ok"):
        pass


@pytest.mark.services
async def test_a_runner_reads_only_its_own_topics(secured_broker: MosquittoService) -> None:
    """runner-1 subscribes to everything it might want; the worker publishes runner-2's metrics, then
    runner-1's. Delivery is in order, so when runner-1's own message arrives, runner-2's would already
    have arrived had the ACL let it through: no waiting on a timeout."""
    received: list[str] = []
    async with aiomqtt.Client(
        secured_broker.host,
        secured_broker.port,
        username="runner-1",
        password="runner-1-demo",
        identifier="runner-1-phone",
    ) as spy:
        for pattern in ("strideguard/v1/#", "strideguard/v1/club/runner-2/metrics", "strideguard/v1/club/+/metrics"):
            await spy.subscribe(pattern, qos=1)
        async with aiomqtt.Client(
            secured_broker.host, secured_broker.port, username="worker", password="worker-demo", identifier="worker-x"
        ) as worker:
            await worker.publish("strideguard/v1/club/runner-2/metrics", json.dumps({"cadence_spm": 170}), qos=1)
            await worker.publish("strideguard/v1/club/runner-1/metrics", json.dumps({"cadence_spm": 165}), qos=1)
        async with asyncio.timeout(10):
            async for message in spy.messages:
                received.append(message.topic.value)
                if message.topic.value.endswith("runner-1/metrics"):
                    break
    assert received == ["strideguard/v1/club/runner-1/metrics"]


@pytest.mark.services
async def test_a_runner_cannot_publish_for_another_runner_and_coaches_cannot_publish(
    secured_broker: MosquittoService,
) -> None:
    received: list[str] = []
    async with aiomqtt.Client(
        secured_broker.host, secured_broker.port, username="worker", password="worker-demo", identifier="worker-reader"
    ) as reader:
        await reader.subscribe("strideguard/v1/+/+/imu/#", qos=1)
        async with aiomqtt.Client(
            secured_broker.host,
            secured_broker.port,
            username="runner-1",
            password="runner-1-demo",
            identifier="runner-1-forger",
        ) as forger:
            await forger.publish("strideguard/v1/club/runner-2/imu/3", b"forged", qos=1)
        async with aiomqtt.Client(
            secured_broker.host, secured_broker.port, username="coach", password="coach-demo", identifier="coach-x"
        ) as coach:
            await coach.publish("strideguard/v1/club/runner-2/imu/3", b"coach", qos=1)
        async with aiomqtt.Client(
            secured_broker.host,
            secured_broker.port,
            username="runner-1",
            password="runner-1-demo",
            identifier="runner-1-own",
        ) as own:
            await own.publish("strideguard/v1/club/runner-1/imu/7", b"own", qos=1)
        async with asyncio.timeout(10):
            async for message in reader.messages:
                received.append(bytes(message.payload).decode())
                if received[-1] == "own":
                    break
    assert received == ["own"]


@pytest.mark.services
async def test_a_runner_sends_controls_only_for_itself_and_the_worker_reads_them(
    secured_broker: MosquittoService,
) -> None:
    """The phone's snooze goes to `.../<runner>/control`: runner-1 may publish there for itself only, the
    worker reads every runner's controls (and may answer there)."""
    async with MqttConnection(
        settings=settings(secured_broker, "worker", "worker-demo"),
        client_id="worker-controls",
        subscriptions=["strideguard/v1/+/+/control"],
    ) as reader:
        async with MqttConnection(
            settings=settings(secured_broker, "runner-1", "runner-1-demo"), client_id="r1"
        ) as pub:
            await pub.publish("strideguard/v1/club/runner-2/control", b"forged", qos=1)
            await pub.publish("strideguard/v1/club/runner-1/control", b"own", qos=1)
        async with asyncio.timeout(10):
            async for message in reader.messages():
                assert message.payload == b"own"  # the forged one, published first, never arrives
                break


@pytest.mark.services
async def test_a_coach_forwards_a_snooze_to_the_control_topic_and_reads_the_answer(
    secured_broker: MosquittoService,
) -> None:
    """`strideguard coach` routes a runner page's snooze to `.../<runner>/control` (the worker applies it)
    and shows the worker's answer from there: the coach user may write and read control topics."""
    async with (
        MqttConnection(
            settings=settings(secured_broker, "worker", "worker-demo"),
            client_id="worker-controls-2",
            subscriptions=["strideguard/v1/+/+/control"],
        ) as worker,
        MqttConnection(
            settings=settings(secured_broker, "coach", "coach-demo"),
            client_id="coach-controls",
            subscriptions=["strideguard/v1/+/+/control"],
        ) as coach,
    ):
        await coach.publish("strideguard/v1/club/runner-2/control", b"snooze", qos=1)
        async with asyncio.timeout(10):
            async for message in worker.messages():
                assert message.payload == b"snooze"
                break
        await worker.publish("strideguard/v1/club/runner-2/control", b"snoozed", qos=1)
        async with asyncio.timeout(10):
            async for message in coach.messages():
                if message.payload == b"snoozed":
                    break


def test_deploy_files_are_what_compose_mounts() -> None:
    users = {line.split(":", 1)[0] for line in (DEPLOY / "passwd").read_text().splitlines() if line}
    assert users == {"collector", "worker", "coach", "runner-1", "runner-2"}
    assert all(line.split(":", 1)[1].startswith("$7$") for line in (DEPLOY / "passwd").read_text().splitlines())
    conf = (DEPLOY / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and "acl_file /mosquitto/config/acl" in conf
    assert pathlib.Path(REPO_ROOT / "deploy" / "Dockerfile").read_text().count("ENTRYPOINT") == 1
