"""The InfluxDB sink: batches line protocol, writes it in order, and spools to disk while the
database is unreachable so that nothing is lost and nothing is reordered.

Every output becomes lines (`lineproto`) in a memory batch that is written when it reaches
`batch_lines` or `flush_interval_s` passes. While the spool holds anything, new batches go behind it
(order is kept); a background task delivers the spool oldest first with jittered backoff. `close()`
flushes and gives the spool `close_timeout_s` to drain; what remains stays on disk and is delivered
by the next sink opened on the same spool directory. Batches the database rejects as malformed are
appended to `rejected.lp` in the spool directory and reported, never retried forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pathlib
import random
import time

from strideguard.analytics.results import AnalyzerOutput
from strideguard.stream.influx import lineproto
from strideguard.stream.influx.spool import Spool
from strideguard.stream.influx.writers import LineWriter, RejectedWriteError, RetryableWriteError
from strideguard.stream.runtime.engine import SessionSummary
from strideguard.stream.runtime.session import SessionInfo

log = logging.getLogger(__name__)


class InfluxSink:
    """A pipeline Sink (open_session / write / close_session / close) for InfluxDB."""

    name = "influxdb"

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
        self.batches_spooled = 0
        self.batches_rejected = 0
        self._buffer: list[str] = []
        self._tags: dict[str, dict[str, str | None]] = {}
        self._spool_wakeup = asyncio.Event()
        self._lock = asyncio.Lock()  # one writer at a time keeps batches in order
        self._last_flush = time.monotonic()
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
    async def start(self) -> None:
        """Start delivering a spool left by an earlier run now, before any new session opens."""
        self._start_tasks()

    async def open_session(self, session: SessionInfo) -> None:
        self._start_tasks()
        self._buffer.append(
            lineproto.session_line(
                self._session_tags(session), session.started_t_ns, state="running", source=session.source
            )
        )

    async def write(self, session: SessionInfo, output: AnalyzerOutput) -> None:
        self._start_tasks()
        self._buffer.extend(lineproto.output_lines(output, self._session_tags(session)))
        if len(self._buffer) >= self.batch_lines:
            await self.flush()

    async def close_session(self, session: SessionInfo, summary: SessionSummary) -> None:
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
            body = lineproto.flatten(batch)
            if self.spool.empty:
                try:
                    await asyncio.to_thread(self.writer.write, body)
                    self.lines_written += len(batch)
                    return
                except RetryableWriteError as exc:
                    log.warning("influxdb unreachable, spooling to disk: %s", exc)
                except RejectedWriteError as exc:
                    self._reject(body, exc)
                    return
            self.spool.append(body)
            self.batches_spooled += 1
            self._spool_wakeup.set()

    def _reject(self, body: bytes, exc: RejectedWriteError) -> None:
        self.batches_rejected += 1
        log.error("influxdb rejected a batch (kept in %s): %s", self.rejected_path, exc)
        with open(self.rejected_path, "ab") as f:
            f.write(body)

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
            while not self.spool.empty:
                async with self._lock:
                    body = self.spool.peek()
                    assert body is not None
                    try:
                        await asyncio.to_thread(self.writer.write, body)
                        self.lines_written += body.count(b"\n")
                        self.spool.commit()
                        delay_s = self.retry_initial_s
                        continue
                    except RejectedWriteError as exc:
                        self._reject(body, exc)
                        self.spool.commit()
                        continue
                    except RetryableWriteError as exc:
                        log.info("influxdb still unreachable (%s); retrying in %.1f s", exc, delay_s)
                await asyncio.sleep(random.uniform(delay_s / 2, delay_s))
                delay_s = min(self.retry_max_s, delay_s * 2)
