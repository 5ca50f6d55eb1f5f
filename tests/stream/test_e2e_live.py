"""Acceptance: 3 runners -> a collector process -> real Mosquitto -> 2 worker processes -> real InfluxDB,
equal to the embedded analysis of the same input; and the same with the broker down, a worker killed
(SIGKILL) and restarted, and InfluxDB down, with nothing missing, duplicated or out of order."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from strideguard.analytics.results import AnalyzerOutput
from strideguard.sensors import capture
from strideguard.sensors.synthetic import Change, SyntheticConfig, SyntheticRunner
from strideguard.sensors.types import SampleBatch
from strideguard.stream.mqtt.connection import MqttConnection, MqttSettings
from strideguard.stream.mqtt.payload import loads, steps_from_message
from strideguard.stream.mqtt.topics import partition_of
from strideguard.stream.runtime import sources
from strideguard.stream.runtime.app import analyzer_factory
from strideguard.stream.runtime.collector import split_batches
from strideguard.stream.sqlite.store import SessionStore
from tests.fixtures_services import REPO_ROOT, InfluxDBService, MosquittoService

pytestmark = pytest.mark.services

RUNNERS = ("ana", "ben", "cleo")
RISK_TOML = """\
[risk]
warmup_s = 10.0
baseline_s = 30.0
min_baseline_windows = 3
cooldown_s = 20.0
clear_s = 5.0
[risk.metrics.cadence]
sustain_s = 10.0
[risk.metrics.sway_ml]
sustain_s = 10.0
[risk.metrics.impact]
sustain_s = 10.0
"""
CHUNK_S = 0.5  # the collector's default re-chunking of long batches


@dataclasses.dataclass
class Inputs:
    files: dict[str, pathlib.Path]
    config: pathlib.Path
    expected: dict[str, AnalyzerOutput]


def make_inputs(directory: pathlib.Path, duration_s: float) -> Inputs:
    """Three synthetic runners (acc + gyro at 100 Hz) with a fatigue change at 50 s, as captures; the
    expected outputs come from RunnerAnalyzer on what the collector will read from those files."""
    files, expected = {}, {}
    config = directory / "risk.toml"
    config.write_text(RISK_TOML)
    for i, runner in enumerate(RUNNERS):
        change = Change(at_s=50, ramp_s=5, cadence_pct=-8, sway_pct=40, impact_pct=25)
        run = SyntheticRunner(SyntheticConfig(cadence_spm=160 + 4 * i, changes=(change,))).generate(
            duration_s, 100, seed=i, runner=runner, device=f"imu-{runner}"
        )
        path = directory / f"{runner}.sgcap"
        capture.write_batches(path, [run.acc, run.gyro])
        files[runner] = path
        analyzer = analyzer_factory(RISK_TOML)(runner)
        out = AnalyzerOutput()
        for batch in split_batches(sources.read_file(path), CHUNK_S):
            if isinstance(batch, SampleBatch):
                out = out + analyzer.push(batch)
        expected[runner] = out + analyzer.finish()
    return Inputs(files=files, config=config, expected=expected)


class Role:
    """A `strideguard` subprocess (collector or worker), stopped by its PID."""

    def __init__(self, args: list[str], log_path: pathlib.Path, env: dict[str, str] | None = None) -> None:
        self.args, self.log_path, self.env = args, log_path, env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "strideguard.stream.cli", *self.args],
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            )

    def signal(self, sig: int, timeout_s: float = 30) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # never leave a stuck process behind for the rest of the run
            self.proc.wait(timeout=timeout_s)
            raise AssertionError(
                f"`strideguard {self.args[0]}` did not exit within {timeout_s:g} s of signal "
                f"{sig}; killed it. Log tail:\n{self.log()[-3000:]}"
            ) from None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclasses.dataclass
class Rig:
    broker: MosquittoService
    influx: InfluxDBService
    team: str
    database: str
    tmp: pathlib.Path
    inputs: Inputs
    workers: list[Role] = dataclasses.field(default_factory=list)
    collector: Role | None = None
    # role -> (user, password) on a broker with the deployment's password file and ACL: the workers get
    # them as --username/--password, the collector as STRIDEGUARD_MQTT_* (as docker-compose sets them)
    credentials: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    db: pathlib.Path | None = None  # the workers' shared SQLite store (--db), if any

    def worker(self, index: int, count: int = 2) -> Role:
        role = Role(
            [
                "worker",
                "--broker",
                f"mqtt://{self.broker.host}:{self.broker.port}",
                "--team",
                self.team,
                "--index",
                str(index),
                "--count",
                str(count),
                "--state-dir",
                str(self.tmp / f"worker{index}"),
                "--influx-url",
                self.influx.url,
                "--influx-db",
                self.database,
                "--config",
                str(self.inputs.config),
                *self.login_options("worker"),
                *(["--db", str(self.db)] if self.db is not None else []),
            ],
            self.tmp / f"worker{index}.log",
        )
        role.start()
        return role

    def login_options(self, role: str) -> list[str]:
        if role not in self.credentials:
            return []
        user, password = self.credentials[role]
        return ["--username", user, "--password", password]

    def start_workers(self) -> None:
        self.workers = [self.worker(0), self.worker(1)]

    def start_collector(self, *, speed: float) -> None:
        files = [str(self.inputs.files[r]) for r in RUNNERS]
        user, password = self.credentials.get("collector", ("", ""))
        self.collector = Role(
            [
                "collect",
                "--broker",
                f"mqtt://{self.broker.host}:{self.broker.port}",
                "--team",
                self.team,
                "--speed",
                str(speed),
                *files,
            ],
            self.tmp / "collector.log",
            env={"STRIDEGUARD_MQTT_USERNAME": user, "STRIDEGUARD_MQTT_PASSWORD": password}
            if (user, password) != ("", "")
            else None,
        )
        self.collector.start()

    def stop(self) -> None:
        for role in [self.collector, *self.workers]:
            if role is not None:
                role.signal(signal.SIGTERM)

    def logs(self) -> str:
        return "\n".join(f"--- {r.log_path.name}\n{r.log()[-3000:]}" for r in [self.collector, *self.workers] if r)

    def influx_rows(self, measurement: str, fields: str) -> list[dict]:
        return self.influx.series_rows(
            f"SELECT {fields} FROM {measurement} GROUP BY * ORDER BY time", database=self.database
        )


@pytest.fixture
def rig(
    request: pytest.FixtureRequest,
    mosquitto_private: MosquittoService,
    influxdb_private: InfluxDBService,
    tmp_path: pathlib.Path,
) -> Iterator[Rig]:
    duration_s = getattr(request, "param", 80.0)  # baseline 10-40 s, change at 50 s, alerts near 60 s
    database = influxdb_private.create_database("live")
    r = Rig(
        broker=mosquitto_private,
        influx=influxdb_private,
        team="club",
        database=database,
        tmp=tmp_path,
        inputs=make_inputs(tmp_path, duration_s),
    )
    try:
        yield r
    finally:
        r.stop()


class Observer:
    """Subscribes to the team's outputs and status like a dashboard would (persistent session)."""

    def __init__(self, broker: MosquittoService, team: str, login: tuple[str, str] | None = None) -> None:
        user, password = login or (None, None)
        self.settings = MqttSettings(
            host=broker.host, port=broker.port, reconnect_max_s=0.5, username=user, password=password
        )
        self.team = team
        self.steps: dict[str, list] = {}
        self.finished: dict[str, str] = {}  # runner -> session id
        self.services: dict[str, str] = {}  # worker/collector name -> online / offline
        self.task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def run(self) -> None:
        conn = MqttConnection(
            settings=self.settings,
            client_id=f"observer-{self.team}",
            subscriptions=[
                f"strideguard/v1/{self.team}/+/steps",
                f"strideguard/v1/{self.team}/+/status",
                "strideguard/v1/_services/+/status",
            ],
        )
        async with conn:
            self.ready.set()
            async for m in conn.messages():
                runner, kind = m.topic.split("/")[3:5]
                message = loads(m.payload)
                if m.topic.startswith("strideguard/v1/_services/"):
                    self.services[runner] = message["state"]
                elif kind == "steps":
                    self.steps.setdefault(message["session_id"], []).extend(steps_from_message(message))
                elif message.get("state") == "finished":
                    self.finished[runner] = message["session_id"]

    async def __aenter__(self) -> Observer:
        self.task = asyncio.create_task(self.run())
        await asyncio.wait_for(self.ready.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()


async def start_all(rig: Rig, observer: Observer, *, speed: float) -> None:
    """Workers first: until a worker has subscribed once, the broker keeps nothing for it."""
    rig.start_workers()
    names = {"worker-club-0of2", "worker-club-1of2"}
    await wait_until(lambda: all(observer.services.get(n) == "online" for n in names), 20, "workers online", rig)
    rig.start_collector(speed=speed)


async def wait_until(predicate, timeout_s: float, what: str, rig: Rig) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.2)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}\n{rig.logs()}")


