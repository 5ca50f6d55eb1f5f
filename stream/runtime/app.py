"""Wiring shared by the commands that run a session: config, analyzers, sinks, and one run of a file.

Kept apart from the command modules so that `demo`, `replay`, `analyze` and `record` build the same
pipeline and differ only in source, pacing and which sinks they switch on.
"""

from __future__ import annotations

import contextlib
import itertools
import pathlib
import sys
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from strideguard.analytics.risk import Baseline, RiskEngine
from strideguard.analytics.runner import RunnerAnalyzer
from strideguard.sensors.capture import ReplayStats
from strideguard.sensors.errors import CaptureError, ImportFormatError, SensorError
from strideguard.sensors.types import Placement
from strideguard.stream.alerts.settings import build_dispatcher
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.runtime import sources
from strideguard.stream.runtime.backpressure import buffered
from strideguard.stream.runtime.engine import SessionSummary
from strideguard.stream.runtime.history import check_shoe, own_sessions, wear_shoes
from strideguard.stream.runtime.pipeline import BusSink, Pipeline, Sink, StoreSink
from strideguard.stream.runtime.settings import Settings, load_settings, parse_settings
from strideguard.stream.sqlite.shoes import ShoeLog
from strideguard.stream.sqlite.store import SessionStore, StoreError, default_db_path
from strideguard.stream.terminal import TerminalView


def analyzer_factory(settings: Settings | str, *, store: SessionStore | None = None) -> Callable[[str], RunnerAnalyzer]:
    """One RunnerAnalyzer per runner, with that runner's risk overrides applied and, when a store is
    given, the baseline of the runner's latest completed session as the prior (so a new run is judged
    against the runner's own history from its first minutes, before its own baseline is ready).

    `settings`: from `stream.settings.load_settings`, or TOML text (tests; "" = the defaults), parsed and
    checked here, before any data is read."""
    risk = (parse_settings(settings) if isinstance(settings, str) else settings).risk

    def make(runner: str) -> RunnerAnalyzer:
        prior = prior_baseline(store, runner) if store is not None else None
        return RunnerAnalyzer(runner=runner, risk=RiskEngine(risk.for_runner(runner), prior_baseline=prior))

    return make


def prior_baseline(store: SessionStore, runner: str) -> Baseline | None:
    """The risk baseline stored with the runner's most recent completed session, if any (demos of the
    bundled samples are not the runner's: `history.is_demo`)."""
    for row in reversed(own_sessions(store, runner)):  # a demo's baseline is nobody's
        stored = SessionSummary.from_dict(row.summary).baseline
        if row.status == "completed" and stored:
            return Baseline.from_dict({**stored, "source": "prior"})
    return None


@dataclass(slots=True)
class RunOptions:
    """What a command asks of one run: where results go, and (for files) what to read and how fast."""

    path: pathlib.Path | None = None
    speed: float | None = None  # x real time; None: as fast as possible
    runner: str | None = None
    placement: Placement = Placement.CHEST
    db_path: pathlib.Path | None = None  # None: default store; see `store`
    store: bool = True
    live_view: bool = True
    keep_outputs: bool = False
    team: str = "default"
    config_path: pathlib.Path | None = None
    web: bool = False
    host: str = "127.0.0.1"
    port: int = 8765
    extra_sinks: list[Sink] = field(default_factory=list)
    chunk_s: float = 1.0
    start_t_ns: int = 0  # when a CSV with relative times was recorded (0: its own clock, dated 1970)
    shoe: str | None = None  # the shoes worn (None: each runner's default shoes, if they have any)


@dataclass(slots=True)
class RunResult:
    pipeline: Pipeline
    summaries: dict[str, SessionSummary]
    stats: ReplayStats
    db_path: pathlib.Path | None


@dataclass(slots=True)
class LiveParts:
    """What `open_pipeline` started around the pipeline, for the caller to report on."""

    pipeline: Pipeline
    bus: busmod.Bus
    progress: sources.Progress
    db_path: pathlib.Path | None = None
    web_url: str | None = None  # the team page's address (with its key when bound beyond loopback)
    web: Any = None  # the stream.web.WebServer when pages are served (its module imports aiohttp)
    runners: list[str] = field(default_factory=list)  # the runners known before the run, for their links

    def web_announcement(self) -> str | None:
        """Where the pages are: every address, each known runner's page, a QR code when a phone can open them."""
        return self.web.announcement(self.runners) if self.web is not None else None


