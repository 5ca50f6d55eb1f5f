"""Nested leave-one-condition-out cross-validation of the impact low-pass cutoff, against the force plate.

    .venv/bin/python -m benchmarks.impact_cutoff_cv [--data DIR]

Not a test: prints tables for docs/validation.md ("Choosing the impact cutoff without the test data").
Issue 19 asks that per-step `impact_g` tracks the plate's peak vGRF between speed x slope conditions.
On the Alcantara trials (one runner, 16 trials, 11 conditions) an 8-Hz low-pass meets the target where
the shipped 6 Hz does not, but 8 Hz was read off those same 11 conditions. This script measures what
choosing the cutoff from data buys on a condition the choice has not seen:

for each of the 11 conditions held out, the cutoff is chosen on the other 10 conditions' means by the
criterion below, and the held-out condition's mean `impact_g` is read at that cutoff. The 11 held-out
predictions are then scored against the plate like the fixed 6 Hz: RMSE, bias, limits of agreement, r,
slope; and as the risk engine uses impact, as percent change from the runner's own baseline condition.

The criterion (`scaled_rmse_bw`) was fixed before any held-out score was computed: the RMSE (BW) of the
training conditions' plate means against their impact means times ONE scale per runner (least squares
through the origin). Why: the risk engine judges impact only against the runner's own baseline (a
ratio), so a constant factor between g and BW costs nothing there, while any departure from
proportionality (scatter between conditions, a compressed or exaggerated change, an offset) shows in a
runner-relative change; the RMSE counts those in the plate's units. It is deliberately not the issue's
scored quantity (slope 1 of raw g on BW): `slope_gap` is that one, printed as a second, secondary choice
so the two can be compared, not picked between after the fact. Ties go to the lower cutoff.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from benchmarks.impact_estimators import MatchedStep, alcantara_from_args, matched_steps
from benchmarks.validation.agreement import agreement, condition_means
from benchmarks.validation.datasets import ALCANTARA_RATE_HZ, Recording
from benchmarks.validation.tables import render
from strideguard.analytics.config import AnalyticsConfig
from strideguard.analytics.filters import NYQUIST_MARGIN

NO_FILTER_HZ = NYQUIST_MARGIN * ALCANTARA_RATE_HZ  # the analytics clamp any cutoff here: effectively unfiltered
CUTOFFS_HZ = (4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 15.0, NO_FILTER_HZ)
BASELINE_CONDITION = "2.5 m/s, 0 deg"  # the runner's own baseline: the slowest speed on the flat

Condition = str
Pair = tuple[float, float]  # (mean impact g, mean plate peak vGRF BW) of one condition
MeansByCutoff = Mapping[float, Mapping[Condition, Pair]]
Criterion = Callable[[list[Pair]], float]


def runner_scale(pairs: list[Pair]) -> float:
    """BW per g: the one factor that best maps impact means onto plate means (least squares through 0)."""
    e = np.array([p[0] for p in pairs])
    r = np.array([p[1] for p in pairs])
    return float(e @ r / (e @ e))


def scaled_rmse_bw(pairs: list[Pair]) -> float:
    """The primary criterion: RMSE (BW) of plate means against scale x impact means, one scale per runner."""
    k = runner_scale(pairs)
    d = np.array([k * e - r for e, r in pairs])
    return float(np.sqrt(np.mean(d * d)))


def raw_slope(pairs: list[Pair]) -> float:
    """Least-squares slope of impact means (g) on plate means (BW): 1 = a plate change shows unchanged."""
    e = np.array([p[0] for p in pairs])
    r = np.array([p[1] for p in pairs])
    return float(np.polyfit(r, e, 1)[0])


def slope_gap(pairs: list[Pair]) -> float:
    """The secondary criterion: |slope - 1| of raw impact means (g) on plate means (BW), the issue's target."""
    return abs(raw_slope(pairs) - 1.0)


CRITERIA: dict[str, Criterion] = {"scaled RMSE (primary)": scaled_rmse_bw, "|slope - 1| (secondary)": slope_gap}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Fold:
    """One held-out condition: the cutoff chosen without it, and its means at that cutoff."""

    held_out: Condition
    chosen_hz: float
    impact_g: float  # held-out mean impact at the chosen cutoff
    plate_bw: float  # held-out mean plate peak
    scale_bw_per_g: float  # runner scale fitted on the training conditions at the chosen cutoff


def shared_conditions(means: MeansByCutoff) -> list[Condition]:
    """Conditions present at every cutoff, sorted (a condition missing at one cutoff cannot be compared)."""
    sets = [set(m) for m in means.values()]
    return sorted(set.intersection(*sets)) if sets else []


