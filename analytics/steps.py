"""Causal step detection on the vertical trunk acceleration.

The vertical dynamic acceleration is band-passed around the step frequency (`step_band_hz`); each local
maximum is a candidate. A candidate counts when it is above an adaptive threshold (a fraction of the
running RMS of the band-passed signal, never below an absolute floor, so standing still makes no steps)
and the signal looks like gait (enough of the vertical power lies in the step band: a loose strap's noise
burst is broadband and fails this; the share is read one band-pass group delay after the peak, when the
band power has caught up with the raw power, and a bout's first peak that still fails it is recovered
when a gait step follows at a step interval). Candidates closer than the refractory period (a fraction of the
current step interval, the median of the last five) merge into the larger one.

Per-sample work is vectorised (filters with carried state); the candidate logic is sparse Python that
walks candidates in sample order, so the steps do not depend on chunking. A step is confirmed once no
later candidate can replace it: one refractory period after its peak, i.e. a fixed look-ahead of at most
`max_refractory_s` plus the gate delay (~0.13 s).
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass

import numpy as np

from strideguard.analytics.config import AnalyticsConfig
from strideguard.analytics.filters import NYQUIST_MARGIN, SosFilter, butter_sos, group_delay_s, one_pole_sos

INTERVAL_MEMORY = 5  # step intervals in the running median of the current step interval
ONSET_HEIGHT_FRACTION = 0.5  # a bout's recovered first step is at least this x the next step's band-pass peak


@dataclass(frozen=True, slots=True, kw_only=True)
class StepDetectorParams:
    """What `StepDetector` needs of the configuration (see `AnalyticsConfig` for the meanings)."""

    band_hz: tuple[float, float]  # Hz, band-pass of the vertical acceleration before peak picking
    threshold_rms_factor: float  # a peak must exceed this x the running RMS of the band-passed signal
    threshold_floor_g: float  # g, absolute floor of the threshold
    rms_time_constant_s: float  # s, running RMS for the adaptive threshold
    gait_band_fraction_min: float  # share of vertical dynamic power in the step band for gait
    gait_quality_time_constant_s: float  # s, smoothing of that share
    refractory_fraction: float  # refractory period = this x the current step interval
    min_step_interval_s: float  # s, refractory at the start of a bout
    max_refractory_s: float  # s, upper bound of the refractory period
    max_step_interval_s: float  # s, a longer gap starts a new bout

    @classmethod
    def from_config(cls, config: AnalyticsConfig) -> StepDetectorParams:
        return cls(
            band_hz=config.step_band_hz,
            threshold_rms_factor=config.step_threshold_rms_factor,
            threshold_floor_g=config.step_threshold_floor_g,
            rms_time_constant_s=config.step_rms_time_constant_s,
            gait_band_fraction_min=config.gait_band_fraction_min,
            gait_quality_time_constant_s=config.gait_quality_time_constant_s,
            refractory_fraction=config.refractory_fraction,
            min_step_interval_s=config.min_step_interval_s,
            max_refractory_s=config.max_refractory_s,
            max_step_interval_s=config.max_step_interval_s,
        )


@dataclass(frozen=True, slots=True)
class StepPeak:
    """A confirmed step: band-pass peak sample and the step interval estimate when it was confirmed."""

    index: int  # absolute sample index of the band-pass peak
    height_g: float  # band-passed vertical acceleration at the peak
    interval_samples: float | None  # current step interval (median of recent) in samples, None at bout start


def band_group_delay_s(band_hz: tuple[float, float], rate_hz: float) -> float:
    """Group delay of the step band-pass at the band's geometric centre, in s (~0.13 s for 0.6-4 Hz).

    The gait gate compares the band-passed power with the raw power; the band-passed signal lags the
    raw one by this much, so at a step's band-pass peak the raw power already holds the impact while
    the band power has not caught up yet. The gate is therefore read this long after the peak: at the
    first steps of a bout (after standing, or at the start of a recording) the same-sample comparison
    reads the band power too low and missed them.
    """
    centre_hz = min(math.sqrt(band_hz[0] * band_hz[1]), NYQUIST_MARGIN * rate_hz)
    return group_delay_s(butter_sos(2, band_hz, "bandpass", rate_hz), centre_hz, rate_hz)


class StepDetector:
    """Finds steps in a stream of vertical dynamic acceleration (g)."""

    def __init__(self, *, rate_hz: float, params: StepDetectorParams):
        self._rate_hz = rate_hz
        self._params = params
        self._band = SosFilter(butter_sos(2, params.band_hz, "bandpass", rate_hz))
        self._rms = SosFilter(one_pole_sos(params.rms_time_constant_s, rate_hz))
        self._gait = SosFilter(one_pole_sos(params.gait_quality_time_constant_s, rate_hz))
        self._index = 0
        self._tail = np.empty((0, 3))  # last (y, threshold, gate) rows whose peaks are not decided yet
        self._pending: tuple[int, float] | None = None
        self._onset: tuple[int, float] | None = None  # last gate-failed peak at a bout's start
        self._last_step: int | None = None
        self._intervals: deque[int] = deque(maxlen=INTERVAL_MEMORY)
        self._interval_median: float | None = None
        self._min_samples = params.min_step_interval_s * rate_hz
        self._max_samples = params.max_step_interval_s * rate_hz
        self._max_refractory = params.max_refractory_s * rate_hz
        self._gate_delay = round(band_group_delay_s(params.band_hz, rate_hz) * rate_hz)
        self._after = max(1, self._gate_delay)
        # four time constants of the band's low edge: the band-pass has forgotten its zero initial state
        self._settle_samples = 4.0 / (2.0 * math.pi * params.band_hz[0]) * rate_hz

    @property
    def interval_samples(self) -> float | None:
        """Median of the recent step intervals within the current bout, in samples (cached: it changes
        only when a step is confirmed, but is read for every candidate)."""
        return self._interval_median

    def _refractory(self) -> float:
        est = self.interval_samples
        if est is None:
            return self._min_samples
        return min(self._max_refractory, max(self._min_samples, self._params.refractory_fraction * est))

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
        p = self._params
        gate = band_power >= p.gait_band_fraction_min * total_power
        thr = np.maximum(p.threshold_floor_g, p.threshold_rms_factor * rms)
        tail = self._tail.shape[0]
        rows = np.empty((tail + n, 3))
        rows[:tail] = self._tail
        rows[tail:, 0] = y
        rows[tail:, 1] = thr
        rows[tail:, 2] = gate
        base = self._index - tail  # absolute index of rows[0]
        self._index += n
        after = self._after  # samples a candidate needs after its peak: the next one, and the gate's
        self._tail = rows[-(after + 1) :].copy()
        out: list[StepPeak] = []
        m = rows.shape[0]
        if m < after + 2:
            return out
        yy = rows[:, 0]
        mid = yy[1 : m - after]
        is_peak = (mid > yy[: m - after - 1]) & (mid >= yy[2 : m - after + 1]) & (mid > rows[1 : m - after, 1])
        gait = rows[1 + self._gate_delay : m - after + self._gate_delay, 2] > 0
        for k in np.flatnonzero(is_peak):
            self._peak(base + 1 + int(k), float(mid[k]), bool(gait[k]), out)
        self._confirm_through(base + m - 1 - after, out)
        return out

    def flush(self) -> list[StepPeak]:
        """End of stream: decide the peaks still waiting for their gate sample (read at the last sample
        instead), then confirm the pending candidate."""
        out: list[StepPeak] = []
        rows = self._tail
        m = rows.shape[0]
        base = self._index - m
        for k in range(max(1, m - self._after), m - 1):  # the peaks `push` left undecided
            y = rows[:, 0]
            if y[k] > y[k - 1] and y[k] >= y[k + 1] and y[k] > rows[k, 1]:
                self._peak(base + k, float(y[k]), bool(rows[min(k + self._gate_delay, m - 1), 2] > 0), out)
        self._tail = rows[-1:]
        self._confirm_through(None, out)
        return out

    def _peak(self, index: int, height: float, gait: bool, out: list[StepPeak]) -> None:
        """A band-pass peak above the threshold: a candidate if the signal looks like gait; otherwise,
        at a bout's start, kept as the possible onset step (see `_recover_onset`)."""
        if gait:
            self._candidate(index, height, out)
        elif self._pending is None and (self._last_step is None or index - self._last_step > self._max_samples):
            self._onset = (index, height)

    def _recover_onset(self, index: int, height: float, out: list[StepPeak]) -> None:
        """The first step of a bout fails the gait gate: the band power is still ringing up from
        standing (or from the start of the stream) while the raw power already holds the impact. When
        a bout's first gait candidate follows such a gate-failed peak at a plausible step interval and
        the peak is a step's size (at least `ONSET_HEIGHT_FRACTION` of the candidate's: consecutive
        running steps differ by a few per cent), that peak was the bout's first step: confirm it before
        the candidate. A noise peak while standing is a tenth of a step's size, so it cannot come in
        this way (it did before the size check: 0.1 g of sensor noise at 50 Hz made a false step 1 s
        before the run, whose 1-s "interval" then held the detector at half the cadence). The size check
        starts once the band-pass has settled from its zero initial state (`_settle_samples`): at the
        start of a stream that begins mid-run its first peak is still rising (a quarter to a half of the
        next on the Alcantara trials), and there is no standing noise before it."""
        onset, self._onset = self._onset, None
        if onset is None or not self._min_samples <= index - onset[0] <= self._max_samples:
            return
        if onset[0] >= self._settle_samples and onset[1] < ONSET_HEIGHT_FRACTION * height:
            return
        if self._last_step is not None and onset[0] - self._last_step <= self._max_samples:
            return
        self._pending = onset
        self._confirm_through(None, out)

    def _candidate(self, index: int, height: float, out: list[StepPeak]) -> None:
        self._confirm_through(index - 1, out)
        if self._pending is not None:
            if height > self._pending[1]:
                self._pending = (index, height)
            return
        if self._last_step is not None and index - self._last_step < self._refractory():
            return
        if self._last_step is None or index - self._last_step > self._max_samples:
            self._recover_onset(index, height, out)
        self._pending = (index, height)

    def _confirm_through(self, known_index: int | None, out: list[StepPeak]) -> None:
        """Confirm the pending candidate if every sample that could still replace it has been seen:
        samples up to `known_index` are decided, and only a candidate closer than the refractory
        period (index - pending < refractory) can replace it, so the next undecided sample must be at
        least one refractory period after it. (Requiring `known_index` itself to be that far merged a
        candidate between one and one-plus-a-sample refractory periods away: at 25 Hz and 180 steps/min
        the band-pass peaks alternate 7 and 9 samples apart, the refractory floor is 6.25 samples, and
        every other short interval was merged away.)"""
        if self._pending is None:
            return
        index, height = self._pending
        if known_index is not None and known_index + 1 < index + self._refractory():
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
