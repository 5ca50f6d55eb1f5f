"""Real Mosquitto, InfluxDB 1.x and VictoriaMetrics for tests, started here as subprocesses.

Each service binds 127.0.0.1 on a free port, keeps its data, config and log in a temporary directory,
is waited for with a bounded loop, and is stopped by its PID at teardown. Nothing is mocked: the tests
talk to the Debian binaries (`mosquitto`, `influxd`, `victoria-metrics`) that scripts/install.sh puts
on CI machines. A missing binary FAILS the test with a clear message instead of skipping it, so a broken
CI image cannot pass silently.

Fixtures
--------
- `mosquitto`, `influxdb`, `victoriametrics`: one per test session, shared; use a unique topic
  prefix / database name per test.
- `mosquitto_private`, `influxdb_private`: a fresh service for one test, for fault tests that stop,
  kill and restart it (`stop()`, `kill()`, `start()` keep the same port and data directory).
- `service_factory`: start services with extra configuration (e.g. Mosquitto with a password file and
  ACLs) that are stopped when the test ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
START_TIMEOUT_S = 15.0  # bounded wait for a service to accept connections
STOP_TIMEOUT_S = 10.0  # bounded wait for a graceful stop before SIGKILL


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def require_binary(name: str, package: str) -> str:
    """The path of a service binary, or a test failure that says how to install it."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    if path is None:
        pytest.fail(
            f"{name} not found: install the Debian package '{package}' (scripts/install.sh test does)",
            pytrace=False,
        )
    return path


class ServiceProcess:
    """One service subprocess that can be started, stopped gracefully, killed and started again."""

    name = "service"

    def __init__(self, *, workdir: pathlib.Path, port: int | None = None) -> None:
        self.host = HOST
        self.port = port or free_port()
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    # -- what each service defines -------------------------------------------------------------
    def command(self) -> Sequence[str]:
        raise NotImplementedError

    def is_ready(self) -> bool:
        raise NotImplementedError

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc and self.proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    def start(self) -> None:
        """Start (or restart) on the same port and data directory; wait until it answers."""
        if self.running:
            return
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(list(self.command()), stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.proc.returncode} at start; log:\n{self.log_tail()}"
                )
            if self.is_ready():
                return
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(
            f"{self.name} did not answer on {self.host}:{self.port} within {START_TIMEOUT_S} s; log:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Graceful stop (SIGTERM, the service saves its state), SIGKILL after a bounded wait."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """Hard stop (SIGKILL): the service gets no chance to save anything."""
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        self._wait_port_free()

    def _wait_port_free(self) -> None:
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                if sock.connect_ex((self.host, self.port)) != 0:
                    return
            time.sleep(0.02)

    def log_tail(self, n_lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n_lines:])
        except OSError:
            return "(no log)"

    def tcp_open(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            return sock.connect_ex((self.host, self.port)) == 0

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.host}:{self.port} pid={self.pid}>"


class MosquittoService(ServiceProcess):
    """Mosquitto 2.x with on-disk persistence (so queued QoS 1 messages survive a graceful restart).

    `extra_config` lines are appended to the generated listener block (password_file, acl_file, ...).
    `allow_anonymous` defaults to True for the plain test broker; security tests turn it off or pass a
    deployment's own config as `base_config` (its listener and persistence location are replaced).
    """

    name = "mosquitto"

    def __init__(
        self,
        *,
        workdir: pathlib.Path,
        port: int | None = None,
        allow_anonymous: bool = True,
        extra_config: Sequence[str] = (),
        base_config: Sequence[str] | None = None,
    ) -> None:
        super().__init__(workdir=workdir, port=port)
        self.binary = require_binary("mosquitto", "mosquitto")
        self.persistence_dir = workdir / "data"
        self.persistence_dir.mkdir(exist_ok=True)
        self.config_path = workdir / "mosquitto.conf"
        if base_config is not None:
            # A deployment's own config (security tests): keep its settings, own the listener and paths.
            owned = ("listener", "persistence_location", "user", "port", "bind_address")
            lines = [
                "user root" if os.geteuid() == 0 else "",
                f"listener {self.port} {self.host}",
                f"persistence_location {self.persistence_dir}/",
                *(line for line in base_config if line.split(" ", 1)[0] not in owned),
                *extra_config,
            ]
            self.config_path.write_text("\n".join(line for line in lines if line) + "\n")
            return
        lines = [
            # Started as root Mosquitto drops to user `mosquitto`, which cannot enter pytest's 0700
            # tmp dirs; staying root is harmless for a loopback test broker.
            "user root" if os.geteuid() == 0 else "",
            f"listener {self.port} {self.host}",
            f"allow_anonymous {'true' if allow_anonymous else 'false'}",
            "persistence true",
            f"persistence_location {self.persistence_dir}/",
            "autosave_interval 1",
            "max_queued_messages 0",  # 0 = no limit: a stopped worker's session keeps everything
            "max_inflight_messages 100",
            "set_tcp_nodelay true",  # as deploy/mosquitto/mosquitto.conf: no Nagle delay on small messages
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
            *extra_config,
        ]
        self.config_path.write_text("\n".join(line for line in lines if line) + "\n")

    def command(self) -> Sequence[str]:
        return [self.binary, "-c", str(self.config_path)]

    def is_ready(self) -> bool:
        return self.tcp_open()

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


