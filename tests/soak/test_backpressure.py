"""Backpressure: a store that answers in seconds must not delay the alerts, grow memory without bound,
or lose what the policy does not allow it to lose.

The slow sink is the real SQLite `StoreSink` that also waits before every call (like a database with a
2-s round trip); the input is the bundled 27-minute synthetic fatigue run (4 alerts near its end)
replayed through the real analyzers and the real alert dispatcher with a real (terminal) channel.
"""

from __future__ import annotations

import asyncio
import io
import logging
import pathlib
import time
import tracemalloc
from typing import Any

import pytest

from strideguard.analytics.results import AnalyzerOutput
from strideguard.sensors.capture import replay
from strideguard.stream.alerts.base import Alert
from strideguard.stream.alerts.dispatcher import AlertDispatcher
from strideguard.stream.alerts.terminal import TerminalChannel
from strideguard.stream.runtime import sources
from strideguard.stream.runtime.app import RunOptions, analyzer_factory, open_pipeline
from strideguard.stream.runtime.backpressure import BufferedSink, Overflow
from strideguard.stream.runtime.config_file import read_config_text
from strideguard.stream.runtime.engine import SessionSummary
from strideguard.stream.runtime.pipeline import Pipeline, StoreSink
from strideguard.stream.runtime.session import SessionInfo
from strideguard.stream.sqlite.store import SessionStore

FATIGUE_RUN = pathlib.Path(__file__).resolve().parents[2] / "sensors" / "samples" / "fatigue_run.sgcap"
SLOW_WRITE_S = 2.0  # s per call of the slow store: a database far slower than the 1-s chunks arrive
REPLAY_SPEED = 400.0  # x real time: 27 min of running in about 4 s


def summary_of(session: SessionInfo) -> SessionSummary:
    return SessionSummary(
        session_id=session.session_id, runner=session.runner, duration_s=0.0, n_samples=0, n_steps=0, n_windows=0
    )


class SlowStoreSink(StoreSink):
    """The real SQLite sink behind a slow round trip."""

    def __init__(self, store: SessionStore, *, delay_s: float) -> None:
        super().__init__(store)
        self.delay_s = delay_s
        self.calls = 0

    async def open_session(self, session: SessionInfo) -> None:
        await asyncio.sleep(self.delay_s)
        await super().open_session(session)

    async def write(self, session: SessionInfo, output: AnalyzerOutput) -> None:
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        await super().write(session, output)


class TimedChannel(TerminalChannel):
    """The terminal channel, noting when each alert reached it."""

    def __init__(self) -> None:
        super().__init__(out=io.StringIO())
        self.received: list[tuple[Alert, float]] = []

    async def send(self, alert: Alert) -> None:
        self.received.append((alert, time.monotonic()))
        await super().send(alert)


@pytest.fixture(scope="module")
def items() -> list[Any]:
    return list(sources.rechunked(replay(FATIGUE_RUN), 1.0))


def _delivered_expected(pipeline: Pipeline) -> int:
    """Risk events the dispatcher lets through (its rate limit holds back a 4th onset within a minute)."""
    dispatcher = pipeline.sinks[0]
    assert isinstance(dispatcher, AlertDispatcher)
    return len(pipeline.outputs("alex").risk_events) - dispatcher.suppressed - dispatcher.duplicates


async def _run(items: list[Any], sink: Any, *, speed: float | None) -> tuple[Pipeline, TimedChannel, float]:
    channel = TimedChannel()
    pipeline = Pipeline(
        analyzer_factory=analyzer_factory(read_config_text(None)),
        sinks=[AlertDispatcher([channel]), sink],
        keep_outputs=True,
    )
    wall0 = time.monotonic()
    async for item in sources.paced(items, speed=speed):
        await pipeline.push(item)
    await pipeline.finish()
    await pipeline.close()
    return pipeline, channel, wall0


def _alert_latencies_s(channel: TimedChannel, items: list[Any], wall0: float) -> list[float]:
    """Wall time from when the data that raised each alert was due (paced replay) to its delivery."""
    t0_ns = sources.time_span(items)[0]
    return [
        received - (wall0 + (alert.event.t_ns - t0_ns) / 1e9 / REPLAY_SPEED) for alert, received in channel.received
    ]


def _stored(db: pathlib.Path, pipeline: Pipeline) -> tuple[int, int, int]:
    store = SessionStore(db)
    try:
        session_id = pipeline.summaries["alex"].session_id
        return len(store.steps(session_id)), len(store.windows(session_id)), len(store.risk_events(session_id))
    finally:
        store.close()


def _counts(output: AnalyzerOutput) -> tuple[int, int, int]:
    return len(output.steps), len(output.windows), len(output.risk_events)


