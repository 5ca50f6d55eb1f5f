"""The per-runner streaming analyzer: push sample batches, get steps, window metrics and risk events.

Composition: `OrientationStage` (gravity, vertical, AP/ML) -> `StepDetector` (band-pass peaks) ->
per-step metrics read back from a bounded `History` (impact, side) -> `BlockSums` on the fixed window
grid (sway, lean) -> `WindowMetrics` -> the optional `RiskStage`. Every stage carries its own state and
is chunk-invariant, so the concatenated outputs are identical for any split of the input; only *when*
a result comes out depends on the chunking. Windows come out once the stream has passed their end by
`config.latency_s` (the declared fixed look-ahead); `finish()` flushes what that look-ahead holds back.

Input selection: the analyzer uses the FIRST acceleration stream from a trunk sensor (chest or sacrum)
it sees, identified by (device, kind); other devices, other placements and gyroscope batches are
ignored. `push_reading` accepts footpod (RSC) and heart-rate readings for the window's speed, stride
length and heart rate.
"""

from __future__ import annotations

import math
from collections import deque
from operator import attrgetter
from typing import Protocol

import numpy as np

from analytics.braking import braking_peak_g
from analytics.cadence import cadence_spm
from analytics.config import AnalyticsConfig
from analytics.consts import MS_PER_S, NS_PER_S
from analytics.contact import MAX_CONTACT_S, contact_span_around
from analytics.errors import AnalyticsError
from analytics.filters import History, SosFilter, butter_sos
from analytics.footpod import overstriding_ratio, window_speed_and_stride
from analytics.impact import ImpactFilter
from analytics.lean import StandingReference, lean_deg, unit
from analytics.orientation import OrientationStage
from analytics.oscillation import DisplacementFilter, bilinear_correction
from analytics.regularity import regularity
from analytics.results import AnalyzerOutput, RiskEvent, Side, StepEvent, WindowMetrics
from analytics.step_time import lowpass_delay_s, step_event_time_ns
from analytics.steps import StepDetector, StepPeak
from analytics.summary import SessionTotals
from analytics.sway import sway_ratios
from analytics.symmetry import AlternationAxis, SideAssigner, contact_step_times_s, symmetry_index_pct
from analytics.windows import Block, BlockSums, combine
from sensors.types import HeartRateReading, SampleBatch, SampleKind, StrideReading

# History channels (float64): time since the first sample in ns (exact below 2**53 ns = 104 days), ...
H_T, H_VERTICAL, H_IMPACT, H_AP, H_ML, H_CONTACT, H_DISPLACEMENT = range(7)
# Block channels: sums of squares of ML, AP and the resultant dynamic acceleration; gravity components.
B_ML2, B_AP2, B_RES2, B_GX, B_GY, B_GZ = range(6)
HISTORY_S = 3.0  # s of per-sample history kept for per-step look-backs (>= max step interval + margins)
DEFAULT_STEP_INTERVAL_S = 0.45  # s, assumed interval before a bout has one
IMPACT_SEARCH_AHEAD_FRACTION = 0.2  # of a step interval after the band-pass peak: where the impact may be
BRAKING_PHASE_FRACTION = 0.25  # of a step interval before the impact peak: where braking shows
SIDE_WINDOW_FRACTION = 0.2  # of a step interval either side of the impact peak: ML sign for the side
MAX_PIECE_S = 10.0  # s, long batches are analysed in pieces of this length so look-back buffers stay bounded
READINGS_KEPT = 512  # footpod / heart-rate readings buffered for windows not yet emitted
# The ufunc reductions behind ndarray.max/min/sum, called directly: the same kernels and the same bits,
# without the method wrappers' argument handling (a microsecond each, several per step).
_max, _min, _sum = np.maximum.reduce, np.minimum.reduce, np.add.reduce