@dataclass(slots=True)
class _Opened:
    """What `open_pipeline` has opened so far, so that a failure half-way (a taken port, a store that
    cannot be opened) closes exactly that, at once, in the order a finished run closes it."""

    bus: busmod.Bus = field(default_factory=busmod.Bus)
    history: SessionStore | None = None
    pipeline: Pipeline | None = None  # closes every sink, the store sink's connection among them
    retrain: Any = None  # the stream.retraining RetrainStore beside the pages
    server: Any = None  # the stream.web.WebServer, once it listens


@contextlib.asynccontextmanager
async def open_pipeline(opts: RunOptions, *, source: str) -> AsyncIterator[LiveParts]:
    """The pipeline with every sink the options ask for, and the services around it (web pages, alert
    channels), started before the first item and stopped after the last. Sink order: alerts first, then
    the terminal, the bus (pages), the store, then any extra sinks; the store and slow-capable extra sinks
    are wrapped in `stream.backpressure.BufferedSink` (see its loss policies). Whatever fails while
    starting (the pages' port taken) is raised after what was already opened is closed."""
    settings = load_settings(opts.config_path)  # a bad file stops here, before a store is opened
    opened = _Opened()
    try:
        yield await _start(opts, settings, source, opened)
    finally:
        await _stop(opened, opts.shoe)


async def _start(opts: RunOptions, settings: Settings, source: str, opened: _Opened) -> LiveParts:
    """Open the store, build the sinks and the pipeline, start the pages; each thing opened is noted in
    `opened` as soon as it is, for `_stop`."""
    db_path = (opts.db_path or default_db_path()) if opts.store else None
    # the store sink writes on its own thread through its own connection; the analyzers read the runners'
    # prior baselines on the loop through this one (WAL: readers never wait for the writer)
    history = opened.history = SessionStore(db_path) if db_path is not None else None
    if history is not None and opts.shoe is not None and opts.runner is not None:
        with ShoeLog(history.path) as shoes:  # a shoe the runner does not have stops here, before the run
            check_shoe(shoes, opts.runner, opts.shoe)
    factory = analyzer_factory(settings, store=history)
    bus = opened.bus
    progress = sources.Progress()
    sinks: list[Sink] = []
    dispatcher = build_dispatcher(
        settings.alerts, bus=bus if opts.web else None, terminal=False if opts.live_view else None
    )
    if dispatcher is not None:
        sinks.append(dispatcher)
    if opts.live_view:
        sinks.append(TerminalView(progress=progress))
    sinks.append(BusSink(bus))
    if db_path is not None:
        sinks.append(buffered(StoreSink(SessionStore(db_path))))
    sinks += [buffered(sink) for sink in opts.extra_sinks]  # a slow database must not stall the analytics
    opened.pipeline = Pipeline(
        analyzer_factory=factory, sinks=sinks, team=opts.team, source=source, keep_outputs=opts.keep_outputs
    )
    parts = LiveParts(
        pipeline=opened.pipeline, bus=bus, progress=progress, db_path=history.path if history is not None else None
    )
    if opts.web:
        await _start_pages(opts, settings, parts, opened)
    return parts


async def _start_pages(opts: RunOptions, settings: Settings, parts: LiveParts, opened: _Opened) -> None:
    """The live pages and the gait-retraining routes beside them; a taken port raises `UsageError`."""
    from strideguard.stream.retraining.progress_log import RetrainStore
    from strideguard.stream.web import WebServer
    from strideguard.stream.web.guard import Limits
    from strideguard.stream.web.retrain_routes import add_retrain_routes

    web = settings.web
    limits = Limits(
        max_feeds=web.max_feeds,
        max_connections=web.max_connections,
        idle_timeout_s=web.idle_timeout_s,
        write_timeout_s=web.write_timeout_s,
    )
    server = WebServer(
        parts.bus, host=opts.host, port=opts.port, limits=limits, extra_hosts=web.hosts, store_path=parts.db_path
    )  # with the store: the runner's past sessions and their reports beside the live pages
    if parts.db_path is not None:  # gait retraining (issue 20)
        opened.retrain = RetrainStore(parts.db_path)
    add_retrain_routes(server.app, parts.bus, opened.retrain.providers if opened.retrain is not None else None)
    await server.start()  # cleans up after itself when it cannot listen
    opened.server = server
    parts.web, parts.web_url = server, server.team_url
    if opts.runner:
        parts.runners = [opts.runner]
    for sink in parts.pipeline.sinks:
        if isinstance(sink, TerminalView):
            sink.page_url = server.runner_url  # each session's start line says where its page is