def expected_counts(rig: Rig) -> dict[str, int]:
    out = rig.inputs.expected.values()
    return {
        "steps": sum(len(o.steps) for o in out),
        "windows": sum(len(o.windows) for o in out),
        "alerts": sum(len(o.risk_events) for o in out),
    }


def influx_counts(rig: Rig) -> dict[str, int]:
    """Points of the well-behaved runners (a hostile runner of the soak has its own)."""
    counts = {}
    only = f"WHERE runner =~ /^({'|'.join(RUNNERS)})$/"
    for measurement, field in (("steps", "index"), ("windows", "n_steps"), ("alerts", "value")):
        rows = rig.influx.series_rows(f"SELECT count({field}) FROM {measurement} {only}", database=rig.database)
        counts[measurement] = int(rows[0]["count"]) if rows else 0
    return counts


def assert_influx_equals_embedded(rig: Rig, sessions: dict[str, str]) -> None:
    """Every step, window and alert in InfluxDB equals the embedded analysis, once each, in order."""
    assert influx_counts(rig) == expected_counts(rig)
    for runner in RUNNERS:
        exp = rig.inputs.expected[runner]
        sid = sessions[runner]
        q = f"WHERE session = '{sid}' ORDER BY time"
        steps = rig.influx.series_rows(f"SELECT index, impact_g, step_time_s FROM steps {q}", database=rig.database)
        assert [(r["time"], r["index"], r["impact_g"], r["step_time_s"]) for r in steps] == [
            (s.t_ns, s.index, s.impact_g, s.step_time_s) for s in exp.steps
        ]
        windows = rig.influx.series_rows(
            f"SELECT t_start_ns, n_steps, cadence_spm, impact_g, sway_ml_ratio, risk_score FROM windows {q}",
            database=rig.database,
        )
        assert [
            (
                r["time"],
                r["t_start_ns"],
                r["n_steps"],
                r["cadence_spm"],
                r["impact_g"],
                r["sway_ml_ratio"],
                r["risk_score"],
            )
            for r in windows
        ] == [
            (w.t_end_ns, w.t_start_ns, w.n_steps, w.cadence_spm, w.impact_g, w.sway_ml_ratio, w.risk_score)
            for w in exp.windows
        ]
        alerts = rig.influx.series_rows(f"SELECT value, deviation, metric, kind FROM alerts {q}", database=rig.database)
        assert sorted((r["time"], r["metric"], r["kind"], r["value"], r["deviation"]) for r in alerts) == sorted(
            (e.t_ns, e.metric, e.kind.value, e.value, e.deviation) for e in exp.risk_events
        )
        assert len(exp.risk_events) >= 2, "the fatigue change must raise alerts, or this test proves little"


