"""Independent references derived from the instruments that are NOT the one under test.

UCI (chest running): the leg units' sagittal gyro (RL_zgyro, LL_zgyro) peaks once per stride of that
leg, at mid-swing; both legs merged give one reference time per step, offset from foot contact by a
roughly constant lag (the scorer removes it). Each leg's sign is chosen so that the two legs alternate.
The peaks are those of the independent `reference.py`; the harness times each one at the centre of its
swing hump (the midpoint of the half-maximum crossings, `hump_centres_s`) rather than at its highest
sample: many swing humps have two near-equal tops, and the highest sample jumps between them.

Alcantara (sacrum + instrumented treadmill): foot contact is vGRF above 0.05 BW; per complete contact
this gives contact and toe-off times, contact time, peak vGRF (BW) and the loading rate (BW/s).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

CONTACT_THRESHOLD_BW = 0.05  # force plate: foot on the belt above this
LEG_PEAK_MIN_INTERVAL_S = 0.5  # one swing peak per stride of one leg
HUMP_LEVEL_FRACTION = 0.5  # a swing hump is timed at the centre of its span above half its peak height
NEAR_DUPLICATE_S = 0.12  # merged leg events closer than this count against a sign choice
LOADING_RATE_FRACTION = (0.2, 0.8)  # average loading rate between 20 % and 80 % of the first peak
MIN_CONTACT_MS = 50.0  # shorter above-threshold blips are belt/plate noise, not a foot contact
MIN_CONTACT_PEAK_BW = 0.5  # a running contact loads well above this
IMPACT_PEAK_MIN_BW = 1.0  # an impact transient worth the name is above body weight
IMPACT_PEAK_PROMINENCE_BW = 0.1


def leg_gyro_steps_s(
    t_s: np.ndarray, right_gyro: np.ndarray, left_gyro: np.ndarray, rate_hz: float, *, hump_centre: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Right and left swing-peak times (s) from the two legs' sagittal angular rate (any unit).

    With `hump_centre`, the same peaks are timed at the centre of their swing hump (`hump_centres_s`);
    without, at their highest sample, as the independent `reference.py` does.
    """

    def peaks(g: np.ndarray) -> np.ndarray:
        pk, _ = find_peaks(g, distance=int(LEG_PEAK_MIN_INTERVAL_S * rate_hz), prominence=0.5 * np.std(g))
        return t_s[pk]

    def alternation(right_s: np.ndarray, left_s: np.ndarray) -> float:
        ev = sorted([(x, 0) for x in right_s] + [(x, 1) for x in left_s])
        alt = np.mean([a[1] != b[1] for a, b in itertools.pairwise(ev)])
        close = np.mean([b[0] - a[0] < NEAR_DUPLICATE_S for a, b in itertools.pairwise(ev)])
        return float(alt - close)

    signs = [(sr, sl) for sr in (1, -1) for sl in (1, -1)]
    best = max(signs, key=lambda s: alternation(peaks(s[0] * right_gyro), peaks(s[1] * left_gyro)))
    right, left = peaks(best[0] * right_gyro), peaks(best[1] * left_gyro)
    if not hump_centre:
        return right, left
    return hump_centres_s(t_s, best[0] * right_gyro, right), hump_centres_s(t_s, best[1] * left_gyro, left)


def hump_centres_s(
    t_s: np.ndarray, signal: np.ndarray, peaks_s: np.ndarray, fraction: float = HUMP_LEVEL_FRACTION
) -> np.ndarray:
    """Each peak re-timed at the midpoint of the two crossings of `fraction` x its height around it
    (linear interpolation between samples): the centre of the hump, not its highest sample.

    Why: at mid-swing the thigh's angular rate is a broad hump that often has two near-equal tops. The
    highest sample then jumps between them from stride to stride (UCI p1: 64 % of swing peaks have a
    second top within 200 ms above 80 % of the peak; one leg's stride-to-stride jitter is ~50 ms), which
    is jitter of the reference, not of the runner; the half-maximum centre does not care which top is
    higher (p1 jitter 8-16 ms). A peak whose hump runs off either end of the recording keeps its sample
    time.
    """
    k_peaks = np.searchsorted(t_s, peaks_s)  # the peaks are sample times of t_s
    out = np.asarray(peaks_s, dtype=float).copy()
    samples = np.arange(t_s.shape[0])
    for i, k in enumerate(k_peaks):
        level = fraction * signal[k]
        lo, hi = _level_crossing(signal, k, level, -1), _level_crossing(signal, k, level, +1)
        if lo is not None and hi is not None:
            out[i] = float(np.interp(0.5 * (lo + hi), samples, t_s))
    return out


def _level_crossing(signal: np.ndarray, k: int, level: float, step: int) -> float | None:
    """Sub-sample position where `signal` first drops below `level` going from sample k in direction
    `step` (-1 back, +1 forward); None when it stays above it to the end of the array."""
    j = k
    while 0 <= j + step < signal.shape[0] and signal[j + step] >= level:
        j += step
    if not 0 <= j + step < signal.shape[0]:
        return None
    a, b = float(signal[j]), float(signal[j + step])
    return j + step * (a - level) / (a - b)


