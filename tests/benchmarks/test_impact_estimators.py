"""benchmarks/impact_estimators.py: the plate's active peak, and the shipped row equals the harness's."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.validation.references import active_peak_bw

REPO = pathlib.Path(__file__).resolve().parents[2]
RATE_HZ = 500.0


def contact(transient_bw: float | None, active_bw: float) -> np.ndarray:
    """A 220-ms running contact: a half-sine active pulse, plus a 30-ms impact transient at 25 ms."""
    t_s = np.arange(round(0.22 * RATE_HZ)) / RATE_HZ
    force = active_bw * np.sin(np.pi * t_s / 0.22)
    if transient_bw is not None:
        bump = np.clip(np.sin(np.pi * (t_s - 0.01) / 0.03), 0.0, None) * (t_s >= 0.01) * (t_s <= 0.04)
        force = np.maximum(force, transient_bw * bump)
    return force


@pytest.mark.parametrize(("transient_bw", "active_bw"), [(None, 2.2), (1.7, 2.4), (3.0, 2.4)])
def test_active_peak_is_the_maximum_after_the_impact_transient(transient_bw: float | None, active_bw: float) -> None:
    force = contact(transient_bw, active_bw)
    assert force.max() == pytest.approx(max(active_bw, transient_bw or 0.0), abs=0.05)  # sampled at 2 ms
    assert active_peak_bw(force) == pytest.approx(active_bw, abs=0.01)


def test_the_shipped_row_is_the_harness_impact_row(real_data: pathlib.Path) -> None:
    """Same matching and the same shipped analytics: the script's 6-Hz row repeats the harness's numbers."""
    from benchmarks.validation import evaluate
    from benchmarks.validation.datasets import load_alcantara
    from benchmarks.validation.ours import run_ours

    recs = load_alcantara(real_data / "alcantara_sacral_grf")
    plate = evaluate.evaluate_force_plate(recs, {r.name: run_ours(r) for r in recs}, lambda _: None)
    harness = plate["impact_vs_peak_vgrf_bw"]
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.impact_estimators", "--data", str(real_data)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    row = next(line for line in out.splitlines() if "(shipped)" in line).split()
    abs_err, bias, r, n = float(row[5]), float(row[6]), float(row[7]), int(row[-1])
    assert (abs_err, bias, r, n) == (
        round(harness["abs_err_median"], 3),
        round(harness["signed_err_median"], 3),
        round(harness["r"], 2),
        harness["n"],
    )
    assert "spring-mass, plate T and contact" in out


def test_leave_one_trial_out_never_sees_the_trial_it_predicts() -> None:
    """peak = 2 x the 6-Hz peak on every trial but the last, which reads 1 BW higher: the fit for the
    last trial comes from the others only, so it predicts 2 x its 6-Hz peak and misses it by that 1 BW."""
    from types import SimpleNamespace

    from benchmarks.impact_estimators import leave_one_trial_out

    rng = np.random.default_rng(3)
    steps = []
    for trial in range(4):
        for index in range(10):
            lp6 = float(rng.uniform(2.0, 3.0))
            steps.append(
                SimpleNamespace(
                    trial=trial,
                    plate_index=index,
                    peak_vgrf_bw=2 * lp6 + (trial == 3),
                    step=SimpleNamespace(impact_g=lp6, contact_time_ms=None, step_time_s=None),
                )
            )
    fitted = leave_one_trial_out({6.0: steps}, (6.0,), with_times=False)
    assert len(fitted) == len(steps)
    for m in steps:
        if m.trial == 3:
            assert fitted[(3, m.plate_index)] == pytest.approx(2 * m.step.impact_g, abs=1e-9)
        else:
            assert abs(fitted[(m.trial, m.plate_index)] - m.peak_vgrf_bw) > 1e-3  # the odd trial is in their fit
