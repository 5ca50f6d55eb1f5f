"""Synthetic runs (sensors.synthetic) with known truth, across rates, mountings, noise, asymmetry and turns.

Each scenario is one `SyntheticConfig` + rate + placement + seed. Every metric the analytics emit is
compared with the generator's truth: per step (matched to the true contacts after removing our lag)
and per window (the truth over exactly our window's span).
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.validation.datasets import Recording
from benchmarks.validation.ours import EPOCH_NS, OurResult
from benchmarks.validation.scoring import StepReference, match_pairs_with_lag, paired_stats, tolerance_s
from strideguard.sensors.types import NS_PER_S

if TYPE_CHECKING:  # imported where used: sensors.synthetic by generate(), analytics by run_ours()
    from strideguard.analytics.results import WindowMetrics
    from strideguard.sensors.synthetic import SyntheticRun, WindowTruth

RUN_S = 150.0  # s of running per scenario (after the standing start)
STANDING_TEST_S = 70.0  # s standing before the run in the standing scenario (60 s scored + margins)
STANDING_MARGIN_S = 5.0  # s at both ends of the standing span not scored (settling, first step)
END_MARGIN_S = 0.3  # s: a true contact this close to the end has its impact after the last sample
PAUSE_LANDING_S = 1.0  # s at the start of a pause not scored: the landing that ended the bout lies there
TURN_MARGIN_S = 0.5  # s around a scripted turn where the bank builds up or releases (smoothed over 1 s)
WINDOW_METRICS = (
    "cadence_spm",
    "impact_g",
    "contact_time_ms",
    "vertical_oscillation_cm",
    "sway_ml_ratio",
    "sway_ap_ratio",
    "lean_deg",
    "step_time_asymmetry_pct",
    "impact_asymmetry_pct",
)
STEP_METRICS = ("impact_g", "contact_time_ms", "braking_g", "vertical_oscillation_cm")
# Every scenario's runner has a force pulse shaped like the force plate's (mean/peak 0.60; see
# SyntheticConfig and tests/benchmarks/test_synthetic_pulse.py): 210 ms at 170 spm and 2.8 g. The
# generator's default 250 ms makes a narrow pulse with about 30 ms more near-zero "contact" in its truth
# than a real pulse, and the contact-time error would measure the generator, not the analytics.
# Scenario overrides win.
FORCE_CONSISTENT = {"contact_time_ms": 210.0}


@dataclass(frozen=True, kw_only=True)
class Scenario:
    name: str
    rate_hz: float
    placement: str = "chest"
    seed: int = 1
    rotation_seed: int | None = None  # random mounting rotation from this seed; None = upright, aligned
    config: dict = field(default_factory=dict)  # SyntheticConfig overrides
    standing_s: float = 10.0


def scenarios(quick: bool = False) -> list[Scenario]:
    """The scenario grid; `quick` keeps one per axis of variation."""
    full = [
        Scenario(name="base 100 Hz", rate_hz=100),
        Scenario(name="25 Hz", rate_hz=25),
        Scenario(name="500 Hz sacrum", rate_hz=500, placement="sacrum"),
        Scenario(name="rotated 100 Hz", rate_hz=100, rotation_seed=3),
        Scenario(name="rotated 25 Hz", rate_hz=25, rotation_seed=7, seed=2),
        Scenario(name="rotated 500 Hz", rate_hz=500, rotation_seed=11, seed=3),
        Scenario(
            name="noisy strap",
            rate_hz=100,
            seed=4,
            config={"noise_g": 0.08, "noise_bursts": ((40.0, 4.0), (100.0, 6.0))},
        ),
        Scenario(
            name="asymmetric",
            rate_hz=100,
            seed=5,
            config={"step_time_asymmetry_pct": 8.0, "impact_asymmetry_pct": 12.0},
        ),
        # cadence, contact time and peak on the plate's force-time relation, peak ~ T / (0.6 Tc)
        Scenario(
            name="cadence 150",
            rate_hz=100,
            seed=6,
            config={"cadence_spm": 150.0, "contact_time_ms": 255.0, "impact_g": 2.6},
        ),
        Scenario(
            name="cadence 190",
            rate_hz=100,
            seed=7,
            config={"cadence_spm": 190.0, "contact_time_ms": 200.0, "impact_g": 2.6},
        ),
        Scenario(name="walk break", rate_hz=100, seed=8, config={"walk_breaks": ((60.0, 30.0),)}),
        # a slow walk (refractory from its long steps) straight into fast running: half-rate lock-in check
        Scenario(
            name="slow walk, 180 spm",
            rate_hz=100,
            seed=10,
            config={
                "walk_breaks": ((60.0, 30.0),),
                "walk_cadence_spm": 100.0,
                "cadence_spm": 180.0,
                "contact_time_ms": 200.0,
                "impact_g": 2.7,
            },
        ),
        # 0.1 g sensor noise at 50 Hz while standing: no noise peak may become the run's first step
        Scenario(name="50 Hz noisy", rate_hz=50, seed=20, config={"noise_g": 0.1}),
        # a 400-m track at 3.3 m/s: 25-s straights, 35-s bends of 180 deg (radius 36.8 m, 0.03 g)
        Scenario(
            name="track bends",
            rate_hz=100,
            seed=21,
            config={"turns": tuple((25.0 + 60.0 * i, 35.0, 180.0, 3.3) for i in range(3))},
        ),
        # street corners (90 deg in 1.5 s) and turnarounds at a cone (180 deg in 2.5 s), both ways, at
        # 3 m/s: 0.3-0.4 g centripetal and 18-21 deg of bank, on an unknown mounting
        Scenario(
            name="sharp turns",
            rate_hz=100,
            seed=22,
            rotation_seed=13,
            config={
                "turns": (
                    (20.0, 1.5, 90.0, 3.0),
                    (45.0, 2.5, 180.0, 3.0),
                    (70.0, 1.5, -90.0, 3.0),
                    (95.0, 2.5, -180.0, 3.0),
                    (120.0, 1.5, 90.0, 3.0),
                )
            },
        ),
        Scenario(name="standing 60 s", rate_hz=100, seed=9, standing_s=STANDING_TEST_S),
        # issue 19: stops. Running that stops to tie a shoe (20 s) and to stand shifting weight (30 s)
        Scenario(
            name="stops: tie shoe, fidget",
            rate_hz=100,
            seed=23,
            config={"pauses": ((30.0, 20.0, "tie_shoe"), (80.0, 30.0, "fidget"))},
        ),
        # walks of 2-5 s from standing between 10-12 s of standing still or fidgeting, at 25 Hz
        Scenario(
            name="walks between stops",
            rate_hz=25,
            seed=24,
            config={
                "walk_breaks": ((-10.0, 1000.0),),
                "pauses": tuple((3.0 + 15.0 * i, 10.0 + i // 2, "still" if i % 2 else "fidget") for i in range(9)),
            },
        ),
        # standing (fidgeting) -> walking -> running, twice, at 25 Hz
        Scenario(
            name="stop, walk, run",
            rate_hz=25,
            seed=25,
            config={
                "walk_breaks": ((45.0, 15.0), (105.0, 10.0)),
                "pauses": ((30.0, 15.0, "fidget"), (95.0, 10.0, "still")),
            },
        ),
    ]
    if quick:
        keep = {
            "base 100 Hz",
            "25 Hz",
            "500 Hz sacrum",
            "rotated 100 Hz",
            "asymmetric",
            "sharp turns",
            "standing 60 s",
            "stops: tie shoe, fidget",
        }
        return [s for s in full if s.name in keep]
    return full


def synthetic_available() -> str | None:
    try:
        importlib.import_module("strideguard.sensors.synthetic")
    except Exception as exc:  # any failure: report, do not crash
        return f"sensors.synthetic not importable: {type(exc).__name__}: {exc}"
    return None


def generate(sc: Scenario) -> Recording:
    """The scenario's recording, with the true contacts as its step reference and the run as truth."""
    from strideguard.sensors.synthetic import (
        IDENTITY,
        NoiseBurst,
        Pause,
        SyntheticConfig,
        SyntheticRunner,
        Turn,
        WalkBreak,
        random_rotation,
    )
    from strideguard.sensors.types import Placement

    cfg = {**FORCE_CONSISTENT, **sc.config}
    if "noise_bursts" in cfg:
        cfg["noise_bursts"] = tuple(NoiseBurst(at_s=sc.standing_s + a, duration_s=d) for a, d in cfg["noise_bursts"])
    if "walk_breaks" in cfg:
        cfg["walk_breaks"] = tuple(WalkBreak(at_s=sc.standing_s + a, duration_s=d) for a, d in cfg["walk_breaks"])
    if "pauses" in cfg:
        cfg["pauses"] = tuple(
            Pause(at_s=sc.standing_s + a, duration_s=d, activity=what) for a, d, what in cfg["pauses"]
        )
    if "turns" in cfg:
        cfg["turns"] = tuple(
            Turn(at_s=sc.standing_s + a, duration_s=d, angle_deg=angle, speed_mps=v) for a, d, angle, v in cfg["turns"]
        )
    rotation = IDENTITY if sc.rotation_seed is None else random_rotation(sc.rotation_seed)
    config = SyntheticConfig(mount_rotation=rotation, standing_s=sc.standing_s, **cfg)
    run = SyntheticRunner(config).generate(
        sc.standing_s + RUN_S, sc.rate_hz, seed=sc.seed, placement=Placement(sc.placement)
    )
    t_s = (run.acc.t_ns - run.start_t_ns) / NS_PER_S
    contacts_s = (run.step_arrays.t_ns - run.start_t_ns) / NS_PER_S
    contacts_s = contacts_s[contacts_s < t_s[-1] - END_MARGIN_S]  # no method can see these
    running_t0s = [
        (w.t_start_ns - run.start_t_ns) / NS_PER_S
        for w in run.truth_windows(10.0)
        if w.running and not w.disturbed and w.n_steps > 2
    ]
    ref = StepReference.from_steps(contacts_s, rate_hz=500.0, duration_s=float(t_s[-1]), window_t0s_s=running_t0s)
    aligned = sc.rotation_seed is None
    return Recording(
        name=f"syn:{sc.name}",
        dataset="synthetic",
        placement=sc.placement,
        rate_hz=sc.rate_hz,
        t_s=t_s,
        acc_g=np.asarray(run.acc.values, dtype=float),
        gyro_dps=np.asarray(run.gyro.values, dtype=float),
        vertical_axis=2 if aligned else None,
        ap_axis=0 if aligned else None,
        step_ref=ref,
        truth=run,
        info={
            "standing_s": sc.standing_s,
            "pauses_s": [(p.at_s, p.at_s + p.duration_s) for p in config.pauses],
        },
    )


