"""Wiring shared by the commands that run a session: config, analyzers, sinks, and one run of a file.

Kept apart from the command modules so that `demo`, `replay`, `analyze` and `record` build the same
pipeline and differ only in source, pacing and which sinks they switch on.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from analytics.risk.config import parse_risk_config
from analytics.runner import RunnerAnalyzer
from analytics.risk import RiskEngine
from sensors.capture import ReplayStats
from sensors.types import Placement
from stream import sources
from stream.pipeline import BusSink, Pipeline, Sink, StoreSink
from stream.store import SessionStore, default_db_path
from stream.config_file import read_config_text
from stream.terminal import TerminalView


def analyzer_factory(config_text: str) -> Callable[[str], RunnerAnalyzer]:
    """One RunnerAnalyzer per runner, with that runner's risk overrides applied."""
    parse_risk_config(config_text)  # fail early, before any data is read, on a bad config

    def make(runner: str) -> RunnerAnalyzer:
        return RunnerAnalyzer(runner=runner, risk=RiskEngine(parse_risk_config(config_text, runner=runner)))

    return make


@dataclass(slots=True)
class RunOptions:
    """What a command asks of one run of a file."""

    path: pathlib.Path
    speed: float | None = None  # x real time; None: as fast as possible
    runner: str | None = None
    placement: Placement = Placement.CHEST
    db_path: pathlib.Path | None = None  # None: default store; see `store`
    store: bool = True
    live_view: bool = True
    keep_outputs: bool = False
    team: str = "default"
    config_path: pathlib.Path | None = None
    extra_sinks: list[Sink] = field(default_factory=list)
    chunk_s: float = 1.0


@dataclass(slots=True)
class RunResult:
    pipeline: Pipeline
    summaries: dict[str, dict[str, Any]]
    stats: ReplayStats
    db_path: pathlib.Path | None


async def run_file(opts: RunOptions) -> RunResult:
    """Replay or analyse one file through the whole pipeline. Whatever was analysed before an input error
    is already in the store when the error propagates (sessions are left `running` = interrupted)."""
    factory = analyzer_factory(read_config_text(opts.config_path))
    stats = ReplayStats()
    items = sources.rechunked(sources.read_file(opts.path, runner=opts.runner, placement=opts.placement, stats=stats),
                            opts.chunk_s)
    progress = sources.Progress()
    sinks: list[Sink] = list(opts.extra_sinks)
    db_path = None
    if opts.store:
        db_path = opts.db_path or default_db_path()
        sinks.append(StoreSink(SessionStore(db_path)))
    if opts.live_view:
        sinks.insert(0, TerminalView(progress=progress))
    pipeline = Pipeline(analyzer_factory=factory, sinks=sinks, team=opts.team, source=str(opts.path),
                        keep_outputs=opts.keep_outputs)
    if opts.live_view:
        items = list(items)  # the progress bar needs the end time; captures of a run fit in memory
        progress.start_t_ns, progress.end_t_ns = sources.time_span(items)
    try:
        summaries = {}
        async for item in sources.paced(items, speed=opts.speed, progress=progress):
            await pipeline.push(item)
        summaries = await pipeline.finish()
    finally:
        await pipeline.close()
    return RunResult(pipeline=pipeline, summaries=summaries, stats=stats, db_path=db_path)


__all__ = ["RunOptions", "RunResult", "run_file", "analyzer_factory"]
