"""Score every method on every recording: the numbers behind each printed table.

Each `evaluate_*` returns plain dicts (JSON-ready): per recording and method, then pooled summaries.
Methods are "ours" (StrideGuard's streaming analytics), and "<peer>" / "<peer>:default" for each peer's
running preset and its shipped defaults.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from benchmarks.validation.agreement import condition_means, per_step_and_between_conditions
from benchmarks.validation.datasets import Recording
from benchmarks.validation.ours import EPOCH_NS, OurResult
from benchmarks.validation.peers import PeerResult
from benchmarks.validation.references import stride_jitter_ms
from benchmarks.validation.scoring import (
    StepReference,
    interval_cadence_spm,
    match_one_to_one,
    match_pairs_with_lag,
    paired_stats,
    score_steps,
    tolerance_s,
)
from strideguard.sensors.types import NS_PER_S

Progress = Callable[[str], None]
SYMMETRY_METRICS = ("step_time", "impact", "contact_time")  # the analytics' per-window symmetry indices


def method_name(peer: str, preset: str) -> str:
    return peer if preset == "running" else f"{peer}:{preset}"


def step_times(result: OurResult | PeerResult) -> np.ndarray | None:
    return result.step_times_s


def interval_errors_ms(cand_s: np.ndarray, ref_s: np.ndarray, lag_s: float, tol_s: float) -> np.ndarray:
    """Errors (ms) of step intervals where two consecutive candidate steps match two consecutive
    reference steps: the interval comparison is lag-free by construction."""
    cand = np.sort(cand_s)
    pairs = dict(match_one_to_one(cand - lag_s, ref_s, tol_s))
    errs = [
        ((cand[i + 1] - cand[i]) - (ref_s[pairs[i + 1]] - ref_s[pairs[i]])) * 1000.0
        for i in range(len(cand) - 1)
        if i in pairs and i + 1 in pairs and pairs[i + 1] == pairs[i] + 1
    ]
    return np.asarray(errs, dtype=float)


def reference_matching(ref: StepReference, cand_s: np.ndarray | None) -> dict:
    """Lag, recall, precision and window cadence (median |error|, 60 / mean step interval per 10-s
    window) of one method's steps against one (alternative) reference."""
    if cand_s is None:
        return {"error": "no output"}
    scores = score_steps(ref, cand_s)
    m = scores["matching"]
    return {
        "lag_ms": m["lag_ms"],
        "recall": m["recall"],
        "precision": m["precision"],
        "cadence_interval_mae_spm": scores["running_interval_cadence"].get("abs_err_spm_median"),
        "cadence_agreement": scores["running_interval_cadence_agreement"],
    }


def alternative_reference_scores(
    recs: list[Recording], ours: dict[str, OurResult | str], peers: dict[tuple[str, str, str], PeerResult]
) -> dict[str, dict]:
    """Per recording and method: matching against `step_ref_peak` (UCI: the swing peak's highest
    sample, as the independent reference.py times it), for the recordings that have one."""
    out: dict[str, dict] = {}
    for rec in recs:
        if rec.step_ref_peak is None:
            continue
        row: dict[str, dict] = {}
        o = ours.get(rec.name)
        if isinstance(o, OurResult):
            row["ours"] = reference_matching(rec.step_ref_peak, o.step_times_s)
        for (peer, preset, name), res in peers.items():
            if name == rec.name:
                row[method_name(peer, preset)] = (
                    {"error": res.error} if res.error else reference_matching(rec.step_ref_peak, res.step_times_s)
                )
        out[rec.name] = row
    return out


def same_foot_jitter_ms(steps_s: np.ndarray) -> float | None:
    """Stride-to-stride jitter (ms) of every second step (one foot, whichever), mean of both feet: the
    same statistic as the reference's per-leg jitter."""
    values = [j for j in (stride_jitter_ms(steps_s[0::2]), stride_jitter_ms(steps_s[1::2])) if j is not None]
    return float(np.mean(values)) if values else None


