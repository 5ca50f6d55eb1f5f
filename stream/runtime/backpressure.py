"""Backpressure: a slow sink (a database answering in seconds) must not stall the analytics or the alerts.

`Pipeline._emit` awaits its sinks one after the other. The alert dispatcher goes first and returns at
once; a sink after it that takes 2 s per write would hold the next batch's analysis (and so the next
alert) for 2 s. `BufferedSink` wraps such a sink: `write` only appends to a bounded in-memory buffer and
returns; the sink's own task replays the calls, in order, to the wrapped sink.

Two things keep the buffer small without losing data in the common case:
- coalescing: consecutive writes of one session merge into one `AnalyzerOutput` (up to `coalesce_items`),
  so a sink whose cost is per call (a round trip) catches up by writing more per call;
- the bound: at most `max_pending_items` steps + windows + risk events (+1 per queued call) wait.

What happens at the bound is the explicit, counted loss policy (`Overflow`):
- `WAIT` (lossless; the local SQLite store): the producer awaits room. Nothing is lost; the analytics
  slow down to the sink's pace only once the buffer is full, and the alerts of the output being written
  have already gone out (the dispatcher is before this sink).
- `DROP_OLDEST` (sinks with their own durability or that are best-effort, e.g. InfluxDB, MQTT): the
  oldest queued write is dropped and its items counted in `stats`. Session open/close calls are never
  dropped, so a dropped stretch is a gap inside a session, never a lost session.

A wrapped sink's exceptions stay in its task (logged once per failure streak, counted); `close()` drains
the buffer (all of it for `WAIT`, up to `drain_timeout_s` for `DROP_OLDEST`, the rest counted as
dropped) and then closes the wrapped sink.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections import deque
from dataclasses import dataclass

from strideguard.analytics.results import AnalyzerOutput
from strideguard.stream.errors import UsageError
from strideguard.stream.runtime.engine import SessionSummary, Sink, TaggingSink
from strideguard.stream.runtime.session import SessionInfo

log = logging.getLogger(__name__)

__all__ = ["BufferStats", "BufferedSink", "Overflow", "buffered"]


class Overflow(enum.Enum):
    WAIT = "wait"  # lossless: the producer waits for room
    DROP_OLDEST = "drop_oldest"  # bounded loss: the oldest queued write goes, counted


@dataclass(slots=True)
class BufferStats:
    """What the buffer did; `dropped_*` is the exact loss the policy allowed."""

    calls_queued: int = 0
    calls_delivered: int = 0  # calls made on the wrapped sink (after coalescing)
    writes_coalesced: int = 0  # writes merged into a queued one
    waits: int = 0  # times a WAIT producer found the buffer full
    dropped_writes: int = 0
    dropped_steps: int = 0
    dropped_windows: int = 0
    dropped_risk_events: int = 0
    failed_calls: int = 0  # calls the wrapped sink raised on
    peak_pending_items: int = 0

    @property
    def dropped_items(self) -> int:
        return self.dropped_steps + self.dropped_windows + self.dropped_risk_events


def _items(output: AnalyzerOutput) -> int:
    return len(output.steps) + len(output.windows) + len(output.risk_events)


@dataclass(slots=True)
class _Call:
    method: str  # "open_session" | "write" | "close_session"
    session: SessionInfo
    output: AnalyzerOutput | None = None
    summary: SessionSummary | None = None

    @property
    def size(self) -> int:
        return 1 + (_items(self.output) if self.output is not None else 0)


class BufferedSink:
    """A `Sink` that queues calls for `inner` and delivers them from its own task (see the module doc)."""

    def __init__(
        self,
        inner: Sink,
        *,
        overflow: Overflow,
        max_pending_items: int = 20_000,
        coalesce_items: int = 2_000,
        drain_timeout_s: float = 30.0,
    ) -> None:
        if max_pending_items < 1 or coalesce_items < 1:
            raise UsageError("max_pending_items and coalesce_items must be at least 1")
        self.inner = inner
        self.name = inner.name
        self.live = bool(getattr(inner, "live", False))  # the engine asks the wrapper (no window over a dropout)
        self.overflow = overflow
        self.max_pending_items = max_pending_items
        self.coalesce_items = min(coalesce_items, max_pending_items)
        self.drain_timeout_s = drain_timeout_s
        self.stats = BufferStats()
        self._queue: deque[_Call] = deque()
        self._pending_items = 0
        self._has_calls = asyncio.Event()
        self._has_room = asyncio.Event()
        self._has_room.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    @property
    def pending_items(self) -> int:
        return self._pending_items

    # -- Sink protocol ---------------------------------------------------------------------------
    async def open_session(self, session: SessionInfo) -> None:
        await self._put(_Call("open_session", session))

    async def write(self, session: SessionInfo, output: AnalyzerOutput) -> None:
        if not output:
            return
        last = self._queue[-1] if self._queue else None
        if (
            last is not None
            and last.method == "write"
            and last.session.session_id == session.session_id
            and last.output is not None
            and _items(last.output) + _items(output) <= self.coalesce_items
            and self._pending_items + _items(output) <= self.max_pending_items
        ):
            last.output = last.output + output
            self._pending_items += _items(output)
            self.stats.writes_coalesced += 1
            self._note_peak()
            return
        await self._put(_Call("write", session, output=output))

    async def close_session(self, session: SessionInfo, summary: SessionSummary) -> None:
        await self._put(_Call("close_session", session, summary=summary))

    def tag_session(self, session_id: str, **tags: str | None) -> None:
        """Tags reach the wrapped sink at once (they label data still queued for it)."""
        if isinstance(self.inner, TaggingSink):
            self.inner.tag_session(session_id, **tags)

    async def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every queued call reached the wrapped sink; False if `timeout_s` ran out first."""
        if self._task is None and self._queue:
            self._start()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        drained = await self.flush(None if self.overflow is Overflow.WAIT else self.drain_timeout_s)
        if self._task is not None:
            self._task.cancel()  # a call still in delivery goes back to the queue
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if not drained:
            left = [c for c in self._queue if c.method == "write"]
            for call in left:
                self._count_dropped(call)
            log.warning("%s: closed with %d queued writes undelivered (dropped, counted)", self.name, len(left))
            for call in [c for c in self._queue if c.method != "write"]:  # session calls still go out
                await self._call(call)
        self._queue.clear()
        self._pending_items = 0
        await self.inner.close()

    # -- buffer ----------------------------------------------------------------------------------
    async def _put(self, call: _Call) -> None:
        self._start()
        while self._pending_items + call.size > self.max_pending_items and self._queue:
            if self.overflow is Overflow.WAIT:
                self.stats.waits += 1
                self._has_room.clear()
                await self._has_room.wait()
            elif not self._drop_oldest_write():
                break  # only session calls are queued: let them through, they are tiny
        self._queue.append(call)
        self._pending_items += call.size
        self.stats.calls_queued += 1
        self._note_peak()
        self._idle.clear()
        self._has_calls.set()

    def _drop_oldest_write(self) -> bool:
        for i, call in enumerate(self._queue):
            if call.method == "write":
                del self._queue[i]
                self._pending_items -= call.size
                self._count_dropped(call)
                return True
        return False

    def _count_dropped(self, call: _Call) -> None:
        assert call.output is not None
        self.stats.dropped_writes += 1
        self.stats.dropped_steps += len(call.output.steps)
        self.stats.dropped_windows += len(call.output.windows)
        self.stats.dropped_risk_events += len(call.output.risk_events)

    def _note_peak(self) -> None:
        self.stats.peak_pending_items = max(self.stats.peak_pending_items, self._pending_items)

    def _start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._deliver(), name=f"buffered:{self.name}")

    async def _deliver(self) -> None:
        while True:
            while not self._queue:
                self._idle.set()
                self._has_calls.clear()
                await self._has_calls.wait()
            call = self._queue.popleft()  # out of reach of coalescing and dropping while delivered
            started_s = time.monotonic()
            try:
                await self._call(call)
            except asyncio.CancelledError:
                self._queue.appendleft(call)  # close() counts it with the rest
                raise
            self._pending_items -= call.size
            self._has_room.set()
            log.debug("%s: %s took %.3f s", self.name, call.method, time.monotonic() - started_s)

    async def _call(self, call: _Call) -> None:
        """One call on the wrapped sink; its failure is counted and logged once per streak, not raised."""
        try:
            if call.method == "write":
                assert call.output is not None  # write calls are queued with their output
                await self.inner.write(call.session, call.output)
            elif call.method == "open_session":
                await self.inner.open_session(call.session)
            else:
                assert call.summary is not None  # close calls are queued with their summary
                await self.inner.close_session(call.session, call.summary)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a sink's failure stays in its task; the pipeline runs on
            self.stats.failed_calls += 1
            if not self._failing:
                log.warning(
                    "%s: %s failed: %s", self.name, call.method, " ".join(str(exc).split()) or type(exc).__name__
                )
            self._failing = True
        else:
            self._failing = False
            self.stats.calls_delivered += 1


# Which sinks `stream.app.open_pipeline` buffers, and how. Sinks not named here are in-memory and quick
# (terminal, bus) or buffer themselves (the alert dispatcher) and are not wrapped.
POLICIES: dict[str, Overflow] = {
    "sqlite": Overflow.WAIT,  # local and the record of a session: lossless
    "influxdb": Overflow.DROP_OLDEST,  # has its own disk spool for outages; a slow server costs a counted gap
    "mqtt": Overflow.DROP_OLDEST,  # live fan-out; receivers already handle gaps
}


def buffered(sink: Sink) -> Sink:
    """`sink` wrapped per POLICIES, or itself when it needs no buffer."""
    overflow = POLICIES.get(sink.name)
    if overflow is None or isinstance(sink, BufferedSink):
        return sink
    return BufferedSink(sink, overflow=overflow)