def truth_scores(rec: Recording, ours: OurResult) -> dict:
    """Every metric against the synthetic truth, plus false steps while standing."""
    run = rec.require_truth()
    sa = run.step_arrays
    contacts_s = (sa.t_ns - run.start_t_ns) / NS_PER_S  # all of them: per-step values index into sa
    order = np.argsort(ours.step_times_s)
    cand = ours.step_times_s[order]
    lag_s, pairs = match_pairs_with_lag(cand, contacts_s, tolerance_s(500.0))
    out: dict = {"step_lag_ms": round(lag_s * 1000, 1)}
    truth_per_step = {
        "impact_g": sa.impact_g,
        "contact_time_ms": sa.contact_time_ms,
        "braking_g": np.array([s.braking_g for s in run.steps]),
        "vertical_oscillation_cm": sa.vertical_oscillation_cm,
    }
    ours_per_step = {
        "impact_g": ours.impact_g,
        "contact_time_ms": ours.contact_time_ms,
        "braking_g": ours.braking_g,
        "vertical_oscillation_cm": ours.vertical_oscillation_cm,
    }
    for m in STEP_METRICS:
        est = [ours_per_step[m][order[i]] for i, _ in pairs]
        ref = [truth_per_step[m][j] for _, j in pairs]
        out[f"step_{m}"] = paired_stats(est, ref)
    sided = [(ours.side[order[i]], bool(sa.is_left[j])) for i, j in pairs if ours.side[order[i]] in ("left", "right")]
    out["side_accuracy"] = float(np.mean([(s == "left") == is_left for s, is_left in sided])) if sided else None
    out["side_known"] = len(sided) / len(pairs) if pairs else None
    ic_err = [
        (ours.contact_times_s[order[i]] - contacts_s[j]) * 1000.0
        for i, j in pairs
        if math.isfinite(ours.contact_times_s[order[i]])
    ]
    out["initial_contact_err_ms_median"] = float(np.median(ic_err)) if ic_err else None
    # windows: the truth over exactly our window span, running and undisturbed windows only
    per_metric: dict[str, list[tuple[float, float]]] = {m: [] for m in WINDOW_METRICS}
    window_truths = [
        (w, run.truth_window(run.start_t_ns + (w.t_start_ns - EPOCH_NS), run.start_t_ns + (w.t_end_ns - EPOCH_NS)))
        for w in ours.windows
    ]
    for w, truth in window_truths:
        if not truth.running or truth.disturbed:
            continue
        for m in WINDOW_METRICS:
            w_est, w_ref = getattr(w, m, None), getattr(truth, m, None)
            if w_est is not None and w_ref is not None:
                per_metric[m].append((float(w_est), float(w_ref)))
    for m, pairs_m in per_metric.items():
        a = np.asarray(pairs_m, dtype=float).reshape(-1, 2)
        out[f"window_{m}"] = paired_stats(a[:, 0], a[:, 1]) if len(a) else {"n": 0}
    if run.turn_spans_ns:
        out["turns"] = turn_scores(rec, ours, order, pairs, window_truths)
    standing_s = rec.info.get("standing_s", 0.0)
    scored = [(STANDING_MARGIN_S, standing_s - STANDING_MARGIN_S)]
    # a pause: after the landing that ends the bout before it (its event lies in the first second)
    scored += [(a + PAUSE_LANDING_S, b) for a, b in rec.info.get("pauses_s", [])]
    scored = [(a, b) for a, b in scored if b - a >= 5.0]
    if sum(b - a for a, b in scored) >= 5.0:
        n_false = sum(int(np.sum((cand >= a) & (cand < b))) for a, b in scored)
        out["standing"] = {"standing_scored_s": sum(b - a for a, b in scored), "false_steps": n_false}
    out.update(walking_scores(run, ours))
    return out


