"""The embedded runtime: items from a source -> the session engine (one session per runner) -> sinks.

Live, replay and offline analysis all go through `Pipeline`; only the source and its pacing differ. It is
a thin adapter around `stream.engine.SessionEngine`, which owns the sessions, the trust boundary and
the fan-out to the sinks (alert sinks first, so a slow store never delays what the runner feels); the
MQTT worker is the other adapter around the same engine.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
from collections.abc import AsyncIterable, Callable
from typing import Any, ParamSpec

from strideguard.analytics.results import AnalyzerOutput
from strideguard.sensors.capture import CaptureEvent
from strideguard.sensors.types import HeartRateReading, SampleBatch, StrideReading
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.runtime.engine import Analyzer, RunnerControl, Session, SessionEngine, SessionSummary, Sink
from strideguard.stream.runtime.session import SessionInfo, new_session_id
from strideguard.stream.sqlite.store import SessionStore

log = logging.getLogger(__name__)
_P = ParamSpec("_P")

__all__ = ["Analyzer", "BusSink", "Pipeline", "SessionInfo", "Sink", "StoreSink"]


class Pipeline:
    """Feeds items to one engine session per runner and fans every output out to the sinks.

    `keep_outputs=True` accumulates everything in memory too (for `analyze --json` and tests).

    Control messages (`strideguard/v1/<team>/<runner>/control`, e.g. a snooze from the runner page) are
    read from `control`, or by default from the bus of a `BusSink` among the sinks, and applied before
    the next item is pushed (see `SessionEngine.control`). The reply (`action` "snoozed" or "refused") is
    published on the same topic and kept in `control_replies`.
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
    ) -> None:
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

    @property
    def runners(self) -> dict[str, Session]:
        """The open session of each runner."""
        return self.engine.sessions

    async def push(
        self, item: SampleBatch | HeartRateReading | StrideReading | RunnerControl | CaptureEvent
    ) -> AnalyzerOutput:
        self.apply_controls()
        if isinstance(item, CaptureEvent):
            self.events.append(item)
            return AnalyzerOutput()
        if isinstance(item, RunnerControl):
            self._control_for(item.runner, item.message)
            return AnalyzerOutput()
        if not isinstance(item, SampleBatch):
            if item.runner not in self.engine.sessions:  # before the runner's first samples: no session yet
                self.engine.drop("readings before the runner's first samples")
                return AnalyzerOutput()
            return await self.engine.push(item.runner, item)
        if item.runner not in self.engine.sessions:
            if not len(item):
                return AnalyzerOutput()
            t0 = int(item.t_ns[0])
            info = SessionInfo(
                session_id=new_session_id(item.runner, t0),
                runner=item.runner,
                team=self.team,
                source=self.source,
                started_t_ns=t0,
            )
            await self.engine.open(item.runner, info)
        return await self.engine.push(item.runner, item)

    async def finish(self) -> dict[str, SessionSummary]:
        """Flush every analyzer, close every session; returns each runner's (last) summary."""
        for runner in list(self.engine.sessions):
            self.summaries[runner] = await self.engine.finish(runner)
        return dict(self.summaries)

    def apply_controls(self) -> None:
        """Apply every control message waiting for this pipeline's runners (called before each push)."""
        if self._control is None:
            return
        while (item := self._control.get_nowait()) is not None:
            topic_name, message = item
            runner = topic_name.split("/")[-2]
            if message.get("action") == "snooze":
                self._control_for(runner, message)

    def _control_for(self, runner: str, message: dict[str, Any]) -> None:
        if runner not in self.engine.sessions:
            return
        reply = self.engine.control(runner, message).as_dict()
        log.info("control for %s: %s", runner, reply)
        self.control_replies.append(reply)
        if self._control_bus is not None:
            self._control_bus.publish(busmod.topic(self.team, runner, "control"), reply)

    async def close(self) -> None:
        if self._control is not None:
            self._control.close()
        await self.engine.close()

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
    """

    name = "sqlite"

    def __init__(self, store: SessionStore) -> None:
        self.store = store
        self._last_t_ns: dict[str, int] = {}
        # one worker (started at the first call): the store's calls never overlap and keep their order
        self._thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="strideguard-sqlite")

    async def _on_thread(self, call: Callable[_P, None], *args: _P.args, **kwargs: _P.kwargs) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, functools.partial(call, *args, **kwargs))

    async def open_session(self, session: SessionInfo) -> None:
        await self._on_thread(self.store.open_session, session)

    async def write(self, session: SessionInfo, output: AnalyzerOutput) -> None:
        ends = [w.t_end_ns for w in output.windows] + [s.t_ns for s in output.steps]
        if ends:  # noted now: a close_session made next, even before this write lands, ends the session here
            self._last_t_ns[session.session_id] = max(ends)
        await self._on_thread(self.store.write, session.session_id, output)

    async def close_session(self, session: SessionInfo, summary: SessionSummary) -> None:
        await self._on_thread(
            self.store.close_session,
            session.session_id,
            ended_t_ns=self._last_t_ns.get(session.session_id),
            summary=summary.as_dict(),
        )

    async def close(self) -> None:
        try:
            await self._on_thread(self.store.close)  # after every call queued before it
        finally:
            self._thread.shutdown(wait=False)  # the worker is idle: it ends by itself


class BusSink:
    """Publishes outputs on the in-process bus (the live pages and other in-process consumers)."""

    name = "bus"

    def __init__(self, bus: busmod.Bus) -> None:
        self.bus = bus

    async def open_session(self, session: SessionInfo) -> None:
        self._status(session, "running")

    async def write(self, session: SessionInfo, output: AnalyzerOutput) -> None:
        for kind, items in (("alerts", output.risk_events), ("metrics", output.windows), ("steps", output.steps)):
            if not items:
                continue
            topic = busmod.topic(session.team, session.runner, kind)
            if not self.bus.wants(topic):
                items = items[-1:]  # nobody listens (an offline `analyze`): only the bus's `last` sees it
            for item in items:
                self.bus.publish(topic, {"session_id": session.session_id, **item.as_row()})

    async def close_session(self, session: SessionInfo, summary: SessionSummary) -> None:
        self._status(session, "finished", summary=summary.as_dict())

    async def close(self) -> None:
        await asyncio.sleep(0)

    def _status(self, session: SessionInfo, state: str, **extra: Any) -> None:
        self.bus.publish(
            busmod.topic(session.team, session.runner, "status"),
            {"session_id": session.session_id, "runner": session.runner, "state": state, **extra},
        )