def pooled_matching(per_rec: dict[str, dict]) -> dict[str, dict]:
    """Per method: worst and median recall/precision over recordings (from `reference_matching` rows)."""
    methods = sorted({m for row in per_rec.values() for m in row})
    out = {}
    for m in methods:
        rows = [row[m] for row in per_rec.values() if m in row and "error" not in row[m]]
        if not rows:
            out[m] = {"error": next((row[m]["error"] for row in per_rec.values() if m in row), "no result")}
            continue
        out[m] = {
            "recall_worst": min(r["recall"] for r in rows),
            "precision_worst": min(r["precision"] for r in rows),
            "recall_median": float(np.median([r["recall"] for r in rows])),
            "precision_median": float(np.median([r["precision"] for r in rows])),
        }
    return out


def step_scores(rec: Recording, cand_s: np.ndarray | None, seconds: float | None) -> dict:
    """Window cadence, step count, lag, recall/precision, interval error and speed for one method."""
    if cand_s is None:
        return {"error": "no output"}
    ref = rec.require_step_ref()
    s = score_steps(ref, cand_s)
    m = s["matching"]
    lag_s = m["lag_ms"] / 1000.0
    ints = interval_errors_ms(np.asarray(cand_s), ref.steps_s, lag_s, tolerance_s(ref.rate_hz))
    count_err = s["running"].get("step_count_err_pct")
    if count_err is None and m["n_ref_steps"]:  # no 10-s windows (short trials): count inside the ref region
        count_err = round(100.0 * (m["n_cand_steps_in_region"] - m["n_ref_steps"]) / m["n_ref_steps"], 2)
    return {
        "n_steps": s["n_cand_steps"],
        "n_ref_steps": len(ref.steps_s),
        "cadence_interval_mae_spm": s["running_interval_cadence"].get("abs_err_spm_median"),
        "cadence_interval_p90_spm": s["running_interval_cadence"].get("abs_err_spm_p90"),
        "cadence_agreement": s["running_interval_cadence_agreement"],
        "cadence_count_mae_spm": s["running"].get("abs_err_spm_median"),
        "step_count_err_pct": count_err,
        "lag_ms": m["lag_ms"],
        "recall": m["recall"],
        "precision": m["precision"],
        "interval_abs_err_ms_median": float(np.median(np.abs(ints))) if len(ints) else None,
        "n_intervals": len(ints),
        "stride_jitter_ms": same_foot_jitter_ms(np.sort(np.asarray(cand_s, dtype=float))),
        "seconds": seconds,
        "x_real_time": (rec.duration_s / seconds) if seconds else None,
        "standing": s.get("standing"),
    }


def peer_cadence_windows(rec: Recording, res: PeerResult) -> float | None:
    """mobgap's own cadence algorithm (CadFromIc, per second) averaged over each reference 10-s window,
    against the reference's interval cadence: median |error| (spm)."""
    extra = res.extra or {}
    per_sec, centres = extra.get("cadence_per_sec_spm"), extra.get("cadence_sec_centres_s")
    if not per_sec or not centres:
        return None
    cad = np.array([np.nan if x is None else x for x in per_sec], dtype=float)
    centres_s = np.asarray(centres, dtype=float)
    step_ref = rec.require_step_ref()
    errs = []
    for t0, cls in step_ref.windows:
        ref = interval_cadence_spm(step_ref.steps_s, t0, t0 + 10.0) if cls == "running" else None
        sel = cad[(centres_s >= t0) & (centres_s < t0 + 10.0)]
        if ref is not None and sel.size and np.isfinite(sel).any():
            errs.append(float(np.nanmean(sel)) - ref)
    return float(np.median(np.abs(errs))) if errs else None


def side_agreement(rec: Recording, ours: OurResult) -> dict:
    """Left/right per step against the leg that made the reference event.

    The UCI reference event is one leg's mid-swing, which falls in the OTHER foot's stance, and our lag
    is only known modulo a step: the mapping (same or opposite leg) is therefore fixed once per
    recording as the better of the two, and `agreement` = max(a, 1 - a). `known` is the share of our
    matched steps that carry a side at all.
    """
    if rec.ref_sides is None:
        return {}
    order = np.argsort(ours.step_times_s)
    cand = ours.step_times_s[order]
    step_ref = rec.require_step_ref()
    _, pairs = match_pairs_with_lag(cand, step_ref.steps_s, tolerance_s(step_ref.rate_hz))
    sided = [(ours.side[order[i]], rec.ref_sides[j]) for i, j in pairs if ours.side[order[i]] in ("left", "right")]
    if not sided:
        return {"side_agreement": None, "side_known": 0.0 if pairs else None}
    a = float(np.mean([s == r for s, r in sided]))
    return {
        "side_agreement": max(a, 1.0 - a),
        "side_mapping": "same leg" if a >= 0.5 else "opposite leg",
        "side_known": len(sided) / len(pairs),
        "n_sided": len(sided),
    }


