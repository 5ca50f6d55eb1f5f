"""Causal step detection on the vertical trunk acceleration.

The vertical dynamic acceleration is band-passed around the step frequency (`step_band_hz`); each local
maximum is a candidate. A candidate counts when it is above an adaptive threshold (a fraction of the
running RMS of the band-passed signal, never below an absolute floor, so standing still makes no steps)
and the signal looks like gait (enough of the vertical power lies in the step band: a loose strap's noise
burst is broadband and fails this). Candidates closer than the refractory period (a fraction of the
current step interval, the median of the last five) merge into the larger one.

Per-sample work is vectorised (filters with carried state); the candidate logic is sparse Python that
walks candidates in sample order, so the steps do not depend on chunking. A step is confirmed once no
later candidate can replace it: one refractory period after its peak, i.e. a fixed look-ahead of at most
`max_refractory_s` plus one sample.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass

import numpy as np

from analytics.config import AnalyticsConfig
from analytics.filters import SosFilter, butter_sos, one_pole_sos

INTERVAL_MEMORY = 5  # step intervals in the running median of the current step interval


@dataclass(frozen=True, slots=True)
class StepPeak:
    """A confirmed step: band-pass peak sample and the step interval estimate when it was confirmed."""

    index: int  # absolute sample index of the band-pass peak
    height_g: float  # band-passed vertical acceleration at the peak
    interval_samples: float | None  # current step interval (median of recent) in samples, None at bout start


class StepDetector:
    """Finds steps in a stream of vertical dynamic acceleration (g)."""

    def __init__(self, *, rate_hz: float, config: AnalyticsConfig):
        self._rate_hz = rate_hz
        self._cfg = config
        self._band = SosFilter(butter_sos(2, config.step_band_hz, "bandpass", rate_hz))
        self._rms = SosFilter(one_pole_sos(config.step_rms_time_constant_s, rate_hz))
        self._gait = SosFilter(one_pole_sos(config.gait_quality_time_constant_s, rate_hz))
        self._index = 0
        self._tail = np.empty((0, 3))  # last two (y, threshold, gate) rows: peaks need one sample after
        self._pending: tuple[int, float] | None = None
        self._last_step: int | None = None
        self._intervals: deque[int] = deque(maxlen=INTERVAL_MEMORY)
        self._interval_median: float | None = None
        self._min_samples = config.min_step_interval_s * rate_hz
        self._max_samples = config.max_step_interval_s * rate_hz
        self._max_refractory = config.max_refractory_s * rate_hz

    @property
    def interval_samples(self) -> float | None:
        """Median of the recent step intervals within the current bout, in samples (cached: it changes
        only when a step is confirmed, but is read for every candidate)."""
        return self._interval_median

    def _refractory(self) -> float:
        est = self.interval_samples
        if est is None:
            return self._min_samples
        return min(self._max_refractory, max(self._min_samples, self._cfg.refractory_fraction * est))

    def push(self, dyn_vertical_g: np.ndarray) -> list[StepPeak]:
        """Feed one chunk; return the steps confirmed by it, in order."""
        x = np.asarray(dyn_vertical_g, dtype=np.float64)
        n = x.shape[0]
        if n == 0:
            return []
        y = self._band(x)
        y2 = y * y
        rms = np.sqrt(self._rms(y2))
        power = np.empty((2, n))
        power[0] = y2
        np.multiply(x, x, out=power[1])
        band_power, total_power = self._gait.filter_rows(power)
        gate = band_power >= self._cfg.gait_band_fraction_min * total_power
        thr = np.maximum(self._cfg.step_threshold_floor_g, self._cfg.step_threshold_rms_factor * rms)
        tail = self._tail.shape[0]
        rows = np.empty((tail + n, 3))
        rows[:tail] = self._tail
        rows[tail:, 0] = y
        rows[tail:, 1] = thr
        rows[tail:, 2] = gate
        base = self._index - tail  # absolute index of rows[0]
        self._index += n
        self._tail = rows[-2:].copy()
        out: list[StepPeak] = []
        if rows.shape[0] < 3:
            return out
        yy = rows[:, 0]
        mid = yy[1:-1]
        is_peak = (mid > yy[:-2]) & (mid >= yy[2:]) & (mid > rows[1:-1, 1]) & (rows[1:-1, 2] > 0)
        for k in np.flatnonzero(is_peak):
            self._candidate(base + 1 + int(k), float(mid[k]), out)
        self._confirm_through(base + rows.shape[0] - 2, out)
        return out

    def flush(self) -> list[StepPeak]:
        """End of stream: confirm the pending candidate."""
        out: list[StepPeak] = []
        self._confirm_through(None, out)
        return out

    def _candidate(self, index: int, height: float, out: list[StepPeak]) -> None:
        self._confirm_through(index - 1, out)
        if self._pending is not None:
            if height > self._pending[1]:
                self._pending = (index, height)
            return
        if self._last_step is not None and index - self._last_step < self._refractory():
            return
        self._pending = (index, height)

    def _confirm_through(self, known_index: int | None, out: list[StepPeak]) -> None:
        """Confirm the pending candidate if every sample that could still replace it has been seen."""
        if self._pending is None:
            return
        index, height = self._pending
        if known_index is not None and known_index < index + self._refractory():
            return
        if self._last_step is not None:
            gap = index - self._last_step
            if gap > self._max_samples:
                self._intervals.clear()
            else:
                self._intervals.append(gap)
            self._interval_median = float(statistics.median(self._intervals)) if self._intervals else None
        out.append(StepPeak(index=index, height_g=height, interval_samples=self.interval_samples))
        self._last_step = index
        self._pending = None
