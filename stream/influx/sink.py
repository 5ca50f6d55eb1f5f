"""The InfluxDB sink: batches line protocol, writes it in order, and spools to disk while the
database is unreachable so that nothing is lost and nothing is reordered.

Every output becomes lines (`lineproto`) in a memory batch that is written when it reaches
`batch_lines` or `flush_interval_s` passes. While the spool holds anything, new batches go behind it
(order is kept); a background task delivers the spool oldest first with jittered backoff, and says
so when it has drained. `close()` flushes and gives the spool `close_timeout_s` to drain; what remains
stays on disk and is delivered by the next sink opened on the same spool directory.

A batch the database refuses as data (HTTP 400: a line it cannot parse, a field type conflict) is split
in halves until every refused line stands alone, so one bad line never takes other points, other
runners' above all, with it (about 2·log2(n) requests per bad line in a batch of n). Each refused line
is dropped: counted in `lines_rejected`, logged on one line, appended to `rejected.lp` in the spool
directory, never retried. A write that fails for now (unreachable, 404 database not found, 5xx) is
spooled, and the log says which it was.

The `status` measurement is the runner's state for Grafana's team table: a point when the session opens,
when its most severe active alert changes (from the risk events it writes), when the sensor changes (the
`sensor` hook, which the worker calls) and when it finishes, each at the data time reached, so a
re-analysed session overwrites its points instead of adding new ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pathlib
import random
import time
from dataclasses import dataclass, field

from strideguard.analytics.results import AnalyzerOutput, RiskEventKind
from strideguard.stream.influx import lineproto
from strideguard.stream.influx.spool import Spool
from strideguard.stream.influx.writers import LineWriter, RejectedWriteError, RetryableWriteError
from strideguard.stream.runtime.engine import SessionSummary
from strideguard.stream.runtime.sensor_watch import SensorChange
from strideguard.stream.runtime.session import SessionInfo

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Status:
    """A session's state as the `status` points say it: data time reached, sensor, active alerts."""

    last_t_ns: int
    point_t_ns: int = -1  # time of the last point written: the next goes after it (none overwrites another)
    sensor: str = "ok"
    active: dict[tuple[str, int], str] = field(default_factory=dict)  # (metric, onset_t_ns) -> severity

    @property
    def alert(self) -> str:
        return max(self.active.values(), key=lineproto.ALERT_RANKS.__getitem__, default="none")

    def next_t_ns(self, at_least_ns: int = 0) -> int:
        """The time of the next point: the data time reached, after the last point (a sensor lost and
        back with no data between would otherwise share a time, and the second would overwrite the first)."""
        self.point_t_ns = max(self.last_t_ns, at_least_ns, self.point_t_ns + 1)
        return self.point_t_ns