@pytest.mark.slow
async def test_alerts_keep_their_latency_behind_a_2_s_store_and_the_store_gets_everything(
    items: list[Any], tmp_path: pathlib.Path
) -> None:
    slow = SlowStoreSink(SessionStore(tmp_path / "slow.db"), delay_s=SLOW_WRITE_S)
    buffered = BufferedSink(slow, overflow=Overflow.WAIT)
    pipeline, channel, wall0 = await _run(items, buffered, speed=REPLAY_SPEED)
    latencies = _alert_latencies_s(channel, items, wall0)
    print(
        f"alert latencies behind a {SLOW_WRITE_S}-s store: {[f'{x * 1e3:.0f} ms' for x in latencies]}; "
        f"store calls {slow.calls}, buffer {buffered.stats}"
    )
    expected = pipeline.outputs("alex")
    assert len(channel.received) == _delivered_expected(pipeline) >= 3
    # no alert waited behind a store call (any wait would be >= SLOW_WRITE_S); the usual latency is one
    # 1-s chunk at 400x plus analysis, a few ms
    assert max(latencies) < SLOW_WRITE_S / 4
    assert buffered.stats.dropped_items == 0 and buffered.stats.failed_calls == 0
    assert _stored(tmp_path / "slow.db", pipeline) == _counts(expected)
    assert slow.calls < len(items) / 20, "writes were not coalesced: the slow store could never catch up"


@pytest.mark.parametrize("overflow", [Overflow.WAIT, Overflow.DROP_OLDEST])
@pytest.mark.slow
async def test_memory_stays_bounded_and_the_loss_is_exactly_what_the_policy_counts(
    items: list[Any], tmp_path: pathlib.Path, overflow: Overflow
) -> None:
    """As fast as possible into a small buffer in front of a slow store: the buffer never exceeds its
    bound, traced memory stays under a fixed bound, and the store holds everything (WAIT) or everything
    but exactly the counted drops (DROP_OLDEST)."""
    bound = 300
    slow = SlowStoreSink(SessionStore(tmp_path / "m.db"), delay_s=0.05)
    buffered = BufferedSink(slow, overflow=overflow, max_pending_items=bound, coalesce_items=100, drain_timeout_s=60.0)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        pipeline, channel, _ = await _run(items, buffered, speed=None)
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    stats = buffered.stats
    print(f"{overflow.value}: traced peak {peak_bytes / 1e6:.1f} MB, {stats}")
    expected = _counts(pipeline.outputs("alex"))
    assert stats.peak_pending_items <= bound
    assert peak_bytes < 16 * 1024 * 1024  # the whole run's analysis included; measured about 2 MB
    dropped = (stats.dropped_steps, stats.dropped_windows, stats.dropped_risk_events)
    assert _stored(tmp_path / "m.db", pipeline) == tuple(e - d for e, d in zip(expected, dropped))
    assert len(channel.received) == _delivered_expected(pipeline) >= 3  # alerts never go through the buffer
    if overflow is Overflow.WAIT:
        assert stats.waits > 0 and dropped == (0, 0, 0)
    else:
        assert stats.waits == 0 and stats.dropped_writes > 0


class FailingOnce(StoreSink):
    """The real SQLite sink whose first write fails as on a full disk; keeps what it refused."""

    def __init__(self, store: SessionStore) -> None:
        super().__init__(store)
        self.refused: AnalyzerOutput | None = None

    async def write(self, session: SessionInfo, output: AnalyzerOutput) -> None:
        if self.refused is None:
            self.refused = output
            raise OSError(28, "No space left on device")
        await super().write(session, output)


