"""Step matching after removing a constant lag (the detector's event vs the reference's event)."""

from __future__ import annotations

import numpy as np


def nearest_offsets(cand: np.ndarray, ref: np.ndarray) -> np.ndarray:
    j = np.clip(np.searchsorted(ref, cand), 1, len(ref) - 1)
    left, right = ref[j - 1], ref[j]
    return np.where(np.abs(cand - left) <= np.abs(cand - right), cand - left, cand - right)


def estimate_lag_s(cand: np.ndarray, ref: np.ndarray) -> float:
    """Median offset to the nearest reference step, after a circular pre-alignment on the step period."""
    period = float(np.median(np.diff(ref)))
    phase = np.angle(np.mean(np.exp(2j * np.pi * nearest_offsets(cand, ref) / period)))
    lag0 = phase / (2 * np.pi) * period
    return float(lag0 + np.median(nearest_offsets(cand - lag0, ref)))


def recall_precision(cand: np.ndarray, ref: np.ndarray, tol_s: float) -> tuple[float, float, float]:
    """(recall, precision, lag_s): one-to-one greedy matching, closest pairs first, after lag removal."""
    lag = estimate_lag_s(cand, ref)
    c = cand - lag
    c = c[(c >= ref[0] - tol_s) & (c <= ref[-1] + tol_s)]
    pairs = []
    for i, t in enumerate(c):
        lo, hi = np.searchsorted(ref, t - tol_s), np.searchsorted(ref, t + tol_s, side="right")
        pairs.extend((abs(t - ref[j]), i, j) for j in range(lo, hi))
    pairs.sort()
    used_c, used_r = set(), set()
    for _, i, j in pairs:
        if i not in used_c and j not in used_r:
            used_c.add(i)
            used_r.add(j)
    return len(used_r) / len(ref), len(used_c) / len(c), lag