def walking_scores(run: SyntheticRun, ours: OurResult) -> dict:
    """Windows whose true steps are all walking steps (at least 4): our cadence against the truth over
    the same span; and the gait of every window with 4 or more true steps of one gait, as the analytics
    report it (`running`; walking = a cadence but not running) against the truth's."""
    sa = run.step_arrays
    errors, agree = [], []
    for w in ours.windows:
        t0 = run.start_t_ns + (w.t_start_ns - EPOCH_NS)
        t1 = run.start_t_ns + (w.t_end_ns - EPOCH_NS)
        lo, hi = np.searchsorted(sa.t_ns, [t0, t1])
        walk = sa.is_walk[lo:hi]
        if hi - lo < 4 or (walk.any() and not walk.all()):
            continue
        agree.append(bool(w.running) == (not walk.all()) and w.cadence_spm is not None)
        truth = run.truth_window(t0, t1)
        if walk.all() and w.cadence_spm is not None and truth.cadence_spm is not None:
            errors.append(w.cadence_spm - truth.cadence_spm)
    out: dict = {"gait_class_agreement": float(np.mean(agree)) if agree else None, "gait_class_windows": len(agree)}
    if errors:
        a = np.abs(errors)
        out["walking_window_cadence_spm"] = {
            "n": len(a),
            "abs_err_median": float(np.median(a)),
            "abs_err_max": float(a.max()),
        }
    return out


