"""The known truth of a synthetic run: per step, per window, and the run that carries both.

Window truth is computed with the definitions the analytics documents, so a detector can be judged
against it directly: cadence is 60 / mean interval of the steps whose contact falls in the window;
sway ratios are RMS of the mean-removed mediolateral / anteroposterior acceleration over the RMS of
the resultant (sqrt of the sum of the three axes' squared RMS), in the gravity-aligned frame of the
noise-free signal; lean is the mean forward tilt against the upright standing posture; asymmetries
are symmetry indices (left - right) / mean x 100.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from strideguard.sensors.types import SampleBatch
from strideguard.sensors.units import NS_PER_S


@dataclass(frozen=True, slots=True, kw_only=True)
class TruthStep:
    """One generated step.

    `t_ns` is initial contact, `impact_t_ns` the time of the vertical peak (`impact_g`, specific force
    including gravity: what a trunk sensor at infinite rate would read), `toe_off_t_ns` the end of
    contact. `side` is "left" or "right" (the values of `analytics.results.Side`). `step_time_s` is the
    interval from the previous contact (None for the first step). `gait` is "run" or "walk".
    """

    index: int
    t_ns: int
    side: str
    gait: str
    impact_g: float
    impact_t_ns: int
    toe_off_t_ns: int
    contact_time_ms: float
    step_time_s: float | None
    braking_g: float
    vertical_oscillation_cm: float


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowTruth:
    """Truth over [t_start_ns, t_end_ns); metrics are None where the window has too little for them.

    `running` is True when most steps in the window are running steps; `disturbed` when a loose-strap
    noise burst overlaps the window.
    """

    t_start_ns: int
    t_end_ns: int
    n_steps: int
    running: bool
    disturbed: bool
    cadence_spm: float | None
    impact_g: float | None
    contact_time_ms: float | None
    vertical_oscillation_cm: float | None
    step_time_asymmetry_pct: float | None
    impact_asymmetry_pct: float | None
    sway_ml_ratio: float | None
    sway_ap_ratio: float | None
    lean_deg: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class StepArrays:
    """The per-step truth as parallel numpy arrays (fast window queries; `steps` holds the objects)."""

    t_ns: np.ndarray  # int64, initial contact
    is_left: np.ndarray  # bool
    is_walk: np.ndarray  # bool
    impact_g: np.ndarray  # float64
    contact_time_ms: np.ndarray  # float64
    step_time_s: np.ndarray  # float64, NaN for the first step
    vertical_oscillation_cm: np.ndarray  # float64


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SyntheticRun:
    """A generated recording (`acc` in g, `gyro` in deg/s, one time base) with its truth.

    `aligned_acc_g` is the noise-free acceleration in the gravity-aligned trunk frame (columns:
    anteroposterior forward, mediolateral left, vertical up) and `lean_deg` the trunk's forward lean
    per sample; both feed `truth_window`. In a turn that frame banks with the trunk, as the ground force
    does (see `Turn`). `turn_spans_ns` are the scripted turns (their heading change starts and ends
    there; the bank builds up over half a second on each side).
    """

    acc: SampleBatch
    gyro: SampleBatch
    steps: tuple[TruthStep, ...]
    step_arrays: StepArrays
    aligned_acc_g: np.ndarray
    lean_deg: np.ndarray
    disturbed_spans_ns: tuple[tuple[int, int], ...]
    seed: int
    turn_spans_ns: tuple[tuple[int, int], ...] = ()

    @property
    def start_t_ns(self) -> int:
        return int(self.acc.t_ns[0])

    @property
    def end_t_ns(self) -> int:
        """One sample period after the last sample: the run covers [start_t_ns, end_t_ns)."""
        return int(self.acc.t_ns[-1]) + round(NS_PER_S / self.acc.rate_hz)

    def iter_batches(self, batch_s: float) -> Iterator[SampleBatch]:
        """ACC and GYRO batches of `batch_s` seconds in time order (acc then gyro for each span), as a
        streaming source would deliver them."""
        if not batch_s > 0:
            raise ValueError(f"batch_s must be positive, got {batch_s}")
        n = len(self.acc)
        per_batch = max(1, round(batch_s * self.acc.rate_hz))
        for start in range(0, n, per_batch):
            stop = min(n, start + per_batch)
            yield self.acc.slice(start, stop)
            yield self.gyro.slice(start, stop)

    def steps_between(self, t0_ns: int, t1_ns: int) -> tuple[TruthStep, ...]:
        """Steps whose initial contact lies in [t0_ns, t1_ns)."""
        lo, hi = np.searchsorted(self.step_arrays.t_ns, [t0_ns, t1_ns], side="left")
        return self.steps[lo:hi]

    def truth_window(self, t0_ns: int, t1_ns: int) -> WindowTruth:
        """The truth over [t0_ns, t1_ns) with the definitions in this module's docstring."""
        sa = self.step_arrays
        lo, hi = np.searchsorted(sa.t_ns, [t0_ns, t1_ns], side="left")
        n_steps = int(hi - lo)
        step_time = sa.step_time_s[lo:hi]
        step_time = step_time[np.isfinite(step_time)]
        left, walk = sa.is_left[lo:hi], sa.is_walk[lo:hi]
        impact = sa.impact_g[lo:hi]
        s_lo, s_hi = np.searchsorted(self.acc.t_ns, [t0_ns, t1_ns], side="left")
        ratios = _sway_ratios(self.aligned_acc_g[s_lo:s_hi])
        lean = float(np.mean(self.lean_deg[s_lo:s_hi])) if s_hi > s_lo else None
        return WindowTruth(
            t_start_ns=int(t0_ns),
            t_end_ns=int(t1_ns),
            n_steps=n_steps,
            running=bool(n_steps > 0 and np.count_nonzero(~walk) * 2 > n_steps),
            disturbed=any(a < t1_ns and b > t0_ns for a, b in self.disturbed_spans_ns),
            cadence_spm=float(60.0 / step_time.mean()) if step_time.size else None,
            impact_g=float(impact.mean()) if n_steps else None,
            contact_time_ms=float(sa.contact_time_ms[lo:hi].mean()) if n_steps else None,
            vertical_oscillation_cm=float(sa.vertical_oscillation_cm[lo:hi].mean()) if n_steps else None,
            step_time_asymmetry_pct=_symmetry_index(sa.step_time_s[lo:hi], left),
            impact_asymmetry_pct=_symmetry_index(impact, left),
            sway_ml_ratio=ratios[1] if ratios else None,
            sway_ap_ratio=ratios[0] if ratios else None,
            lean_deg=lean,
        )

    def truth_windows(self, window_s: float) -> tuple[WindowTruth, ...]:
        """Truth on a fixed grid of `window_s` windows from the first sample (the last partial window
        is left out)."""
        width_ns = round(window_s * NS_PER_S)
        starts = range(self.start_t_ns, self.end_t_ns - width_ns + 1, width_ns)
        return tuple(self.truth_window(t0, t0 + width_ns) for t0 in starts)


def _symmetry_index(values: np.ndarray, is_left: np.ndarray) -> float | None:
    """(mean left - mean right) / mean of both x 100; None without a finite value on each side."""
    ok = np.isfinite(values)
    left, right = values[ok & is_left], values[ok & ~is_left]
    if not (left.size and right.size):
        return None
    mean_l, mean_r = float(left.mean()), float(right.mean())
    return (mean_l - mean_r) / ((mean_l + mean_r) / 2.0) * 100.0


def _sway_ratios(aligned_g: np.ndarray) -> tuple[float, float, float] | None:
    """(AP, ML, V) RMS of the mean-removed axes over the resultant RMS; None for < 2 samples."""
    if aligned_g.shape[0] < 2:
        return None
    rms = np.sqrt(np.mean((aligned_g - aligned_g.mean(axis=0)) ** 2, axis=0))
    resultant = float(np.sqrt(np.sum(rms**2)))
    if resultant == 0.0:
        return None
    ap, ml, v = (float(x) / resultant for x in rms)
    return ap, ml, v
