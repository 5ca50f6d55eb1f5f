"""Scoring a step detector against a step or stride reference.

Same definitions as the project's independent scorer (`score_steps.py`, kept outside the repository; a test checks that
both give the same numbers), reimplemented so the harness has no run-time dependency on it:

* lag: a detector may report any consistent per-step event (impact peak, initial contact, ...), so a
  constant lag to the reference is estimated (circular pre-alignment with the median reference step
  period, then the median offset to the nearest reference step) and removed, one per reference bout;
* matching: one-to-one, closest pairs first, within +-tol (80 ms below 50 Hz reference rate, else 50);
* 10-s windows: the count-based cadence (steps in [t0, t0+10) x 6) and the interval-based one
  (60 / mean step interval of the steps in the window), absolute errors' median/p90/mean;
* stride references (left-foot strikes): implied steps, running/walking window classes, and false steps
  during standing gaps (>= 3 s without a strike, shrunk by 1 s at each end).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from benchmarks.validation.agreement import agreement

RUN_MIN_S, RUN_MAX_S, WALK_MAX_S = 0.55, 0.90, 2.0  # stride-interval classes of a left-stride reference
BOUT_MARGIN_S = 1.0  # candidate steps this close to a reference bout take that bout's lag
MIN_LAG_STEPS = 20  # fewer steps in a bout -> the global lag is used there
STANDING_GAP_S = 3.0  # no reference event for this long = standing
STANDING_MARGIN_S = 1.0  # each standing gap is shrunk by this at both ends
WINDOW_S = 10.0  # cadence window length

Values = Sequence[float] | np.ndarray  # times (s) or per-step values: a list or a 1-D array


def tolerance_s(ref_rate_hz: float) -> float:
    """Matching tolerance: two samples at 25 Hz (80 ms), else 50 ms."""
    return 0.080 if ref_rate_hz < 50 else 0.050


# ----------------------------------------------------------------------------- matching
def nearest_offsets(cand: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """cand[i] minus its nearest reference time (ref sorted, at least 2 long)."""
    j = np.clip(np.searchsorted(ref, cand), 1, len(ref) - 1)
    left, right = ref[j - 1], ref[j]
    return np.where(np.abs(cand - left) <= np.abs(cand - right), cand - left, cand - right)


def estimate_lag_s(cand: np.ndarray, ref: np.ndarray) -> float:
    """Constant lag of candidate steps behind the reference, known modulo one step period.

    A circular mean with period = median reference step interval first, so a lag near half a step does
    not split into two clusters; then the median residual offset refines it.
    """
    if len(cand) == 0 or len(ref) < 2:
        return 0.0
    period_s = float(np.median(np.diff(ref)))
    phase = np.angle(np.mean(np.exp(2j * np.pi * nearest_offsets(cand, ref) / period_s)))
    lag0_s = phase / (2 * np.pi) * period_s
    return float(lag0_s + np.median(nearest_offsets(cand - lag0_s, ref)))


def match_one_to_one(cand: np.ndarray, ref: np.ndarray, tol_s: float) -> list[tuple[int, int]]:
    """Pairs (i_cand, j_ref) with |cand - ref| <= tol, closest pairs first, each index used once."""
    pairs: list[tuple[float, int, int]] = []  # (distance, i_cand, j_ref)
    for i, c in enumerate(cand):
        lo, hi = np.searchsorted(ref, c - tol_s), np.searchsorted(ref, c + tol_s, side="right")
        pairs.extend((abs(c - ref[j]), i, j) for j in range(lo, hi))
    pairs.sort()
    used_c: set[int] = set()
    used_r: set[int] = set()
    out = []
    for _, i, j in pairs:
        if i not in used_c and j not in used_r:
            used_c.add(i)
            used_r.add(j)
            out.append((i, j))
    return out


def split_bouts(events: np.ndarray, gap_s: float) -> list[tuple[float, float]]:
    """(first, last) event time of each run of events separated by gaps >= gap_s."""
    cut = np.where(np.diff(events) >= gap_s)[0]
    starts, ends = np.r_[0, cut + 1], np.r_[cut, len(events) - 1]
    return [(float(events[a]), float(events[b])) for a, b in zip(starts, ends, strict=True)]


# ----------------------------------------------------------------------------- reference model
@dataclass(kw_only=True)
class StepReference:
    """A reference in the scorer's terms: steps for window counts, matching targets and region,
    windows with a class, standing gaps and bouts (for per-bout lags)."""

    kind: str  # "steps" or "left_strides"
    rate_hz: float
    steps_s: np.ndarray
    match_targets_s: np.ndarray
    match_region: list[tuple[float, float]]
    windows: list[tuple[float, str]]
    bouts: list[tuple[float, float]]
    gaps: list[tuple[float, float]] = field(default_factory=list)
    left_strides_s: np.ndarray | None = None

    @classmethod
    def from_steps(
        cls, steps_s: Values, *, rate_hz: float, duration_s: float, window_t0s_s: Values | None = None
    ) -> StepReference:
        """One reference time per step (either foot); the whole recording counts as running."""
        steps = np.sort(np.asarray(steps_s, dtype=float))
        if len(steps) < 2:
            raise ValueError("a step reference needs at least 2 steps")
        if window_t0s_s is None:
            window_t0s_s = np.arange(0.0, duration_s - WINDOW_S + 1e-9, WINDOW_S)
        return cls(
            kind="steps",
            rate_hz=rate_hz,
            steps_s=steps,
            match_targets_s=steps,
            match_region=[(float(steps[0]), float(steps[-1]))],
            windows=[(float(t0), "running") for t0 in window_t0s_s],
            bouts=split_bouts(steps, STANDING_GAP_S),
        )

    @classmethod
    def from_left_strides(cls, left_s: Values, *, rate_hz: float, duration_s: float | None = None) -> StepReference:
        """One reference time per left-foot strike (an ankle sensor); implies the steps between."""
        left = np.sort(np.asarray(left_s, dtype=float))
        if len(left) < 2:
            raise ValueError("a stride reference needs at least 2 left strides")
        d = np.diff(left)
        running = (d >= RUN_MIN_S) & (d <= RUN_MAX_S)
        walking = (d > RUN_MAX_S) & (d <= WALK_MAX_S)
        mids = (left[:-1] + left[1:]) / 2
        idx = np.where(running)[0]
        gaps = [
            (left[i] + STANDING_MARGIN_S, left[i + 1] - STANDING_MARGIN_S)
            for i in np.where(d >= STANDING_GAP_S)[0]
            if left[i + 1] - left[i] > 2 * STANDING_MARGIN_S
        ]
        end_s = float(duration_s if duration_s is not None else left[-1])
        windows = []
        for t0 in np.arange(0.0, end_s - WINDOW_S + 1e-9, WINDOW_S):
            windows.append((float(t0), _classify(float(t0), float(t0) + WINDOW_S, left, running, walking, gaps)))
        return cls(
            kind="left_strides",
            rate_hz=rate_hz,
            steps_s=np.sort(np.r_[left, mids[running | walking]]),
            match_targets_s=np.unique(np.r_[left[idx], left[idx + 1], mids[idx]]),
            match_region=[(float(left[i]), float(left[i + 1])) for i in idx],
            windows=windows,
            bouts=split_bouts(left, STANDING_GAP_S),
            gaps=gaps,
            left_strides_s=left,
        )

    @classmethod
    def from_json(cls, obj: dict) -> StepReference:
        """Read a `*.ref.json` (the format the independent `reference.py` writes for held-out data)."""
        rate_hz = float(obj.get("fs_hz", 100.0))
        steps = obj.get("step_times_s_leg_gyro_midswing", obj.get("step_times_s"))
        strides = obj.get("left_stride_times_s_ankle", obj.get("left_stride_times_s"))
        if steps is not None:
            t0s = [w["t0_s"] for w in obj["windows_10s"]] if "windows_10s" in obj else None
            return cls.from_steps(
                steps, rate_hz=rate_hz, duration_s=float(obj.get("duration_s", max(steps))), window_t0s_s=t0s
            )
        if strides is not None:
            return cls.from_left_strides(strides, rate_hz=rate_hz, duration_s=obj.get("duration_s"))
        raise ValueError("reference has neither step_times_s* nor left_stride_times_s*")


def _classify(
    t0: float, t1: float, left: np.ndarray, running: np.ndarray, walking: np.ndarray, gaps: list[tuple[float, float]]
) -> str:
    if any(a <= t0 and t1 <= b for a, b in gaps):
        return "standing"
    if left[0] > t0 or left[-1] < t1:
        return "uncovered"
    j = np.where((left[1:] > t0) & (left[:-1] < t1))[0]
    if running[j].all():
        return "running"
    if walking[j].all():
        return "walking"
    return "mixed"


# ----------------------------------------------------------------------------- scores
def abs_err_stats(err: Values) -> dict:
    """Median, p90 and mean absolute error and mean signed error (spm) over windows."""
    e = np.asarray(err, dtype=float)
    if len(e) == 0:
        return {"n_windows": 0}
    a = np.abs(e)
    return {
        "n_windows": len(e),
        "abs_err_spm_median": round(float(np.median(a)), 2),
        "abs_err_spm_p90": round(float(np.percentile(a, 90)), 2),
        "abs_err_spm_mean": round(float(np.mean(a)), 2),
        "signed_err_spm_mean": round(float(np.mean(e)), 2),
    }


def interval_cadence_spm(t_s: np.ndarray, t0_s: float, t1_s: float) -> float | None:
    """60 / mean step interval of the steps in [t0, t1); None with fewer than 3 steps."""
    x = t_s[(t_s >= t0_s) & (t_s < t1_s)]
    return None if len(x) < 3 else 60.0 * (len(x) - 1) / (x[-1] - x[0])


def _region_mask(ref: StepReference, t: np.ndarray, widen_s: float) -> np.ndarray:
    if not ref.match_region:
        return np.zeros(len(t), bool)
    starts = np.array([a for a, _ in ref.match_region]) - widen_s
    ends = np.array([b for _, b in ref.match_region]) + widen_s
    k = np.searchsorted(starts, t, side="right") - 1
    return (k >= 0) & (t <= ends[np.clip(k, 0, None)])


def _lags(ref: StepReference, cand: np.ndarray, global_lag_s: float) -> tuple[np.ndarray, list[dict]]:
    lag = np.full(len(cand), global_lag_s)
    report = []
    loose = _region_mask(ref, cand, 0.5)
    for a, b in ref.bouts:
        own = (cand >= a - BOUT_MARGIN_S) & (cand <= b + BOUT_MARGIN_S)
        targets = ref.match_targets_s[(ref.match_targets_s >= a) & (ref.match_targets_s <= b)]
        use = own & loose
        enough = min(int(use.sum()), len(targets)) >= MIN_LAG_STEPS
        bout_lag_s = estimate_lag_s(cand[use], targets) if enough else global_lag_s
        lag[own] = bout_lag_s
        report.append(
            {
                "t0_s": round(a, 2),
                "t1_s": round(b, 2),
                "lag_ms": round(bout_lag_s * 1000, 1),
                "n_cand_used": int(use.sum()) if enough else 0,
            }
        )
    return lag, report


def _match_stats(ref: StepReference, cand_corr: np.ndarray, tol_s: float) -> dict:
    c_reg = cand_corr[_region_mask(ref, cand_corr, tol_s)]
    targets = ref.match_targets_s
    pairs = match_one_to_one(c_reg, targets, tol_s)
    offs = np.array([c_reg[i] - targets[j] for i, j in pairs])
    n = len(pairs)
    recall = round(n / len(targets), 4) if len(targets) else None
    precision = round(n / len(c_reg), 4) if len(c_reg) else None
    f1 = round(2 * recall * precision / (recall + precision), 4) if recall and precision else 0.0
    iqr = round(float(np.subtract(*np.percentile(offs, [75, 25]))) * 1000, 1) if n else None
    return {
        "n_ref_steps": len(targets),
        "n_cand_steps_in_region": len(c_reg),
        "n_matched": n,
        "recall": recall,
        "precision": precision,
        "f1": f1,
        "matched_offset_iqr_ms": iqr,
    }


def score_steps(ref: StepReference, cand_s: Values, *, tol_s: float | None = None) -> dict:
    """All step scores of one candidate (times in s on the recording's clock) against a reference."""
    cand = np.sort(np.asarray(cand_s, dtype=float))
    tol_s = tolerance_s(ref.rate_hz) if tol_s is None else tol_s
    global_lag_s = estimate_lag_s(cand[_region_mask(ref, cand, 0.5)], ref.match_targets_s)
    lag, bout_lags = _lags(ref, cand, global_lag_s)
    corr = cand - lag
    matching = {
        "tol_ms": round(tol_s * 1000, 1),
        "lag_ms": round(global_lag_s * 1000, 1),
        **_match_stats(ref, corr, tol_s),
        "bout_lags": bout_lags,
    }
    per_min = 60.0 / WINDOW_S
    err_count, err_raw, err_int, err_walk, err_2x = [], [], [], [], []
    cadence_pairs: list[tuple[float, float]] = []  # (method, reference) spm per running window
    ref_sum = cand_sum = 0
    for t0, cls in ref.windows:
        t1 = t0 + WINDOW_S
        n_ref = int(np.sum((ref.steps_s >= t0) & (ref.steps_s < t1)))
        n_c = int(np.sum((corr >= t0) & (corr < t1)))
        if cls == "running":
            cr = interval_cadence_spm(ref.steps_s, t0, t1)
            if cr is not None:
                cc = interval_cadence_spm(corr, t0, t1)
                err_int.append(round((cc if cc is not None else 0.0) - cr, 2))
                if cc is not None:
                    cadence_pairs.append((cc, cr))
            err_count.append((n_c - n_ref) * per_min)
            err_raw.append((int(np.sum((cand >= t0) & (cand < t1))) - n_ref) * per_min)
            if ref.left_strides_s is not None:
                n_2x = 2 * int(np.sum((ref.left_strides_s >= t0) & (ref.left_strides_s < t1)))
                err_2x.append((n_c - n_2x) * per_min)
            ref_sum += n_ref
            cand_sum += n_c
        elif cls == "walking":
            err_walk.append((n_c - n_ref) * per_min)
    out = {
        "reference_kind": ref.kind,
        "n_cand_steps": len(cand),
        "running": {
            **abs_err_stats(err_count),
            "ref_steps": ref_sum,
            "cand_steps": cand_sum,
            "step_count_err_pct": round(100.0 * (cand_sum - ref_sum) / ref_sum, 2) if ref_sum else None,
        },
        "running_no_lag_removal": abs_err_stats(err_raw),
        "running_interval_cadence": abs_err_stats(err_int),
        "running_interval_cadence_agreement": agreement([c for c, _ in cadence_pairs], [r for _, r in cadence_pairs]),
        "matching": matching,
        "matching_single_lag": {
            "lag_ms": round(global_lag_s * 1000, 1),
            **_match_stats(ref, cand - global_lag_s, tol_s),
        },
    }
    if ref.kind == "left_strides":
        out["running_2x_rule"] = abs_err_stats(err_2x)
        out["walking"] = abs_err_stats(err_walk)
        per_gap = [
            {"t0_s": round(a, 2), "t1_s": round(b, 2), "false_steps": int(np.sum((corr >= a) & (corr < b)))}
            for a, b in ref.gaps
        ]
        standing_s = sum(b - a for a, b in ref.gaps)
        n_false = sum(g["false_steps"] for g in per_gap)
        out["standing"] = {
            "n_gaps": len(ref.gaps),
            "standing_s": round(standing_s, 1),
            "false_steps": n_false,
            "false_steps_per_min": round(60.0 * n_false / standing_s, 2) if standing_s else None,
            "gaps": per_gap,
        }
    return out


# ----------------------------------------------------------------------------- paired per-step values
def paired_stats(estimate: Values, reference: Values) -> dict:
    """Median absolute and signed error, Pearson r, n, for paired per-step values."""
    e = np.asarray(estimate, dtype=float)
    r = np.asarray(reference, dtype=float)
    ok = np.isfinite(e) & np.isfinite(r)
    e, r = e[ok], r[ok]
    if len(e) == 0:
        return {"n": 0}
    corr = float(np.corrcoef(e, r)[0, 1]) if len(e) > 2 and np.std(e) > 0 and np.std(r) > 0 else math.nan
    return {
        "n": len(e),
        "abs_err_median": float(np.median(np.abs(e - r))),
        "signed_err_median": float(np.median(e - r)),
        "r": corr,
    }


def match_pairs_with_lag(cand_s: Values, ref_s: Values, tol_s: float) -> tuple[float, list[tuple[int, int]]]:
    """Lag (s) and one-to-one pairs (i_cand, j_ref) after removing it, for per-step comparisons."""
    cand = np.asarray(cand_s, dtype=float)
    ref = np.asarray(ref_s, dtype=float)
    if len(cand) == 0 or len(ref) < 2:
        return 0.0, []
    lag_s = estimate_lag_s(cand, ref)
    return lag_s, match_one_to_one(cand - lag_s, ref, tol_s)
