"""Per-step estimators of peak vertical ground reaction force at the sacrum, against the force plate.

    .venv/bin/python -m benchmarks.impact_estimators [--data DIR]

Not a test: prints one table, so the choice of `StepEvent.impact_g` (docs/validation.md, "Impact at
the sacrum") can be re-checked. Our steps on the 16 Alcantara trials are matched to plate contacts as
in the harness (lag removed, +-50 ms); each candidate is compared with the plate's peak vGRF (BW).
No candidate has a coefficient fitted to the steps it is scored on:

* low-pass peak X Hz   the analytics' `impact_g` with `impact_lowpass_hz = X` (6 Hz is the shipped one):
                       the sacrum moves with the centre of mass, so acc in g incl. gravity ~ vGRF in BW,
                       plus a soft-tissue transient at initial contact that a lower cutoff removes;
* spring-mass          pi/2 x T_step / t_contact (Morin et al. 2005, J Appl Biomech 21:167): the mean
                       vGRF over a step is 1 BW, a half-sine pulse peaks at pi/2 x its mean; with our
                       step time and contact time, and with the plate's (the model's own ceiling);
* pi/2 x mean acc      pi/2 x the mean vertical acceleration over our detected contact span;
* fit on other trials  what calibrating on this runner could buy: a linear fit of the peak on low-pass
                       peaks (and our step and contact time) made on the other 15 trials and applied to
                       the held-out one (leave one trial out).

Besides median |error|, bias and Pearson r over all steps it prints r within trials (each trial's mean
removed) and between trials (trial means), because this runner's peaks vary mostly between speeds and
slopes, the range of per-trial median errors, and r with the plate's ACTIVE peak (the maximum after a
rearfoot strike's impact transient, which is the contact's maximum in about a quarter of the steps): a
sacral estimate that tracked only the centre of mass's spring-mass bounce would follow the active peak.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import pathlib
import sys
from collections.abc import Callable

import numpy as np

from benchmarks.validation import bundled_data
from benchmarks.validation.datasets import ALCANTARA_FOLDER, Recording, load_alcantara
from benchmarks.validation.ours import EPOCH_NS, batches
from benchmarks.validation.scoring import match_pairs_with_lag, paired_stats, tolerance_s
from benchmarks.validation.tables import render
from strideguard.analytics.config import AnalyticsConfig
from strideguard.analytics.results import StepEvent
from strideguard.analytics.runner import RunnerAnalyzer
from strideguard.sensors.types import NS_PER_S

LOWPASS_CUTOFFS_HZ = (4.0, 6.0, 8.0, 10.0, 15.0)
HALF_SINE_PEAK_PER_MEAN = math.pi / 2  # peak / mean of a half-sine pulse


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MatchedStep:
    """One of our steps matched to a plate contact, with the plate's neighbours for the oracle."""

    trial: int
    plate_index: int  # the contact's index among the trial's plate contacts
    step: StepEvent
    peak_vgrf_bw: float
    plate_contact_time_s: float
    plate_step_time_s: float | None  # from the previous plate contact
    active_peak_bw: float
    rec: Recording


def analyse(rec: Recording, config: AnalyticsConfig) -> list[StepEvent]:
    analyzer = RunnerAnalyzer(runner="validate", config=config)
    steps: list[StepEvent] = []
    for batch in batches(rec, runner="validate", chunk_s=1.0):
        steps.extend(analyzer.push(batch).steps)
    steps.extend(analyzer.finish().steps)
    return sorted(steps, key=lambda s: s.t_ns)


