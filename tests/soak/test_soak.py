"""Soak: 30 minutes of running by three runners, replayed at 60x through the collector process, real
Mosquitto (the deployment's password file and ACL: every role logs in, the collector through
STRIDEGUARD_MQTT_* as docker-compose sets it, the workers through --username/--password), two worker
processes writing InfluxDB and one shared SQLite store (`--db`), while the broker restarts twice, workers
are SIGKILLed three times, InfluxDB is down twice, a record of a worker's InfluxDB spool is damaged, and a
hostile runner with its own login sends what the worker's input accepts at the byte level but must refuse.
It must end in exact counts: every step, window and alert of the embedded analysis of each well-behaved
runner in InfluxDB and in SQLite once, equal field by field, and every step on MQTT in order; the hostile
runner's messages each dropped and counted (by the worker's counters and its session's `dropped` summary).

A full disk under the store is its own short test (`test_a_worker_whose_store_fills_the_disk_...`): a
full disk loses rows by definition, so there the assertion is that none is lost silently.

Built on the live-pipeline rig (tests/stream/test_e2e_live.py: its `Rig`, observer and assertions are
imported, not copied). Faults are driven by progress (the share of steps the observer has seen), so each
lands mid-run whatever the machine's speed.

It cannot hang CI: every phase runs under `phase()`, a deadline that fails the test with the phase's name
and the processes' logs. `asyncio.timeout` cancels a phase that waits too long; a SIGALRM backstop a
little later fails it even if the event loop itself is blocked (a stuck synchronous call), where no
asyncio timeout could fire.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import re
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator

import numpy as np
import pytest

from strideguard.stream.influx.spool import Spool
from strideguard.stream.mqtt.connection import MqttConnection, MqttSettings
from strideguard.stream.mqtt.payload import encode_imu
from strideguard.stream.mqtt.topics import partition_of, topic, worker_partitions
from strideguard.stream.sqlite.store import STORE_LOST, SessionStore
from tests.fixtures_services import InfluxDBService, MosquittoService, running
from tests.stream.engine_helpers import batch_like
from tests.stream.test_e2e_live import (
    RUNNERS,
    Observer,
    Rig,
    assert_influx_equals_embedded,
    assert_mqtt_steps_complete_and_ordered,
    assert_store_equals_embedded,
    expected_counts,
    influx_counts,
    make_inputs,
    start_all,
    wait_until,
)
from tests.stream.test_store_faults import tmpfs
from tests.stream.test_worker import run_batches

pytestmark = [pytest.mark.services, pytest.mark.slow]

__all__ = ["tmpfs"]  # a fixture, used by name

SOAK_DATA_S = 30 * 60.0  # s of running per runner
SPEED = 60.0  # x real time: 30 min of data published in 30 s, slow enough for the faults to land mid-run
PHASE_TIMEOUT_S = 240.0  # no phase takes more than ~60 s on a loaded 2-CPU machine; a hang fails here
ALARM_GRACE_S = 30.0  # the SIGALRM backstop fires this much after the asyncio deadline
DEPLOY = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
# the logins of deploy/mosquitto/passwd (demo passwords, as docker-compose's defaults)
LOGINS = {role: (role, f"{role}-demo") for role in ("collector", "worker", "coach", "runner-1")}
HOSTILE = "runner-1"  # a runner login: may publish only strideguard/v1/+/runner-1/imu/+ (and its control)
HOSTILE_SESSION = f"{HOSTILE}-hostile"
POISON = b"\x01poison"  # retained before any worker starts; "payload of 7 bytes is shorter than ..."
POISON_SEEN = f"payload of {len(POISON)} bytes is shorter than"
CANARIES = {
    "a": b"soak_canary,record=a v=1i\n",
    "b": b"soak_canary,record=b v=2i\n",
    "c": b"soak_canary,record=c v=3i\n",
}


ROOM_LEFT_BYTES = 640 * 1024  # the store fills this mid-run (WAL pages: a part of the sessions fits)
LOSS_LINE = (
    r"strideguard worker: error: sqlite \([^)]*\): (\d+) steps, (\d+) windows, (\d+) risk events of \d+ sessions? not"
)


def secured_broker(workdir: pathlib.Path) -> MosquittoService:
    """The Debian Mosquitto with the deployment's own config, password file and ACL file."""
    lines = (DEPLOY / "mosquitto.conf").read_text().replace("/mosquitto/config/", f"{DEPLOY}/").splitlines()
    return MosquittoService(workdir=workdir, base_config=[ln for ln in lines if ln and not ln.startswith("#")])