def assert_store_equals_embedded(rig: Rig, sessions: dict[str, str]) -> dict[str, int]:
    """Every well-behaved runner's session in the workers' SQLite store: completed, and every step, window
    and risk event equal to the embedded analysis, once each (a rebuilt worker wrote some twice). Returns
    the row counts."""
    assert rig.db is not None
    store = SessionStore(rig.db, readonly=True)
    try:
        counts = dict.fromkeys(("steps", "windows", "risk_events"), 0)
        for runner in RUNNERS:
            exp, sid = rig.inputs.expected[runner], sessions[runner]
            row = store.session(sid)
            assert row is not None and (row.runner, row.team, row.status) == (runner, rig.team, "completed"), row
            assert store.steps(sid) == list(exp.steps)
            assert store.windows(sid) == list(exp.windows)
            assert sorted(store.risk_events(sid), key=repr) == sorted(exp.risk_events, key=repr)
            counts = {k: n + len(getattr(exp, k)) for k, n in counts.items()}
        return counts
    finally:
        store.close()


def assert_mqtt_steps_complete_and_ordered(rig: Rig, observer: Observer) -> int:
    """Every step reached MQTT subscribers in order; returns how many were published twice."""
    duplicates = 0
    for runner in RUNNERS:
        got = observer.steps[observer.finished[runner]]
        unique = list(dict.fromkeys(got))
        duplicates += len(got) - len(unique)
        assert unique == list(rig.inputs.expected[runner].steps)
    return duplicates


