"""Run StrideGuard's streaming analytics (analytics.runner.RunnerAnalyzer) over one recording.

The recording is replayed as fast as possible in fixed chunks, exactly as a live stream would arrive
(chunk size does not change results: chunk invariance is tested in the analytics' own suite), and the
wall time of `push` + `finish` is the analytics' own cost, without file reading.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from benchmarks.validation.datasets import Recording
from strideguard.sensors.types import NS_PER_S, Placement, SampleBatch, SampleKind

if TYPE_CHECKING:  # analytics is imported when it runs, so a broken import is reported, not fatal
    from strideguard.analytics.results import AnalyzerOutput, StepEvent, WindowMetrics

EPOCH_NS = 1_700_000_000 * NS_PER_S  # replayed recordings start here (any fixed host time works)


@dataclass(kw_only=True)
class OurResult:
    """Steps and windows our analytics emitted for one recording, times in s from its start."""

    step_times_s: np.ndarray
    contact_times_s: np.ndarray  # NaN where the step has no contact estimate
    contact_time_ms: np.ndarray  # NaN where absent
    impact_g: np.ndarray  # NaN where absent
    side: np.ndarray  # "left", "right" or "unknown" per step
    braking_g: np.ndarray  # NaN where absent
    vertical_oscillation_cm: np.ndarray  # NaN where absent
    windows: list[WindowMetrics] = field(default_factory=list)
    seconds: float = 0.0


def analytics_available() -> str | None:
    """None when analytics.runner imports, else why not (one line)."""
    try:
        importlib.import_module("strideguard.analytics.runner")
    except Exception as exc:  # any import failure means: report ours as unavailable
        return f"analytics.runner not importable: {type(exc).__name__}: {exc}"
    return None


def batches(rec: Recording, *, runner: str, chunk_s: float) -> list[SampleBatch]:
    """The recording as acceleration batches of `chunk_s` seconds (the last one shorter)."""
    t_ns = EPOCH_NS + np.round(rec.t_s * NS_PER_S).astype(np.int64)
    step = max(round(chunk_s * rec.rate_hz), 1)
    acc = rec.acc_g.astype(np.float32)
    return [
        SampleBatch(
            runner=runner,
            device="validate",
            placement=Placement(rec.placement),
            kind=SampleKind.ACC,
            rate_hz=rec.rate_hz,
            t_ns=t_ns[i : i + step],
            values=acc[i : i + step],
        )
        for i in range(0, len(t_ns), step)
    ]


class Analyzer(Protocol):
    """What the harness needs of an analyzer: analytics.runner.RunnerAnalyzer, or a test's stand-in."""

    def push(self, batch: SampleBatch) -> AnalyzerOutput: ...

    def finish(self) -> AnalyzerOutput: ...


AnalyzerFactory = Callable[[str], Analyzer]  # runner name -> a fresh analyzer


def _runner_analyzer(runner: str) -> Analyzer:
    from strideguard.analytics.runner import RunnerAnalyzer

    return RunnerAnalyzer(runner=runner)


def active_peak_analyzer(runner: str) -> Analyzer:
    """The analytics with the per-step impact low-passed at `evaluate.ACTIVE_PEAK_LOWPASS_HZ`: its
    `impact_g` estimates the force plate's active peak (validation only; not a shipped setting)."""
    from benchmarks.validation.evaluate import ACTIVE_PEAK_LOWPASS_HZ
    from strideguard.analytics.config import AnalyticsConfig
    from strideguard.analytics.runner import RunnerAnalyzer

    return RunnerAnalyzer(runner=runner, config=AnalyticsConfig(impact_lowpass_hz=ACTIVE_PEAK_LOWPASS_HZ))


def run_ours(
    rec: Recording, *, chunk_s: float = 1.0, analyzer_factory: AnalyzerFactory | None = None, repeat: int = 1
) -> OurResult:
    """Analyse one recording; `analyzer_factory(runner)` defaults to analytics.runner.RunnerAnalyzer.

    With `repeat` > 1 the analysis runs that many times on fresh analyzers and the fastest wall time is
    kept (this machine is shared: the minimum is the least disturbed measurement); outputs are those of
    the last run (they are identical: the analytics are deterministic).
    """
    make = _runner_analyzer if analyzer_factory is None else analyzer_factory
    result = _run_once(rec, chunk_s=chunk_s, analyzer_factory=make)
    best = result.seconds
    for _ in range(repeat - 1):
        result = _run_once(rec, chunk_s=chunk_s, analyzer_factory=make)
        best = min(best, result.seconds)
    result.seconds = best
    return result


def _run_once(rec: Recording, *, chunk_s: float, analyzer_factory: AnalyzerFactory) -> OurResult:
    runner = "validate"
    chunks = batches(rec, runner=runner, chunk_s=chunk_s)  # built before the clock starts
    analyzer = analyzer_factory(runner)
    steps: list[StepEvent] = []
    windows: list[WindowMetrics] = []
    t0 = time.perf_counter()
    for b in chunks:
        out = analyzer.push(b)
        steps.extend(out.steps)
        windows.extend(out.windows)
    out = analyzer.finish()
    seconds = time.perf_counter() - t0
    steps.extend(out.steps)
    windows.extend(out.windows)
    steps.sort(key=lambda s: s.t_ns)

    def arr(values: Iterable[float | None]) -> np.ndarray:
        return np.array([np.nan if v is None else float(v) for v in values], dtype=float)

    return OurResult(
        step_times_s=np.array([(s.t_ns - EPOCH_NS) / NS_PER_S for s in steps], dtype=float),
        contact_times_s=arr(
            (s.contact_t_ns - EPOCH_NS) / NS_PER_S if s.contact_t_ns is not None else None for s in steps
        ),
        contact_time_ms=arr(s.contact_time_ms for s in steps),
        impact_g=arr(s.impact_g for s in steps),
        side=np.array([s.side.value for s in steps], dtype=object),
        braking_g=arr(s.braking_g for s in steps),
        vertical_oscillation_cm=arr(s.vertical_oscillation_cm for s in steps),
        windows=windows,
        seconds=seconds,
    )
