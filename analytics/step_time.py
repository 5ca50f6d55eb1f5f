"""The time stamp of a step: the centre of its stance impulse, free of the low-pass delay.

A step's event time (`StepEvent.t_ns`) is read from the low-passed vertical acceleration (gravity
included, in g) around the step's impact peak. Two choices make it a stable, per-foot consistent event
at any sampling rate (25-500 Hz):

* **Centroid, not maximum.** Running stance shows two humps in the vertical acceleration: the impact
  transient just after contact and the active (mid-stance) peak. Which one is the maximum changes from
  step to step and from foot to foot, so the time of the maximum jumps by 40-70 ms between steps (seen
  on the Alcantara sacrum trials and the UCI chest runners). The centroid of the part above 1 g, i.e.
  the mean time of the net upward impulse (vertical force above body weight at the trunk), uses the
  whole stance: it does not jump between the humps and is naturally sub-sample, which matters at 25 Hz
  where one sample is 40 ms.
* **Filter delay removed.** The causal low-pass delays the signal by its group delay (about 37 ms for
  the 2nd-order 6-Hz Butterworth). That delay is a property of the filter, not of the step, so it is
  subtracted: the event is where the impulse's centre was in the raw signal. (Left in, it pushes the
  event from mid-stance towards half a step after contact, where a step known only modulo one step
  period is ambiguous.)

When a step never rises above 1 g (a very soft walking step) the parabolic maximum is used instead.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from strideguard.analytics.filters import butter_sos, group_delay_s

UP_G = 1.0  # g: the vertical acceleration of a body at rest; the stance impulse is the part above it
DELAY_PROBE_HZ = 0.5  # Hz: the group delay is read near DC, where a smooth stance pulse has its energy


@functools.lru_cache(maxsize=16)
def lowpass_delay_s(cutoff_hz: float, rate_hz: float, order: int = 2) -> float:
    """Low-frequency group delay (s) of the Butterworth low-pass `filters.butter_sos(order, cutoff_hz)`:
    how late its output shows a slow pulse (~37 ms at 6 Hz, the impact low-pass)."""
    return group_delay_s(butter_sos(order, cutoff_hz, "lowpass", rate_hz), DELAY_PROBE_HZ, rate_hz)


def stance_centroid(vertical_g: np.ndarray, k: int, max_samples: int | None = None) -> float | None:
    """Sub-sample position (in samples of `vertical_g`) of the centroid of `vertical_g - 1 g` over the
    connected span above 1 g that contains sample k (the step's impact peak); None when sample k is not
    above 1 g, the span touches either end of the array (the stance is not wholly inside it) or it is
    longer than `max_samples` (not one foot contact).

    Plain Python over one short list: a stance is 6-60 samples at 25-250 Hz, where a handful of numpy
    calls would cost more than the loop (this runs once per step).
    """
    reach = vertical_g.shape[0] if max_samples is None else max_samples
    first = max(0, k - reach)
    seg = vertical_g[first : k + reach + 1].tolist()
    lo = hi = k - first
    if not seg[lo] > UP_G:
        return None
    while lo > 0 and seg[lo - 1] > UP_G:
        lo -= 1
    last = len(seg) - 1
    while hi < last and seg[hi + 1] > UP_G:
        hi += 1
    if lo == 0 or hi == last or (max_samples is not None and hi - lo + 1 > max_samples):
        return None
    total = moment = 0.0
    for i, v in enumerate(seg[lo : hi + 1], lo):
        w = v - UP_G
        total += w
        moment += w * i
    return first + moment / total


def parabolic_peak(values: np.ndarray, k: int) -> float:
    """Sub-sample position of the maximum at sample k, from a parabola through it and its neighbours."""
    if k < 1 or k + 1 >= values.shape[0]:
        return float(k)
    y0, y1, y2 = float(values[k - 1]), float(values[k]), float(values[k + 1])
    curvature = y0 - 2.0 * y1 + y2
    return k + (min(0.5, max(-0.5, 0.5 * (y0 - y2) / curvature)) if curvature < 0 else 0.0)


def time_at(t_ns: np.ndarray, position: float) -> float:
    """Time (same unit as `t_ns`) at a sub-sample position, interpolated between sample time stamps."""
    i = min(max(math.floor(position), 0), t_ns.shape[0] - 1)
    frac = position - i
    if frac <= 0.0 or i + 1 >= t_ns.shape[0]:
        return float(t_ns[i])
    return float(t_ns[i]) + frac * float(t_ns[i + 1] - t_ns[i])


def step_event_time_ns(
    t_ns: np.ndarray, vertical_lp_g: np.ndarray, k: int, *, delay_ns: float, max_samples: int | None = None
) -> int:
    """The step's event time: the stance-impulse centroid around impact sample k (else the parabolic
    peak), minus the low-pass delay `delay_ns`. `t_ns` are the samples' time stamps (any origin)."""
    position = stance_centroid(vertical_lp_g, k, max_samples)
    if position is None:
        position = parabolic_peak(vertical_lp_g, k)
    # float(): time_at gives a numpy float when the centroid is one, and numpy 1.x rounds those to floats
    return round(float(time_at(t_ns, position) - delay_ns))


__all__ = ["lowpass_delay_s", "parabolic_peak", "stance_centroid", "step_event_time_ns", "time_at"]