def choose_cutoff(means: MeansByCutoff, training: Iterable[Condition], criterion: Criterion) -> float:
    """The cutoff whose training-condition means score lowest by `criterion` (ties: the lower cutoff).
    Reads only the conditions in `training`."""
    conditions = sorted(training)
    scores = {hz: criterion([means[hz][c] for c in conditions]) for hz in means}
    return min(scores, key=lambda hz: (scores[hz], hz))


def nested_loco(means: MeansByCutoff, criterion: Criterion) -> list[Fold]:
    """Leave one condition out: choose the cutoff on the others, read the held-out condition at it."""
    conditions = shared_conditions(means)
    folds = []
    for held_out in conditions:
        training = [c for c in conditions if c != held_out]
        hz = choose_cutoff(means, training, criterion)
        impact_g, plate_bw = means[hz][held_out]
        folds.append(
            Fold(
                held_out=held_out,
                chosen_hz=hz,
                impact_g=impact_g,
                plate_bw=plate_bw,
                scale_bw_per_g=runner_scale([means[hz][c] for c in training]),
            )
        )
    return folds


def fixed_folds(means: MeansByCutoff, cutoff_hz: float) -> list[Fold]:
    """The same folds with the cutoff fixed beforehand (only the scale is fitted on the training side)."""
    return nested_loco({cutoff_hz: means[cutoff_hz]}, scaled_rmse_bw)


def held_out_agreement(folds: list[Fold]) -> dict:
    """`agreement` of the held-out impact means (g) with the plate means (BW), plus the RMSE after the
    scale fitted on each fold's training conditions (what a per-runner calibration would leave)."""
    out = agreement([f.impact_g for f in folds], [f.plate_bw for f in folds])
    d = np.array([f.scale_bw_per_g * f.impact_g - f.plate_bw for f in folds])
    out["scaled_rmse"] = float(np.sqrt(np.mean(d * d))) if d.size else None
    return out


def percent_change(folds: list[Fold], means: MeansByCutoff, baseline: Condition) -> tuple[list[float], list[float]]:
    """(ours, plate) percent change of each held-out condition from `baseline`, ours at the fold's own
    cutoff for both (the risk engine compares a runner with their own baseline through one filter).
    The fold that holds out the baseline itself has no change to compare and is left out."""
    ours, plate = [], []
    for f in folds:
        if f.held_out == baseline:
            continue
        base_g, base_bw = means[f.chosen_hz][baseline]
        ours.append(100.0 * (f.impact_g / base_g - 1.0))
        plate.append(100.0 * (f.plate_bw / base_bw - 1.0))
    return ours, plate


def means_by_cutoff(by_cutoff: Mapping[float, list[MatchedStep]]) -> dict[float, dict[Condition, Pair]]:
    """Per cutoff, per speed x slope condition: (mean impact_g, mean plate peak) over the matched steps,
    the condition keys as the harness's agreement table writes them."""
    out = {}
    for hz, matched in by_cutoff.items():
        keys = [f"{m.rec.info.get('Speed', '?')} m/s, {m.rec.info.get('Slope', '?')} deg" for m in matched]
        impact_g = [math.nan if m.step.impact_g is None else m.step.impact_g for m in matched]
        grouped = condition_means(keys, impact_g, [m.peak_vgrf_bw for m in matched])
        out[hz] = {str(k): (e, r) for k, (_, e, r) in grouped.items()}
    return out


def load_means(recs: list[Recording], cutoffs_hz: Iterable[float]) -> dict[float, dict[Condition, Pair]]:
    shipped = AnalyticsConfig()
    return means_by_cutoff(
        {hz: matched_steps(recs, dataclasses.replace(shipped, impact_lowpass_hz=hz)) for hz in cutoffs_hz}
    )


def hz_label(hz: float) -> str:
    return "none" if hz >= NO_FILTER_HZ else f"{hz:g}"


def agreement_row(name: str, stats: dict, digits: int = 3) -> list[str]:
    return [
        name,
        str(stats["n"]),
        f"{stats['rmse']:.{digits}f}",
        f"{stats['bias']:+.{digits}f}",
        f"{stats['loa_low']:+.{digits}f} .. {stats['loa_high']:+.{digits}f}",
        f"{stats['r']:.2f}" if stats.get("r") is not None else "n/a",
        f"{stats['slope']:.2f}" if stats.get("slope") is not None else "n/a",
    ]


