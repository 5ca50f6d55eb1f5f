"""benchmarks/impact_cutoff_cv.py: the cutoff of each fold is chosen without the condition it predicts."""

from __future__ import annotations

import pathlib

import pytest

from benchmarks.impact_cutoff_cv import (
    Pair,
    choose_cutoff,
    fixed_folds,
    held_out_agreement,
    nested_loco,
    percent_change,
    scaled_rmse_bw,
    slope_gap,
)

PLATE_BW = {"a": 2.0, "b": 2.2, "c": 2.4, "d": 2.6, "e": 2.8}
ODD = "c"  # the condition where the "6 Hz" is far off


def synthetic_means(scale_g_per_bw: float = 1.0) -> dict[float, dict[str, Pair]]:
    """Two cutoffs. '6 Hz' is exactly proportional to the plate on every condition but `ODD`, which reads
    1 BW high; '8 Hz' is a little off (+-0.05 BW) everywhere. Choosing on all five conditions prefers
    8 Hz (6 Hz's one big miss dominates); choosing without `ODD` prefers 6 Hz (perfect on the others)."""
    six = {c: (scale_g_per_bw * (bw + (1.0 if c == ODD else 0.0)), bw) for c, bw in PLATE_BW.items()}
    eight = {c: (scale_g_per_bw * (bw + 0.05 * (-1) ** i), bw) for i, (c, bw) in enumerate(PLATE_BW.items())}
    return {6.0: six, 8.0: eight}


@pytest.mark.parametrize("scale_g_per_bw", [1.0, 0.6])
def test_each_fold_chooses_without_its_held_out_condition(scale_g_per_bw: float) -> None:
    """The fold holding out `ODD` chooses 6 Hz and so misses `ODD` by 1 BW: a choice that saw `ODD`
    would have picked 8 Hz. Every other fold sees `ODD` in its training side and picks 8 Hz. The same
    with impact in a different unit per runner (scale 0.6): the primary criterion is scale-free."""
    means = synthetic_means(scale_g_per_bw)
    assert choose_cutoff(means, PLATE_BW, scaled_rmse_bw) == 8.0  # in sample: the leaky answer
    folds = {f.held_out: f for f in nested_loco(means, scaled_rmse_bw)}
    assert sorted(folds) == sorted(PLATE_BW)
    for condition, fold in folds.items():
        assert fold.chosen_hz == (6.0 if condition == ODD else 8.0), condition
        assert fold.impact_g == means[fold.chosen_hz][condition][0]
        assert fold.plate_bw == PLATE_BW[condition]
    assert folds[ODD].impact_g == pytest.approx(scale_g_per_bw * (PLATE_BW[ODD] + 1.0))
    assert folds[ODD].scale_bw_per_g == pytest.approx(1.0 / scale_g_per_bw)  # fitted on the 4 exact ones
    scaled_miss_bw = folds[ODD].scale_bw_per_g * folds[ODD].impact_g - PLATE_BW[ODD]
    assert scaled_miss_bw == pytest.approx(1.0)


def test_ties_go_to_the_lower_cutoff_and_the_fixed_cutoff_is_never_chosen() -> None:
    means = {8.0: synthetic_means()[6.0], 6.0: synthetic_means()[6.0]}
    assert choose_cutoff(means, ["a", "b"], scaled_rmse_bw) == 6.0
    assert {f.chosen_hz for f in fixed_folds(synthetic_means(), 8.0)} == {8.0}


def test_slope_gap_is_the_distance_of_the_raw_slope_from_one() -> None:
    pairs = [(0.5 * bw + 1.0, bw) for bw in PLATE_BW.values()]
    assert slope_gap(pairs) == pytest.approx(0.5)
    assert scaled_rmse_bw([(0.5 * bw, bw) for bw in PLATE_BW.values()]) == pytest.approx(0.0, abs=1e-12)


def test_held_out_agreement_and_percent_change_from_the_baseline() -> None:
    """Proportional impact (0.5 g per BW) at one cutoff: the raw bias is the unit gap, but the scaled
    RMSE and the percent change from the baseline condition agree exactly with the plate."""
    means = {6.0: {c: (0.5 * bw, bw) for c, bw in PLATE_BW.items()}}
    folds = fixed_folds(means, 6.0)
    stats = held_out_agreement(folds)
    assert stats["n"] == len(PLATE_BW)
    assert stats["bias"] == pytest.approx(-0.5 * sum(PLATE_BW.values()) / len(PLATE_BW))
    assert stats["scaled_rmse"] == pytest.approx(0.0, abs=1e-12)
    assert stats["slope"] == pytest.approx(0.5)
    ours, plate = percent_change(folds, means, "a")
    assert len(ours) == len(PLATE_BW) - 1  # the baseline's own fold has no change
    assert ours == pytest.approx(plate)
    assert plate == pytest.approx([100.0 * (PLATE_BW[c] / PLATE_BW["a"] - 1.0) for c in "bcde"])


def test_the_fixed_shipped_cutoff_is_the_harness_condition_row(real_data: pathlib.Path) -> None:
    """Same steps, same condition keys: the 6-Hz condition means give the harness's between-condition
    agreement of impact_g with the peak vGRF (docs/validation.md, r 0.84 slope 0.38)."""
    from benchmarks.impact_cutoff_cv import load_means
    from benchmarks.validation import evaluate
    from benchmarks.validation.datasets import load_alcantara
    from benchmarks.validation.ours import run_ours

    recs = load_alcantara(real_data / "alcantara_sacral_grf")
    plate = evaluate.evaluate_force_plate(recs, {r.name: run_ours(r) for r in recs}, lambda _: None)
    harness = plate["agreement"]["impact_g vs peak vGRF (BW)"]["conditions"]
    means = load_means(recs, (6.0,))
    ours = held_out_agreement(fixed_folds(means, 6.0))
    assert ours["n"] == harness["n"] == 11
    for key in ("rmse", "bias", "loa_low", "loa_high", "r", "slope"):
        assert ours[key] == pytest.approx(harness[key], abs=1e-9), key
