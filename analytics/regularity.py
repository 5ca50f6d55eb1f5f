"""Step and stride regularity: the autocorrelation of the vertical acceleration at one step and one
stride lag (Moe-Nilssen & Helbostad 2004). 1 = every step (stride) the same; fatigue lowers it.

Sums run sequentially (`numpy.cumsum`) so the value depends only on the samples, not on memory layout.
"""

from __future__ import annotations

import math

import numpy as np

LAG_SEARCH_FRACTION = 0.15  # +- this share of the expected lag is searched for the autocorrelation peak


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.cumsum(a * b)[-1])


def autocorrelation(x: np.ndarray, lag: int) -> float | None:
    """Normalised autocorrelation of `x` at `lag` samples over the overlapping parts."""
    if lag <= 0 or lag >= x.shape[0] - 1:
        return None
    a, b = x[:-lag], x[lag:]
    den = math.sqrt(_dot(a, a) * _dot(b, b))
    return _dot(a, b) / den if den > 0 else None


def peak_autocorrelation(x: np.ndarray, expected_lag: float) -> float | None:
    """Highest autocorrelation within +-LAG_SEARCH_FRACTION of `expected_lag` samples."""
    lo = max(1, math.floor(expected_lag * (1 - LAG_SEARCH_FRACTION)))
    hi = math.ceil(expected_lag * (1 + LAG_SEARCH_FRACTION))
    values = [r for r in (autocorrelation(x, lag) for lag in range(lo, hi + 1)) if r is not None]
    return max(values) if values else None


def regularity(vertical_g: np.ndarray, *, step_interval_s: float, rate_hz: float) -> tuple[float | None, float | None]:
    """(step regularity, stride regularity) of a window of vertical acceleration (mean removed)."""
    x = np.array(vertical_g, dtype=np.float64)
    if x.size < 4:
        return None, None
    x = x - float(np.cumsum(x)[-1]) / x.size
    lag = step_interval_s * rate_hz
    return peak_autocorrelation(x, lag), peak_autocorrelation(x, 2 * lag)