def matched_steps(recs: list[Recording], config: AnalyticsConfig) -> list[MatchedStep]:
    out = []
    for trial, rec in enumerate(recs):
        steps = analyse(rec, config)
        plate = rec.force_plate or []
        step_s = np.array([(s.t_ns - EPOCH_NS) / NS_PER_S for s in steps])
        _, pairs = match_pairs_with_lag(step_s, np.array([p.contact_s for p in plate]), tolerance_s(rec.rate_hz))
        for i, j in pairs:
            previous = plate[j - 1].contact_s if j > 0 else None
            out.append(
                MatchedStep(
                    trial=trial,
                    plate_index=j,
                    step=steps[i],
                    peak_vgrf_bw=plate[j].peak_vgrf_bw,
                    plate_contact_time_s=plate[j].contact_time_ms / 1000.0,
                    plate_step_time_s=None if previous is None else plate[j].contact_s - previous,
                    active_peak_bw=plate[j].active_peak_bw,
                    rec=rec,
                )
            )
    return out


def spring_mass_ours(m: MatchedStep) -> float | None:
    s = m.step
    if s.step_time_s is None or s.contact_time_ms is None:
        return None
    return HALF_SINE_PEAK_PER_MEAN * s.step_time_s / (s.contact_time_ms / 1000.0)


def spring_mass_plate(m: MatchedStep) -> float | None:
    if m.plate_step_time_s is None:
        return None
    return HALF_SINE_PEAK_PER_MEAN * m.plate_step_time_s / m.plate_contact_time_s


def mean_over_contact(m: MatchedStep) -> float | None:
    s = m.step
    if s.contact_t_ns is None or s.contact_time_ms is None:
        return None
    start_s = (s.contact_t_ns - EPOCH_NS) / NS_PER_S
    inside = (m.rec.t_s >= start_s) & (m.rec.t_s < start_s + s.contact_time_ms / 1000.0)
    vertical = m.rec.acc_g[inside, m.rec.vertical_axis]
    return HALF_SINE_PEAK_PER_MEAN * float(vertical.mean()) if vertical.size else None


def fitted_estimate(fitted: dict[tuple[int, int], float]) -> Callable[[MatchedStep], float | None]:
    """A `row` estimator reading the held-out fit of each matched step (None where there is none)."""
    return lambda m: fitted.get((m.trial, m.plate_index))


def leave_one_trial_out(
    by_cutoff: dict[float, list[MatchedStep]], cutoffs_hz: tuple[float, ...], with_times: bool
) -> dict[tuple[int, int], float]:
    """Peak vGRF per plate contact from a linear fit of the low-pass peaks at `cutoffs_hz` (plus our
    contact and step time), the fit made on the other 15 trials: what a model calibrated on this runner
    could do for a trial it has not seen. Keyed by (trial, plate index)."""
    shipped = {(m.trial, m.plate_index): m for m in by_cutoff[AnalyticsConfig().impact_lowpass_hz]}
    peaks = {hz: {(m.trial, m.plate_index): m.step.impact_g for m in by_cutoff[hz]} for hz in cutoffs_hz}
    keys, features, target = [], [], []
    for key, m in shipped.items():
        row = [peaks[hz].get(key) for hz in cutoffs_hz]
        if with_times:
            row += [None if m.step.contact_time_ms is None else m.step.contact_time_ms / 1000.0, m.step.step_time_s]
        if all(v is not None for v in row):
            keys.append(key)
            features.append([*row, 1.0])
            target.append(m.peak_vgrf_bw)
    x, y = np.array(features), np.array(target)
    trials = np.array([k[0] for k in keys])
    predicted = np.empty_like(y)
    for t in np.unique(trials):
        coef, *_ = np.linalg.lstsq(x[trials != t], y[trials != t], rcond=None)
        predicted[trials == t] = x[trials == t] @ coef
    return dict(zip(keys, predicted.tolist()))


