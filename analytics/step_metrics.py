"""Per-step metrics: impact, event time, step time, vertical oscillation, contact, braking and side.

`StepMetricsStage` takes the oriented chunks (`orientation.OrientedChunk`) and the band-pass peaks the
`StepDetector` confirmed, and turns each peak into a `StepEvent` once `step_post_s` of data after it has
arrived. It keeps a bounded per-sample `History` of the signals a step reads back (time, the impact and
contact low-passes, AP/ML acceleration, vertical displacement), so a step's look-back can reach into
earlier chunks; the filters carry their state across chunks, and each step is decided from samples
only, so the steps are the same for any chunking of the input.

Per step (sparse work: one view of the history, a dozen small numpy reductions; plain-float arithmetic
stays in Python, so a step costs a few tens of microseconds):

* impact: the maximum of the impact low-pass from `step_search_back_s` before the band-pass peak to a
  fifth of a step interval after it (`analytics.impact`);
* event time: the stance-impulse centroid around it, free of the low-pass delay (`analytics.step_time`);
* step time and vertical oscillation: from the previous step of the same bout (a gap longer than
  `max_step_interval_s`, in samples or in time, starts a new bout: no step time across a dropout);
* contact: the span above `contact_threshold_g` around the impact (`analytics.contact`);
* forward direction: the sign of the AP axis, voted by the braking phase of the first `forward_vote_steps`
  steps whose AP axis is known; then braking (`analytics.braking`) and the side (`analytics.symmetry`).
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from strideguard.analytics.braking import braking_peak_g
from strideguard.analytics.config import AnalyticsConfig
from strideguard.analytics.consts import MS_PER_S, NS_PER_S
from strideguard.analytics.contact import MAX_CONTACT_S, contact_span_around
from strideguard.analytics.filters import History, SosFilter, butter_sos
from strideguard.analytics.impact import ImpactFilter, ImpactFilterParams
from strideguard.analytics.orientation import AxisLookup, OrientedChunk
from strideguard.analytics.oscillation import DisplacementFilter, bilinear_correction
from strideguard.analytics.results import Side, StepEvent
from strideguard.analytics.step_time import lowpass_delay_s, step_event_time_ns
from strideguard.analytics.steps import StepPeak
from strideguard.analytics.symmetry import AlternationAxis, SideAssigner

# s of per-sample history kept for per-step look-backs: a bout's first step can come out up to the
# latency after its peak (steps.StepDetector._hold) and looks back to the step before it (max step interval)
HISTORY_S = 5.0
DEFAULT_STEP_INTERVAL_S = 0.45  # s, assumed interval before a bout has one
IMPACT_SEARCH_AHEAD_FRACTION = 0.2  # of a step interval after the band-pass peak: where the impact may be
BRAKING_PHASE_FRACTION = 0.25  # of a step interval before the impact peak: where braking shows
SIDE_WINDOW_FRACTION = 0.2  # of a step interval either side of the impact peak: ML sign for the side
# The ufunc reductions behind ndarray.max/min/sum, called directly: the same kernels and the same bits,
# without the method wrappers' argument handling (a microsecond each, several per step).
_max, _min, _sum = np.maximum.reduce, np.minimum.reduce, np.add.reduce


class HistoryChannel(enum.IntEnum):
    """The columns of the per-sample history (float64), in the order they are written."""

    T_NS = 0  # time since the session's first sample, ns (exact below 2**53 ns = 104 days)
    IMPACT_G = 1  # impact low-pass of the vertical acceleration, gravity included
    AP_G = 2  # dynamic acceleration along the orientation's AP axis (unsigned convention)
    ML_G = 3  # dynamic acceleration along up x AP
    CONTACT_G = 4  # contact low-pass of the vertical acceleration, gravity included
    DISPLACEMENT_CM = 5  # vertical displacement (double integration with a high-pass)


@dataclass(frozen=True, slots=True, kw_only=True)
class StepMetricsParams:
    """What `StepMetricsStage` needs of the configuration (see `AnalyticsConfig` for the meanings)."""

    max_step_interval_s: float  # s, a longer gap between steps starts a new bout
    step_search_back_s: float  # s, the impact is searched this far before the band-pass peak
    step_post_s: float  # s, data after a band-pass peak needed before its step is decided
    contact_lowpass_hz: float  # Hz, low-pass of the vertical acceleration for the contact crossings
    contact_threshold_g: float  # g, at or above it the foot is on the ground
    oscillation_highpass_hz: float  # Hz, high-pass of the double integration for vertical oscillation
    forward_vote_steps: int  # steps whose braking sign decide which way is forward
    impact: ImpactFilterParams  # the impact low-pass (its delay is taken off the event time)

    @classmethod
    def from_config(cls, config: AnalyticsConfig) -> StepMetricsParams:
        return cls(
            max_step_interval_s=config.max_step_interval_s,
            step_search_back_s=config.step_search_back_s,
            step_post_s=config.step_post_s,
            contact_lowpass_hz=config.contact_lowpass_hz,
            contact_threshold_g=config.contact_threshold_g,
            oscillation_highpass_hz=config.oscillation_highpass_hz,
            forward_vote_steps=config.forward_votes,
            impact=ImpactFilterParams.from_config(config),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PreviousStep:
    """The last step made, while a following step may still be in its bout."""

    peak_index: int  # absolute sample index of its band-pass peak
    t_ns: int  # its event time
    impact_index: int  # absolute sample index of its impact peak


@dataclass(frozen=True, slots=True, kw_only=True)
class ForwardDirection:
    """Which end of the orientation's AP axis is forward, once the braking votes have decided it."""

    sign: int  # +1 / -1: forward = sign x the AP axis (`OrientationStage.axis_at`)
    decided_t_ns: int  # event time of the step whose vote decided it