@pytest.fixture
def secured_rig(
    request: pytest.FixtureRequest, influxdb_private: InfluxDBService, tmp_path: pathlib.Path
) -> Iterator[Rig]:
    """The live rig on the secured broker, with logins for every role and the workers' shared store."""
    (tmp_path / "mosquitto").mkdir()
    with running(secured_broker(tmp_path / "mosquitto")) as broker:
        r = Rig(
            broker=broker,  # type: ignore[arg-type]
            influx=influxdb_private,
            team="club",
            database=influxdb_private.create_database("live"),
            tmp=tmp_path,
            inputs=make_inputs(tmp_path, getattr(request, "param", SOAK_DATA_S)),
            credentials={role: LOGINS[role] for role in ("collector", "worker")},
            db=tmp_path / "club.db",
        )
        try:
            yield r
        finally:
            r.stop()


@contextlib.asynccontextmanager
async def phase(
    name: str, rig: Rig | None, timeout_s: float = PHASE_TIMEOUT_S, alarm_grace_s: float = ALARM_GRACE_S
) -> AsyncIterator[None]:
    """Run one soak phase under a hard deadline that fails the test with a clear message, never hangs."""
    logs = (lambda: rig.logs()) if rig is not None else (lambda: "")

    def on_alarm(signum: int, frame: object) -> None:
        pytest.fail(
            f"soak phase {name!r} still running {timeout_s + alarm_grace_s:g} s after it started, with "
            f"the event loop blocked\n{logs()}",
            pytrace=False,
        )

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s + alarm_grace_s)
    try:
        async with asyncio.timeout(timeout_s):
            yield
    except TimeoutError:
        pytest.fail(f"soak phase {name!r} did not finish within {timeout_s:g} s\n{logs()}", pytrace=False)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Faults:
    """The fault schedule and what was done, for the report and the final assertions."""

    def __init__(self, rig: Rig, observer: Observer) -> None:
        self.rig, self.observer = rig, observer
        self.done: list[str] = []
        self.expected_steps = {r: len(rig.inputs.expected[r].steps) for r in RUNNERS}

    def progress(self) -> float:
        """Smallest share of its steps any runner has reached on MQTT (0..1)."""
        seen = {r: sum(len(v) for k, v in self.observer.steps.items() if k.startswith(f"{r}-")) for r in RUNNERS}
        return min(seen[r] / self.expected_steps[r] for r in RUNNERS)

    async def at(self, share: float) -> None:
        await wait_until(lambda: self.progress() >= share, 120, f"{share:.0%} of the steps", self.rig)

    async def kill_worker(self, index: int, while_down: Callable[[], None] | None = None) -> None:
        name = f"worker-{self.rig.team}-{index}of2"
        at = self.progress()
        self.rig.workers[index].signal(signal.SIGKILL)
        await wait_until(lambda: self.observer.services.get(name) == "offline", 15, f"{name}'s will", self.rig)
        if while_down is not None:
            while_down()
        self.rig.workers[index] = self.rig.worker(index)
        await wait_until(lambda: self.observer.services.get(name) == "online", 30, f"{name} back", self.rig)
        self.done.append(f"SIGKILL worker {index} at {at:.0%}")

    async def restart_broker(self, down_s: float) -> None:
        at = self.progress()
        self.rig.broker.stop()
        await asyncio.sleep(down_s)
        self.rig.broker.start()
        self.done.append(f"broker down {down_s:g} s at {at:.0%}")

    def influx_down(self) -> float:
        self.rig.influx.stop()
        self.done.append(f"InfluxDB stopped at {self.progress():.0%}")
        return time.monotonic()

    def influx_up(self, since: float) -> None:
        self.rig.influx.start()
        self.done.append(f"InfluxDB back after {time.monotonic() - since:.0f} s")


