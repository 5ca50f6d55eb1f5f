"""Ground contact at the trunk from the vertical acceleration pattern.

In flight the trunk is in free fall and a trunk accelerometer reads about 0 g; during stance it carries
the body weight and reads well above it. Contact is therefore the span around the impact peak where the
low-passed vertical acceleration (gravity included) stays at or above `contact_threshold_g`; crossings
are interpolated between samples. Walking has no flight: the signal never drops that low, and the
contact time is None. Calibrated on the Alcantara sacrum/force-plate recordings (see tests).
"""

from __future__ import annotations

import numpy as np

MIN_CONTACT_S = 0.08  # s, shorter spans are not a foot contact
MAX_CONTACT_S = 0.45  # s, longer spans are not running contacts


def crossing_offset(values: np.ndarray, threshold: float, *, rising: bool) -> float | None:
    """Sub-sample position where `values` crosses `threshold`, searching backwards for the last rise
    (rising=True) or forwards for the first fall; the offset is in samples from the start of `values`."""
    below = values < threshold
    n = values.shape[0]
    if rising:
        k = n - 1 - int(below[::-1].argmax())  # last sample below
        if not below[k] or k == n - 1:
            return None
    else:
        first = int(below.argmax())  # first sample below
        if not below[first] or first == 0:
            return None
        k = first - 1
    a, b = float(values[k]), float(values[k + 1])
    return k + (threshold - a) / (b - a) if b != a else float(k)


def contact_span(
    before: np.ndarray, after: np.ndarray, threshold_g: float, rate_hz: float
) -> tuple[float, float] | None:
    """Contact start and end in seconds relative to the impact sample.

    `before` ends with the impact sample, `after` starts with it; both are the low-passed vertical
    acceleration in g.
    """
    if before.size < 2 or after.size < 2 or before[-1] < threshold_g:
        return None
    rise = crossing_offset(before, threshold_g, rising=True)
    fall = crossing_offset(after, threshold_g, rising=False)
    if rise is None or fall is None:
        return None
    start_s = (rise - (before.shape[0] - 1)) / rate_hz
    end_s = fall / rate_hz
    if not MIN_CONTACT_S <= end_s - start_s <= MAX_CONTACT_S:
        return None
    return start_s, end_s


def contact_span_around(
    contact_g: list[float], k: int, reach: int, threshold_g: float, rate_hz: float
) -> tuple[float, float] | None:
    """`contact_span(contact_g[k - reach:k + 1], contact_g[k:k + reach + 1], ...)` (starts clipped at 0)
    on a plain list, the same floats bit for bit: the per-step hot path. The crossings are a few
    samples from the impact peak, so walking out from it in Python beats building boolean arrays."""
    lo = max(0, k - reach)
    hi = min(len(contact_g), k + reach + 1)
    if k - lo < 1 or hi - k < 2 or contact_g[k] < threshold_g:
        return None
    j = k - 1  # rise: the last sample below the threshold before the peak
    while j >= lo and not contact_g[j] < threshold_g:
        j -= 1
    if j < lo:
        return None
    a, b = contact_g[j], contact_g[j + 1]
    rise = (j - lo) + (threshold_g - a) / (b - a) if b != a else float(j - lo)
    f = k + 1  # fall: the first sample below the threshold after the peak
    while f < hi and not contact_g[f] < threshold_g:
        f += 1
    if f == hi:
        return None
    a, b = contact_g[f - 1], contact_g[f]
    fall = (f - 1 - k) + (threshold_g - a) / (b - a) if b != a else float(f - 1 - k)
    start_s = (rise - (k - lo)) / rate_hz
    end_s = fall / rate_hz
    if not MIN_CONTACT_S <= end_s - start_s <= MAX_CONTACT_S:
        return None
    return start_s, end_s
