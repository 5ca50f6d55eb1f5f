"""Speed from the phone in the team set-up: the coach's runner page -> the coach -> real Mosquitto ->
the worker that owns the runner -> its windows (and back to the page when refused).

Before: the coach forwarded only snoozes to the runner's control topic and the worker knew only
"snooze", so a runner on the coach's page tapped "share speed", got 202 from the page server, and no
window ever carried a speed (the embedded set-up: tests/stream/test_phone_speed.py)."""

from __future__ import annotations

import asyncio
import json
import pathlib
import time
from collections.abc import AsyncIterator, Callable

import pytest

from strideguard.analytics.results import AnalyzerOutput, WindowMetrics
from strideguard.sensors.synthetic import SyntheticConfig, SyntheticRunner
from strideguard.sensors.types import SampleBatch
from strideguard.stream.mqtt.connection import MqttConnection, MqttSettings, unique_client_id
from strideguard.stream.mqtt.payload import dumps
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.runtime.app import analyzer_factory
from strideguard.stream.runtime.coach import Coach
from strideguard.stream.runtime.collector import Collector
from strideguard.stream.runtime.engine import SessionSummary
from strideguard.stream.runtime.session import SessionInfo
from strideguard.stream.runtime.worker import Worker, WorkerOptions
from strideguard.stream.web import WebServer
from tests.fixtures_services import MosquittoService
from tests.stream.web_raw import request

NS = 1_000_000_000
T_2026_NS = 1_767_250_800 * NS  # 2026-01-01: a recording's time, far from the wall clock
RUNNER = "anna"
AWAY = "phone speeds away from the session's data time (a replay is not on the wall clock)"
JSON = {"Content-Type": "application/json"}


def run_batches(duration_s: float, start_t_ns: int) -> list[SampleBatch]:
    """A steady runner's accelerometer at 25 Hz in 0.5-s batches (one MQTT message each)."""
    run = SyntheticRunner(SyntheticConfig(cadence_spm=166.0)).generate(
        duration_s, 25, seed=11, runner=RUNNER, device="h10", start_t_ns=start_t_ns
    )
    return [b for b in run.iter_batches(0.5) if b.kind.value == "acc"]


async def until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `condition` until it holds (a generous deadline, no timing assert)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:g} s: {what}")
        await asyncio.sleep(0.05)


class TeamSetUp:
    """The team set-up in one process: a worker and a coach (with its WebServer) on a real Mosquitto."""

    def __init__(self, settings: MqttSettings, team: str, state_dir: pathlib.Path) -> None:
        self.settings = settings
        self.team = team
        self.stop = asyncio.Event()
        self.worker = Worker(
            settings=settings,
            options=WorkerOptions(state_dir=state_dir, team=team, silent_after_s=None),
            analyzer_factory=analyzer_factory(""),
        )
        self.bus = busmod.Bus()
        self.coach = Coach(settings=settings, team=team, bus=self.bus)
        self.server = WebServer(self.bus, host="127.0.0.1", port=0)
        self.page = self.bus.subscribe(f"{busmod.TOPIC_ROOT}/{team}/{RUNNER}/+", maxsize=10_000)  # what the page gets
        self.seen: list[tuple[str, dict]] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> TeamSetUp:
        self._tasks = [asyncio.create_task(self.worker.run(self.stop)), asyncio.create_task(self.coach.run(self.stop))]
        await asyncio.wait_for(self.worker.ready.wait(), 15)
        await asyncio.wait_for(self.coach.ready.wait(), 15)
        await self.server.start()
        self._tasks.append(asyncio.create_task(self._watch_page()))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.stop.set()
        await self.server.stop()
        self._tasks[-1].cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _watch_page(self) -> None:
        async for topic_name, message in self.page:
            self.seen.append((topic_name.rsplit("/", 1)[1], message))

    def page_windows(self) -> list[dict]:
        return [m for kind, m in self.seen if kind == "metrics"]

    def page_controls(self, action: str) -> list[dict]:
        return [m for kind, m in self.seen if kind == "control" and m.get("action") == action]

    async def share_speed(self, speed_mps: float) -> int:
        """What the runner page does when the phone has a fix: POST it to the coach's page server."""
        body = json.dumps({"speed_mps": speed_mps, "accuracy_m": 5.0}).encode()
        reply = await request(self.server.port, f"/api/runner/{RUNNER}/speed", method="POST", headers=JSON, body=body)
        return reply.status