class Hostile:
    """Runner `runner-1` with its own login, sending everything its topic accepts at the byte level that a
    worker must refuse: the messages the issue lists. What each should cost is known in advance, so the
    end can be checked exactly: `bad` messages dropped as undecodable or misnamed, `foreign` messages
    naming another runner's session, and the edge drops of its own session's summary."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.settings = MqttSettings(
            host=rig.broker.host, port=rig.broker.port, username=HOSTILE, password=f"{HOSTILE}-demo"
        )
        self.batches = run_batches(HOSTILE, 2, duration_s=20)  # 40 batches of 0.5 s
        self.own = partition_of(rig.team, HOSTILE)
        self.bad = 0  # messages that must count as bad_payloads (besides the retained poison)
        self.foreign = 0  # messages that must count as foreign
        n = len(self.batches[0])
        self.values = np.array(self.batches[3].values)
        self.values[::2] = np.nan
        self.values[1::4] = np.inf
        self.expected_dropped = {
            "samples not after the previous one (time went back)": n,
            "samples not finite or out of range": int((~np.isfinite(self.values)).any(axis=1).sum()),
            "samples after the device changed its rate": n,
            "samples at an impossible rate": n,
        }

    def imu(self, partition: int) -> str:
        return f"{topic(self.rig.team, HOSTILE, 'imu')}/{partition}"

    async def poison(self) -> None:
        """Retained on a partition of each worker, before any starts: every new worker gets it first."""
        async with MqttConnection(settings=self.settings, client_id="hostile-poisoner") as conn:
            for index in (0, 1):
                await conn.publish(self.imu(worker_partitions(index, 2)[0]), POISON, retain=True)

    async def first_part(self, victim_session: str) -> None:
        b, own = self.batches, self.imu(self.own)
        victim_owner = partition_of(self.rig.team, RUNNERS[0]) % 2
        other = self.imu(worker_partitions(1 - victim_owner, 2)[0])  # where the victim's session is NOT open
        messages: list[tuple[str, bytes]] = [
            (own, encode_imu(b[0], session=HOSTILE_SESSION, seq=0)),
            (own, encode_imu(b[1], session=HOSTILE_SESSION, seq=1)),
            (own, encode_imu(b[0], session=HOSTILE_SESSION, seq=2)),  # time goes back
            (own, encode_imu(batch_like(b[3], values=self.values), session=HOSTILE_SESSION, seq=3)),  # NaN, inf
            (own, encode_imu(batch_like(b[4], rate_hz=b[4].rate_hz * 4), session=HOSTILE_SESSION, seq=4)),
            (own, encode_imu(batch_like(b[5], rate_hz=1e7), session=HOSTILE_SESSION, seq=5)),  # absurd rate
            *((own, encode_imu(b[i], session=HOSTILE_SESSION, seq=i)) for i in range(6, 20)),
        ]
        bad = [
            b"{" + b" " * 70_000 + b"}",  # an oversized JSON message
            encode_imu(b[20], session=HOSTILE_SESSION, seq=20)[:-10],  # lies about its size
            encode_imu(b[20], session=f"{HOSTILE}-a\\", seq=0),  # a session id ending in a backslash
            encode_imu(b[20], session=f"{HOSTILE}-\x07bell", seq=0),  # a control character
            encode_imu(batch_like(b[20], device="imu\x1b[2J"), session=HOSTILE_SESSION, seq=20),  # a device
            b'{"v":1,"kind":"hr","session":"runner-1-hostile","seq":20,"device":"hr","t_ns":1,'
            b'"heart_rate_bpm":NaN,"rr_intervals_ms":[]}',  # NaN in a reading
        ]
        messages += [(own, payload) for payload in bad]
        # Another runner's live session id: on the worker where it is open, and on the other worker
        # (a session of its own there under the victim's id), ending with a final message to finish it.
        messages.append(
            (self.imu(worker_partitions(victim_owner, 2)[0]), encode_imu(b[20], session=victim_session, seq=10**6))
        )
        messages += [(other, encode_imu(b[20 + i], session=victim_session, seq=i)) for i in range(12)]
        end = batch_like(b[0], t_ns=np.empty(0, np.int64), values=np.empty((0, 3), np.float32))
        messages.append((other, encode_imu(end, session=victim_session, seq=12, final=True)))
        self.bad += len(bad)
        self.foreign += 14
        async with MqttConnection(settings=self.settings, client_id="hostile-runner") as conn:
            for name, payload in messages:
                await conn.publish(name, payload)

    async def second_part(self) -> None:
        """The rest of its session and its end, and two more undecodable messages (these reach the last
        process of the worker that owns the runner, whose stop line must count them)."""
        b, own = self.batches, self.imu(self.own)
        end = batch_like(b[0], t_ns=np.empty(0, np.int64), values=np.empty((0, 3), np.float32))
        messages = [(own, encode_imu(b[i], session=HOSTILE_SESSION, seq=i)) for i in range(20, 40)]
        messages += [(own, b"\x01garbage"), (own, b"\x07not a version")]
        messages.append((own, encode_imu(end, session=HOSTILE_SESSION, seq=40, final=True)))
        self.bad += 2
        async with MqttConnection(settings=self.settings, client_id="hostile-runner") as conn:
            for name, payload in messages:
                await conn.publish(name, payload)


BAD_LINE = "dropping a bad message on "
FOREIGN_LINE = "for a session of another runner"


def hostile_drops(rig: Rig) -> tuple[int, int, int]:
    """Across every worker process so far: bad messages (without the poison), poison, foreign drops."""
    logs = "".join(w.log() for w in rig.workers)
    poison = len(re.findall(rf"{BAD_LINE}\S+/{HOSTILE}/imu/\d+: [^\n]*{POISON_SEEN}", logs))
    return logs.count(BAD_LINE) - poison, poison, logs.count(FOREIGN_LINE)


def last_process(log: str) -> str:
    """The log of a worker's last process (the log file is appended to by every start)."""
    return log.rsplit("partitions of team", 1)[-1]


