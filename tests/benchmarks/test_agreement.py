"""Agreement statistics (RMSE, bias, Bland-Altman limits, r, slope; per step and between condition
means) and their use on the force-plate trials (issue 19)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.validation import evaluate
from benchmarks.validation.agreement import agreement, condition_means, per_step_and_between_conditions
from benchmarks.validation.datasets import discover
from benchmarks.validation.ours import run_ours
from tests.benchmarks.test_harness import StandInAnalyzer


def test_bland_altman_limits_rmse_and_slope_by_hand() -> None:
    reference = np.array([2.0, 2.2, 2.4, 2.6])
    differences = np.array([0.1, -0.1, 0.3, -0.1])  # mean 0.05, SD (ddof 1) 0.1915
    a = agreement(reference + differences, reference)
    sd = float(np.std(differences, ddof=1))
    assert a["n"] == 4
    assert a["bias"] == pytest.approx(0.05)
    assert a["sd"] == pytest.approx(sd)
    assert (a["loa_low"], a["loa_high"]) == pytest.approx((0.05 - 1.96 * sd, 0.05 + 1.96 * sd))
    assert a["rmse"] == pytest.approx(math.sqrt(np.mean(differences**2)))
    compressed = agreement(1.0 + 0.5 * reference, reference)  # half the change shows
    assert compressed["slope"] == pytest.approx(0.5) and compressed["r"] == pytest.approx(1.0)


def test_nothing_finite_to_compare_is_n_zero_and_no_spread_has_no_r() -> None:
    assert agreement([math.nan], [1.0]) == {"n": 0}
    flat = agreement([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])
    assert flat["r"] is None and flat["slope"] is None and flat["n"] == 3


def test_condition_means_weigh_each_condition_once() -> None:
    """Ten steps of one condition and one of another: between conditions each is one point."""
    keys = ["slow"] * 10 + ["fast"] + ["fast"]
    est = [2.0] * 10 + [3.0, math.nan]
    ref = [2.1] * 10 + [3.2, 3.3]
    means = condition_means(keys, est, ref)
    assert means == {"slow": (10, 2.0, pytest.approx(2.1)), "fast": (1, 3.0, 3.2)}
    both = per_step_and_between_conditions(keys, est, ref)
    assert both["n_conditions"] == 2 and both["conditions"]["n"] == 2 and both["steps"]["n"] == 11
    assert both["conditions"]["bias"] == pytest.approx(((2.0 - 2.1) + (3.0 - 3.2)) / 2)


def test_force_plate_agreement_groups_trials_by_speed_and_slope(real_data) -> None:
    """A stand-in that reports the plate's own active peak as its 'active' estimate and 2 BW impact:
    the active-peak agreement is exact, the impact's bias is 2 minus the mean peak, and the 16 trials
    fall into their 11 speed x slope conditions."""
    found, missing = discover(real_data)
    assert "alcantara" in found, missing
    recs = found["alcantara"]
    ours, active = {}, {}
    for rec in recs:
        contacts = np.array([s.contact_s for s in rec.force_plate])
        ours[rec.name] = run_ours(rec, analyzer_factory=lambda r, c=contacts: StandInAnalyzer(c + 0.03, impact_g=2.0))
        per_step = [s.active_peak_bw for s in rec.force_plate]
        active[rec.name] = run_ours(
            rec, analyzer_factory=lambda r, c=contacts, p=per_step: StandInAnalyzer(c + 0.03, impact_g=p)
        )
    plate = evaluate.evaluate_force_plate(recs, ours, lambda msg: None, ours_active=active)
    agree = plate["agreement"]
    exact = agree["4-Hz peak vs active peak (BW)"]
    assert exact["steps"]["rmse"] == pytest.approx(0.0, abs=1e-6) and exact["n_conditions"] == 11
    impact = agree["impact_g vs peak vGRF (BW)"]
    peaks = [s.peak_vgrf_bw for rec in recs for s in rec.force_plate]
    assert impact["steps"]["n"] == len(peaks)
    assert impact["steps"]["bias"] == pytest.approx(2.0 - np.mean(peaks))
    assert "3.33 m/s, -5 deg" in impact["per_condition"]
    assert impact["per_condition"]["3.33 m/s, -5 deg"]["n"] > impact["per_condition"]["2.5 m/s, 0 deg"]["n"]
