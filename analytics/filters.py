"""Causal filter stages with carried state, and the small bounded buffers the stages share.

Every stage here gives bit-identical output whatever the chunking of its input: IIR filters run through
`scipy.signal.sosfilt` with the final state carried into the next chunk (a per-sample recursion), and
running sums use `numpy.cumsum`, which accumulates strictly left to right, seeded with the carried total.
No stage looks ahead; `History` keeps a bounded tail of past samples for the sparse per-step look-backs.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.signal import butter, group_delay, sos2tf, sosfilt, sosfilt_zi

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


def group_delay_s(sos: np.ndarray, at_hz: float, rate_hz: float) -> float:
    """Group delay (s, never negative) of the filter `sos` at frequency `at_hz`: how late its output
    shows a component of that frequency."""
    b, a = sos2tf(sos)
    _, delay_samples = group_delay((b, a), w=[at_hz], fs=rate_hz)
    return max(0.0, float(delay_samples[0]) / rate_hz)


def one_pole_sos(time_constant_s: float, rate_hz: float) -> np.ndarray:
    """Exponential smoother y += a (x - y) as one second-order section (unity gain at DC)."""
    a = 1.0 - float(np.exp(-1.0 / (time_constant_s * rate_hz)))
    return np.array([[a, 0.0, 0.0, 1.0, a - 1.0, 0.0]], dtype=np.float64)


try:  # scipy's own kernel behind `sosfilt`; calling it directly skips ~0.1 ms of argument handling per call
    from scipy.signal._sosfilt import _sosfilt as _sosfilt_in_place
except ImportError:  # pragma: no cover - a scipy without the private module: use the public function
    _sosfilt_in_place = None


class SosFilter:
    """A causal IIR filter over (n,) or (n, k) float64 chunks with its state carried between chunks.

    `steady_start` initialises the state as if the first sample had been there forever (no start-up
    transient); otherwise the state starts at rest. The state is kept in the kernel's own layout
    (channels, sections, 2), and the output equals `scipy.signal.sosfilt` with carried `zi` bit for bit.
    """

    def __init__(self, sos: np.ndarray, *, steady_start: bool = False):
        self._sos = np.ascontiguousarray(sos, dtype=np.float64)
        self._steady_start = steady_start
        self._zi: np.ndarray | None = None  # (channels, sections, 2)

    def seed(self, value: np.ndarray | float) -> None:
        """Set the state as if `value` (one per channel) had been the input forever."""
        self._zi = self._steady_state(value)

    def _steady_state(self, value: np.ndarray | float) -> NDArray[np.float64]:
        """The (channels, sections, 2) state for input `value` held forever."""
        value = np.atleast_1d(np.asarray(value, dtype=np.float64))
        base = sosfilt_zi(self._sos)  # (sections, 2) for a unit step
        return np.ascontiguousarray(base[None, :, :] * value[:, None, None])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        one_d = x.ndim == 1
        if x.shape[0] == 0:
            return np.array(x, dtype=np.float64)
        work = np.array(x[None, :] if one_d else x.T, dtype=np.float64, order="C")  # (channels, n), a copy
        self.filter_rows(work)
        return work[0] if one_d else work.T

    def filter_rows(self, work: np.ndarray) -> np.ndarray:
        """Filter a C-contiguous float64 (channels, n) array IN PLACE and return it: the per-batch hot
        path, with no transposes or copies (same output as `__call__` on its transpose, bit for bit)."""
        if work.shape[1] == 0:
            return work
        if self._zi is None:
            if self._steady_start:
                self._zi = self._steady_state(work[:, 0])
            else:
                self._zi = np.zeros((work.shape[0], self._sos.shape[0], 2))
        if _sosfilt_in_place is not None:
            _sosfilt_in_place(self._sos, work, self._zi)
        else:  # pragma: no cover
            y, zf = sosfilt(self._sos, work, axis=-1, zi=np.moveaxis(self._zi, 0, 1))
            work[...] = y
            self._zi = np.ascontiguousarray(np.moveaxis(zf, 1, 0))
        return work


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
    into earlier chunks up to `capacity` samples; then `trim` bounds the memory again. The rows live in
    one preallocated buffer that is compacted (the held rows moved to its front) only when a chunk does
    not fit behind them: appending a 1-s chunk is one copy of that chunk, not of the whole history.
    """

    def __init__(self, channels: int, capacity: int):
        self._capacity = int(capacity)
        # room for half the capacity (at least 256 rows) behind the held rows: a compaction every few
        # 1-s chunks, for about a third more memory than the held rows themselves
        self._buf = np.zeros((self._capacity + max(256, self._capacity // 2), channels), dtype=np.float64)
        self._lo = self._hi = 0  # held rows are _buf[_lo:_hi]
        self._start = 0  # absolute index of row _lo

    @property
    def start(self) -> int:
        return self._start

    @property
    def end(self) -> int:
        return self._start + self._hi - self._lo

    @property
    def _data(self) -> np.ndarray:
        return self._buf[self._lo : self._hi]

    def _reserve(self, n: int) -> np.ndarray:
        """Room for n more rows behind the held ones; returns the (n, channels) block to fill."""
        if self._hi + n > self._buf.shape[0]:
            held = self._hi - self._lo
            if held + n > self._buf.shape[0]:
                grown = np.zeros((held + n + self._capacity + 64, self._buf.shape[1]), dtype=np.float64)
                grown[:held] = self._buf[self._lo : self._hi]
                self._buf = grown
            else:
                self._buf[:held] = self._buf[self._lo : self._hi]  # forward move: numpy handles the overlap
            self._lo, self._hi = 0, held
        block = self._buf[self._hi : self._hi + n]
        self._hi += n
        return block

    def extend(self, x: np.ndarray) -> None:
        self._reserve(x.shape[0])[...] = x

    def extend_columns(self, *columns: np.ndarray) -> None:
        """Append one equal-length 1-D array per channel (no (n, k) temporary in between)."""
        block = self._reserve(columns[0].shape[0])
        for j, column in enumerate(columns):
            block[:, j] = column

    def get(self, start: int, stop: int, channel: int) -> np.ndarray:
        """Samples [start, stop) of one channel, clipped to what is held (a view: copy it to keep it)."""
        a = max(start, self._start) - self._start
        b = min(stop, self.end) - self._start
        if b <= a:
            return np.empty(0)
        return self._buf[self._lo + a : self._lo + b, channel]

    def rows(self, start: int, stop: int) -> tuple[np.ndarray, int]:
        """A view of rows [start, stop) (all channels) clipped to what is held, and its absolute start."""
        a = max(start, self._start)
        b = max(a, min(stop, self.end))
        return self._buf[self._lo + a - self._start : self._lo + b - self._start], a

    def trim(self) -> None:
        extra = self._hi - self._lo - self._capacity
        if extra > 0:
            self._lo += extra
            self._start += extra