def stat(text: str, name: str) -> int:
    found = re.findall(rf"\b{name}=(\d+)", text)
    assert found, f"no {name}= in\n{text[-2000:]}"
    return int(found[-1])


def plant_spool_records(spool_dir: pathlib.Path) -> int:
    """Three records of the test's own canary points appended to a stopped worker's spool, the middle
    one damaged by one flipped byte that keeps its line valid (`v=2i` -> `v=3i`): delivered as is, it
    would be a point. Returns the damaged byte's offset."""
    spool = Spool(spool_dir)
    try:
        spool.append(CANARIES["a"])
        spool.append(CANARIES["b"])
        end_of_b = spool_dir.joinpath("spool.log").stat().st_size
        spool.append(CANARIES["c"])
    finally:
        spool.close()
    offset = end_of_b - len(CANARIES["b"]) + CANARIES["b"].index(b"2i")
    with open(spool_dir / "spool.log", "r+b") as f:
        f.seek(offset)
        assert f.read(1) == b"2"
        f.seek(offset)
        f.write(b"3")
    return offset


@pytest.mark.parametrize("secured_rig", [SOAK_DATA_S], indirect=True)
async def test_soak_30_minutes_with_faults_ends_in_exact_counts(secured_rig: Rig) -> None:
    rig = secured_rig
    owned = {i: [r for r in RUNNERS if partition_of(rig.team, r) % 2 == i] for i in (0, 1)}
    assert owned[0] and owned[1], "each worker must own a runner for its crash to mean anything"
    hostile = Hostile(rig)
    hostile_owner = hostile.own % 2
    spool_dir = rig.tmp / "worker1" / "influx-spool"
    damaged: list[int] = []
    started = time.monotonic()
    async with Observer(rig.broker, rig.team, LOGINS["coach"]) as observer:  # its start is bounded (10 s)
        faults = Faults(rig, observer)
        async with phase("a retained poison message, then start workers and collector", rig):
            await hostile.poison()
            faults.done.append("retained poison on a partition of each worker")
            await start_all(rig, observer, speed=SPEED)
        async with phase("kill worker 0 at 10 %", rig):
            await faults.at(0.10)
            await faults.kill_worker(0)
        async with phase("restart the broker at 25 %", rig):
            await faults.at(0.25)
            await faults.restart_broker(3.0)
        async with phase("hostile runner at 30 %", rig):
            await faults.at(0.30)
            victim = next(s for s in observer.steps if s.startswith(f"{RUNNERS[0]}-"))
            await hostile.first_part(victim)
            await wait_until(
                lambda: (hostile_drops(rig)[0], hostile_drops(rig)[2]) == (hostile.bad, hostile.foreign),
                30,
                f"{hostile.bad} bad and {hostile.foreign} foreign messages dropped",
                rig,
            )
            faults.done.append(f"hostile runner: {hostile.bad} bad, {hostile.foreign} foreign, 4 edge cases")
        async with phase("InfluxDB down, kill worker 1 and damage its spool at 40 %", rig):
            await faults.at(0.40)
            spooled_before = spool_dir.joinpath("spool.log").stat().st_size
            influx_since = faults.influx_down()
            await wait_until(
                lambda: spool_dir.joinpath("spool.log").stat().st_size > spooled_before, 30, "worker 1 spooling", rig
            )
            await faults.kill_worker(1, while_down=lambda: damaged.append(plant_spool_records(spool_dir)))
            faults.done.append(f"worker 1's spool: 3 records planted, byte {damaged[0]} of the 2nd flipped")
        async with phase("InfluxDB up at 55 %", rig):
            await faults.at(0.55)
            faults.influx_up(influx_since)
        async with phase("restart the broker at 65 %", rig):
            await faults.at(0.65)
            await faults.restart_broker(2.0)
        async with phase("InfluxDB down, kill worker 0 at 75 %", rig):
            await faults.at(0.75)
            influx_since = faults.influx_down()
            await faults.kill_worker(0)
            await asyncio.sleep(3.0)
            faults.influx_up(influx_since)
        async with phase("hostile runner ends its session at 85 %", rig):
            await faults.at(0.85)
            await hostile.second_part()
            faults.done.append("hostile runner: 2 more bad, its session finished")
        async with phase("drain: sessions finished, InfluxDB complete", rig, timeout_s=PHASE_TIMEOUT_S + 120):
            await wait_until(lambda: len(observer.finished) == 4, 180, "4 finished sessions", rig)
            await wait_until(lambda: influx_counts(rig) == expected_counts(rig), 120, "all points in InfluxDB", rig)
    counts = influx_counts(rig)
    assert observer.finished[HOSTILE] == HOSTILE_SESSION  # and none of its messages finished another's
    assert_influx_equals_embedded(rig, observer.finished)
    # MQTT is at-least-once: a worker killed after publishing but before its journal says so publishes
    # those steps again on restart; receivers drop them by (session, t_ns). InfluxDB holds each once.
    duplicates = assert_mqtt_steps_complete_and_ordered(rig, observer)
    async with phase("stop the workers", rig):
        rig.stop()
    rcs = [w.proc.returncode if w.proc else None for w in rig.workers]
    assert rcs == [0, 0], f"the workers' exit codes (2: the store lost rows)\n{rig.logs()}"
    # SQLite: the rebuilt workers wrote outputs again; each row is there once.
    stored = assert_store_equals_embedded(rig, observer.finished)
    with sqlite3.connect(rig.db) as db:  # type: ignore[arg-type]
        rows = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("steps", "windows", "risk_events")}
    # the hostile session's own summary: each edge case dropped and counted by reason, nothing else
    store = SessionStore(rig.db, readonly=True)  # type: ignore[arg-type]
    hostile_row = store.session(HOSTILE_SESSION)
    store.close()
    assert hostile_row is not None and hostile_row.status == "completed"
    assert hostile_row.summary["dropped"] == hostile.expected_dropped
    assert {r for (r,) in sqlite3.connect(rig.db).execute("SELECT runner FROM sessions")} == {*RUNNERS, HOSTILE}  # type: ignore[arg-type]

    logs = [w.log() for w in rig.workers]
    bad, poison, foreign = hostile_drops(rig)
    assert (bad, foreign) == (hostile.bad, hostile.foreign), rig.logs()  # each dropped once, none taken
    assert all(POISON_SEEN in log for log in logs), "each worker got the poison"
    # The workers' own counters agree with what they logged, in each last process (a SIGKILLed process
    # prints no counters): removing the count fails here, removing the drop fails above.
    for log in logs:
        last = last_process(log)
        assert stat(last, "bad_payloads") == last.count(BAD_LINE), last
        assert stat(last, "foreign") == last.count(FOREIGN_LINE), last
    assert stat(last_process(logs[hostile_owner]), "bad_payloads") >= 2  # the two late ones, at least
    # The damaged spool record, and only it, was lost: the canaries before and after it arrived.
    canaries = rig.influx.series_rows("SELECT v FROM soak_canary GROUP BY record", database=rig.database)
    assert sorted((r["record"], r["v"]) for r in canaries) == [("a", 1), ("c", 3)]
    assert stat(last_process(logs[1]), "spool_damaged_records") == 1
    assert "damaged record at offset" in logs[1], rig.logs()
    print(
        f"soak: {SOAK_DATA_S / 60:g} min x {len(RUNNERS)} runners + 1 hostile in {time.monotonic() - started:.0f} s "
        f"wall; InfluxDB {counts} == expected; SQLite {stored} == expected (all rows: {rows}); MQTT step "
        f"messages delivered twice: {duplicates}; hostile: {bad} bad + {poison} poison deliveries + "
        f"{foreign} foreign dropped, edge {hostile_row.summary['dropped']}\nfault schedule: "
        + "\n  ".join(["", *faults.done])
    )
    assert len(faults.done) == 13
    # No gap in any session's input sequence, as the workers count it at their clean stop.
    joined = "".join(logs)
    assert joined.count("gaps=") >= 2 and joined.count("gaps=") == joined.count("gaps=0,"), rig.logs()