class RiskStage(Protocol):
    """What the analyzer calls for each window (implemented in `analytics.risk`)."""

    def push_window(self, window: WindowMetrics) -> tuple[WindowMetrics, tuple[RiskEvent, ...]]: ...


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
        self._pending_peaks: deque[StepPeak] = deque()
        self._steps: deque[StepEvent] = deque()  # finalized steps not yet behind every pending window
        self._n_steps = 0
        self._prev_step: tuple[int, int, int] | None = None  # (band-pass peak index, impact t_ns, impact index)
        self._sides = SideAssigner()
        self._ml_axis = AlternationAxis()
        self._forward_votes: list[float] = []
        self._forward_sign = 0  # +1 / -1 once decided: forward = sign x the orientation's AP axis
        self._forward_t_ns: int | None = None  # impact time of the step that decided it
        self._blocks: dict[int, Block] = {}
        self._next_window = 0
        self._lean_up: np.ndarray | None = None
        self._heart: deque[tuple[int, float]] = deque(maxlen=READINGS_KEPT)
        self._strides: deque[StrideReading] = deque(maxlen=READINGS_KEPT)
        self._totals = SessionTotals()
        self._reference_cadences: list[float] = []  # early running windows' cadence (overstriding reference)

    # ------------------------------------------------------------------ public API
    def push(self, batch: SampleBatch) -> AnalyzerOutput:
        """Analyse one batch of any size (one sample is fine); return what became final."""
        if self._finished:
            raise AnalyticsError(f"runner {self.runner!r}: push after finish()")
        if batch.runner != self.runner:
            raise AnalyticsError(f"batch for runner {batch.runner!r} pushed to the analyzer of {self.runner!r}")
        if batch.kind is not SampleKind.ACC or not batch.placement.is_trunk or len(batch) == 0:
            return AnalyzerOutput()
        if self._stream is None:
            self._start(batch)
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
            return self._process(batch.t_ns, batch.values)
        out = AnalyzerOutput()
        for start in range(0, len(batch), piece):
            out = out + self._process(batch.t_ns[start : start + piece], batch.values[start : start + piece])
        return out

    def push_reading(self, reading: StrideReading | HeartRateReading) -> AnalyzerOutput:
        """Keep a footpod or heart-rate reading for the windows it falls in (readings for a window
        already emitted are dropped)."""
        if reading.runner != self.runner:
            raise AnalyticsError(f"reading for runner {reading.runner!r} pushed to the analyzer of {self.runner!r}")
        if isinstance(reading, HeartRateReading):
            self._heart.append((reading.t_ns, float(reading.heart_rate_bpm)))
        elif isinstance(reading, StrideReading):
            self._strides.append(reading)
        return AnalyzerOutput()

    def finish(self) -> AnalyzerOutput:
        """End of stream: confirm the last step and emit every complete window still held back."""
        if self._finished or self._stream is None:
            self._finished = True
            return AnalyzerOutput()
        self._finished = True
        steps: list[StepEvent] = []
        self._pending_peaks.extend(self._detector.flush())
        self._finalize_steps(steps, final=True)
        period_ns = round(NS_PER_S / self._rate_hz)
        assert self._last_t_ns is not None  # a stream is set by the first batch, which is then processed
        for block in self._block_sums.flush(end_ns=self._last_t_ns + period_ns):
            self._blocks[block.index] = block
        windows, events = self._emit_windows(stream_t_ns=None)
        return AnalyzerOutput(steps=tuple(steps), windows=tuple(windows), risk_events=tuple(events))

    @property
    def risk(self) -> RiskStage | None:
        """The risk stage, read-only: the shell reaches it to snooze alerts the runner asked to silence."""
        return self._risk

    @property
    def summary(self) -> dict:
        """Session summary (JSON-able): duration, steps, cadence, and window means of the metrics."""
        t = self._totals
        duration = 0.0
        if self._t0_ns is not None:
            assert self._last_t_ns is not None  # both are set by the first batch
            duration = (self._last_t_ns - self._t0_ns) / NS_PER_S + 1.0 / self._rate_hz
        out = {
            "runner": self.runner,
            "device": self._stream[0] if self._stream else None,
            "placement": self._stream[1] if self._stream else None,
            "rate_hz": self._rate_hz or None,
            "duration_s": round(duration, 3),
            "n_samples": self._n_samples,
            "n_steps": self._n_steps,
            "cadence_spm": round(60.0 / (t.interval_sum_s / t.n_intervals), 2) if t.n_intervals else None,
            "impact_g": round(t.impact_sum_g / t.n_impacts, 3) if t.n_impacts else None,
            "n_windows": t.n_windows,
            "n_running_windows": t.n_running,
            "latency_s": self.config.latency_s,
        }
        for name, (total, count) in sorted(t.window_means.items()):
            out[f"mean_{name}"] = round(total / count, 4) if count else None
        session_risk = getattr(self._risk, "session_summary", None)
        if session_risk is not None:
            out["risk"] = session_risk()  # score statistics and the baseline the next session starts from
        return out

    # ------------------------------------------------------------------ stages
    def _start(self, batch: SampleBatch) -> None:
        cfg = self.config
        rate = float(batch.rate_hz)
        self._stream = (batch.device, batch.placement.value)
        self._rate_hz = rate
        self._t0_ns = int(batch.t_ns[0])
        self._orientation = OrientationStage(rate_hz=rate, config=cfg)
        self._impact = ImpactFilter(rate_hz=rate, config=cfg)
        self._detector = StepDetector(rate_hz=rate, config=cfg)
        self._standing = StandingReference(rate_hz=rate, config=cfg)
        self._history = History(7, round(max(HISTORY_S, cfg.max_step_interval_s + 1.0) * rate))
        self._window_vertical = History(1, round((cfg.window_s + cfg.latency_s + 1.0) * rate))
        self._contact_lowpass = SosFilter(butter_sos(2, cfg.contact_lowpass_hz, "lowpass", rate), steady_start=True)
        self._displacement = DisplacementFilter(rate_hz=rate, highpass_hz=cfg.oscillation_highpass_hz)
        self._block_sums = BlockSums(t0_ns=self._t0_ns, hop_ns=round(cfg.hop_s * NS_PER_S), channels=6)
        self._blocks_per_window = round(cfg.window_s / cfg.hop_s)
        self._post_samples = math.ceil(cfg.step_post_s * rate)
        self._event_delay_ns = lowpass_delay_s(cfg.impact_lowpass_hz, rate) * NS_PER_S  # see analytics.step_time
        # per-step constants, read for every step
        self._default_interval = DEFAULT_STEP_INTERVAL_S * rate
        self._search_back = round(cfg.step_search_back_s * rate)
        self._reach = round(MAX_CONTACT_S * rate) + 1
        self._max_gap_samples = cfg.max_step_interval_s * rate
        self._max_gap_ns = cfg.max_step_interval_s * NS_PER_S
        self._contact_threshold_g = cfg.contact_threshold_g
        self._n_forward_votes = cfg.forward_votes

    def _process(self, t_ns: np.ndarray, values: np.ndarray) -> AnalyzerOutput:
        first_index = self._n_samples
        n = t_ns.shape[0]
        self._n_samples += n
        self._last_t_ns = int(t_ns[-1])
        acc = values.astype(np.float64)
        o = self._orientation.push(acc)
        impact = self._impact.push(o.vertical_g)
        contact = self._contact_lowpass(o.vertical_g)
        displacement = self._displacement.push(o.dyn_vertical_g)
        # time since the first sample: int64 ns, converted to float64 as the column is written
        self._history.extend_columns(t_ns - self._t0_ns, o.vertical_g, impact, o.ap_g, o.ml_g, contact, displacement)
        self._window_vertical.extend_columns(o.dyn_vertical_g)
        self._standing.push(acc, o.dyn_power_g2, first_index)
        g = o.gravity
        sums = _columns(o.ml_g * o.ml_g, o.ap_g * o.ap_g, o.dyn_power_g2, g[:, 0], g[:, 1], g[:, 2])
        for block in self._block_sums.push(t_ns, sums, first_index):
            self._blocks[block.index] = block
        self._pending_peaks.extend(self._detector.push(o.dyn_vertical_g))
        steps: list[StepEvent] = []
        self._finalize_steps(steps, final=False)
        windows, events = self._emit_windows(stream_t_ns=self._last_t_ns)
        self._history.trim()
        self._window_vertical.trim()
        return AnalyzerOutput(steps=tuple(steps), windows=tuple(windows), risk_events=tuple(events))

    # ------------------------------------------------------------------ steps
    def _finalize_steps(self, out: list[StepEvent], *, final: bool) -> None:
        last_index = self._history.end - 1
        while self._pending_peaks and (final or self._pending_peaks[0].index + self._post_samples <= last_index):
            step = self._step_from_peak(self._pending_peaks.popleft())
            if step is not None:
                out.append(step)
                self._steps.append(step)

    def _step_from_peak(self, peak: StepPeak) -> StepEvent | None:
        """Per-step metrics from the history around one confirmed band-pass peak (sparse work: one
        view of the history, a dozen small numpy reductions; the per-stream constants come from
        `_start`, and plain-float arithmetic stays in Python, so a step costs a few tens of us)."""
        rate = self._rate_hz
        t0_ns = self._t0_ns
        assert t0_ns is not None  # set by the first batch, before any peak
        index = peak.index
        interval = peak.interval_samples if peak.interval_samples is not None else self._default_interval
        back = max(1, min(self._search_back, round(0.6 * interval)))
        ahead = round(IMPACT_SEARCH_AHEAD_FRACTION * interval)
        reach = self._reach
        prev = self._prev_step  # the previous step while it is in the same bout, else None
        if prev is not None and index - prev[0] > self._max_gap_samples:
            prev = None
        lo = index - back - reach if prev is None else min(prev[2], index - back - reach)
        rows, base = self._history.rows(lo, index + ahead + reach + 2)
        a, b = max(0, index - back - base), index + ahead + 1 - base
        if b <= a:
            return None
        impact_col = rows[:, H_IMPACT]
        k = a + int(impact_col[a:b].argmax())  # impact sample, local row
        impact_g = float(impact_col[k])
        impact_index = base + k
        t_col = rows[:, H_T]
        t_ns = t0_ns + step_event_time_ns(t_col, impact_col, k, delay_ns=self._event_delay_ns, max_samples=reach)
        if prev is not None and t_ns - prev[1] > self._max_gap_ns:
            prev = None  # samples were lost between the two steps (a BLE dropout): no step time across
        step_time_s: float | None = None
        oscillation = None
        if prev is not None:
            step_time = step_time_s = (t_ns - prev[1]) / NS_PER_S
            displacement = rows[max(0, prev[2] - base) : k + 1, H_DISPLACEMENT]
            if displacement.shape[0] >= 2:
                oscillation = (
                    float(_max(displacement) - _min(displacement)) * bilinear_correction(1.0 / step_time, rate)
                    if step_time > 0
                    else None
                )
        else:  # a new bout
            self._sides.new_bout()
            self._ml_axis.new_bout()
        self._prev_step = (index, t_ns, impact_index)

        first = max(0, k - reach)
        span = contact_span_around(
            rows[first : k + reach + 1, H_CONTACT].tolist(), k - first, reach, self._contact_threshold_g, rate
        )
        if span is None:
            contact_t_ns = contact_ms = None
        else:
            contact_t_ns = t0_ns + int(t_col[k]) + round(span[0] * NS_PER_S)
            contact_ms = (span[1] - span[0]) * MS_PER_S

        braking = ml_left = None
        if self._forward_sign == 0 and self._orientation.axis_at(impact_index) is not None:
            braking_phase = rows[max(0, k - round(BRAKING_PHASE_FRACTION * interval)) : k + 1, H_AP]
            self._forward_votes.append(float(_sum(braking_phase)) / braking_phase.shape[0])
            if len(self._forward_votes) >= self._n_forward_votes:
                self._forward_sign = -1 if sum(self._forward_votes) > 0 else 1  # braking = AP backwards
                self._forward_t_ns = t_ns
        if self._forward_sign:
            braking_start = (
                max(0, k - round(BRAKING_PHASE_FRACTION * interval))
                if span is None
                else max(0, k + math.floor(span[0] * rate))
            )
            braking = braking_peak_g(rows[braking_start : k + 1, H_AP], sign=self._forward_sign)
            half = round(SIDE_WINDOW_FRACTION * interval)
            around = rows[max(0, k - half) : k + half + 1]
            count = around.shape[0]
            alternating = self._ml_axis.push(float(_sum(around[:, H_AP])) / count, float(_sum(around[:, H_ML])) / count)
            ml_left = None if alternating is None else alternating * self._forward_sign
        side = self._sides.assign(ml_left)

        step = StepEvent(
            runner=self.runner,
            t_ns=t_ns,
            index=self._n_steps,
            side=side,
            impact_g=impact_g,
            step_time_s=step_time_s,
            contact_t_ns=contact_t_ns,
            contact_time_ms=contact_ms,
            vertical_oscillation_cm=oscillation,
            braking_g=braking,
        )
        self._n_steps += 1
        self._totals.add_step(step)
        return step

    # ------------------------------------------------------------------ windows
    def _emit_windows(self, *, stream_t_ns: int | None) -> tuple[list[WindowMetrics], list[RiskEvent]]:
        k = self._blocks_per_window
        windows: list[WindowMetrics] = []
        events: list[RiskEvent] = []
        if self._next_window + k - 1 not in self._blocks:
            return windows, events  # the common case on a push: the next window's last block is still open
        latency_ns = round(self.config.latency_s * NS_PER_S)
        while all(b in self._blocks for b in range(self._next_window, self._next_window + k)):
            w = self._next_window
            start_ns = self._block_sums.start_ns(w)
            end_ns = self._block_sums.start_ns(w + k)
            if stream_t_ns is not None and stream_t_ns < end_ns + latency_ns:
                break
            window = self._window(w, start_ns, end_ns, [self._blocks[b] for b in range(w, w + k)])
            if self._risk is not None:
                window, new_events = self._risk.push_window(window)
                events.extend(new_events)
            windows.append(window)
            self._totals.add_window(window)
            self._blocks.pop(w, None)
            self._next_window = w + 1
            next_start = self._block_sums.start_ns(self._next_window)
            while self._steps and self._steps[0].t_ns < next_start:
                self._steps.popleft()
            while self._heart and self._heart[0][0] < next_start:
                self._heart.popleft()
            while self._strides and self._strides[0].t_ns < next_start:
                self._strides.popleft()
        return windows, events

    def _window(self, w: int, start_ns: int, end_ns: int, blocks: list[Block]) -> WindowMetrics:
        cfg = self.config
        sums, n_samples, last_sample = combine(blocks)
        steps = [s for s in self._steps if start_ns <= s.t_ns < end_ns]
        enough = len(steps) >= cfg.min_steps_per_window
        cadence = cadence_spm(steps) if enough else None
        impact = _mean(steps, "impact_g") if enough else None
        running = cadence is not None and cadence >= cfg.running_min_cadence_spm
        sway_ml, sway_ap = sway_ratios(
            sum_ml_g2=float(sums[B_ML2]),
            sum_ap_g2=float(sums[B_AP2]),
            sum_resultant_g2=float(sums[B_RES2]),
            n_samples=n_samples,
        )
        if self._orientation.axis_at(last_sample) is None:
            sway_ml = sway_ap = None
        gravity = sums[B_GX : B_GZ + 1] / n_samples if n_samples else None
        lean = self._lean(gravity, last_sample, end_ns, running)
        step_reg = stride_reg = None
        if cadence is not None:
            first = last_sample - n_samples + 1
            vertical = self._window_vertical.get(first, last_sample + 1, 0)
            if vertical.shape[0] == n_samples:
                step_reg, stride_reg = regularity(vertical, step_interval_s=60.0 / cadence, rate_hz=self._rate_hz)
        speed, stride_length = window_speed_and_stride(
            [r for r in self._strides if start_ns <= r.t_ns < end_ns], cadence
        )
        overstride = self._overstriding(cadence, running, speed, stride_length)
        heart = [bpm for t, bpm in self._heart if start_ns <= t < end_ns]
        by_side = _SideValues(steps) if enough else None
        return WindowMetrics(
            runner=self.runner,
            t_start_ns=start_ns,
            t_end_ns=end_ns,
            n_steps=len(steps),
            running=running,
            cadence_spm=cadence,
            impact_g=impact,
            sway_ml_ratio=sway_ml,
            sway_ap_ratio=sway_ap,
            lean_deg=lean,
            step_time_asymmetry_pct=by_side.asymmetry_of(contact_step_times_s(steps)) if by_side else None,
            impact_asymmetry_pct=by_side.asymmetry("impact_g") if by_side else None,
            contact_time_ms=_mean(steps, "contact_time_ms") if enough else None,
            contact_time_asymmetry_pct=by_side.asymmetry("contact_time_ms") if by_side else None,
            vertical_oscillation_cm=_mean(steps, "vertical_oscillation_cm") if enough else None,
            step_regularity=step_reg,
            stride_regularity=stride_reg,
            braking_g=_mean(steps, "braking_g") if enough else None,
            speed_mps=speed,
            stride_length_m=stride_length,
            overstriding_ratio=overstride,
            heart_rate_bpm=sum(heart) / len(heart) if heart else None,
        )

    def _overstriding(
        self, cadence: float | None, running: bool, speed: float | None, stride_length: float | None
    ) -> float | None:
        """Stride length against the stride at the early-run cadence for the same speed; the reference is
        the median cadence of the first `overstride_reference_windows` running windows."""
        refs = self._reference_cadences
        if running and cadence is not None and len(refs) < self.config.overstride_reference_windows:
            refs.append(cadence)
            return None
        if speed is None or stride_length is None or not refs or len(refs) < self.config.overstride_reference_windows:
            return None
        return overstriding_ratio(
            stride_length_m=stride_length, speed_mps=speed, reference_cadence_spm=float(np.median(refs))
        )

    def _lean(self, gravity: np.ndarray | None, last_sample: int, end_ns: int, running: bool) -> float | None:
        """Lean of one window; every decision it uses was made by data before the window's end, so the
        answer does not depend on how far the stream had got when the window was emitted."""
        standing_end = self._standing.closed_at
        if gravity is None or standing_end is None or standing_end > last_sample:
            return None
        if self._lean_up is None:
            if self._standing.up is not None:
                self._lean_up = self._standing.up
            elif running:
                self._lean_up = unit(gravity)
            else:
                return None
        axis = self._orientation.axis_at(last_sample)
        if axis is None or self._forward_t_ns is None or self._forward_t_ns >= end_ns:
            return None
        return lean_deg(gravity=gravity, up=self._lean_up, forward_axis=self._forward_sign * axis)  # type: ignore[arg-type]  # None when unit() met a zero mean gravity: lean_deg's TypeError is kept, not fixed here