def own_window_cadence(rec: Recording, ours: OurResult) -> dict:
    """Our analytics' own per-window cadence output against the reference's interval cadence on the
    same window span (the analytics choose their window grid)."""
    steps_s = rec.require_step_ref().steps_s
    errs = []
    for w in ours.windows:
        if w.cadence_spm is None:
            continue
        t0 = (w.t_start_ns - EPOCH_NS) / NS_PER_S
        t1 = (w.t_end_ns - EPOCH_NS) / NS_PER_S
        ref = interval_cadence_spm(steps_s, t0, t1)
        if ref is not None and steps_s[0] <= t0 and t1 <= steps_s[-1]:
            errs.append(w.cadence_spm - ref)
    e = np.abs(np.asarray(errs, dtype=float))
    return {"n_windows": len(e), "own_window_cadence_mae_spm": float(np.median(e)) if len(e) else None}


def evaluate_steps_dataset(
    recs: list[Recording],
    ours: dict[str, OurResult | str],
    peers: dict[tuple[str, str, str], PeerResult],
    progress: Progress,
) -> dict:
    """Per recording and method: the step scores (UCI, generic pairs, and the plate's steps)."""
    out: dict[str, dict] = {}
    for rec in recs:
        if rec.step_ref is None:
            continue
        row: dict[str, dict] = {}
        o = ours.get(rec.name)
        if isinstance(o, OurResult):
            row["ours"] = {
                **step_scores(rec, o.step_times_s, o.seconds),
                **own_window_cadence(rec, o),
                **side_agreement(rec, o),
            }
        elif o is not None:
            row["ours"] = {"error": o}
        for (peer, preset, name), res in peers.items():
            if name != rec.name:
                continue
            key = method_name(peer, preset)
            if res.error:
                row[key] = {"error": res.error}
            else:
                row[key] = step_scores(rec, res.step_times_s, res.seconds)
                row[key]["own_window_cadence_mae_spm"] = peer_cadence_windows(rec, res)
                extra = res.extra or {}
                row[key]["peer"] = {k: extra.get(k) for k in ("version", "preset", "params")}
        out[rec.name] = row
        progress(f"scored {rec.name}")
    return out


