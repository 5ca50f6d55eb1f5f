"""Causal filter stages with carried state, and the small bounded buffers the stages share.

Every stage here gives bit-identical output whatever the chunking of its input: IIR filters run through
`scipy.signal.sosfilt` with the final state carried into the next chunk (a per-sample recursion), and
running sums use `numpy.cumsum`, which accumulates strictly left to right, seeded with the carried total.
No stage looks ahead; `History` keeps a bounded tail of past samples for the sparse per-step look-backs.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfilt, sosfilt_zi

NYQUIST_MARGIN = 0.45  # highest usable cutoff as a fraction of the sampling rate


def clamp_cutoff_hz(cutoff_hz: float, rate_hz: float) -> float:
    """Keep a cutoff below Nyquist so that one configuration serves 25 Hz and 500 Hz streams."""
    return min(float(cutoff_hz), NYQUIST_MARGIN * rate_hz)


def butter_sos(order: int, cutoff_hz: float | tuple[float, float], btype: str, rate_hz: float) -> np.ndarray:
    """Butterworth second-order sections, cutoffs clamped below Nyquist."""
    if isinstance(cutoff_hz, tuple):
        lo, hi = cutoff_hz
        hi = clamp_cutoff_hz(hi, rate_hz)
        lo = min(lo, 0.5 * hi)
        wn: float | list[float] = [lo, hi]
    else:
        wn = clamp_cutoff_hz(cutoff_hz, rate_hz)
    return np.asarray(butter(order, wn, btype=btype, fs=rate_hz, output="sos"), dtype=np.float64)


def one_pole_sos(time_constant_s: float, rate_hz: float) -> np.ndarray:
    """Exponential smoother y += a (x - y) as one second-order section (unity gain at DC)."""
    a = 1.0 - float(np.exp(-1.0 / (time_constant_s * rate_hz)))
    return np.array([[a, 0.0, 0.0, 1.0, a - 1.0, 0.0]], dtype=np.float64)


class SosFilter:
    """A causal IIR filter over (n,) or (n, k) float64 chunks with its state carried between chunks.

    `steady_start` initialises the state as if the first sample had been there forever (no start-up
    transient: the gravity estimate is right from the first sample); otherwise the state starts at rest.
    """

    def __init__(self, sos: np.ndarray, *, steady_start: bool = False):
        self._sos = np.asarray(sos, dtype=np.float64)
        self._steady_start = steady_start
        self._zi: np.ndarray | None = None

    def seed(self, value: np.ndarray) -> None:
        """Set the state as if `value` had been the input forever (steady state, no transient)."""
        value = np.asarray(value, dtype=np.float64)
        base = sosfilt_zi(self._sos).reshape(self._sos.shape[0], 2, *([1] * value.ndim))
        self._zi = base * value

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.shape[0] == 0:
            return x.astype(np.float64, copy=True)
        if self._zi is None:
            extra = x.shape[1:]
            shape = (self._sos.shape[0], 2, *extra)
            if self._steady_start:
                base = sosfilt_zi(self._sos).reshape(self._sos.shape[0], 2, *([1] * len(extra)))
                self._zi = base * x[0]
            else:
                self._zi = np.zeros(shape, dtype=np.float64)
        y, self._zi = sosfilt(self._sos, x, axis=0, zi=self._zi)
        return y


class RunningSum:
    """Sequential running total of (n, k) chunks; the same totals for any chunking."""

    def __init__(self, channels: int):
        self._total = np.zeros((1, channels), dtype=np.float64)

    @property
    def total(self) -> np.ndarray:
        return self._total[0].copy()

    def add(self, x: np.ndarray) -> np.ndarray:
        """Return the running totals after each sample of `x` (shape (n, k))."""
        if x.shape[0] == 0:
            return np.empty((0, self._total.shape[1]))
        c = np.cumsum(np.concatenate((self._total, x), axis=0), axis=0)[1:]
        self._total = c[-1:].copy()
        return c

    def reset(self) -> None:
        self._total = np.zeros_like(self._total)


class History:
    """The last `capacity` samples of a few named per-sample signals, addressed by absolute sample index.

    Each chunk is appended (`extend`) before the sparse per-step look-backs run, so a look-back can reach
    into earlier chunks up to `capacity` samples; then `trim` bounds the memory again.
    """

    def __init__(self, channels: int, capacity: int):
        self._data = np.zeros((0, channels), dtype=np.float64)
        self._start = 0  # absolute index of row 0
        self._capacity = int(capacity)

    @property
    def start(self) -> int:
        return self._start

    @property
    def end(self) -> int:
        return self._start + self._data.shape[0]

    def extend(self, x: np.ndarray) -> None:
        self._data = np.concatenate((self._data, x), axis=0) if self._data.shape[0] else x.copy()

    def get(self, start: int, stop: int, channel: int) -> np.ndarray:
        """Samples [start, stop) of one channel, clipped to what is held."""
        a = max(start, self._start) - self._start
        b = min(stop, self.end) - self._start
        if b <= a:
            return np.empty(0)
        return self._data[a:b, channel]

    def trim(self) -> None:
        extra = self._data.shape[0] - self._capacity
        if extra > 0:
            self._data = self._data[extra:].copy()
            self._start += extra