def stride_jitter_ms(events_s: np.ndarray, *, max_second_difference_s: float = 0.3) -> float | None:
    """Stride-to-stride timing jitter of one foot's (or leg's) events, in ms: the SD of half the second
    difference (each event against the mean of its two neighbours), which a steady cadence drift does
    not affect; second differences above `max_second_difference_s` (a missed or extra event) are left out."""
    x = np.asarray(events_s, dtype=float)
    if x.shape[0] < 4:
        return None
    d = x[2:] - 2.0 * x[1:-1] + x[:-2]
    d = d[np.abs(d) < max_second_difference_s]
    return float(1000.0 * np.std(d / 2.0)) if d.shape[0] >= 2 else None


def implausible_steps(steps_s: np.ndarray, *, fraction: float = 0.5) -> int:
    """Step intervals shorter than `fraction` x the median interval: two reference events for one step
    (or one event in the wrong place); a runner does not take a step in half the usual time."""
    d = np.diff(np.sort(np.asarray(steps_s, dtype=float)))
    return int(np.sum(d < fraction * np.median(d))) if d.shape[0] else 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ForcePlateStep:
    """One complete foot contact on the force plate."""

    contact_s: float
    toe_off_s: float
    contact_time_ms: float
    peak_vgrf_bw: float
    loading_rate_bw_per_s: float | None
    active_peak_bw: float  # the maximum after a rearfoot strike's impact transient (`active_peak_bw`)


def force_plate_steps(vgrf_bw: np.ndarray, rate_hz: float) -> list[ForcePlateStep]:
    """Complete contacts (both edges inside the trial) from vertical GRF in body weights.

    Unlike the independent `reference.py`, blips shorter than 50 ms or below 0.5 BW are dropped: one trial
    has a 2-6 ms crossing of the 0.05 BW threshold just before most contacts (plate noise), which would
    otherwise double its step count.
    """
    on = vgrf_bw > CONTACT_THRESHOLD_BW
    edges = np.flatnonzero(np.diff(on.astype(int)))
    starts = [e + 1 for e in edges if not on[e]]
    ends = [e + 1 for e in edges if on[e]]
    steps = []
    for s0 in starts:
        e0 = next((e for e in ends if e > s0), None)
        if e0 is None:
            break
        f = vgrf_bw[s0:e0]
        if 1000.0 * (e0 - s0) / rate_hz < MIN_CONTACT_MS or f.max() < MIN_CONTACT_PEAK_BW:
            continue
        steps.append(
            ForcePlateStep(
                contact_s=s0 / rate_hz,
                toe_off_s=e0 / rate_hz,
                contact_time_ms=1000.0 * (e0 - s0) / rate_hz,
                peak_vgrf_bw=float(f.max()),
                loading_rate_bw_per_s=loading_rate_bw_per_s(f, rate_hz),
                active_peak_bw=active_peak_bw(f),
            )
        )
    return steps


def active_peak_bw(force_bw: np.ndarray) -> float:
    """The contact's active (mid-stance) peak: its maximum after the impact transient, i.e. after the
    valley that follows the first peak (the loading rate's rule: a local maximum in the first half above
    1 BW with 0.1 BW prominence); the contact's maximum when there is no transient (mid- and forefoot
    strikes). The sacrum moves with the centre of mass, whose spring-mass bounce this peak is."""
    half = force_bw[: max(force_bw.shape[0] // 2, 3)]
    peaks, _ = find_peaks(half, height=IMPACT_PEAK_MIN_BW, prominence=IMPACT_PEAK_PROMINENCE_BW)
    if not len(peaks):
        return float(force_bw.max())
    first = int(peaks[0])
    valley = first + int(np.argmin(force_bw[first : first + force_bw.shape[0] // 10 + 2]))
    return float(force_bw[valley:].max())


def loading_rate_bw_per_s(force_bw: np.ndarray, rate_hz: float) -> float | None:
    """Average vertical loading rate between 20 % and 80 % of the first force peak of one contact.

    The first peak is the impact transient for a rearfoot strike, else the active peak: the first local
    maximum in the first half of the contact, or the contact's maximum when there is none.
    """
    half = force_bw[: max(len(force_bw) // 2, 3)]
    pk, _ = find_peaks(half, height=IMPACT_PEAK_MIN_BW, prominence=IMPACT_PEAK_PROMINENCE_BW)
    i_peak = int(pk[0]) if len(pk) else int(np.argmax(force_bw))
    peak = force_bw[i_peak]
    lo, hi = LOADING_RATE_FRACTION
    rising = force_bw[: i_peak + 1]
    i_lo = int(np.argmax(rising >= lo * peak))
    i_hi = int(np.argmax(rising >= hi * peak))
    if i_hi <= i_lo:
        return None
    return float((rising[i_hi] - rising[i_lo]) * rate_hz / (i_hi - i_lo))