async def test_a_failing_sink_call_stays_in_its_task_and_is_counted(
    items: list[Any], tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A store write that fails (disk full) is counted and reported in one warning line naming the sink,
    the call and the error; it costs exactly the data of that call: the alerts still go out, and the
    store holds every later write. (Whether the run then says "stored" is the store's own rule, not this
    buffer's: see the session engine's tests.)"""
    failing = FailingOnce(SessionStore(tmp_path / "f.db"))
    buffered = BufferedSink(failing, overflow=Overflow.WAIT)
    with caplog.at_level(logging.WARNING, logger="strideguard.stream.runtime.backpressure"):
        pipeline, channel, _ = await _run(items, buffered, speed=None)
    assert failing.refused is not None and failing.refused.steps, "the failing write was never made"
    assert buffered.stats.failed_calls == 1 and buffered.stats.calls_delivered > 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == ["sqlite: write failed: [Errno 28] No space left on device"], warnings
    assert len(channel.received) == _delivered_expected(pipeline) >= 1  # the other sink got every alert
    lost = _counts(failing.refused)
    expected = _counts(pipeline.outputs("alex"))
    assert _stored(tmp_path / "f.db", pipeline) == tuple(e - n for e, n in zip(expected, lost, strict=True))


async def test_open_pipeline_buffers_the_store_and_slow_capable_extra_sinks(tmp_path: pathlib.Path) -> None:
    class NamedSink(StoreSink):
        name = "influxdb"

    extra = NamedSink(SessionStore(tmp_path / "x.db"))
    opts = RunOptions(db_path=tmp_path / "s.db", live_view=False, extra_sinks=[extra])
    async with open_pipeline(opts, source="test") as parts:
        by_name = {s.name: s for s in parts.pipeline.sinks}
    assert isinstance(by_name["sqlite"], BufferedSink) and by_name["sqlite"].overflow is Overflow.WAIT
    assert isinstance(by_name["influxdb"], BufferedSink) and by_name["influxdb"].inner is extra
    assert by_name["influxdb"].overflow is Overflow.DROP_OLDEST
    assert not isinstance(by_name["bus"], BufferedSink)


# -- the buffer's own rules, on a sink that keeps what it is given ---------------------------------------


class ListSink:
    """An in-memory sink (like the bus): keeps every call it gets, optionally slowly."""

    name = "influxdb"

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.calls: list[tuple[str, str, int]] = []  # (method, session id, first step index or -1)
        self.steps: dict[str, list[int]] = {}
        self.closed = False

    async def open_session(self, session: SessionInfo) -> None:
        self.calls.append(("open_session", session.session_id, -1))

    async def write(self, session: SessionInfo, output: AnalyzerOutput) -> None:
        await asyncio.sleep(self.delay_s)
        self.calls.append(("write", session.session_id, output.steps[0].index))
        self.steps.setdefault(session.session_id, []).extend(s.index for s in output.steps)

    async def close_session(self, session: SessionInfo, summary: dict[str, Any]) -> None:
        self.calls.append(("close_session", session.session_id, -1))

    async def close(self) -> None:
        self.closed = True


def _session(runner: str) -> SessionInfo:
    return SessionInfo(session_id=f"{runner}-s", runner=runner, team="t", source="test", started_t_ns=0)


def _steps(runner: str, first: int, n: int) -> AnalyzerOutput:
    from strideguard.analytics.results import StepEvent

    return AnalyzerOutput(
        steps=tuple(StepEvent(runner=runner, t_ns=10**9 * i, index=i) for i in range(first, first + n))
    )


async def test_interleaved_sessions_keep_their_order_and_are_merged_per_session() -> None:
    inner = ListSink(delay_s=0.01)
    sink = BufferedSink(inner, overflow=Overflow.WAIT, max_pending_items=1000, coalesce_items=50)
    a, b = _session("a"), _session("b")
    await sink.open_session(a)
    await sink.open_session(b)
    for i in range(0, 100, 5):
        await sink.write(a, _steps("a", i, 5))
    for i in range(0, 100, 5):
        await sink.write(b, _steps("b", i, 5))
    await sink.close_session(a, summary_of(a))
    await sink.close_session(b, summary_of(b))
    await sink.close()
    assert inner.steps == {"a-s": list(range(100)), "b-s": list(range(100))}
    methods = [m for m, _, _ in inner.calls]
    assert methods[:2] == ["open_session", "open_session"] and methods[-2:] == ["close_session", "close_session"]
    assert len(methods) - 4 < 40 and sink.stats.writes_coalesced > 0  # 40 writes reached the sink merged
    assert inner.closed and sink.stats.dropped_items == 0


async def test_drop_oldest_never_drops_session_calls_and_counts_what_close_abandons() -> None:
    inner = ListSink(delay_s=0.2)
    sink = BufferedSink(
        inner, overflow=Overflow.DROP_OLDEST, max_pending_items=20, coalesce_items=5, drain_timeout_s=0.05
    )
    a = _session("a")
    await sink.open_session(a)
    for i in range(0, 200, 5):
        await sink.write(a, _steps("a", i, 5))
    await sink.close_session(a, summary_of(a))
    assert sink.stats.peak_pending_items <= 20
    await sink.close()
    stats = sink.stats
    received = len(inner.steps.get("a-s", []))
    assert received + stats.dropped_steps == 200  # every step either reached the sink or is counted
    assert stats.dropped_steps > 0
    assert inner.calls[0] == ("open_session", "a-s", -1) and inner.calls[-1] == ("close_session", "a-s", -1)
    assert inner.steps.get("a-s", []) == sorted(inner.steps.get("a-s", []))  # what arrived is in order