def turn_scores(
    rec: Recording,
    ours: OurResult,
    order: np.ndarray,
    pairs: list[tuple[int, int]],
    window_truths: list[tuple[WindowMetrics, WindowTruth]],
) -> dict:
    """The steps whose true contact lies in a turn (its span widened by TURN_MARGIN_S for the bank's
    build-up) and the windows that overlap one: a turn is a few seconds of a 150-s run, so the medians
    over the whole run would hide what it does. `window_truths`: each of our windows with the truth over
    its span (truth time base)."""
    run = rec.require_truth()
    sa = run.step_arrays
    margin_ns = round(TURN_MARGIN_S * NS_PER_S)
    spans = [(a - margin_ns, b + margin_ns) for a, b in run.turn_spans_ns]
    in_turn = np.zeros(sa.t_ns.size, dtype=bool)
    for a, b in spans:
        in_turn |= (sa.t_ns >= a) & (sa.t_ns < b)
    in_turn &= sa.t_ns < run.end_t_ns - round(END_MARGIN_S * NS_PER_S)
    ours_of = {j: int(order[i]) for i, j in pairs}  # true step index -> our step index
    turn_steps = np.flatnonzero(in_turn)
    matched = [j for j in turn_steps.tolist() if j in ours_of]
    sided = [
        (ours.side[ours_of[j]] == "left") == bool(sa.is_left[j])
        for j in matched
        if ours.side[ours_of[j]] in ("left", "right")
    ]
    windows = [
        (w, truth)
        for w, truth in window_truths
        if truth.running and any(a < truth.t_end_ns and b > truth.t_start_ns for a, b in spans)
    ]

    def window_err(name: str) -> dict:
        pairs_w = [
            (getattr(w, name), getattr(t, name))
            for w, t in windows
            if getattr(w, name) is not None and getattr(t, name) is not None
        ]
        return paired_stats(*zip(*pairs_w)) if pairs_w else {"n": 0}

    return {
        "steps": int(turn_steps.size),
        "recall": len(matched) / turn_steps.size if turn_steps.size else None,
        "side_accuracy": float(np.mean(sided)) if sided else None,
        "step_impact_g": paired_stats([ours.impact_g[ours_of[j]] for j in matched], sa.impact_g[matched]),
        "windows": len(windows),
        "window_cadence_spm": window_err("cadence_spm"),
        "window_lean_deg": window_err("lean_deg"),
        "window_sway_ml_ratio": window_err("sway_ml_ratio"),
    }
