"""The embedded runtime: items from a source -> the session engine (one session per runner) -> sinks.

Live, replay and offline analysis all go through `Pipeline`; only the source and its pacing differ. It is
a thin adapter around `stream.engine.SessionEngine`, which owns the sessions, the trust boundary and
the fan-out to the sinks (alert sinks first, so a slow store never delays what the runner feels); the
MQTT worker is the other adapter around the same engine.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterable, Callable
from typing import Any, ParamSpec

from strideguard.analytics.results import AnalyzerOutput
from strideguard.sensors.capture import CaptureEvent
from strideguard.sensors.types import HeartRateReading, SampleBatch, StrideReading
from strideguard.stream import names
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.runtime.backpressure import BufferedSink
from strideguard.stream.runtime.engine import (
    Analyzer,
    RunnerControl,
    Session,
    SessionEngine,
    SessionSummary,
    Sink,
)
from strideguard.stream.runtime.phone_speed import (
    SPEED_ACTION,
    NotThisRunner,
    SpeedRefused,
    phone_speed_reading,
    push_phone_speed,
    refusal,
)
from strideguard.stream.runtime.sensor_watch import DEFAULT_SILENT_AFTER_S, SensorChange, SensorWatch, sample_span_ns
from strideguard.stream.runtime.session import SessionInfo, new_session_id
from strideguard.stream.runtime.status import Snapshot, StatusBoard, baseline_wait_s
from strideguard.stream.sqlite.store import INCOMPLETE, STORE_LOST, SessionStore, StoreError

log = logging.getLogger(__name__)
_P = ParamSpec("_P")
PHONE_SPEEDS_WAITING = 32  # phone speeds kept for the next push; a silent strap must not grow it forever

__all__ = ["Analyzer", "BusSink", "Pipeline", "SessionInfo", "Sink", "StoreSink"]


class Pipeline:
    """Feeds items to one engine session per runner and fans every output out to the sinks.

    `keep_outputs=True` accumulates everything in memory too (for `analyze --json` and tests).

    Control messages (`strideguard/v1/<team>/<runner>/control`, e.g. a snooze from the runner page) are
    read from `control`, or by default from the bus of a `BusSink` among the sinks, and applied before
    the next item is pushed (see `SessionEngine.control`). The reply (`action` "snoozed" or "refused") is
    published on the same topic and kept in `control_replies`.

    A speed the runner page shares from the phone's GPS arrives the same way (`{"action": "speed",
    "speed_mps": v, "accuracy_m": a, "t_ns": wall clock}`) and becomes a footpod-like `StrideReading` of
    device `phone-gps` pushed into the runner's session before the next item, through the engine's edge,
    which refuses it when it is not at the session's data time (a replay): the refusal is answered on
    the control topic (`action` "speed_refused", `reason`) and counted in the summary's `dropped`. A
    phone speed is not sensor data: it never tells the sensor watch that the strap is delivering.

    Sensor state (see `stream.runtime.sensor_watch`): the collector's `link_lost` / `link_restored`
    capture events and a watchdog (no item for `silent_after_s` of wall time: "silent"; None turns it
    off) become the runner's `sensor` on its `status` topic (through the `BusSink`) and a log line. The
    engine keeps every window overlapping a dropout in the samples from the live sinks (the bus and the
    terminal): nothing is shown for the time the sensor was away.
    """

    def __init__(
        self,
        *,
        analyzer_factory: Callable[[str], Analyzer],
        sinks: list[Sink],
        team: str = "default",
        source: str = "",
        keep_outputs: bool = False,
        control: busmod.Bus | None = None,
        silent_after_s: float | None = DEFAULT_SILENT_AFTER_S,
    ) -> None:
        names.check(team, "team")
        self.engine = SessionEngine(analyzer_factory=analyzer_factory, sinks=sinks, keep_outputs=keep_outputs)
        self.sinks = self.engine.sinks
        self.team = team
        self.source = source
        self.events: list[CaptureEvent] = []
        self._control_bus = (
            control
            if control is not None
            else next((sink.bus for sink in self.sinks if isinstance(sink, BusSink)), None)
        )
        self._control = (
            self._control_bus.subscribe(f"{busmod.TOPIC_ROOT}/{team}/+/control", maxsize=100)
            if self._control_bus is not None
            else None
        )
        self.control_replies: list[dict[str, Any]] = []
        self.summaries: dict[str, SessionSummary] = {}  # runner -> summary of its last finished session
        self.sensor = SensorWatch(silent_after_s=silent_after_s)
        self.sensor_changes: list[SensorChange] = []
        self._status_sink = next((sink for sink in self.sinks if isinstance(sink, BusSink)), None)
        self._watchdog: asyncio.Task[None] | None = None
        self._phone_speeds: list[StrideReading] = []  # waiting for the next push
        self.phone_speeds = {"used": 0, "refused": 0}

    @property
    def runners(self) -> dict[str, Session]:
        """The open session of each runner."""
        return self.engine.sessions

    async def push(
        self, item: SampleBatch | HeartRateReading | StrideReading | RunnerControl | CaptureEvent
    ) -> AnalyzerOutput:
        self.apply_controls()
        await self._push_phone_speeds()
        self._ensure_watchdog()
        if isinstance(item, CaptureEvent):
            self.events.append(item)
            self._link_event(item)
            return AnalyzerOutput()
        if isinstance(item, RunnerControl):
            self._control_for(item.runner, item.message)
            return AnalyzerOutput()
        if not isinstance(item, SampleBatch):
            if item.runner not in self.engine.sessions:  # before the runner's first samples: no session yet
                self.engine.drop("readings before the runner's first samples")
                return AnalyzerOutput()
            self._note_item(item)
            return await self.engine.push(item.runner, item)
        if item.runner not in self.engine.sessions:
            if not len(item):
                return AnalyzerOutput()
            names.check(item.runner, "runner")  # a name from inside a recording enters here
            t0 = int(item.t_ns[0])
            info = SessionInfo(
                session_id=new_session_id(item.runner, t0),
                runner=item.runner,
                team=self.team,
                source=self.source,
                started_t_ns=t0,
            )
            await self.engine.open(item.runner, info)
            self._plan_baseline(item.runner)
        self._note_item(item)
        return await self.engine.push(item.runner, item)

    async def finish(self) -> dict[str, SessionSummary]:
        """Flush every analyzer, close every session; returns each runner's (last) summary."""
        for runner in list(self.engine.sessions):
            self.sensor.forget(runner)  # a finished runner is not "silent"
            self.summaries[runner] = await self.engine.finish(runner)
        return dict(self.summaries)

    # -- sensor state ---------------------------------------------------------------------------
    def _note_item(self, item: SampleBatch | HeartRateReading | StrideReading) -> None:
        """An item of a runner: the sensor is delivering (samples carry their data times, so the gap of
        a sensor that comes back is measured in data time, also in a replay at any speed)."""
        device = item.device if isinstance(item, SampleBatch) else None
        span = sample_span_ns(item) if isinstance(item, SampleBatch) else None
        self._sensor_changed(self.sensor.on_item(item.runner, time.monotonic(), device=device, span_ns=span))

    def _link_event(self, event: CaptureEvent) -> None:
        runner = event.fields.get("runner")
        if not isinstance(runner, str) or not runner:
            return  # an event of the recording itself (a note), not of a runner's link
        device = str(event.fields.get("device") or "")
        self._sensor_changed(self.sensor.on_link(runner, event.kind, time.monotonic(), device=device, t_ns=event.t_ns))

    def _sensor_changed(self, change: SensorChange | None) -> None:
        if change is None:
            return
        self.sensor_changes.append(change)
        log.warning("%s", change.log_line())
        session = self.engine.sessions.get(change.runner)
        if self._status_sink is not None and session is not None:
            self._status_sink.sensor(session.info, change)

    def _ensure_watchdog(self) -> None:
        """The silence watch runs while the pipeline is live (started by the first item)."""
        if self._watchdog is None and self.sensor.silent_after_s is not None and self._status_sink is not None:
            self._watchdog = asyncio.get_running_loop().create_task(self._watch(), name="sensor-watchdog")

    async def _watch(self) -> None:
        assert self.sensor.silent_after_s is not None
        every_s = min(1.0, self.sensor.silent_after_s / 4)
        while True:
            await asyncio.sleep(every_s)
            for change in self.sensor.check(time.monotonic()):
                self._sensor_changed(change)

    def _plan_baseline(self, runner: str) -> None:
        """Tell the bus how much running the risk score waits for, so the page can say how long is left."""
        if self._status_sink is not None:
            session = self.engine.sessions[runner]
            self._status_sink.plan_baseline(session.info, baseline_wait_s(session.analyzer))

    def apply_controls(self) -> None:
        """Apply every control message waiting for this pipeline's runners (called before each push)."""
        if self._control is None:
            return
        while (item := self._control.get_nowait()) is not None:
            topic_name, message = item
            runner = topic_name.split("/")[-2]
            action = message.get("action")
            if action == "snooze":
                self._control_for(runner, message)
            elif action == SPEED_ACTION:
                self._phone_speed(runner, message)

    def _phone_speed(self, runner: str, message: dict[str, Any]) -> None:
        """A speed from the runner page (the server checked its shape): queued for the runner's session."""
        if runner not in self.engine.sessions:
            return  # no session to use it: nothing to answer on
        try:
            reading = phone_speed_reading(runner, message)
        except NotThisRunner:
            return  # a message naming someone else is not this runner's
        except SpeedRefused as exc:
            self._speed_refused(runner, exc.reason)
            return
        if len(self._phone_speeds) >= PHONE_SPEEDS_WAITING:  # no samples come (a silent strap): the oldest go
            dropped = self._phone_speeds.pop(0)
            self._speed_refused(dropped.runner, "phone speeds waiting for samples that did not come")
        self._phone_speeds.append(reading)

    async def _push_phone_speeds(self) -> None:
        """Push the queued phone speeds through the engine's edge; answer the ones it refuses."""
        waiting, self._phone_speeds = self._phone_speeds, []
        for reading in waiting:
            if reading.runner not in self.engine.sessions:
                continue
            problem = await push_phone_speed(self.engine, reading.runner, reading)
            if problem is None:
                self.phone_speeds["used"] += 1
            else:
                self._speed_refused(reading.runner, problem)

    def _speed_refused(self, runner: str, reason: str) -> None:
        self.phone_speeds["refused"] += 1
        if self._control_bus is not None:
            self._control_bus.publish(busmod.topic(self.team, runner, "control"), refusal(runner, reason))

    def _control_for(self, runner: str, message: dict[str, Any]) -> None:
        if runner not in self.engine.sessions:
            return
        reply = self.engine.control(runner, message).as_dict()
        log.info("control for %s: %s", runner, reply)
        self.control_replies.append(reply)
        if self._control_bus is not None:
            self._control_bus.publish(busmod.topic(self.team, runner, "control"), reply)

    async def close(self) -> None:
        """Close every sink; then, if the store could not keep everything, raise its `StoreError` (one
        line: what was lost and why), so no command reports a run as stored when it was not."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        if self._control is not None:
            self._control.close()
        await self.engine.close()
        failure = store_failure(self.sinks)
        if failure is not None:
            raise failure

    def outputs(self, runner: str) -> AnalyzerOutput:
        """Everything the runner's sessions produced (with `keep_outputs=True`)."""
        return self.engine.outputs.get(runner, AnalyzerOutput())


async def run_source(pipeline: Pipeline, items: AsyncIterable[Any]) -> dict[str, SessionSummary]:
    """Push everything a source yields, then finish. The caller closes the pipeline."""
    async for item in items:
        await pipeline.push(item)
    return await pipeline.finish()


class StoreSink:
    """Writes each output to SQLite as it comes, so a crash keeps what was analysed.

    Every call on the store runs on the sink's own thread, one at a time and in the order made: a slow
    disk holds that thread, never the event loop (pages, alerts, the analysis). From here on the store
    belongs to that thread (its connection allows it: `check_same_thread=False`); read the same file on
    the loop through another `SessionStore`. A call whose awaiting coroutine is cancelled still
    completes if the thread had started it, and is skipped if not.

    The store never lies: a write the store refuses (`StoreError`: a full disk, a read-only file, a lock
    held beyond the store's retries, an I/O error) is not raised into the pipeline (the analysis and the
    alerts go on) but counted per session in `lost` and the session marked `incomplete` with those
    counts under `store_lost` in its summary, as soon as the row can be written. A session whose row
    could not be written at open is opened again before its next write, so no result row is ever kept
    without its session. `failure()` says what was lost, for the command to report and exit non-zero on.
    """

    name = "sqlite"

    def __init__(self, store: SessionStore) -> None:
        self.store = store
        self._last_t_ns: dict[str, int] = {}
        self.lost: dict[str, dict[str, int]] = {}  # session id -> rows the store refused, per table
        self.errors: list[StoreError] = []  # every distinct problem, in the order first met
        self._opened: set[str] = set()  # sessions whose row is in the store
        self._unrecorded: set[str] = set()  # sessions whose end (or latest loss) could not be written
        self._marked: dict[str, dict[str, int]] = {}  # sessions whose row says `incomplete` -> the count it holds
        # one worker (started at the first call): the store's calls never overlap and keep their order
        self._thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="strideguard-sqlite")

    async def _on_thread(self, call: Callable[_P, None], *args: _P.args, **kwargs: _P.kwargs) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, functools.partial(call, *args, **kwargs))

    async def open_session(self, session: SessionInfo) -> None:
        await self._on_thread(self._open, session)

    async def write(self, session: SessionInfo, output: AnalyzerOutput) -> None:
        ends = [w.t_end_ns for w in output.windows] + [s.t_ns for s in output.steps]
        if ends:  # noted now: a close_session made next, even before this write lands, ends the session here
            self._last_t_ns[session.session_id] = max(ends)
        await self._on_thread(self._write, session, output)

    async def close_session(self, session: SessionInfo, summary: SessionSummary) -> None:
        await self._on_thread(self._close_session, session, self._last_t_ns.get(session.session_id), summary)

    async def close(self) -> None:
        try:
            await self._on_thread(self._close)  # after every call queued before it
        finally:
            self._thread.shutdown(wait=False)  # the worker is idle: it ends by itself

    def failure(self) -> StoreError | None:
        """One error saying what the store did not keep (None: everything was stored, perhaps late)."""
        if not self.lost:
            return None
        total = {table: sum(lost[table] for lost in self.lost.values()) for table in _LOST_TABLES}
        what = ", ".join(f"{n} {table.replace('_', ' ')}" for table, n in total.items())
        problems = "; ".join(dict.fromkeys(e.problem for e in self.errors))
        n = len(self.lost)
        unmarked = self._unrecorded - self._marked.keys()
        stale = {s for s in self._unrecorded & self._marked.keys() if self._marked[s] != self.lost[s]}
        unended = self._unrecorded & (self._marked.keys() - stale)
        if unmarked:
            marked = f"{len(unmarked)} of them could not be marked {INCOMPLETE} either (shown as unfinished)"
        elif stale:
            marked = (
                f"marked {INCOMPLETE}, but the stored count of what was lost is short for {len(stale)} of them "
                "(the counts here are whole)"
            )
        elif unended:
            marked = f"marked {INCOMPLETE}, but the end and summary of {len(unended)} of them could not be written"
        else:
            marked = f"marked {INCOMPLETE} (see `strideguard sessions`)"
        return StoreError(
            f"{what} of {n} session{'s' if n != 1 else ''} not stored ({problems}); {marked}",
            path=self.store.path,
            code=self.errors[0].code if self.errors else None,
        )

    # -- on the store's thread ---------------------------------------------------------------------
    def _open(self, session: SessionInfo) -> None:
        try:
            self.store.open_session(session)
        except StoreError as exc:
            self._note(exc)  # tried again before the session's next write
        else:
            self._opened.add(session.session_id)

    def _write(self, session: SessionInfo, output: AnalyzerOutput) -> None:
        session_id = session.session_id
        try:
            if session_id not in self._opened:
                self.store.open_session(session)  # never a result row without its session
                self._opened.add(session_id)
            self.store.write(session_id, output)
        except StoreError as exc:
            self._note(exc)
            lost = self.lost.setdefault(session_id, dict.fromkeys(_LOST_TABLES, 0))
            for table in _LOST_TABLES:
                lost[table] += len(getattr(output, table))
            self._mark(session_id)

    def _close_session(self, session: SessionInfo, ended_t_ns: int | None, summary: SessionSummary) -> None:
        session_id = session.session_id
        lost = self.lost.get(session_id)
        data = summary.as_dict() if lost is None else {**summary.as_dict(), STORE_LOST: dict(lost)}
        try:
            if session_id not in self._opened:
                self.store.open_session(session)
                self._opened.add(session_id)
            self.store.close_session(
                session_id, ended_t_ns=ended_t_ns, summary=data, status="completed" if lost is None else INCOMPLETE
            )
        except StoreError as exc:
            self._note(exc)
            self.lost.setdefault(session_id, dict.fromkeys(_LOST_TABLES, 0))
            self._unrecorded.add(session_id)
        else:
            self._unrecorded.discard(session_id)
            if lost is not None:
                self._marked[session_id] = dict(lost)

    def _close(self) -> None:
        try:
            self.store.close()
        except StoreError as exc:
            self._note(exc)

    def _mark(self, session_id: str) -> None:
        """Mark the session incomplete now (a tiny write that may fit where the results did not): if the
        process dies before the session ends, the store still says it is not whole."""
        try:
            if session_id not in self._opened:
                raise StoreError("no session row", path=self.store.path)
            self.store.mark_incomplete(session_id, self.lost[session_id])
        except StoreError:
            self._unrecorded.add(session_id)
        else:
            self._unrecorded.discard(session_id)
            self._marked[session_id] = dict(self.lost[session_id])

    def _note(self, exc: StoreError) -> None:
        if not any(str(e) == str(exc) for e in self.errors):
            log.warning("%s", exc)  # once per distinct problem, as it happens
            self.errors.append(exc)


_LOST_TABLES = ("steps", "windows", "risk_events")


def store_failure(sinks: list[Sink]) -> StoreError | None:
    """The first store sink's failure among `sinks` (a buffered one is looked into)."""
    for sink in sinks:
        inner = sink.inner if isinstance(sink, BufferedSink) else sink
        if isinstance(inner, StoreSink) and (failure := inner.failure()) is not None:
            return failure
    return None


class BusSink:
    """Publishes outputs on the in-process bus (the live pages and other in-process consumers), and the
    runner's status snapshot (`stream.runtime.status`) on its `status` topic. A live sink: the engine
    gives it no window overlapping a dropout.
    """

    name = "bus"
    live = True

    def __init__(self, bus: busmod.Bus) -> None:
        self.bus = bus
        self.status = StatusBoard()

    async def open_session(self, session: SessionInfo) -> None:
        self._publish_status(session, self.status.open(session))

    async def write(self, session: SessionInfo, output: AnalyzerOutput) -> None:
        if (snapshot := self.status.windows(session, output.windows)) is not None:
            self._publish_status(session, snapshot)
        for kind, items in (("alerts", output.risk_events), ("metrics", output.windows), ("steps", output.steps)):
            if not items:
                continue
            topic = busmod.topic(session.team, session.runner, kind)
            if not self.bus.wants(topic):
                items = items[-1:]  # nobody listens (an offline `analyze`): only the bus's `last` sees it
            for item in items:
                self.bus.publish(topic, {"session_id": session.session_id, **item.as_row()})

    async def close_session(self, session: SessionInfo, summary: SessionSummary) -> None:
        self._publish_status(session, self.status.finish(session, summary.as_dict()))

    async def close(self) -> None:
        await asyncio.sleep(0)

    # -- hooks of the pipeline ------------------------------------------------------------------
    def sensor(self, session: SessionInfo, change: SensorChange) -> None:
        """The runner's sensor state changed (see `stream.runtime.sensor_watch`)."""
        self._publish_status(session, self.status.sensor(session, change))

    def plan_baseline(self, session: SessionInfo, wait_s: float | None) -> None:
        self.status.plan(session, wait_s)

    def _publish_status(self, session: SessionInfo, snapshot: Snapshot) -> None:
        self.bus.publish(busmod.topic(session.team, session.runner, "status"), snapshot)