class InfluxSink:
    """A pipeline Sink (open_session / write / close_session / close) for InfluxDB.

    A live sink (see `stream.runtime.engine`): InfluxDB is what the coach sees in Grafana, live and the day
    after, so a window overlapping a sensor dropout is not written (Grafana shows a gap, not "not running");
    the SQLite store is the full record."""

    name = "influxdb"
    live = True

    def __init__(
        self,
        *,
        writer: LineWriter,
        spool_dir: str | os.PathLike[str],
        batch_lines: int = 5000,
        flush_interval_s: float = 1.0,
        close_timeout_s: float = 10.0,
        retry_initial_s: float = 0.2,
        retry_max_s: float = 5.0,
    ) -> None:
        self.writer = writer
        self.spool = Spool(spool_dir)
        self.rejected_path = pathlib.Path(spool_dir) / "rejected.lp"
        self.batch_lines = batch_lines
        self.flush_interval_s = flush_interval_s
        self.close_timeout_s = close_timeout_s
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.lines_written = 0  # delivered to the database
        self.lines_rejected = 0  # refused by the database, each alone: kept in rejected.lp, not retried
        self.batches_spooled = 0
        self._outage_started: float | None = None  # monotonic time the spool began to fill
        self._buffer: list[str] = []
        self._tags: dict[str, dict[str, str | None]] = {}
        self._spool_wakeup = asyncio.Event()
        self._lock = asyncio.Lock()  # one writer at a time keeps batches in order
        self._last_flush = time.monotonic()
        self._status: dict[str, _Status] = {}  # session id -> what its `status` points say
        self._drainer: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None

    # -- tags --------------------------------------------------------------------------------
    def tag_session(self, session_id: str, **tags: str | None) -> None:
        """Extra tags (device, placement) for a session's points, known to the caller only."""
        self._tags.setdefault(session_id, {}).update(tags)

    def _session_tags(self, session: SessionInfo) -> dict[str, str | None]:
        return {
            "runner": session.runner,
            "team": session.team,
            "session": session.session_id,
            **self._tags.get(session.session_id, {}),
        }

    # -- Sink protocol -----------------------------------------------------------------------
    @property
    def batches_rejected(self) -> int:
        """Lines set aside (kept for callers that report it; a refused batch is split, see the module)."""
        return self.lines_rejected

    async def start(self) -> None:
        """Set up the database (the v1 API creates a missing one; a SinkError if it cannot, with what to
        do) and start delivering a spool left by an earlier run, before any new session opens."""
        try:
            await asyncio.to_thread(self.writer.prepare)
        except RetryableWriteError as exc:
            log.warning("influxdb: cannot check the database now (%s); writes are spooled until it answers", exc)
        self._start_tasks()

    async def open_session(self, session: SessionInfo) -> None:
        self._start_tasks()
        self._buffer.append(
            lineproto.session_line(
                self._session_tags(session), session.started_t_ns, state="running", source=session.source
            )
        )
        self._status[session.session_id] = _Status(last_t_ns=session.started_t_ns)
        self._status_point(session)

    async def write(self, session: SessionInfo, output: AnalyzerOutput) -> None:
        self._start_tasks()
        self._buffer.extend(lineproto.output_lines(output, self._session_tags(session)))
        status = self._status.setdefault(session.session_id, _Status(last_t_ns=session.started_t_ns))
        times = [s.t_ns for s in output.steps] + [w.t_end_ns for w in output.windows]
        if times:
            status.last_t_ns = max(status.last_t_ns, *times)
        for event in output.risk_events:  # the most severe active alert: a change is a status point
            before = status.alert
            if event.kind is RiskEventKind.CLEARED:
                status.active.pop((event.metric, event.onset_t_ns), None)
            else:
                status.active[(event.metric, event.onset_t_ns)] = event.severity.value
            status.last_t_ns = max(status.last_t_ns, event.t_ns)
            if status.alert != before:
                self._status_point(session)
        if len(self._buffer) >= self.batch_lines:
            await self.flush()

    def sensor(self, session: SessionInfo, change: SensorChange) -> None:
        """The runner's sensor state changed (the worker's hook, as the embedded pipeline's BusSink has
        one): a `status` point at the latest data time the session reached."""
        status = self._status.setdefault(session.session_id, _Status(last_t_ns=session.started_t_ns))
        status.sensor = change.sensor
        self._status_point(session, gap_s=change.gap_s)

    async def close_session(self, session: SessionInfo, summary: SessionSummary) -> None:
        status = self._status.pop(session.session_id, None) or _Status(last_t_ns=session.started_t_ns)
        ended_t_ns = session.started_t_ns + round(summary.duration_s * 1e9)
        self._buffer.append(
            lineproto.status_line(
                self._session_tags(session),
                status.next_t_ns(ended_t_ns),
                state="finished",
                sensor=status.sensor,
                alert="none",  # a finished run has no active alert
            )
        )
        self._buffer.append(
            lineproto.session_line(
                self._session_tags(session),
                session.started_t_ns,
                state="finished",
                summary=summary.as_dict(),
                source=session.source,
            )
        )
        await self.flush()
        self._tags.pop(session.session_id, None)

    async def close(self) -> None:
        await self.flush()
        deadline = time.monotonic() + self.close_timeout_s
        while not self.spool.empty and time.monotonic() < deadline:
            self._spool_wakeup.set()
            await asyncio.sleep(0.05)
        if not self.spool.empty:
            log.warning(
                "influxdb: %d bytes stay spooled in %s; they are sent when a sink next opens it",
                len(self.spool),
                self.spool.directory,
            )
        for task in (self._drainer, self._ticker):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self.spool.close()
        await asyncio.to_thread(self.writer.close)

    # -- delivery ----------------------------------------------------------------------------
    @property
    def pending_lines(self) -> int:
        return len(self._buffer)

    async def flush(self) -> None:
        """Write the memory batch now (or spool it behind older undelivered batches)."""
        async with self._lock:
            self._last_flush = time.monotonic()
            if not self._buffer:
                return
            batch, self._buffer = self._buffer, []
            if self.spool.empty:
                try:
                    await self._deliver([line.encode() for line in batch])
                    return
                except _Interrupted as stop:
                    log.warning("influxdb: spooling to disk: %s", stop.error)
                    self._spool(stop.rest)
                    return
            self._spool([line.encode() for line in batch])

    def _status_point(self, session: SessionInfo, *, gap_s: float | None = None) -> None:
        status = self._status[session.session_id]
        self._buffer.append(
            lineproto.status_line(
                self._session_tags(session),
                status.next_t_ns(),
                state="running",
                sensor=status.sensor,
                alert=status.alert,
                gap_s=gap_s,
            )
        )

    def _spool(self, lines: list[bytes]) -> None:
        if self.spool.empty:
            self._outage_started = time.monotonic()
        self.spool.append(b"\n".join(lines) + b"\n")
        self.batches_spooled += 1
        self._spool_wakeup.set()

    async def _deliver(self, lines: list[bytes]) -> None:
        """Write `lines`; a part the database refuses is halved until each refused line stands alone and
        is dropped. Raises _Interrupted with the lines not yet delivered if the database goes away."""
        parts = [lines]  # a stack: the first part on top, so the lines go out in order
        while parts:
            part = parts.pop()
            try:
                await asyncio.to_thread(self.writer.write, b"\n".join(part) + b"\n")
                self.lines_written += len(part)
            except RejectedWriteError as exc:
                if len(part) == 1:
                    self._drop(part[0], exc)
                else:
                    half = len(part) // 2
                    parts += [part[half:], part[:half]]
            except RetryableWriteError as exc:
                raise _Interrupted([*part, *(line for p in reversed(parts) for line in p)], exc) from None

    def _drop(self, line: bytes, exc: RejectedWriteError) -> None:
        self.lines_rejected += 1
        with open(self.rejected_path, "ab") as f:
            f.write(line + b"\n")
        shown = line[:120].decode(errors="replace") + ("..." if len(line) > 120 else "")
        log.error(
            "influxdb: line dropped (#%d, kept in %s): %s: %s", self.lines_rejected, self.rejected_path, exc, shown
        )

    def _start_tasks(self) -> None:
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain_spool(), name="influx-spool")
            self._ticker = asyncio.create_task(self._tick(), name="influx-flush-timer")
            if not self.spool.empty:
                self._spool_wakeup.set()  # left over from an earlier run

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s / 4)
            if self._buffer and time.monotonic() - self._last_flush >= self.flush_interval_s:
                await self.flush()

    async def _drain_spool(self) -> None:
        delay_s = self.retry_initial_s
        while True:
            await self._spool_wakeup.wait()
            self._spool_wakeup.clear()
            delivered = 0
            while not self.spool.empty:
                async with self._lock:
                    body = self.spool.peek()
                    if body is None:  # only damaged records were left (the spool said so)
                        break
                    try:
                        await self._deliver(body.splitlines())
                        self.spool.commit()
                        delivered += 1
                        delay_s = self.retry_initial_s
                        continue
                    except _Interrupted as stop:
                        # A record partly delivered is sent whole again: InfluxDB overwrites the points.
                        log.info("influxdb: delivery failed again (%s); retrying in %.1f s", stop.error, delay_s)
                await asyncio.sleep(random.uniform(delay_s / 2, delay_s))
                delay_s = min(self.retry_max_s, delay_s * 2)
            if delivered and self.spool.empty:
                started = self._outage_started
                since = "" if started is None else f" after {time.monotonic() - started:.1f} s"
                log.warning("influxdb: spool drained: %d spooled batches delivered%s", delivered, since)
                self._outage_started = None


class _Interrupted(Exception):
    """The database went away in the middle of a delivery: `rest` is what it has not got yet."""

    def __init__(self, rest: list[bytes], error: RetryableWriteError) -> None:
        super().__init__(str(error))
        self.rest = rest
        self.error = error