async def _stop(opened: _Opened, shoe: str | None) -> None:
    """Close what was opened, pipeline first (its sinks deliver the last results); each step runs even
    when one before it raised (the first error propagates)."""
    try:
        if opened.pipeline is not None:
            await opened.pipeline.close()
    finally:
        if opened.server is not None:
            await opened.server.stop()
        if opened.retrain is not None:
            opened.retrain.close()
        opened.bus.close()
        if opened.history is not None:
            opened.history.close()
            if opened.pipeline is not None:
                _wear_shoes(opened.history.path, opened.pipeline, shoe)


def _wear_shoes(db_path: pathlib.Path, pipeline: Pipeline, shoe: str | None) -> None:
    """Link the run's finished sessions to the shoes worn; a link that cannot be made is said, not fatal
    (the sessions themselves are stored)."""
    sessions = {sid: s.runner for sid, s in pipeline.engine.summaries.items()}
    if not sessions:
        return
    try:
        with ShoeLog(db_path) as log:
            problems = wear_shoes(log, sessions, shoe)
    except StoreError as exc:
        problems = [f"shoes not recorded: {exc}"]
    for line in problems:
        print(f"strideguard: {line}", file=sys.stderr)


async def run_file(opts: RunOptions, *, on_start: Any = None) -> RunResult:
    """Replay or analyse one file through the whole pipeline. Whatever was analysed before an input error
    is already in the store when the error propagates (sessions are left `running` = unfinished)."""
    assert opts.path is not None
    stats = ReplayStats()
    items: Iterable[Any] = sources.rechunked(
        sources.read_file(
            opts.path, runner=opts.runner, placement=opts.placement, stats=stats, start_t_ns=opts.start_t_ns
        ),
        opts.chunk_s,
    )
    async with open_pipeline(opts, source=sources.source_of(opts.path)) as parts:
        damage: SensorError | None = None
        if opts.live_view:  # the progress bar needs the end time; captures of a run fit in memory
            items, damage = _read_up_to_damage(items)
            parts.progress.start_t_ns, parts.progress.end_t_ns = sources.time_span(items)
        if parts.web is not None and not parts.runners:
            first, items = _peek(items)  # the file's runner, so the printed link and QR open her page
            parts.runners = [first.runner] if isinstance(getattr(first, "runner", None), str) else []
        if on_start is not None:
            on_start(parts)
        async for item in sources.paced(items, speed=opts.speed, progress=parts.progress):
            await parts.pipeline.push(item)
        if damage is not None:
            raise damage  # after the good part went through, as when reading as we go
        summaries = await parts.pipeline.finish()
    return RunResult(pipeline=parts.pipeline, summaries=summaries, stats=stats, db_path=parts.db_path)


def _peek(items: Iterable[Any]) -> tuple[Any, Iterable[Any]]:
    """The first item (None when there is none) and all the items, the first included."""
    iterator = iter(items)
    first = next(iterator, None)
    return first, (iterator if first is None else itertools.chain([first], iterator))


def _read_up_to_damage(items: Iterable[Any]) -> tuple[list[Any], SensorError | None]:
    """Every item before a damaged or malformed part of the input, and the error that ended it."""
    good: list[Any] = []
    try:
        good.extend(items)
    except (CaptureError, ImportFormatError) as exc:
        return good, exc
    return good, None


__all__ = ["LiveParts", "RunOptions", "RunResult", "analyzer_factory", "open_pipeline", "run_file"]