@pytest.mark.slow
async def test_three_runners_two_worker_processes_equal_the_embedded_pipeline(rig: Rig) -> None:
    rig.db = rig.tmp / "club.db"  # both workers keep the sessions in one store too (`worker --db`)
    async with Observer(rig.broker, rig.team) as observer:
        await start_all(rig, observer, speed=0)
        await wait_until(lambda: len(observer.finished) == 3, 60, "3 finished sessions", rig)
        await wait_until(lambda: influx_counts(rig) == expected_counts(rig), 20, "all points in InfluxDB", rig)
    assert rig.collector is not None and rig.collector.proc is not None
    assert rig.collector.proc.wait(timeout=10) == 0
    assert_influx_equals_embedded(rig, observer.finished)
    assert assert_mqtt_steps_complete_and_ordered(rig, observer) == 0
    # Each runner was analysed by exactly one worker: both took part, and no session was opened twice.
    rig.stop()
    assert_store_equals_embedded(rig, observer.finished)
    logs = [w.log() for w in rig.workers]
    assert all("sessions_finished=" in log for log in logs), rig.logs()
    finished = [int(log.split("sessions_finished=")[1].split(",")[0]) for log in logs]
    assert sum(finished) == 3 and all(finished), finished


async def run_with_faults(rig: Rig, *, broker_down_s: float, influx_down_s: float, speed: float) -> None:
    """The faults are driven by progress, not by the clock, so each one lands mid-run for sure."""
    owned_by_0 = [r for r in RUNNERS if partition_of(rig.team, r) % 2 == 0]
    assert owned_by_0, "worker 0 must own a runner for its crash to mean anything"

    def steps_seen(runner: str) -> int:
        return sum(len(v) for k, v in observer.steps.items() if k.startswith(f"{runner}-"))

    async with Observer(rig.broker, rig.team) as observer:
        await start_all(rig, observer, speed=speed)  # 80 s of data in 80/speed s of publishing
        await wait_until(lambda: steps_seen(owned_by_0[0]) > 0, 30, "worker 0 producing steps", rig)
        rig.workers[0].signal(signal.SIGKILL)  # a crash: no clean disconnect, the will fires
        await wait_until(lambda: observer.services.get("worker-club-0of2") == "offline", 10, "worker 0's will", rig)
        rig.workers[0] = rig.worker(0)
        await wait_until(lambda: observer.services.get("worker-club-0of2") == "online", 20, "worker 0 back", rig)
        rig.influx.stop()
        influx_back_at = time.monotonic() + influx_down_s
        rig.broker.stop()
        await asyncio.sleep(broker_down_s)
        rig.broker.start()
        await asyncio.sleep(max(0.0, influx_back_at - time.monotonic()))
        rig.influx.start()
        await wait_until(lambda: len(observer.finished) == 3, 90, "3 finished sessions", rig)
        await wait_until(lambda: influx_counts(rig) == expected_counts(rig), 60, "all points in InfluxDB", rig)
    assert_influx_equals_embedded(rig, observer.finished)
    duplicates = assert_mqtt_steps_complete_and_ordered(rig, observer)
    print(f"MQTT step messages published twice across the faults: {duplicates}")
    rig.stop()
    logs = rig.workers[0].log() + rig.workers[1].log()
    assert logs.count("gaps=") >= 2 and logs.count("gaps=") == logs.count("gaps=0,"), rig.logs()
    # The faults really happened: a session was rebuilt from a journal, a worker reconnected to the
    # restarted broker, and outputs were spooled while InfluxDB was down.
    assert _stat(logs, "sessions_rebuilt") >= 1, rig.logs()
    assert _stat(logs, "connections") >= 2, rig.logs()
    assert _stat(logs, "batches_spooled") >= 1, rig.logs()


def _stat(logs: str, name: str) -> int:
    """The largest value of `name=<int>` in the workers' stop lines."""
    return max(
        int(part.split("=")[1].strip(",) ")) for part in logs.replace(",", " ").split() if part.startswith(f"{name}=")
    )


@pytest.mark.slow
async def test_faults_short_outages_lose_and_duplicate_nothing(rig: Rig) -> None:
    await run_with_faults(rig, broker_down_s=2.0, influx_down_s=4.0, speed=8)


@pytest.mark.slow
async def test_faults_with_the_issues_durations_lose_and_duplicate_nothing(rig: Rig) -> None:
    """Broker down 10 s, InfluxDB down 30 s, a worker SIGKILLed and restarted: the issue's scenario."""
    await run_with_faults(rig, broker_down_s=10.0, influx_down_s=30.0, speed=8)