@pytest.mark.services
async def test_a_speed_shared_on_the_coachs_runner_page_reaches_the_workers_windows(
    mosquitto: MosquittoService, tmp_path: pathlib.Path
) -> None:
    settings = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    batches = run_batches(60.0, time.time_ns() - 4 * NS)  # a live run: 4 s of backlog, then on the wall clock
    done = asyncio.Event()

    async def live() -> AsyncIterator[object]:
        for batch in batches:
            while int(batch.t_ns[-1]) > time.time_ns():  # a sample is sent once it was "measured"
                await asyncio.sleep(0.05)
            if done.is_set():
                return
            yield batch

    async with TeamSetUp(settings, "teamspeed", tmp_path / "w") as team:
        async with Collector(settings=settings, team=team.team) as collector:
            publishing = asyncio.create_task(collector.publish_session(RUNNER, live()))
            statuses: list[int] = []

            def windows_with_speed() -> list[dict]:
                return [w for w in team.page_windows() if w.get("speed_mps") is not None]

            deadline = time.monotonic() + 45
            while len(windows_with_speed()) < 2 and time.monotonic() < deadline:  # the phone: about 1 Hz
                statuses.append(await team.share_speed(3.2))
                await asyncio.sleep(0.6)
            done.set()
            await asyncio.wait_for(publishing, 15)
        await until(lambda: not team.worker.sessions, 15, "the session finished")
    assert 202 in statuses, statuses
    with_speed = windows_with_speed()
    assert len(with_speed) >= 2, f"{len(team.page_windows())} windows on the page, none with a speed"
    assert all(w["speed_mps"] == pytest.approx(3.2) for w in with_speed)
    assert team.page_controls("speed_refused") == []
    assert team.coach.stats.speeds_forwarded == statuses.count(202)
    assert team.worker.stats.phone_speeds_used >= 2 and team.worker.stats.phone_speeds_refused == 0
    (summary,) = team.worker.engine.summaries.values()
    assert not any("phone" in reason for reason in summary.dropped), summary.dropped


@pytest.mark.services
async def test_a_replayed_sessions_speed_is_refused_and_the_page_hears_why(
    mosquitto: MosquittoService, tmp_path: pathlib.Path
) -> None:
    """A replay runs on its recording's time (2026-01-01): a speed measured now is refused, not put there."""
    settings = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    finish = asyncio.Event()

    async def replay() -> AsyncIterator[object]:
        for batch in run_batches(20.0, T_2026_NS):
            yield batch
        await finish.wait()  # the session stays open (running) until the speed was answered

    async with TeamSetUp(settings, "teamspeedreplay", tmp_path / "w") as team:
        async with Collector(settings=settings, team=team.team) as collector:
            publishing = asyncio.create_task(collector.publish_session(RUNNER, replay()))
            await until(lambda: bool(team.worker.sessions), 15, "the worker opened the session")
            status = 404
            deadline = time.monotonic() + 15
            while status == 404 and time.monotonic() < deadline:  # until the page server sees it running
                await asyncio.sleep(0.6)
                status = await team.share_speed(3.2)
            assert status == 202
            await until(lambda: bool(team.page_controls("speed_refused")), 15, "the refusal came back to the page")
            finish.set()
            await asyncio.wait_for(publishing, 15)
        await until(lambda: not team.worker.sessions, 15, "the session finished")
    (answer,) = team.page_controls("speed_refused")
    assert answer == {"action": "speed_refused", "runner": RUNNER, "reason": AWAY}
    assert all(w.get("speed_mps") is None for w in team.page_windows())
    assert (team.worker.stats.phone_speeds_used, team.worker.stats.phone_speeds_refused) == (0, 1)
    (summary,) = team.worker.engine.summaries.values()
    assert summary.dropped == {AWAY: 1}


class Recorded:
    """A sink that keeps every window a worker writes (what InfluxDB would get)."""

    name = "recorded"

    def __init__(self) -> None:
        self.windows: list[WindowMetrics] = []

    async def open_session(self, session: SessionInfo) -> None:
        return None

    async def write(self, session: SessionInfo, output: AnalyzerOutput) -> None:
        self.windows.extend(output.windows)

    async def close_session(self, session: SessionInfo, summary: SessionSummary) -> None:
        return None

    async def close(self) -> None:
        return None


