"""Step and stride regularity: the autocorrelation of the vertical acceleration at one step and one
stride lag (Moe-Nilssen & Helbostad 2004). 1 = every step (stride) the same; fatigue lowers it.

The lagged products come from one FFT per window (a window of 10 s at 500 Hz costs well under a
millisecond); the same samples always give the same value, so the result is chunk-invariant.
"""

from __future__ import annotations

import math

import numpy as np

LAG_SEARCH_FRACTION = 0.15  # +- this share of the expected lag is searched for the autocorrelation peak


def autocorrelations(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Normalised autocorrelation of `x` at lags 0..max_lag over the overlapping parts:
    r(L) = sum x[i] x[i+L] / sqrt(sum x[:-L]^2 * sum x[L:]^2), the products summed by FFT."""
    n = x.shape[0]
    max_lag = min(max_lag, n - 2)
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(x, size)
    products = np.fft.irfft(spectrum * spectrum.conj(), size)[: max_lag + 1]
    energy = np.cumsum(x * x)
    lags = np.arange(max_lag + 1)
    head = energy[n - 1 - lags]  # sum of x[:n-L]^2
    tail = energy[-1] - np.concatenate(([0.0], energy[:max_lag]))  # sum of x[L:]^2
    den = np.sqrt(head * tail)
    return np.where(den > 0, products / np.where(den > 0, den, 1.0), 0.0)


def autocorrelation(x: np.ndarray, lag: int) -> float | None:
    """Normalised autocorrelation of `x` at one lag (None when the lag does not fit)."""
    if lag <= 0 or lag >= x.shape[0] - 1:
        return None
    return float(autocorrelations(np.asarray(x, dtype=np.float64), lag)[lag])


def peak_in_band(r: np.ndarray, expected_lag: float) -> float | None:
    """Highest autocorrelation within +-LAG_SEARCH_FRACTION of `expected_lag` samples."""
    lo = max(1, math.floor(expected_lag * (1 - LAG_SEARCH_FRACTION)))
    hi = min(r.shape[0] - 1, math.ceil(expected_lag * (1 + LAG_SEARCH_FRACTION)))
    return float(r[lo : hi + 1].max()) if hi >= lo else None


def regularity(vertical_g: np.ndarray, *, step_interval_s: float, rate_hz: float) -> tuple[float | None, float | None]:
    """(step regularity, stride regularity) of a window of vertical acceleration (mean removed)."""
    x = np.array(vertical_g, dtype=np.float64)
    if x.size < 4:
        return None, None
    x = x - float(np.cumsum(x)[-1]) / x.size
    lag = step_interval_s * rate_hz
    r = autocorrelations(x, math.ceil(2 * lag * (1 + LAG_SEARCH_FRACTION)))
    return peak_in_band(r, lag), peak_in_band(r, 2 * lag)
