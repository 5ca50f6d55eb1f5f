"""Causal step detection on the vertical trunk acceleration.

The vertical dynamic acceleration is band-passed around the step frequency (`step_band_hz`); each local
maximum is a candidate. A candidate counts when it is above an adaptive threshold (a fraction of the
running RMS of the band-passed signal, never below an absolute floor, so standing still makes no steps)
and the signal looks like gait (enough of the vertical power lies in the step band: a loose strap's noise
burst is broadband and fails this; the share is read one band-pass group delay after the peak, when the
band power has caught up with the raw power, and a bout's first peak that still fails it is recovered
when a gait step follows at a step interval). Candidates closer than the refractory period (a fraction of the
current step interval, the median of the last five) merge into the larger one.

Standing moves the trunk too (shifting weight, tying a shoe), one peak at a time: a new bout's steps are
held until three in a row keep a rhythm and a step's size (`StepDetector._hold`), and a sudden drop in
step size starts a new bout.

Per-sample work is vectorised (filters with carried state); the candidate logic is sparse Python that
walks candidates in sample order, so the steps do not depend on chunking. A step is confirmed once no
later candidate can replace it: one refractory period after its peak, i.e. a fixed look-ahead of at most
`max_refractory_s` plus the gate delay (~0.13 s); a bout's held first steps come out with its third, or
not at all if that is later than `max_release_delay_s` after them (within the declared latency).
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass

import numpy as np

from strideguard.analytics.config import AnalyticsConfig
from strideguard.analytics.filters import NYQUIST_MARGIN, SosFilter, butter_sos, group_delay_s, one_pole_sos

RELEASE_MARGIN_S = 0.1  # s of the declared latency left after the longest release delay
INTERVAL_MEMORY = 5  # step intervals in the running median of the current step interval
ONSET_HEIGHT_FRACTION = 0.3  # a bout's recovered first step is at least this x the next step's band-pass peak
BOUT_START_STEPS = 3  # a bout's steps are released once this many in a row have regular intervals
BOUT_INTERVAL_TOLERANCE = 0.2  # regular: consecutive intervals differ by at most this x their mean
BOUT_ONSET_TOLERANCE = 0.35  # a bout's first interval (gait initiation) may differ this much from the next
BOUT_START_MIN_HEIGHT_G = 0.15  # g, median band-pass peak of those steps: walking's are 0.2-0.4 g at the trunk
BOUT_STEP_SIZE_FRACTION = 0.35  # and none of them under this x the largest (a first step from standing: 0.39-0.5)
BOUT_START_MAX_INTERVAL_S = 1.0  # s, a bout starts only at 60 steps/min or faster (slower: shifting weight)
# a step under this x the median size of the bout's last steps is held as a new bout's first: the runner has
# stopped (standing after a walk makes peaks of a third of a walking step) or slowed from running to walking
BOUT_BREAK_HEIGHT_FRACTION = 0.4


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
    max_release_delay_s: float  # s, a bout's held first steps older than this when it is confirmed are dropped

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
            max_release_delay_s=config.latency_s - config.step_search_back_s - RELEASE_MARGIN_S,
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
        self._held: list[StepPeak] = []  # a new bout's steps, until BOUT_START_STEPS in a row are regular
        self._dropped: StepPeak | None = None  # the last held step dropped as off the rhythm
        self._heights: deque[float] = deque(maxlen=INTERVAL_MEMORY)  # band-pass peaks of the bout's last steps
        self._bout_open = False  # the current bout has been confirmed: its steps go out as they come
        self._max_release_delay = params.max_release_delay_s * rate_hz
        self._bout_max_interval = BOUT_START_MAX_INTERVAL_S * rate_hz
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
        """A fraction of the current step interval, bounded; the shortest while a bout is not confirmed
        yet (its intervals may come from a held peak that is not a step: a weight shift 1.3 s before a walk
        made a 0.5-s refractory period that merged its first two steps)."""
        est = self.interval_samples
        if est is None or not self._bout_open:
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
            return
        self._confirm_through(index - 1, out)  # else a stale pending step from before a pause hides the onset
        if self._pending is None and (self._starts_bout(index) or not self._bout_open):
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
        if self._bout_open and not self._starts_bout(onset[0]):
            return
        self._pending = onset
        self._confirm_through(None, out)

    def _starts_bout(self, index: int) -> bool:
        """A step at `index` would start a new bout (none before it, or a gap longer than a step)."""
        return self._last_step is None or index - self._last_step > self._max_samples

    def _candidate(self, index: int, height: float, out: list[StepPeak]) -> None:
        self._confirm_through(index - 1, out)
        if self._pending is not None:
            if height > self._pending[1]:
                self._pending = (index, height)
            return
        if self._last_step is not None and index - self._last_step < self._refractory():
            return
        if self._starts_bout(index) or not self._bout_open:
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
        shrunk = bool(self._heights) and height < BOUT_BREAK_HEIGHT_FRACTION * statistics.median(self._heights)
        if self._starts_bout(index) or (self._bout_open and shrunk):
            self._held.clear()
            self._dropped = None
            self._bout_open = False
            self._heights.clear()
        peak = StepPeak(index=index, height_g=height, interval_samples=self.interval_samples)
        self._last_step = index
        self._pending = None
        if self._bout_open:
            self._heights.append(height)
            out.append(peak)
        else:
            self._hold(peak, out)

    def _step_sized(self, peak: StepPeak, run: list[StepPeak]) -> bool:
        """At least `BOUT_STEP_SIZE_FRACTION` of the largest of `run`; any size while the band-pass is
        still ringing up from the start of the stream (see `_recover_onset`)."""
        return peak.index < self._settle_samples or peak.height_g >= BOUT_STEP_SIZE_FRACTION * max(
            p.height_g for p in run
        )

    def _hold(self, peak: StepPeak, out: list[StepPeak]) -> None:
        """A step of a bout that is not confirmed yet. Standing still moves the trunk too (shifting weight,
        bending to tie a shoe): its peaks can pass the threshold and the gait gate one at a time, but they
        do not come at a steady rhythm. A bout's steps are therefore held until `BOUT_START_STEPS` in a row
        have regular intervals (each within `BOUT_INTERVAL_TOLERANCE` of the one before and at most
        `BOUT_START_MAX_INTERVAL_S`; walking and running steps differ by a few per cent) and a step's size
        (median band-pass peak at least `BOUT_START_MIN_HEIGHT_G`: the weight shifts and the bending of
        the synthetic pauses make peaks of 0.08-0.12 g, walking 0.3 g, running 1-2 g; and none under
        `BOUT_STEP_SIZE_FRACTION` of the largest: a weight shift just before a walk at the right interval
        is a third of a step or less, the first step of a walk from standing 0.39-0.5 of one); then they
        all go out. A held step that does not start such a run is dropped, and the intervals it made are
        forgotten; the last one dropped still goes out with the run if its interval to it is within
        `BOUT_ONSET_TOLERANCE` (the first step from standing is often shorter or longer). The release
        waits for the last of them, so a held step is released only if that happens within
        `max_release_delay_s` of its peak (the declared latency minus the impact look-back): the windows
        stay the same for any chunking. At the default 2.5-s latency a walk from standing at 80 steps/min
        keeps its first step (at 105 steps/min also when that step was off the rhythm)."""
        held = self._held
        held.append(peak)
        if len(held) < BOUT_START_STEPS:
            return
        run = held[-BOUT_START_STEPS:]
        gaps = np.diff([p.index for p in run])
        size_g = statistics.median(p.height_g for p in run)
        regular = (
            np.all(np.abs(np.diff(gaps)) <= BOUT_INTERVAL_TOLERANCE * (gaps[1:] + gaps[:-1]) / 2.0)
            and np.all(gaps <= self._bout_max_interval)
            and size_g >= BOUT_START_MIN_HEIGHT_G
            and all(self._step_sized(p, run) for p in run)
        )
        if not regular:
            self._dropped = held.pop(0)
            self._intervals.clear()
            self._intervals.extend(int(g) for g in np.diff([p.index for p in held]))
            self._interval_median = float(statistics.median(self._intervals)) if self._intervals else None
            held[0] = StepPeak(index=held[0].index, height_g=held[0].height_g, interval_samples=None)
            return
        # the earliest sample at which this confirmation can happen whatever the chunking (see _confirm_through)
        released_at = peak.index + math.ceil(self._refractory()) + self._after
        dropped = self._dropped
        if (
            dropped is not None
            and abs(held[0].index - dropped.index - gaps[0]) <= BOUT_ONSET_TOLERANCE * gaps[0]
            and self._step_sized(dropped, run)
        ):
            held.insert(0, dropped)  # the bout's first step, a little off the rhythm that followed it
        out.extend(p for p in held if released_at - p.index <= self._max_release_delay)
        self._heights.extend(p.height_g for p in held)
        held.clear()
        self._dropped = None
        self._bout_open = True