class StepMetricsStage:
    """Band-pass peaks + oriented chunks -> `StepEvent`s, chunk-invariant (see the module docstring)."""

    def __init__(self, *, runner: str, rate_hz: float, t0_ns: int, params: StepMetricsParams, axes: AxisLookup):
        self._runner = runner
        self._rate_hz = rate_hz
        self._t0_ns = t0_ns
        self._axes = axes
        self._impact = ImpactFilter(rate_hz=rate_hz, params=params.impact)
        contact_sos = butter_sos(2, params.contact_lowpass_hz, "lowpass", rate_hz)
        self._contact_lowpass = SosFilter(contact_sos, steady_start=True)
        self._displacement = DisplacementFilter(rate_hz=rate_hz, highpass_hz=params.oscillation_highpass_hz)
        capacity = round(max(HISTORY_S, params.max_step_interval_s + 1.0) * rate_hz)
        self._history = History(len(HistoryChannel), capacity)
        self._pending: deque[StepPeak] = deque()
        self._prev: PreviousStep | None = None
        self._n_steps = 0
        self._sides = SideAssigner()
        self._ml_axis = AlternationAxis()
        self._forward_votes: list[float] = []
        self._forward_sign = 0  # ForwardDirection.sign once decided (an int: read for every step)
        self._forward: ForwardDirection | None = None
        # per-step constants, read for every step
        self._post_samples = math.ceil(params.step_post_s * rate_hz)
        self._event_delay_ns = lowpass_delay_s(params.impact.lowpass_hz, rate_hz) * NS_PER_S  # see step_time
        self._default_interval = DEFAULT_STEP_INTERVAL_S * rate_hz
        self._search_back = round(params.step_search_back_s * rate_hz)
        self._reach = round(MAX_CONTACT_S * rate_hz) + 1
        self._max_gap_samples = params.max_step_interval_s * rate_hz
        self._max_gap_ns = params.max_step_interval_s * NS_PER_S
        self._contact_threshold_g = params.contact_threshold_g
        self._forward_vote_steps = params.forward_vote_steps

    @property
    def n_steps(self) -> int:
        """Steps made so far."""
        return self._n_steps

    @property
    def forward(self) -> ForwardDirection | None:
        """The forward direction, None until the braking votes have decided it."""
        return self._forward

    def push(self, t_ns: np.ndarray, oriented: OrientedChunk, peaks: Iterable[StepPeak]) -> list[StepEvent]:
        """Add one chunk (its sample times and orientation) and the peaks confirmed with it; return the
        steps that have their `step_post_s` of data now, in order."""
        impact = self._impact.push(oriented.vertical_g)
        contact = self._contact_lowpass(oriented.vertical_g)
        displacement = self._displacement.push(oriented.dyn_vertical_g)
        # in HistoryChannel order; time since the first sample: int64 ns, converted to float64 as it is written
        self._history.extend_columns(t_ns - self._t0_ns, impact, oriented.ap_g, oriented.ml_g, contact, displacement)
        self._pending.extend(peaks)
        steps = self._finalize_steps(final=False)
        self._history.trim()
        return steps

    def finish(self, peaks: Iterable[StepPeak]) -> list[StepEvent]:
        """End of stream: the last peaks (`StepDetector.flush`) and every pending one become steps with
        the data there is."""
        self._pending.extend(peaks)
        return self._finalize_steps(final=True)

    def _finalize_steps(self, *, final: bool) -> list[StepEvent]:
        out: list[StepEvent] = []
        last_index = self._history.end - 1
        pending = self._pending
        while pending and (final or pending[0].index + self._post_samples <= last_index):
            step = self._step_from_peak(pending.popleft())
            if step is not None:
                out.append(step)
        return out

    def _step_from_peak(self, peak: StepPeak) -> StepEvent | None:
        """Per-step metrics from the history around one confirmed band-pass peak."""
        index = peak.index
        interval = peak.interval_samples if peak.interval_samples is not None else self._default_interval
        back = max(1, min(self._search_back, round(0.6 * interval)))
        ahead = round(IMPACT_SEARCH_AHEAD_FRACTION * interval)
        reach = self._reach
        prev = self._prev  # the previous step while it is in the same bout, else None
        if prev is not None and index - prev.peak_index > self._max_gap_samples:
            prev = None
        lo = index - back - reach if prev is None else min(prev.impact_index, index - back - reach)
        rows, base = self._history.rows(lo, index + ahead + reach + 2)
        a, b = max(0, index - back - base), index + ahead + 1 - base
        if b <= a:
            return None
        impact_col = rows[:, HistoryChannel.IMPACT_G]
        k = a + int(impact_col[a:b].argmax())  # impact sample, local row
        impact_index = base + k
        t_col = rows[:, HistoryChannel.T_NS]
        t_ns = self._t0_ns + step_event_time_ns(t_col, impact_col, k, delay_ns=self._event_delay_ns, max_samples=reach)
        if prev is not None and t_ns - prev.t_ns > self._max_gap_ns:
            prev = None  # samples were lost between the two steps (a BLE dropout): no step time across
        step_time_s: float | None = None
        oscillation = None
        if prev is not None:
            step_time_s = (t_ns - prev.t_ns) / NS_PER_S
            displacement = rows[max(0, prev.impact_index - base) : k + 1, HistoryChannel.DISPLACEMENT_CM]
            oscillation = _oscillation_cm(displacement, step_time_s, self._rate_hz)
        else:  # a new bout
            self._sides.new_bout()
            self._ml_axis.new_bout()
        self._prev = PreviousStep(peak_index=index, t_ns=t_ns, impact_index=impact_index)

        span = self._contact_span(rows, k)
        if span is None:
            contact_t_ns = contact_ms = None
        else:
            contact_t_ns = self._t0_ns + int(t_col[k]) + round(span[0] * NS_PER_S)
            contact_ms = (span[1] - span[0]) * MS_PER_S
        braking, side = self._braking_and_side(rows, k, interval, span, impact_index, t_ns)

        step = StepEvent(
            runner=self._runner,
            t_ns=t_ns,
            index=self._n_steps,
            side=side,
            impact_g=float(impact_col[k]),
            step_time_s=step_time_s,
            contact_t_ns=contact_t_ns,
            contact_time_ms=contact_ms,
            vertical_oscillation_cm=oscillation,
            braking_g=braking,
        )
        self._n_steps += 1
        return step

    def _contact_span(self, rows: np.ndarray, k: int) -> tuple[float, float] | None:
        """Contact start and end (s from the impact sample at local row k), if there is a contact."""
        reach = self._reach
        first = max(0, k - reach)
        contact = rows[first : k + reach + 1, HistoryChannel.CONTACT_G].tolist()
        return contact_span_around(contact, k - first, reach, self._contact_threshold_g, self._rate_hz)

    def _braking_and_side(
        self,
        rows: np.ndarray,
        k: int,
        interval: float,
        span: tuple[float, float] | None,
        impact_index: int,
        t_ns: int,
    ) -> tuple[float | None, Side]:
        """Vote on the forward direction until it is decided; then the braking peak and the ML push
        around contact, which gives the side."""
        braking = ml_left = None
        if self._forward_sign == 0 and self._axes.axis_at(impact_index) is not None:
            braking_phase = rows[max(0, k - round(BRAKING_PHASE_FRACTION * interval)) : k + 1, HistoryChannel.AP_G]
            self._forward_votes.append(float(_sum(braking_phase)) / braking_phase.shape[0])
            if len(self._forward_votes) >= self._forward_vote_steps:
                self._forward_sign = -1 if sum(self._forward_votes) > 0 else 1  # braking = AP backwards
                self._forward = ForwardDirection(sign=self._forward_sign, decided_t_ns=t_ns)
        sign = self._forward_sign
        if sign:
            braking_start = (
                max(0, k - round(BRAKING_PHASE_FRACTION * interval))
                if span is None
                else max(0, k + math.floor(span[0] * self._rate_hz))
            )
            braking = braking_peak_g(rows[braking_start : k + 1, HistoryChannel.AP_G], sign=sign)
            half = round(SIDE_WINDOW_FRACTION * interval)
            around = rows[max(0, k - half) : k + half + 1]
            count = around.shape[0]
            alternating = self._ml_axis.push(
                float(_sum(around[:, HistoryChannel.AP_G])) / count, float(_sum(around[:, HistoryChannel.ML_G])) / count
            )
            ml_left = None if alternating is None else alternating * sign
        return braking, self._sides.assign(ml_left)


def _oscillation_cm(displacement: np.ndarray, step_time_s: float, rate_hz: float) -> float | None:
    """Peak-to-peak vertical displacement from the previous impact to this one, corrected for the
    bilinear shrinkage at the step frequency (None with fewer than two samples or no positive step time)."""
    if displacement.shape[0] < 2 or not step_time_s > 0:
        return None
    return float(_max(displacement) - _min(displacement)) * bilinear_correction(1.0 / step_time_s, rate_hz)


__all__ = [
    "ForwardDirection",
    "HistoryChannel",
    "PreviousStep",
    "StepMetricsParams",
    "StepMetricsStage",
]
