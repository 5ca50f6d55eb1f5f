"""The per-runner streaming analyzer: push sample batches, get steps, window metrics and risk events.

A thin composition of stages, each with its own parameters (built from the user-facing `AnalyticsConfig`)
and its own carried state, each chunk-invariant:

    OrientationStage (gravity, vertical, AP/ML)            analytics.orientation
      -> StepDetector (band-pass peaks)                    analytics.steps
      -> StepMetricsStage (impact, times, contact, side)   analytics.step_metrics
      -> WindowAssembly (block sums, lean, readings)       analytics.window_assembly
      -> the optional RiskStage (analytics.risk)

The analyzer checks the input, routes each batch through the stages, scores the windows, keeps the
session totals and gives the summary. The concatenated outputs are identical for any split of the input;
only *when* a result comes out depends on the chunking. Windows come out once the stream has passed
their end by `config.latency_s` (the declared fixed look-ahead); `finish()` flushes what that look-ahead
holds back.

Input selection: the analyzer uses the FIRST acceleration stream from a trunk sensor (chest or sacrum)
it sees, identified by (device, kind); other devices, other placements and gyroscope batches are
ignored. `push_reading` accepts footpod (RSC) and heart-rate readings for the window's speed, stride
length and heart rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from strideguard.analytics.config import AnalyticsConfig
from strideguard.analytics.consts import NS_PER_S
from strideguard.analytics.errors import AnalyticsError
from strideguard.analytics.orientation import OrientationParams, OrientationStage
from strideguard.analytics.results import AnalyzerOutput, RiskEvent, StepEvent, WindowMetrics
from strideguard.analytics.step_metrics import StepMetricsParams, StepMetricsStage
from strideguard.analytics.steps import StepDetector, StepDetectorParams
from strideguard.analytics.summary import SessionTotals
from strideguard.analytics.window_assembly import WindowAssembly, WindowAssemblyParams, WindowReadings
from strideguard.sensors.types import HeartRateReading, SampleBatch, SampleKind, StrideReading

MAX_PIECE_S = 10.0  # s, long batches are analysed in pieces of this length so look-back buffers stay bounded


class RiskStage(Protocol):
    """What the analyzer calls for each window (implemented in `analytics.risk`)."""

    def push_window(self, window: WindowMetrics) -> tuple[WindowMetrics, tuple[RiskEvent, ...]]: ...


@runtime_checkable
class SummarisingRiskStage(RiskStage, Protocol):
    """A risk stage that adds its session statistics and final baseline to the session summary."""

    def session_summary(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class _Stages:
    """The stages of one trunk stream, built when its first batch arrives (they need its rate and clock)."""

    orientation: OrientationStage
    detector: StepDetector
    steps: StepMetricsStage
    windows: WindowAssembly

    @classmethod
    def build(
        cls, *, runner: str, rate_hz: float, t0_ns: int, config: AnalyticsConfig, readings: WindowReadings
    ) -> _Stages:
        orientation = OrientationStage(rate_hz=rate_hz, params=OrientationParams.from_config(config))
        return cls(
            orientation=orientation,
            detector=StepDetector(rate_hz=rate_hz, params=StepDetectorParams.from_config(config)),
            steps=StepMetricsStage(
                runner=runner,
                rate_hz=rate_hz,
                t0_ns=t0_ns,
                params=StepMetricsParams.from_config(config),
                axes=orientation,
            ),
            windows=WindowAssembly(
                runner=runner,
                rate_hz=rate_hz,
                t0_ns=t0_ns,
                params=WindowAssemblyParams.from_config(config),
                axes=orientation,
                readings=readings,
            ),
        )


class RunnerAnalyzer:
    """Streaming gait analysis of one runner; see the module docstring for the contract."""

    def __init__(self, *, runner: str, config: AnalyticsConfig | None = None, risk: RiskStage | None = None):
        self.runner = runner
        self.config = config if config is not None else AnalyticsConfig()
        self._risk = risk
        self._stream: tuple[str, str] | None = None  # (device, placement) of the trunk ACC stream
        self._rate_hz = 0.0
        self._t0_ns: int | None = None
        self._last_t_ns: int | None = None
        self._n_samples = 0
        self._finished = False
        self._stages: _Stages | None = None  # built by the stream's first batch
        self._readings = WindowReadings()  # readings may come before the first sample
        self._totals = SessionTotals()

    # ------------------------------------------------------------------ public API
    def push(self, batch: SampleBatch) -> AnalyzerOutput:
        """Analyse one batch of any size (one sample is fine); return what became final."""
        if self._finished:
            raise AnalyticsError(f"runner {self.runner!r}: push after finish()")
        if batch.runner != self.runner:
            raise AnalyticsError(f"batch for runner {batch.runner!r} pushed to the analyzer of {self.runner!r}")
        if batch.kind is not SampleKind.ACC or not batch.placement.is_trunk or len(batch) == 0:
            return AnalyzerOutput()
        stages = self._stages
        if stages is None:
            stages = self._start(batch)
        elif (batch.device, batch.placement.value) != self._stream:
            return AnalyzerOutput()
        elif batch.rate_hz != self._rate_hz:
            raise AnalyticsError(
                f"device {batch.device!r} changed rate from {self._rate_hz} to {batch.rate_hz} Hz "
                "within a session; start a new analyzer"
            )
        if self._last_t_ns is not None and int(batch.t_ns[0]) <= self._last_t_ns:
            raise AnalyticsError(
                f"device {batch.device!r}: batch starts at {int(batch.t_ns[0])} ns, not after "
                f"the previous sample at {self._last_t_ns} ns"
            )
        piece = max(1, round(MAX_PIECE_S * self._rate_hz))
        if len(batch) <= piece:  # the common case: one piece, no outputs to concatenate
            return self._process(stages, batch.t_ns, batch.values)
        out = AnalyzerOutput()
        for start in range(0, len(batch), piece):
            out = out + self._process(stages, batch.t_ns[start : start + piece], batch.values[start : start + piece])
        return out

    def push_reading(self, reading: StrideReading | HeartRateReading) -> AnalyzerOutput:
        """Keep a footpod or heart-rate reading for the windows it falls in (readings for a window
        already emitted are dropped)."""
        if reading.runner != self.runner:
            raise AnalyticsError(f"reading for runner {reading.runner!r} pushed to the analyzer of {self.runner!r}")
        self._readings.add(reading)
        return AnalyzerOutput()

    def finish(self) -> AnalyzerOutput:
        """End of stream: confirm the last step and emit every complete window still held back."""
        stages = self._stages
        if self._finished or stages is None:
            self._finished = True
            return AnalyzerOutput()
        self._finished = True
        steps = stages.steps.finish(stages.detector.flush())
        assert self._last_t_ns is not None  # the stages are built by the first batch, which is then processed
        end_ns = self._last_t_ns + round(NS_PER_S / self._rate_hz)
        windows = stages.windows.finish(end_ns=end_ns, steps=steps, forward=stages.steps.forward)
        return self._collect(steps, windows)

    @property
    def risk(self) -> RiskStage | None:
        """The risk stage, read-only: the shell reaches it to snooze alerts the runner asked to silence."""
        return self._risk

    @property
    def summary(self) -> dict[str, Any]:
        """Session summary (JSON-able): duration, steps, cadence, and window means of the metrics."""
        t = self._totals
        duration = 0.0
        if self._t0_ns is not None:
            assert self._last_t_ns is not None  # both are set by the first batch
            duration = (self._last_t_ns - self._t0_ns) / NS_PER_S + 1.0 / self._rate_hz
        out: dict[str, Any] = {
            "runner": self.runner,
            "device": self._stream[0] if self._stream else None,
            "placement": self._stream[1] if self._stream else None,
            "rate_hz": self._rate_hz or None,
            "duration_s": round(duration, 3),
            "n_samples": self._n_samples,
            "n_steps": self._stages.steps.n_steps if self._stages is not None else 0,
            "cadence_spm": round(60.0 / (t.interval_sum_s / t.n_intervals), 2) if t.n_intervals else None,
            "impact_g": round(t.impact_sum_g / t.n_impacts, 3) if t.n_impacts else None,
            "n_windows": t.n_windows,
            "n_running_windows": t.n_running,
            "latency_s": self.config.latency_s,
        }
        for name, (total, count) in sorted(t.window_means.items()):
            out[f"mean_{name}"] = round(total / count, 4) if count else None
        if isinstance(self._risk, SummarisingRiskStage):
            out["risk"] = self._risk.session_summary()  # score statistics, the baseline the next session starts from
        return out

    # ------------------------------------------------------------------ routing
    def _start(self, batch: SampleBatch) -> _Stages:
        self._stream = (batch.device, batch.placement.value)
        self._rate_hz = float(batch.rate_hz)
        self._t0_ns = int(batch.t_ns[0])
        self._stages = _Stages.build(
            runner=self.runner, rate_hz=self._rate_hz, t0_ns=self._t0_ns, config=self.config, readings=self._readings
        )
        return self._stages

    def _process(self, stages: _Stages, t_ns: np.ndarray, values: np.ndarray) -> AnalyzerOutput:
        self._n_samples += t_ns.shape[0]
        self._last_t_ns = int(t_ns[-1])
        acc = values.astype(np.float64)
        oriented = stages.orientation.push(acc)
        peaks = stages.detector.push(oriented.dyn_vertical_g)
        steps = stages.steps.push(t_ns, oriented, peaks)
        windows = stages.windows.push(t_ns, acc, oriented, steps, stages.steps.forward)
        return self._collect(steps, windows)

    def _collect(self, steps: Sequence[StepEvent], windows: Sequence[WindowMetrics]) -> AnalyzerOutput:
        """Score the windows, keep the session totals, and package the outputs."""
        for step in steps:
            self._totals.add_step(step)
        events: list[RiskEvent] = []
        if self._risk is not None and windows:
            scored = []
            for window in windows:
                window, new_events = self._risk.push_window(window)
                scored.append(window)
                events.extend(new_events)
            windows = scored
        for window in windows:
            self._totals.add_window(window)
        return AnalyzerOutput(steps=tuple(steps), windows=tuple(windows), risk_events=tuple(events))


__all__ = ["RiskStage", "RunnerAnalyzer"]