def row(name: str, matched: list[MatchedStep], estimate: Callable[[MatchedStep], float | None]) -> list[str]:
    values = [estimate(m) for m in matched]
    est = np.array([np.nan if v is None else v for v in values], dtype=float)
    ref = np.array([m.peak_vgrf_bw for m in matched])
    active = np.array([m.active_peak_bw for m in matched])
    trial = np.array([m.trial for m in matched])
    ok = np.isfinite(est)
    est, ref, active, trial = est[ok], ref[ok], active[ok], trial[ok]
    stats = paired_stats(est, ref)
    trials = np.unique(trial)
    within_e, within_r = est.copy(), ref.copy()
    for t in trials:
        within_e[trial == t] -= est[trial == t].mean()
        within_r[trial == t] -= ref[trial == t].mean()
    mean_e = np.array([est[trial == t].mean() for t in trials])
    mean_r = np.array([ref[trial == t].mean() for t in trials])
    bias = np.array([np.median(est[trial == t] - ref[trial == t]) for t in trials])
    return [
        name,
        f"{stats['abs_err_median']:.3f}",
        f"{stats['signed_err_median']:+.3f}",
        f"{stats['r']:.2f}",
        f"{np.corrcoef(within_e, within_r)[0, 1]:.2f}",
        f"{np.corrcoef(mean_e, mean_r)[0, 1]:.2f}",
        f"{bias.min():+.2f}..{bias.max():+.2f}",
        f"{np.corrcoef(est, active)[0, 1]:.2f}",
        str(stats["n"]),
    ]


def alcantara_from_args(argv: list[str] | None, description: str | None) -> list[Recording] | None:
    """The Alcantara recordings a benchmark's `--data` names (default: the repository's data/), or None
    after a one-line error when the folder is not there."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data",
        type=pathlib.Path,
        default=None,
        help="folder holding alcantara_sacral_grf/ (default: the repository's data/, unpacked to .cache/data)",
    )
    args = parser.parse_args(argv)
    folder = (args.data if args.data is not None else bundled_data.unpack()) / ALCANTARA_FOLDER
    if not folder.is_dir():
        print(f"error: {folder} not found; pass --data with the folder that holds {ALCANTARA_FOLDER}/", file=sys.stderr)
        return None
    return load_alcantara(folder)


def main(argv: list[str] | None = None) -> int:
    recs = alcantara_from_args(argv, __doc__)
    if recs is None:
        return 2
    shipped = AnalyticsConfig()
    by_cutoff = {
        hz: matched_steps(recs, dataclasses.replace(shipped, impact_lowpass_hz=hz)) for hz in LOWPASS_CUTOFFS_HZ
    }
    rows = []
    for cutoff_hz, matched in by_cutoff.items():
        label = " (shipped)" if cutoff_hz == shipped.impact_lowpass_hz else ""
        rows.append(row(f"low-pass peak {cutoff_hz:g} Hz{label}", matched, lambda m: m.step.impact_g))
    matched = by_cutoff[shipped.impact_lowpass_hz]
    rows.append(row("spring-mass, our T and contact", matched, spring_mass_ours))
    rows.append(row("spring-mass, plate T and contact", matched, spring_mass_plate))
    rows.append(row("pi/2 x mean acc over our contact", matched, mean_over_contact))
    for cutoffs_hz, with_times in (
        ((6.0,), False),
        ((8.0,), False),
        ((6.0, 10.0), False),
        ((6.0, 10.0), True),
        (LOWPASS_CUTOFFS_HZ, True),
    ):
        fitted = leave_one_trial_out(by_cutoff, cutoffs_hz, with_times)
        name = "+".join(f"{hz:g}" for hz in cutoffs_hz) + (" Hz, T, Tc" if with_times else " Hz")
        rows.append(row(f"fit on other trials: {name}", matched, fitted_estimate(fitted)))
    print(
        render(
            "Alcantara sacrum: per-step estimators of peak vGRF (BW), matched steps",
            ["estimator", "|err| med", "bias", "r", "r within", "r between", "trial bias", "r active", "n"],
            rows,
            [
                "r within = after removing each trial's mean; r between = of the 16 trial means; trial bias ="
                " range of per-trial median errors; r active = r with the plate's active peak (after the impact"
                " transient); target: |err| <= 0.15 BW and r >= 0.9 against the peak",
                "fit on other trials = linear least squares of the peak vGRF on those low-pass peaks (and our step"
                " and contact time) over the other 15 trials, applied to the held-out one (leave one trial out)",
            ],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
