"""The alert dispatcher: a pipeline sink that de-duplicates and rate-limits risk events once, then
hands each accepted alert to every channel through that channel's own bounded queue and task.

`write` never awaits a channel: it only appends to queues, so a dead webhook or a missing band can
never stall the analytics or another channel. A full queue drops its oldest alert (counted). A channel
that raises or overruns its `timeout_s` is logged once per failure streak and keeps running.

Rate limit: a token bucket per runner on the events' own clock (data time, so a replay at 60x behaves
like the live run): `burst` onsets at once, then one per `refill_s`. The risk engine already holds a
metric's repeats (cooldown); this guards the runner against several metrics firing together. A
"cleared" is delivered only if its onset was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from strideguard.analytics.results import AnalyzerOutput, RiskEvent, RiskEventKind, Severity
from strideguard.sensors.units import NS_PER_S
from strideguard.stream.alerts.base import Alert, Channel
from strideguard.stream.runtime.engine import SessionSummary
from strideguard.stream.runtime.session import SessionInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatchPolicy:
    burst: int = 3  # onsets a runner may get at once
    refill_s: float = 60.0  # then one more per this many seconds of data time
    queue_size: int = 100  # per channel
    timeout_s: float = 30.0  # longest one channel send may take before it is abandoned
    drain_s: float = 5.0  # how long close() waits for queued alerts


@dataclass(slots=True)
class ChannelStats:
    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    latencies_s: list[float] = field(default_factory=list)


class _Bucket:
    def __init__(self, burst: int, refill_s: float) -> None:
        self.tokens = float(burst)
        self.burst = burst
        self.refill_ns = refill_s * NS_PER_S
        self.last_ns: int | None = None

    def take(self, t_ns: int) -> bool:
        if self.last_ns is not None and self.refill_ns > 0:
            self.tokens = min(self.burst, self.tokens + max(0, t_ns - self.last_ns) / self.refill_ns)
        self.last_ns = t_ns if self.last_ns is None else max(self.last_ns, t_ns)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class _Lane:
    """One channel's bounded queue and worker task."""

    def __init__(self, channel: Channel, policy: DispatchPolicy) -> None:
        self.channel = channel
        self.policy = policy
        self.queue: deque[Alert] = deque()
        self.ready = asyncio.Event()
        self.stats = ChannelStats()
        self.task: asyncio.Task[None] | None = None
        self.failing = False

    def offer(self, alert: Alert) -> None:
        if len(self.queue) >= self.policy.queue_size:
            self.queue.popleft()
            self.stats.dropped += 1
        self.queue.append(alert)
        self.ready.set()

    async def run(self) -> None:
        while True:
            while not self.queue:
                self.ready.clear()
                await self.ready.wait()
            alert = self.queue[0]
            try:
                await asyncio.wait_for(self.channel.send(alert), self.policy.timeout_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a channel's failure stays inside its lane
                self.stats.failed += 1
                if not self.failing:
                    log.warning(
                        "alert channel %s failed: %s",
                        self.channel.name,
                        " ".join(str(exc).split()) or type(exc).__name__,
                    )
                self.failing = True
            else:
                self.stats.delivered += 1
                self.stats.latencies_s.append(time.perf_counter() - alert.accepted_s)
                if self.failing:
                    log.warning("alert channel %s is delivering again", self.channel.name)
                self.failing = False
            finally:
                if self.queue and self.queue[0] is alert:
                    self.queue.popleft()


class AlertDispatcher:
    """A pipeline `Sink` (name "alerts") that fans accepted risk events out to its channels."""

    name = "alerts"

    def __init__(self, channels: list[Channel], *, policy: DispatchPolicy | None = None) -> None:
        self.policy = policy or DispatchPolicy()
        self.lanes = [_Lane(c, self.policy) for c in channels]
        self._seen: set[tuple[Any, ...]] = set()
        self._buckets: dict[str, _Bucket] = {}
        self._accepted_onsets: set[tuple[str, str, int]] = set()
        self.suppressed = 0
        self.duplicates = 0

    @property
    def stats(self) -> dict[str, ChannelStats]:
        return {lane.channel.name: lane.stats for lane in self.lanes}

    def _ensure_started(self) -> None:
        for lane in self.lanes:
            if lane.task is None:
                lane.task = asyncio.get_running_loop().create_task(lane.run(), name=f"alerts:{lane.channel.name}")

    def accept(self, event: RiskEvent) -> bool:
        """De-duplication and rate limit (pure bookkeeping; no I/O)."""
        key = (event.runner, event.metric, event.kind, event.severity, event.onset_t_ns)
        if key in self._seen:
            self.duplicates += 1
            return False
        self._seen.add(key)
        episode = (event.runner, event.metric, event.onset_t_ns)
        if event.kind is RiskEventKind.CLEARED:
            return episode in self._accepted_onsets
        if event.severity is Severity.INFO:  # a note (no buzz): it never uses up a warning's place
            self._accepted_onsets.add(episode)
            return True
        bucket = self._buckets.setdefault(event.runner, _Bucket(self.policy.burst, self.policy.refill_s))
        if not bucket.take(event.t_ns):
            self.suppressed += 1
            return False
        self._accepted_onsets.add(episode)
        return True

    def dispatch(self, session: SessionInfo, event: RiskEvent) -> bool:
        """Queue one event on every channel that wants it; returns whether it was accepted."""
        if not self.accept(event):
            return False
        self._ensure_started()
        alert = Alert(session=session, event=event)
        for lane in self.lanes:
            if alert.is_onset or lane.channel.send_cleared:
                lane.offer(alert)
        return True

    # -- Sink protocol --------------------------------------------------------------------------
    async def open_session(self, session: SessionInfo) -> None:
        self._ensure_started()

    async def write(self, session: SessionInfo, output: AnalyzerOutput) -> None:
        for event in output.risk_events:
            self.dispatch(session, event)

    async def close_session(self, session: SessionInfo, summary: SessionSummary) -> None:
        return None

    async def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every queue is empty (or the timeout); True when all drained."""
        deadline = time.monotonic() + (self.policy.drain_s if timeout_s is None else timeout_s)
        while any(lane.queue for lane in self.lanes if lane.task is not None):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def close(self) -> None:
        await self.flush()
        for lane in self.lanes:
            if lane.task is not None:
                lane.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await lane.task
                lane.task = None
        for lane in self.lanes:
            try:
                await lane.channel.aclose()
            except Exception as exc:  # closing one channel must not hide the others
                log.warning("closing alert channel %s failed: %s", lane.channel.name, exc)