def in_sample(means: MeansByCutoff, shipped_hz: float) -> str:
    """Each cutoff scored on all conditions at once: what choosing on the test data would see."""
    rows = []
    conditions = shared_conditions(means)
    for hz in sorted(means):
        pairs = [means[hz][c] for c in conditions]
        stats = agreement([p[0] for p in pairs], [p[1] for p in pairs])
        dropped = [raw_slope([p for p, c in zip(pairs, conditions) if c != out]) for out in conditions]
        label = " (shipped)" if hz == shipped_hz else ""
        rows.append(
            [
                *agreement_row(("no filter" if hz >= NO_FILTER_HZ else f"{hz:g} Hz") + label, stats),
                f"{scaled_rmse_bw(pairs):.3f}",
                f"{min(dropped):.2f} .. {max(dropped):.2f}",
            ]
        )
    return render(
        "Alcantara: every cutoff on all conditions (IN SAMPLE: the cutoff is not held out)",
        ["cutoff", "n", "RMSE", "bias", "limits of agreement", "r", "slope", "scaled RMSE", "slope, 1 dropped"],
        rows,
        [
            "condition means, impact_g (g) vs peak vGRF (BW); no filter (none) = 225 Hz, the analytics' clamp at 0.45 x"
            " the 500-Hz rate",
            "slope, 1 dropped = range of the slope over the 10 conditions left when each one is dropped in turn",
        ],
    )


def report(means: MeansByCutoff, shipped_hz: float) -> str:
    """The tables: in sample, folds, held-out agreement, percent change from the baseline condition."""
    fixed = fixed_folds(means, shipped_hz)
    nested = {name: nested_loco(means, criterion) for name, criterion in CRITERIA.items()}
    fold_rows = []
    for i, f in enumerate(fixed):
        row = [f.held_out, f"{f.plate_bw:.3f}", f"{f.impact_g:.3f}"]
        for folds in nested.values():
            row += [hz_label(folds[i].chosen_hz), f"{folds[i].impact_g:.3f}"]
        fold_rows.append(row)
    header = ["held-out condition", "plate BW", f"{shipped_hz:g} Hz g"]
    for name in nested:
        header += [f"{name.split(' (')[0]}: Hz", "g"]
    out = (
        in_sample(means, shipped_hz)
        + "\n"
        + render(
            "Alcantara: cutoff chosen on the other 10 conditions, held-out condition mean",
            header,
            fold_rows,
            ["Hz = the cutoff each fold chose on the other 10 conditions; g = held-out mean impact_g at it"],
        )
    )
    leaky_hz = choose_cutoff(means, shared_conditions(means), scaled_rmse_bw)
    compared = {f"fixed {shipped_hz:g} Hz (shipped)": fixed}
    compared |= {f"nested CV, {name}": folds for name, folds in nested.items()}
    compared |= {f"{hz_label(leaky_hz)} Hz chosen on all (IN SAMPLE)": fixed_folds(means, leaky_hz)}
    rows = []
    for name, folds in compared.items():
        stats = held_out_agreement(folds)
        rows.append([*agreement_row(name, stats), f"{stats['scaled_rmse']:.3f}"])
    out += "\n" + render(
        "Alcantara: held-out condition means, impact_g (g) vs peak vGRF (BW)",
        ["cutoff", "n", "RMSE", "bias", "limits of agreement", "r", "slope", "scaled RMSE"],
        rows,
        [
            "target (issue 19): r >= 0.9, slope 0.8-1.2 between conditions; scaled RMSE = after the runner scale"
            " fitted on each fold's 10 training conditions (BW); IN SAMPLE = the primary criterion's choice on all"
            " conditions, so its cutoff saw every held-out condition (only the scale is held out)",
        ],
    )
    rows = [
        agreement_row(name, agreement(*percent_change(f, means, BASELINE_CONDITION)), 1) for name, f in compared.items()
    ]
    out += "\n" + render(
        f"Alcantara: percent change from the baseline condition ({BASELINE_CONDITION}), ours vs plate",
        ["cutoff", "n", "RMSE pp", "bias pp", "limits of agreement pp", "r", "slope"],
        rows,
        ["ours at the fold's cutoff for both the held-out condition and the baseline; the baseline fold is left out"],
    )
    return out


def main(argv: list[str] | None = None) -> int:
    recs = alcantara_from_args(argv, __doc__)
    if recs is None:
        return 2
    means = load_means(recs, CUTOFFS_HZ)
    print(report(means, AnalyticsConfig().impact_lowpass_hz))
    return 0


if __name__ == "__main__":
    sys.exit(main())