def _median_of(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return float(np.median(vals)) if vals else None


def _worst_of(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return float(min(vals)) if vals else None


def pooled(per_rec: dict[str, dict]) -> dict[str, dict]:
    """Per method over all recordings: median of the per-recording medians, worst recall/precision,
    pooled recall/precision, total wall time and real-time factor."""
    methods = sorted({m for row in per_rec.values() for m in row})
    out = {}
    for m in methods:
        rows = [row[m] for row in per_rec.values() if m in row and "error" not in row[m]]
        errors = [row[m]["error"] for row in per_rec.values() if m in row and "error" in row[m]]
        if not rows:
            out[m] = {"error": errors[0] if errors else "no result"}
            continue
        n_ref = sum(r["n_ref_steps"] for r in rows)
        secs = [r["seconds"] for r in rows if r.get("seconds")]
        out[m] = {
            "n_recordings": len(rows),
            "n_failed": len(errors),
            "cadence_interval_mae_spm": _median_of(rows, "cadence_interval_mae_spm"),
            "cadence_count_mae_spm": _median_of(rows, "cadence_count_mae_spm"),
            "own_window_cadence_mae_spm": _median_of(rows, "own_window_cadence_mae_spm"),
            "step_count_err_pct": _median_of(rows, "step_count_err_pct"),
            "lag_ms": _median_of(rows, "lag_ms"),
            "recall_median": _median_of(rows, "recall"),
            "recall_worst": _worst_of(rows, "recall"),
            "precision_median": _median_of(rows, "precision"),
            "precision_worst": _worst_of(rows, "precision"),
            "interval_abs_err_ms_median": _median_of(rows, "interval_abs_err_ms_median"),
            "n_ref_steps": n_ref,
            "seconds_total": float(sum(secs)) if secs else None,
        }
    return out


def evaluate_force_plate(
    recs: list[Recording],
    ours: dict[str, OurResult | str],
    progress: Progress,
    ours_active: dict[str, OurResult | str] | None = None,
) -> dict:
    """Ours against the force plate: contact timing, contact time, impact vs peak vGRF and loading rate.

    Our steps are matched one-to-one to plate contacts after removing our constant lag (our step time is
    the stance centre, not the contact); contact-time and initial-contact errors use the matched pairs.
    `ours_active`: the same recordings analysed with the active-peak low-pass (`ACTIVE_PEAK_LOWPASS_HZ`),
    whose per-step impact estimates the plate's active peak. Per step and between the means of each
    condition (speed x slope, from the trial info): `agreement` of impact with the peak and the active
    peak, of the active-peak estimate with the active peak, and of contact time.
    """
    pairs_ct, pairs_imp, pairs_lr, ic_err_ms = [], [], [], []
    per_step: dict[str, list] = {
        k: [] for k in ("condition", "impact", "peak", "active", "ours_active", "ct", "plate_ct")
    }
    per_trial: dict[str, dict] = {}
    for rec in recs:
        o = ours.get(rec.name)
        if not isinstance(o, OurResult) or not rec.force_plate:
            continue
        plate_on = np.array([s.contact_s for s in rec.force_plate])
        order = np.argsort(o.step_times_s)
        cand = o.step_times_s[order]
        lag_s, pairs = match_pairs_with_lag(cand, plate_on, tolerance_s(rec.rate_hz))
        active_of = _active_estimates(rec, (ours_active or {}).get(rec.name))
        condition = (rec.info.get("Speed", "?"), rec.info.get("Slope", "?"))
        for i, j in pairs:
            k = order[i]
            plate = rec.force_plate[j]
            for key, value in (
                ("condition", condition),
                ("impact", o.impact_g[k]),
                ("peak", plate.peak_vgrf_bw),
                ("active", plate.active_peak_bw),
                ("ours_active", active_of.get(j, math.nan)),
                ("ct", o.contact_time_ms[k]),
                ("plate_ct", plate.contact_time_ms),
            ):
                per_step[key].append(value)
            pairs_ct.append((o.contact_time_ms[k], plate.contact_time_ms))
            pairs_imp.append((o.impact_g[k], plate.peak_vgrf_bw))
            if plate.loading_rate_bw_per_s is not None:
                pairs_lr.append((o.impact_g[k], plate.loading_rate_bw_per_s))
            if math.isfinite(o.contact_times_s[k]):
                ic_err_ms.append((o.contact_times_s[k] - plate.contact_s) * 1000.0)
        per_trial[rec.name] = {
            "lag_ms": round(lag_s * 1000, 1),
            "n_matched": len(pairs),
            "n_plate_steps": len(rec.force_plate),
            "n_ours": len(cand),
            "symmetry_pct": plate_symmetry(rec, o, [(order[i], j) for i, j in pairs]),
        }
        progress(f"force plate {rec.name}")

    def stats(pairs: list[tuple[float, float]]) -> dict:
        if not pairs:
            return {"n": 0}
        a = np.asarray(pairs, dtype=float)
        return paired_stats(a[:, 0], a[:, 1])

    symmetry = {}
    for name in SYMMETRY_METRICS:
        per = [t["symmetry_pct"][name] for t in per_trial.values() if t["symmetry_pct"].get(name)]
        a = np.array(per, dtype=float).reshape(-1, 2)  # (ours, plate) per trial
        err = a[:, 0] - a[:, 1]
        fit = len(a) > 2 and np.std(a[:, 0]) > 0 and np.std(a[:, 1]) > 0  # r of a constant is undefined
        symmetry[name] = {
            "n_trials": len(a),
            "abs_err_median_pp": float(np.median(np.abs(err))) if len(a) else None,
            "abs_err_max_pp": float(np.max(np.abs(err))) if len(a) else None,
            "r": float(np.corrcoef(a[:, 0], a[:, 1])[0, 1]) if fit else None,
            "slope": float(np.polyfit(a[:, 1], a[:, 0], 1)[0]) if fit else None,
        }
    lr = np.asarray(pairs_lr, dtype=float)
    ok = np.isfinite(lr).all(axis=1) if len(lr) else np.zeros(0, bool)
    varied = ok.sum() > 2 and np.std(lr[ok, 0]) > 0 and np.std(lr[ok, 1]) > 0
    r_lr = float(np.corrcoef(lr[ok, 0], lr[ok, 1])[0, 1]) if varied else None
    ic = np.asarray(ic_err_ms, dtype=float)
    return {
        "contact_time_ms": stats(pairs_ct),
        "impact_vs_peak_vgrf_bw": stats(pairs_imp),
        "impact_vs_loading_rate": {"n": int(ok.sum()), "r": r_lr},
        "initial_contact_err_ms": {
            "n": len(ic),
            "signed_median": float(np.median(ic)) if len(ic) else None,
            "abs_median": float(np.median(np.abs(ic))) if len(ic) else None,
        },
        "symmetry": symmetry,
        "per_trial": per_trial,
        "agreement": force_plate_agreement(per_step),
    }


ACTIVE_PEAK_LOWPASS_HZ = 4.0  # Hz: a low-pass peak this low passes the active peak, not the impact transient

AGREEMENT_METRICS = (  # (name, our per-step values, plate values)
    ("impact_g vs peak vGRF (BW)", "impact", "peak"),
    ("impact_g vs active peak (BW)", "impact", "active"),
    (f"{ACTIVE_PEAK_LOWPASS_HZ:g}-Hz peak vs active peak (BW)", "ours_active", "active"),
    ("contact time (ms)", "ct", "plate_ct"),
)


def force_plate_agreement(per_step: dict[str, list]) -> dict:
    """Per metric: agreement per step and between condition means, plus each condition's means."""
    out: dict = {}
    keys = [f"{speed} m/s, {slope} deg" for speed, slope in per_step["condition"]]
    for name, ours_key, plate_key in AGREEMENT_METRICS:
        est = np.asarray(per_step[ours_key], dtype=float)
        ref = np.asarray(per_step[plate_key], dtype=float)
        means = condition_means(keys, est, ref)
        out[name] = {
            **per_step_and_between_conditions(keys, est, ref),
            "per_condition": {k: {"n": n, "ours": e, "plate": r} for k, (n, e, r) in means.items()},
        }
    return out


def _active_estimates(rec: Recording, result: OurResult | str | None) -> dict[int, float]:
    """Plate contact index -> the active-peak run's impact for the step matched to it."""
    if not isinstance(result, OurResult) or not rec.force_plate:
        return {}
    order = np.argsort(result.step_times_s)
    plate_on = np.array([s.contact_s for s in rec.force_plate])
    _, pairs = match_pairs_with_lag(result.step_times_s[order], plate_on, tolerance_s(rec.rate_hz))
    return {j: float(result.impact_g[order[i]]) for i, j in pairs}


def plate_symmetry(rec: Recording, ours: OurResult, pairs: list[tuple[int, int]]) -> dict:
    """Per trial: (ours, plate) symmetry index (L - R) / mean x 100 of step time, impact and contact time.

    The Alcantara data have no mediolateral channel, so our analytics give no side there; both indices
    use the plate's alternation (even contacts one foot, odd the other) over the same matched steps. What
    is measured is the index from our per-step values, given the sides. A step time needs the previous
    contact matched too: ours runs between our consecutive initial contacts (`contact_t_ns`, as
    `analytics.symmetry.contact_step_times_s`), the plate's between its contacts.
    """
    from strideguard.analytics.symmetry import symmetry_index_pct

    plate = rec.force_plate or []
    by_ref = {j: k for k, j in pairs}
    values: dict[str, list[tuple[bool, float, float]]] = {name: [] for name in SYMMETRY_METRICS}  # even, ours, plate
    for k, j in pairs:
        even = j % 2 == 0
        values["impact"].append((even, ours.impact_g[k], plate[j].peak_vgrf_bw))
        values["contact_time"].append((even, ours.contact_time_ms[k], plate[j].contact_time_ms))
        if j - 1 in by_ref:
            values["step_time"].append(
                (
                    even,
                    ours.contact_times_s[k] - ours.contact_times_s[by_ref[j - 1]],
                    plate[j].contact_s - plate[j - 1].contact_s,
                )
            )
    out = {}
    for name, rows in values.items():
        a = np.array([row for row in rows if math.isfinite(row[1])], dtype=float).reshape(-1, 3)
        even = a[:, 0] == 1
        if even.any() and not even.all():
            out[name] = tuple(symmetry_index_pct(a[even, col].tolist(), a[~even, col].tolist()) for col in (1, 2))
    return out
