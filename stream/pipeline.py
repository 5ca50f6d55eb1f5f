"""The composition root of a run: items from a source -> one analyzer per runner -> every sink.

Live, replay and offline analysis all go through `Pipeline`; only the source and its pacing differ.
Sinks are small adapters (SQLite, the in-process bus, terminal, alerts, InfluxDB, MQTT) behind one
protocol. Alert sinks are written first so that a slow store never delays what the runner feels.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from analytics.errors import AnalyticsError
from analytics.results import AnalyzerOutput
from sensors.capture import CaptureEvent
from sensors.types import HeartRateReading, SampleBatch, StrideReading
from stream import bus as busmod
from stream.session import SessionInfo, new_session_id
from stream.store import SessionStore

log = logging.getLogger(__name__)

NS_PER_MIN = 60_000_000_000  # ns per minute
SNOOZE_MAX_MIN = 240.0  # the longest snooze a control message may ask for, in minutes

__all__ = ["Analyzer", "BusSink", "Pipeline", "SessionInfo", "Sink", "StoreSink"]


class Analyzer(Protocol):
    """What the pipeline needs of a per-runner analyzer (analytics.runner.RunnerAnalyzer)."""

    def push(self, batch: SampleBatch) -> AnalyzerOutput: ...

    def finish(self) -> AnalyzerOutput: ...

    @property
    def summary(self) -> dict[str, Any]: ...


@runtime_checkable
class Sink(Protocol):
    name: str

    async def open_session(self, session: SessionInfo) -> None: ...

    async def write(self, session: SessionInfo, output: AnalyzerOutput) -> None: ...

    async def close_session(self, session: SessionInfo, summary: dict[str, Any]) -> None: ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class _RunnerState:
    session: SessionInfo
    analyzer: Analyzer
    last_t_ns: int
    outputs: AnalyzerOutput = field(default_factory=AnalyzerOutput)


class Pipeline:
    """Feeds items to per-runner analyzers and fans every output out to the sinks.

    `keep_outputs=True` accumulates everything in memory too (for `analyze --json` and tests).

    Control messages (`strideguard/v1/<team>/<runner>/control`, e.g. a snooze from the runner page) are
    read from `control`, or by default from the bus of a `BusSink` among the sinks, and applied before
    the next item is pushed: `{"action": "snooze", "metric": name | None, "minutes": m}` snoozes that
    runner's risk engine until the runner's latest data time + m minutes (data time, so a replay at any
    speed behaves as the live run would). The reply (`action` "snoozed" or "refused") is published on
    the same topic and kept in `control_replies`.
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
        self._factory = analyzer_factory
        self.sinks = list(sinks)
        self.team = team
        self.source = source
        self.keep_outputs = keep_outputs
        self.runners: dict[str, _RunnerState] = {}
        self.events: list[CaptureEvent] = []
        self.readings: dict[str, int] = {}
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

    async def push(self, item: SampleBatch | HeartRateReading | StrideReading | CaptureEvent) -> AnalyzerOutput:
        self.apply_controls()
        if isinstance(item, CaptureEvent):
            self.events.append(item)
            return AnalyzerOutput()
        if not isinstance(item, SampleBatch):
            self.readings[type(item).__name__] = self.readings.get(type(item).__name__, 0) + 1
            state = self.runners.get(item.runner)
            push_reading = getattr(state.analyzer, "push_reading", None) if state else None
            output = push_reading(item) if push_reading else None
            if output and state is not None:  # an output implies the runner's state
                await self._emit(state, output)
            return output or AnalyzerOutput()
        state = self.runners.get(item.runner)
        if state is None:
            state = await self._start(item)
        state.last_t_ns = max(state.last_t_ns, int(item.t_ns[-1])) if len(item) else state.last_t_ns
        output = state.analyzer.push(item)
        if output:
            await self._emit(state, output)
        return output

    async def finish(self) -> dict[str, dict[str, Any]]:
        """Flush every analyzer, close every session; returns the summaries per runner."""
        summaries = {}
        for runner, state in self.runners.items():
            output = state.analyzer.finish()
            if output:
                await self._emit(state, output)
            summary = {"session_id": state.session.session_id, **state.analyzer.summary}
            summaries[runner] = summary
            for sink in self.sinks:
                await sink.close_session(state.session, summary)
        return summaries

    def apply_controls(self) -> None:
        """Apply every control message waiting for this pipeline's runners (called before each push)."""
        if self._control is None:
            return
        while (item := self._control.get_nowait()) is not None:
            topic_name, message = item
            runner = topic_name.split("/")[-2]
            if message.get("action") == "snooze" and runner in self.runners:
                self._snooze(runner, message)

    def _snooze(self, runner: str, message: dict[str, Any]) -> None:
        state = self.runners[runner]
        metric, minutes = message.get("metric"), message.get("minutes")
        reply: dict[str, Any] = {
            "runner": runner,
            "metric": metric,
            "minutes": minutes,
            "request_id": message.get("request_id"),
        }
        snooze = getattr(getattr(state.analyzer, "risk", None), "snooze", None)
        if metric is not None and not isinstance(metric, str):
            reason = "metric must be a name or null"
        elif (
            isinstance(minutes, bool)
            or not isinstance(minutes, (int, float))
            or not (math.isfinite(minutes) and 0 < minutes <= SNOOZE_MAX_MIN)
        ):
            reason = f"minutes must be a number above 0 and at most {SNOOZE_MAX_MIN:g}"
        elif snooze is None:
            reason = "this runner's analyzer has no risk engine"
        else:
            until_t_ns = state.last_t_ns + round(minutes * NS_PER_MIN)
            try:
                snooze(metric, until_t_ns)
            except AnalyticsError as exc:
                reason = str(exc)
            else:
                reason = None
                reply.update(from_t_ns=state.last_t_ns, until_t_ns=until_t_ns)
        reply["action"] = "snoozed" if reason is None else "refused"
        if reason is not None:
            reply["reason"] = reason
        log.info("control for %s: %s", runner, reply)
        self.control_replies.append(reply)
        assert self._control_bus is not None
        self._control_bus.publish(busmod.topic(self.team, runner, "control"), reply)

    async def close(self) -> None:
        if self._control is not None:
            self._control.close()
        for sink in self.sinks:
            try:
                await sink.close()
            except Exception as exc:  # a sink failing at shutdown must not hide the others' close
                log.warning("closing %s failed: %s", sink.name, exc)

    def outputs(self, runner: str) -> AnalyzerOutput:
        return self.runners[runner].outputs

    async def _start(self, batch: SampleBatch) -> _RunnerState:
        t0 = int(batch.t_ns[0])
        session = SessionInfo(
            session_id=new_session_id(batch.runner, t0),
            runner=batch.runner,
            team=self.team,
            source=self.source,
            started_t_ns=t0,
        )
        state = _RunnerState(session=session, analyzer=self._factory(batch.runner), last_t_ns=t0)
        self.runners[batch.runner] = state
        for sink in self.sinks:
            await sink.open_session(session)
        return state

    async def _emit(self, state: _RunnerState, output: AnalyzerOutput) -> None:
        if self.keep_outputs:
            state.outputs = state.outputs + output
        for sink in self.sinks:
            await sink.write(state.session, output)


