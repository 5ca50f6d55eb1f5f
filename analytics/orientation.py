"""Sensor frame -> vertical, anteroposterior (AP) and mediolateral (ML) for any mounting rotation.

Gravity is the expanding mean of the first `gravity_warmup_s`, then a causal low-pass of the raw
acceleration; the vertical acceleration (gravity included, in g) is the projection on its direction.
The horizontal plane is spanned per sample by `e1` (a fixed sensor
axis with gravity projected out) and `e2 = up x e1`. Within that plane the AP axis is the direction of
largest energy in the step band (the trunk surges forward and back once per step, while it sways side to
side once per stride, at half that frequency): the 2x2 covariance of the band-passed horizontal
acceleration is smoothed over tens of seconds and its principal axis is re-read on a fixed sample grid
(`orientation_update_s`), so the result does not depend on chunking. The axis keeps its sign from one
update to the next; which end is *forward* is decided later from braking (see `step_metrics`).

Outputs use the unsigned convention: `ap_g` along the axis `u`, `ml_g` along `up x u`. With forward =
s * u (s = +1 or -1), AP forward = s * ap_g and ML to the left = s * ml_g (a right-handed sensor frame).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from strideguard.analytics.config import AnalyticsConfig
from strideguard.analytics.filters import RunningSum, SosFilter, butter_sos, one_pole_sos

MIN_AXIS_ENERGY_G2 = 0.02**2  # g^2, below this horizontal step-band energy the AP axis is not updated
MIN_GRAVITY_G = 1e-6  # g, floor of the gravity magnitude (a stream that starts in free fall)
AXIS_HISTORY = 64  # AP axis updates kept for look-ups by sample index


@dataclass(frozen=True, slots=True, kw_only=True)
class OrientationParams:
    """What `OrientationStage` needs of the configuration (see `AnalyticsConfig` for the meanings)."""

    gravity_cutoff_hz: float  # Hz, 2nd-order low-pass that estimates gravity
    gravity_warmup_s: float  # s, expanding mean of gravity before the low-pass takes over
    ap_band_hz: tuple[float, float]  # Hz, band whose horizontal energy marks the AP axis
    covariance_time_constant_s: float  # s, smoothing of the horizontal step-band covariance
    axis_update_s: float  # s, grid on which the AP axis is re-read from that covariance

    @classmethod
    def from_config(cls, config: AnalyticsConfig) -> OrientationParams:
        return cls(
            gravity_cutoff_hz=config.gravity_cutoff_hz,
            gravity_warmup_s=config.gravity_warmup_s,
            ap_band_hz=config.ap_band_hz,
            covariance_time_constant_s=config.orientation_time_constant_s,
            axis_update_s=config.orientation_update_s,
        )


class AxisLookup(Protocol):
    """The AP axis in force at a sample, as `OrientationStage.axis_at` gives it (what later stages need)."""

    def axis_at(self, index: int) -> np.ndarray | None: ...


@dataclass(frozen=True, slots=True)
class OrientedChunk:
    """Per-sample orientation results for one chunk (float64 arrays, length n)."""

    gravity: np.ndarray  # (n, 3) low-pass gravity estimate in the sensor frame, g
    vertical_g: np.ndarray  # acceleration along gravity, gravity included (about +1 g at rest)
    dyn_vertical_g: np.ndarray  # vertical_g minus the gravity magnitude
    ap_g: np.ndarray  # dynamic acceleration along the AP axis u (unsigned convention)
    ml_g: np.ndarray  # dynamic acceleration along up x u
    dyn_power_g2: np.ndarray  # |acc - gravity|^2


def _dot_rows(x: np.ndarray, y: np.ndarray, prod: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Per-sample dot product of two (3, n) arrays, ((x0 y0 + x1 y1) + x2 y2) in that order; `prod` is
    a (3, n) scratch array, `out` an optional (n,) destination."""
    np.multiply(x, y, out=prod)
    out = np.add(prod[0], prod[1], out=out)
    out += prod[2]
    return out