@pytest.mark.parametrize("secured_rig", [80.0], indirect=True)
async def test_a_worker_whose_store_fills_the_disk_loses_nothing_silently(
    secured_rig: Rig, tmpfs: Callable[[str], pathlib.Path]
) -> None:
    """The store on a real tmpfs that fills up mid-run (a filler file takes all but a little of it once
    the workers have created the store). The worker goes on (InfluxDB exact); each session in SQLite is
    either whole (`completed`) or not said to be: `incomplete` (its `store_lost` counts what was lost up
    to the last mark that still fitted: a lower bound on a disk with no room left) or, when not even
    the mark fitted, `running` (listed as unfinished); every stored row is right; and each worker that
    lost rows exits 2 with one line whose counts, added to what is stored, give exactly what was
    analysed, table by table."""
    rig = secured_rig
    disk = tmpfs("2m")
    rig.db = disk / "club.db"
    async with (
        Observer(rig.broker, rig.team, LOGINS["coach"]) as observer,
        phase("start the workers, fill the disk, run", rig),
    ):
        rig.start_workers()
        names = {"worker-club-0of2", "worker-club-1of2"}
        await wait_until(lambda: all(observer.services.get(n) == "online" for n in names), 20, "workers", rig)
        free = os.statvfs(disk)
        (disk / "filler").write_bytes(b"\0" * (free.f_bavail * free.f_frsize - ROOM_LEFT_BYTES))
        rig.start_collector(speed=0)
        await wait_until(lambda: len(observer.finished) == 3, 60, "3 finished sessions", rig)
        await wait_until(lambda: influx_counts(rig) == expected_counts(rig), 30, "all points in InfluxDB", rig)
    assert_influx_equals_embedded(rig, observer.finished)
    async with phase("stop the workers", rig):
        rig.stop()
    rcs = [w.proc.returncode if w.proc else None for w in rig.workers]
    (disk / "filler").unlink()  # room to read (WAL) again
    logs = rig.logs()
    # What the workers said they lost (one line each that lost anything), per table
    said = [tuple(map(int, m)) for m in re.findall(LOSS_LINE, logs)]
    reported = dict(zip(("steps", "windows", "risk_events"), map(sum, zip(*said, strict=True)), strict=True))
    kept = dict.fromkeys(reported, 0)
    store = SessionStore(rig.db, readonly=True)
    try:
        for runner in RUNNERS:
            exp, sid = rig.inputs.expected[runner], observer.finished[runner]
            row = store.session(sid)
            assert row is not None, f"{runner}: no session row"
            lost = row.summary.get(STORE_LOST)
            for table in kept:
                rows = getattr(store, table)(sid)
                assert set(map(repr, rows)) <= set(map(repr, getattr(exp, table))), f"{runner} {table}: wrong rows"
                kept[table] += len(rows)
                if row.status == "incomplete":  # marked, with the loss counted up to the last mark that fitted
                    assert len(rows) + lost[table] <= len(getattr(exp, table)), f"{runner} {table}: {lost}"
            if row.status == "completed":
                assert lost is None and store.steps(sid) == list(exp.steps), row
            else:  # not even the mark fitted: left `running` (listed as unfinished), and the worker said so
                assert row.status in ("incomplete", "running"), row
                assert row.status == "incomplete" or "could not be marked incomplete either" in logs, logs
    finally:
        store.close()
    statuses = [s.status for s in SessionStore(rig.db, readonly=True).sessions()]
    print(f"full disk: sessions {statuses}, stored {kept}, reported lost {reported} by lines {said}; exit codes {rcs}")
    assert sum(reported.values()) > 0, "the disk never filled: this test proved nothing"
    for table, n in kept.items():  # nothing lost silently: stored + said lost = analysed, table by table
        assert n + reported[table] == sum(len(getattr(e, table)) for e in rig.inputs.expected.values()), table
    assert sorted(rcs) == sorted(2 if any(m for m in re.findall(LOSS_LINE, w.log())) else 0 for w in rig.workers)
    assert "not stored (the disk is full)" in logs, logs


async def test_a_phase_that_waits_too_long_fails_with_its_name() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"phase 'stuck await' did not finish within 0\.2 s"):
        async with phase("stuck await", None, timeout_s=0.2):
            await asyncio.Event().wait()


async def test_a_phase_that_blocks_the_event_loop_fails_instead_of_hanging() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"phase 'blocked loop' still running 0\.3 s .* loop blocked"):
        async with phase("blocked loop", None, timeout_s=0.1, alarm_grace_s=0.2):
            time.sleep(30)  # noqa: ASYNC251  a blocking call on purpose: only the SIGALRM backstop may end it