async def run_source(pipeline: Pipeline, items: AsyncIterable[Any]) -> dict[str, dict[str, Any]]:
    """Push everything a source yields, then finish. The caller closes the pipeline."""
    async for item in items:
        await pipeline.push(item)
    return await pipeline.finish()


class StoreSink:
    """Writes each output to SQLite as it comes, so a crash keeps what was analysed."""

    name = "sqlite"

    def __init__(self, store: SessionStore) -> None:
        self.store = store
        self._last_t_ns: dict[str, int] = {}

    async def open_session(self, session: SessionInfo) -> None:
        self.store.open_session(session)

    async def write(self, session: SessionInfo, output: AnalyzerOutput) -> None:
        self.store.write(session.session_id, output)
        ends = [w.t_end_ns for w in output.windows] + [s.t_ns for s in output.steps]
        if ends:
            self._last_t_ns[session.session_id] = max(ends)

    async def close_session(self, session: SessionInfo, summary: dict[str, Any]) -> None:
        self.store.close_session(
            session.session_id, ended_t_ns=self._last_t_ns.get(session.session_id), summary=summary
        )

    async def close(self) -> None:
        self.store.close()


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

    async def close_session(self, session: SessionInfo, summary: dict[str, Any]) -> None:
        self._status(session, "finished", summary=summary)

    async def close(self) -> None:
        await asyncio.sleep(0)

    def _status(self, session: SessionInfo, state: str, **extra: Any) -> None:
        self.bus.publish(
            busmod.topic(session.team, session.runner, "status"),
            {"session_id": session.session_id, "runner": session.runner, "state": state, **extra},
        )