@pytest.mark.services
async def test_a_rebuilt_worker_applies_the_journaled_speeds_where_the_first_did(
    mosquitto: MosquittoService, tmp_path: pathlib.Path
) -> None:
    """The worker journals a speed as it journals a snooze: a worker stopped mid-session and started
    again from its journal puts every speed into the same windows (the speeds carry the data time here:
    the edge compares with that, not with the wall clock)."""
    team = "teamspeedrebuild"
    settings = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    options = WorkerOptions(state_dir=tmp_path / "w", team=team, silent_after_s=None)
    batches = run_batches(40.0, T_2026_NS)
    control = busmod.topic(team, RUNNER, "control")
    sent_all, finish = asyncio.Event(), asyncio.Event()

    def start(sink: Recorded) -> tuple[Worker, asyncio.Event, asyncio.Task[None]]:
        worker = Worker(settings=settings, options=options, analyzer_factory=analyzer_factory(""), sinks=[sink])
        stop = asyncio.Event()
        return worker, stop, asyncio.create_task(worker.run(stop))

    first_sink = Recorded()
    first, stop_first, first_task = start(first_sink)
    await asyncio.wait_for(first.ready.wait(), 15)
    async with MqttConnection(settings=settings, client_id=unique_client_id("phone")) as phone:

        async def with_speeds() -> AsyncIterator[object]:
            for i, batch in enumerate(batches):
                yield batch
                if i % 2:  # one a second, stamped just before the latest sample, as the coach forwards it
                    speed = {"action": "speed", "runner": RUNNER, "speed_mps": 2.5 + i / 100, "accuracy_m": 4.0}
                    await phone.publish(control, dumps({**speed, "t_ns": int(batch.t_ns[-1]) - NS // 10}), qos=1)
            sent_all.set()
            await finish.wait()  # the final marker only after the restart

        async with Collector(settings=settings, team=team) as collector:
            publishing = asyncio.create_task(collector.publish_session(RUNNER, with_speeds()))
            await asyncio.wait_for(sent_all.wait(), 15)
            wire = lambda: next(iter(first.wires.values()), None)  # noqa: E731
            await until(lambda: (w := wire()) is not None and w.last_seq == len(batches) - 1, 20, "all analysed")
            await until(lambda: first.stats.phone_speeds_used == len(batches) // 2, 10, "every speed applied")
            stop_first.set()  # a restart in the middle of the session
            await asyncio.wait_for(first_task, 15)
            first_windows = [(w.t_end_ns, w.speed_mps) for w in first_sink.windows]
            assert sum(speed is not None for _, speed in first_windows) >= 5, first_windows

            rebuilt_sink = Recorded()
            rebuilt, stop_rebuilt, rebuilt_task = start(rebuilt_sink)
            await asyncio.wait_for(rebuilt.ready.wait(), 15)  # ready: rebuilt from the journal
            assert rebuilt.stats.sessions_rebuilt == 1
            assert rebuilt.stats.phone_speeds_used == len(batches) // 2
            assert [(w.t_end_ns, w.speed_mps) for w in rebuilt_sink.windows] == first_windows
            finish.set()
            await asyncio.wait_for(publishing, 15)
            await until(lambda: not rebuilt.sessions, 15, "the rebuilt worker finished the session")
            stop_rebuilt.set()
            await asyncio.wait_for(rebuilt_task, 15)
    assert [(w.t_end_ns, w.speed_mps) for w in rebuilt_sink.windows][: len(first_windows)] == first_windows
    assert first.stats.phone_speeds_refused == rebuilt.stats.phone_speeds_refused == 0


@pytest.mark.services
async def test_a_phone_sharing_its_speed_does_not_keep_a_silent_collectors_session_open(
    mosquitto: MosquittoService, tmp_path: pathlib.Path
) -> None:
    """The collector died without its final message; the page still says "running" and the phone goes
    on sharing a speed every second. Only the collector's messages count for the idle close."""
    team = "teamspeedidle"
    settings = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    options = WorkerOptions(
        state_dir=tmp_path / "w", team=team, silent_after_s=None, idle_close_s=1.5, housekeeping_s=0.1
    )
    worker = Worker(settings=settings, options=options, analyzer_factory=analyzer_factory(""))
    stop, release = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(worker.ready.wait(), 15)
    batches = run_batches(10.0, T_2026_NS)

    async def then_silent() -> AsyncIterator[object]:
        for batch in batches:
            yield batch
        await release.wait()

    control = busmod.topic(team, RUNNER, "control")
    async with (
        MqttConnection(settings=settings, client_id=unique_client_id("phone")) as phone,
        Collector(settings=settings, team=team) as collector,
    ):
        publishing = asyncio.create_task(collector.publish_session(RUNNER, then_silent()))
        await until(lambda: bool(worker.sessions), 15, "the session opened")
        t_ns = int(batches[-1].t_ns[-1])
        deadline = time.monotonic() + 15
        while not worker.stats.sessions_idle_closed and time.monotonic() < deadline:
            t_ns += NS // 5
            speed = {"action": "speed", "runner": RUNNER, "speed_mps": 3.0, "accuracy_m": 4.0, "t_ns": t_ns}
            await phone.publish(control, dumps(speed), qos=1)
            await asyncio.sleep(0.2)
        release.set()
        await asyncio.wait_for(publishing, 15)
    stop.set()
    await asyncio.wait_for(task, 15)
    assert worker.stats.sessions_idle_closed == 1 and not worker.sessions
    assert worker.stats.phone_speeds_used >= 3  # the speeds were taken while it was open


# -- the coach's side, without a broker --------------------------------------------------------------
def make_coach(**kwargs: object) -> tuple[Coach, busmod.Bus]:
    bus = busmod.Bus()
    return Coach(settings=MqttSettings(), team="club", bus=bus, **kwargs), bus  # type: ignore[arg-type]


async def test_the_coach_puts_a_speed_refusal_on_the_page_but_never_a_speed_from_mqtt() -> None:
    coach, bus = make_coach()
    topic_name = busmod.topic("club", RUNNER, "control")
    speed = {"action": "speed", "runner": RUNNER, "speed_mps": 3.0, "accuracy_m": 4.0, "t_ns": T_2026_NS}
    assert coach.take(topic_name, dumps(speed)) is False  # the worker's business: never forwarded twice
    assert not coach.stats.dropped and bus.last == {}
    refused = {"action": "speed_refused", "runner": RUNNER, "reason": AWAY}
    assert coach.take(topic_name, dumps(refused)) is True
    assert bus.last[topic_name] == refused
    assert coach.take(topic_name, dumps({**refused, "reason": ["<img>"]})) is False  # checked as any reply
    assert dict(coach.stats.dropped) == {"bad_message": 1}
    await coach.dispatcher.close()


@pytest.mark.services
async def test_the_coach_forwards_only_the_speeds_fields_and_with_forwarding_off_says_so(
    mosquitto: MosquittoService,
) -> None:
    settings = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    team = "teamspeedcoach"
    topic_name = busmod.topic(team, RUNNER, "control")
    speed = {"action": "speed", "runner": RUNNER, "speed_mps": 3.0, "accuracy_m": 4.0, "t_ns": T_2026_NS}
    async with MqttConnection(
        settings=settings, client_id=unique_client_id("fake-worker"), subscriptions=[topic_name]
    ) as worker:
        for forward in (True, False):
            bus = busmod.Bus()
            coach = Coach(settings=settings, team=team, bus=bus, forward_snoozes=forward)
            page = bus.subscribe(topic_name)
            stop = asyncio.Event()
            task = asyncio.create_task(coach.run(stop))
            await asyncio.wait_for(coach.ready.wait(), 10)
            bus.publish(topic_name, {**speed, "teams": [team], "extra": "x" * 100})  # what the page server adds
            if forward:
                got = await asyncio.wait_for(anext(worker.messages()), 10)
                assert json.loads(got.payload) == speed  # the page server's wall-clock stamp as it was
                assert coach.stats.speeds_forwarded == 1
            else:
                await until(lambda c=coach: c.stats.speeds_refused == 1, 10, "the speed was answered")
                answers = [m for _, m in iter(page.get_nowait, None) if m["action"] == "speed_refused"]
                assert [a["reason"] for a in answers] == ["this coach does not forward controls to the workers"]
                assert coach.stats.speeds_forwarded == 0
            stop.set()
            await asyncio.wait_for(task, 10)