def _mean(steps: list[StepEvent], name: str) -> float | None:
    """Mean of a per-step metric over the steps that have it (None when none has)."""
    values = [v for v in map(attrgetter(name), steps) if v is not None]
    return sum(values) / len(values) if values else None


class _SideValues:
    """A window's steps split by side, for the symmetry indices."""

    def __init__(self, steps: list[StepEvent]):
        self._steps = steps

    def asymmetry(self, name: str) -> float | None:
        return self.asymmetry_of(list(map(attrgetter(name), self._steps)))

    def asymmetry_of(self, values: list[float | None]) -> float | None:
        """Symmetry index of one value per step (None = no value)."""
        left = [v for s, v in zip(self._steps, values) if v is not None and s.side is Side.LEFT]
        right = [v for s, v in zip(self._steps, values) if v is not None and s.side is Side.RIGHT]
        return symmetry_index_pct(left, right)


def _columns(*columns: np.ndarray) -> np.ndarray:
    """(n, k) array of k equal-length 1-D arrays; `np.stack(..., axis=1)` without its per-call overhead."""
    out = np.empty((columns[0].shape[0], len(columns)))
    for j, column in enumerate(columns):
        out[:, j] = column
    return out


__all__ = ["RiskStage", "RunnerAnalyzer"]