class InfluxDBService(ServiceProcess):
    """InfluxDB 1.x (`influxd`) speaking the v1 HTTP API (/write, /query) on 127.0.0.1."""

    name = "influxdb"

    def __init__(self, *, workdir: pathlib.Path, port: int | None = None) -> None:
        super().__init__(workdir=workdir, port=port)
        self.binary = require_binary("influxd", "influxdb")
        self.rpc_port = free_port()
        self.config_path = workdir / "influxdb.conf"
        self.config_path.write_text(
            f"""reporting-disabled = true
bind-address = "{self.host}:{self.rpc_port}"
[meta]
  dir = "{workdir / "meta"}"
[data]
  dir = "{workdir / "data"}"
  wal-dir = "{workdir / "wal"}"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "{self.host}:{self.port}"
  log-enabled = false
[continuous_queries]
  enabled = false
"""
        )

    def command(self) -> Sequence[str]:
        return [self.binary, "-config", str(self.config_path)]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=0.5) as resp:
                return resp.status == 204
        except (OSError, urllib.error.URLError):
            return False

    def query(self, influxql: str, *, database: str | None = None) -> dict:
        """Run InfluxQL through /query (POST, so CREATE/DROP work too); returns the decoded JSON."""
        params = {"q": influxql, "epoch": "ns"}
        if database:
            params["db"] = database
        data = urllib.parse.urlencode(params).encode()
        with urllib.request.urlopen(f"{self.url}/query", data=data, timeout=10) as resp:
            return json.loads(resp.read())

    def create_database(self, database: str) -> str:
        self.query(f'CREATE DATABASE "{database}"')
        return database

    def series_rows(self, influxql: str, *, database: str) -> list[dict]:
        """The rows of every series a query returns, as dicts (tags merged in)."""
        out: list[dict] = []
        for result in self.query(influxql, database=database).get("results", []):
            if "error" in result:
                raise RuntimeError(f"InfluxQL error: {result['error']} in {influxql!r}")
            for series in result.get("series", []):
                for values in series.get("values", []):
                    row = dict(zip(series["columns"], values))
                    row.update(series.get("tags") or {})
                    out.append(row)
        return out


class VictoriaMetricsService(ServiceProcess):
    """VictoriaMetrics single-node: accepts influxdb-client's /api/v2/write; read back via export."""

    name = "victoria-metrics"

    def __init__(self, *, workdir: pathlib.Path, port: int | None = None) -> None:
        super().__init__(workdir=workdir, port=port)
        self.binary = require_binary("victoria-metrics", "victoria-metrics")

    def command(self) -> Sequence[str]:
        return [
            self.binary,
            f"-httpListenAddr={self.host}:{self.port}",
            f"-storageDataPath={self.workdir / 'data'}",
            "-retentionPeriod=100y",  # test points may carry old timestamps
            "-search.disableCache",
            "-loggerLevel=ERROR",
        ]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=0.5) as resp:
                return resp.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def flush(self) -> None:
        """Make recently written points visible to queries (VictoriaMetrics buffers ~1 s)."""
        with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10):
            pass

    def export(self, match: str = '{__name__!=""}') -> list[dict]:
        """Every series matching a selector as JSON lines from /api/v1/export."""
        self.flush()
        query = urllib.parse.urlencode({"match[]": match, "start": "0"})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=10) as resp:
            return [json.loads(line) for line in resp.read().splitlines() if line.strip()]


@contextlib.contextmanager
def running(service: ServiceProcess) -> Iterator[ServiceProcess]:
    """Start a service and stop it by PID however the block ends."""
    try:
        service.start()
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoService]:
    """A shared Mosquitto for the whole session (anonymous access, persistence on)."""
    with running(MosquittoService(workdir=tmp_path_factory.mktemp("mosquitto"))) as svc:
        yield svc  # type: ignore[misc]


@pytest.fixture
def mosquitto_private(tmp_path: pathlib.Path) -> Iterator[MosquittoService]:
    """A Mosquitto for one test only: stop/kill/start it freely."""
    with running(MosquittoService(workdir=tmp_path / "mosquitto")) as svc:
        yield svc  # type: ignore[misc]


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDBService]:
    """A shared InfluxDB 1.x for the whole session; create one database per test."""
    with running(InfluxDBService(workdir=tmp_path_factory.mktemp("influxdb"))) as svc:
        yield svc  # type: ignore[misc]


@pytest.fixture
def influxdb_private(tmp_path: pathlib.Path) -> Iterator[InfluxDBService]:
    """An InfluxDB 1.x for one test only: stop/kill/start it freely."""
    with running(InfluxDBService(workdir=tmp_path / "influxdb")) as svc:
        yield svc  # type: ignore[misc]


@pytest.fixture(scope="session")
def victoriametrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetricsService]:
    """A shared VictoriaMetrics (the InfluxDB v2 write path's real server)."""
    with running(VictoriaMetricsService(workdir=tmp_path_factory.mktemp("victoriametrics"))) as svc:
        yield svc  # type: ignore[misc]


@pytest.fixture
def service_factory(tmp_path: pathlib.Path) -> Iterator[Callable[..., ServiceProcess]]:
    """`service_factory(MosquittoService, allow_anonymous=False, extra_config=[...])` -> started
    service in its own directory, stopped at the end of the test."""
    started: list[ServiceProcess] = []

    def make(cls: type[ServiceProcess], **kwargs: object) -> ServiceProcess:
        svc = cls(workdir=tmp_path / f"{cls.name}-{len(started)}", **kwargs)  # type: ignore[arg-type]
        started.append(svc)
        svc.start()
        return svc

    try:
        yield make
    finally:
        for svc in reversed(started):
            svc.stop()
