"""What the session-engine tests share: a sink that keeps what it was given, and batch variants."""

from __future__ import annotations

import asyncio
import dataclasses

from strideguard.analytics.results import AnalyzerOutput
from strideguard.sensors.types import SampleBatch
from strideguard.stream.runtime.engine import SessionSummary
from strideguard.stream.runtime.session import SessionInfo


class Recorder:
    """An engine sink that keeps every session it opened, every output (in all and per runner) and every
    summary; `closed` is set at the first session's close."""

    name = "recorder"

    def __init__(self) -> None:
        self.sessions: list[SessionInfo] = []
        self.outputs = AnalyzerOutput()
        self.by_runner: dict[str, AnalyzerOutput] = {}
        self.summaries: list[SessionSummary] = []
        self.closed = asyncio.Event()

    async def open_session(self, session: SessionInfo) -> None:
        self.sessions.append(session)

    async def write(self, session: SessionInfo, output: AnalyzerOutput) -> None:
        self.outputs = self.outputs + output
        self.by_runner[session.runner] = self.by_runner.get(session.runner, AnalyzerOutput()) + output

    async def close_session(self, session: SessionInfo, summary: SessionSummary) -> None:
        self.summaries.append(summary)
        self.closed.set()

    async def close(self) -> None:
        return None

    def summary_of(self, runner: str) -> SessionSummary:
        return next(s for s in reversed(self.summaries) if s.runner == runner)


def batch_like(batch: SampleBatch, **changes: object) -> SampleBatch:
    """`batch` with some fields changed (SampleBatch validates on construction, so build a new one)."""
    return dataclasses.replace(batch, **changes)