class OrientationStage:
    """Causal, chunk-invariant orientation of one trunk accelerometer stream."""

    def __init__(self, *, rate_hz: float, params: OrientationParams):
        self._gravity = SosFilter(butter_sos(2, params.gravity_cutoff_hz, "lowpass", rate_hz))
        self._warmup_samples = max(1, round(params.gravity_warmup_s * rate_hz))
        self._warmup_sum = RunningSum(3)
        self._ap_band = SosFilter(butter_sos(2, params.ap_band_hz, "bandpass", rate_hz))
        self._cov = SosFilter(one_pole_sos(params.covariance_time_constant_s, rate_hz))
        self._update_every = max(1, round(params.axis_update_s * rate_hz))
        self._index = 0  # absolute index of the next sample
        self._ref_axis: int | None = None  # the sensor axis least aligned with gravity at the start
        self._cos, self._sin = 1.0, 0.0
        self._axis_known = False
        self._axes: deque[np.ndarray] = deque(maxlen=AXIS_HISTORY)
        self._axis_starts: deque[int] = deque(maxlen=AXIS_HISTORY)  # first sample of each axis in `_axes`
        # covariance and basis (cov, e1, e2) at the last sample seen
        self._last: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]] | None = None

    @property
    def axis_known(self) -> bool:
        return self._axis_known

    def axis_at(self, index: int) -> np.ndarray | None:
        """The AP axis u (unit vector in the sensor frame) in force at sample `index`, if known."""
        k = bisect.bisect_right(self._axis_starts, index) - 1
        return self._axes[k] if k >= 0 else None

    def push(self, acc_g: np.ndarray) -> OrientedChunk:
        """Orient one chunk of raw acceleration (n, 3) in g.

        The work runs on (3, n) rows, one contiguous row per axis: per batch that is a few dozen
        whole-array operations, which matters when a thousand runners each push one second at a time
        (numpy's per-call cost, not arithmetic, dominates at 100 samples). Every sum keeps the order of
        the formula written term by term, so the outputs are the same bits as the plain version
        (tests/analytics/test_fast_paths.py holds them to it).
        """
        acc = np.asarray(acc_g, dtype=np.float64)
        n = acc.shape[0]
        a = np.ascontiguousarray(acc.T)  # (3, n)
        g = self._estimate_gravity(acc, a)
        # A dot product over the axes is one (3, n) product and two row additions, ((x0 + x1) + x2): the
        # bits of the sum written out term by term, in three calls instead of five.
        prod = np.empty((3, n))
        gnorm = _dot_rows(g, g, prod)
        np.sqrt(gnorm, out=gnorm)
        np.maximum(gnorm, MIN_GRAVITY_G, out=gnorm)
        # up and e1 live in (5, n) buffers whose rows 3-4 repeat rows 0-1, so the rotated rows that a
        # cross product needs are contiguous slices: up x e1 in three calls instead of nine.
        up5 = np.empty((5, n))
        up = up5[:3]
        np.divide(g, gnorm, out=up)
        up5[3:] = up5[:2]
        vertical = _dot_rows(a, up, prod)
        d = a - g
        dyn_v = vertical - gnorm
        h = d - dyn_v * up
        if self._ref_axis is None and n:
            self._ref_axis = int(np.argmin(np.abs(up[:, 0])))
        axis = self._ref_axis if self._ref_axis is not None else 0
        e15 = np.empty((5, n))
        e1 = e15[:3]
        np.multiply(up, -up[axis], out=e1)  # the sensor axis with gravity projected out ...
        e1[axis] += 1.0
        norm = _dot_rows(e1, e1, prod)
        e1 /= np.sqrt(norm, out=norm)  # ... normalised
        e15[3:] = e15[:2]
        e2 = up5[1:4] * e15[2:5]  # up x e1: (u1 p2 - u2 p1, u2 p0 - u0 p2, u0 p1 - u1 p0)
        e2 -= up5[2:5] * e15[1:4]
        hh = np.empty((2, n))  # horizontal acceleration along e1 and e2
        h1 = _dot_rows(h, e1, prod, hh[0])
        h2 = _dot_rows(h, e2, prod, hh[1])
        band = self._ap_band.filter_rows(hh.copy())
        b0, b1 = band
        cov = np.empty((3, n))
        np.multiply(band, band, out=cov[:2])
        np.multiply(b0, b1, out=cov[2])
        cov = self._cov.filter_rows(cov)

        ap: NDArray[np.float64] | None = None
        ml: NDArray[np.float64] | None = None
        start = 0
        while start < n:
            absolute = self._index + start
            if absolute % self._update_every == 0 and absolute > 0:
                # the axis changes only at grid samples, from the covariance of the sample before
                j = start - 1
                before = self._last if j < 0 else (cov[:, j], e1[:, j], e2[:, j])
                if before is not None:
                    self._update_axis(*before, absolute)
            stop = min(n, start + self._update_every - absolute % self._update_every)
            c, s = self._cos, self._sin
            if start == 0 and stop == n:  # one axis for the whole chunk (a 1-s push on the 1-s grid)
                ap, ml = c * h1, c * h2
                ap += s * h2
                ml -= s * h1
                break
            if ap is None or ml is None:  # both or neither
                ap, ml = np.empty(n), np.empty(n)
            ap[start:stop] = c * h1[start:stop] + s * h2[start:stop]
            ml[start:stop] = c * h2[start:stop] - s * h1[start:stop]
            start = stop
        if n:
            self._last = (cov[:, -1].copy(), e1[:, -1].copy(), e2[:, -1].copy())
        if ap is None or ml is None:  # an empty chunk (the loop sets both for any other)
            ap, ml = np.empty(0), np.empty(0)
        self._index += n
        return OrientedChunk(
            gravity=g.T, vertical_g=vertical, dyn_vertical_g=dyn_v, ap_g=ap, ml_g=ml, dyn_power_g2=_dot_rows(d, d, prod)
        )

    def _estimate_gravity(self, acc: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Expanding mean for the first `gravity_warmup_s` (a stream may start mid-stride, in flight),
        then the low-pass, started in steady state at that mean. `rows` is `acc` as (3, n); so is the result."""
        n = acc.shape[0]
        warm = min(n, max(0, self._warmup_samples - self._index))
        if warm == 0:
            return self._gravity.filter_rows(rows.copy())
        counts = np.arange(self._index + 1, self._index + warm + 1, dtype=np.float64)[:, None]
        head = self._warmup_sum.add(acc[:warm]) / counts
        if self._index + warm == self._warmup_samples:
            self._gravity.seed(head[-1])
        if warm == n:
            return np.ascontiguousarray(head.T)
        return np.concatenate((head.T, self._gravity.filter_rows(rows[:, warm:].copy())), axis=1)

    def _update_axis(self, cov: np.ndarray, e1: np.ndarray, e2: np.ndarray, index: int) -> None:
        c11, c22, c12 = float(cov[0]), float(cov[1]), float(cov[2])
        if c11 + c22 < MIN_AXIS_ENERGY_G2:
            return
        theta = 0.5 * math.atan2(2.0 * c12, c11 - c22)
        c, s = math.cos(theta), math.sin(theta)
        if self._axis_known and c * self._cos + s * self._sin < 0:
            c, s = -c, -s  # keep the axis sign continuous
        self._cos, self._sin = c, s
        self._axis_known = True
        self._axes.append(c * e1 + s * e2)
        self._axis_starts.append(index)
