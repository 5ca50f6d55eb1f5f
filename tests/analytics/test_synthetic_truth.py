"""Against the synthetic runner's truth: steps, cadence, impact, sway, lean and sides at 25-500 Hz and
random mounting rotations (issue 2 acceptance: >= 99 % of steps, cadence within 1 spm)."""

from __future__ import annotations

import numpy as np
import pytest

from strideguard.analytics.runner import RunnerAnalyzer
from strideguard.sensors.synthetic import NoiseBurst, SyntheticConfig, SyntheticRunner, WalkBreak, random_rotation
from strideguard.sensors.types import Placement

TOLERANCE_NS = 60_000_000  # a detected step within 60 ms of the truth's impact peak matches


def analyse(run):
    analyzer = RunnerAnalyzer(runner=run.acc.runner)
    return analyzer.push(run.acc) + analyzer.finish(), analyzer


def match(run, out) -> tuple[np.ndarray, np.ndarray]:
    """For each truth step, the index of the matching detected step or -1."""
    truth = np.array([s.impact_t_ns for s in run.steps if s.impact_t_ns < run.end_t_ns])
    det = np.array([s.t_ns for s in out.steps])
    j = np.clip(np.searchsorted(det, truth), 1, len(det) - 1)
    best = np.where(np.abs(det[j - 1] - truth) <= np.abs(det[j] - truth), j - 1, j)
    ok = np.abs(det[best] - truth) <= TOLERANCE_NS
    return np.where(ok, best, -1), det


@pytest.mark.parametrize("rate_hz", [25, 100, 500])
@pytest.mark.parametrize("rotation_seed", [None, 3, 8])
def test_steps_cadence_and_sides_at_any_rate_and_mounting(rate_hz: int, rotation_seed: int | None) -> None:
    rotation = np.eye(3) if rotation_seed is None else random_rotation(rotation_seed)
    cfg = SyntheticConfig(cadence_spm=168.0, mount_rotation=rotation, standing_s=5.0)
    run = SyntheticRunner(cfg).generate(70.0, rate_hz, seed=rate_hz, placement=Placement.SACRUM)
    out, _ = analyse(run)
    matched, det = match(run, out)
    recall = np.mean(matched >= 0)
    precision = len(set(matched[matched >= 0].tolist())) / len(det)
    assert recall >= 0.99 and precision >= 0.99, (recall, precision)
    sides = [(out.steps[m].side.value, s.side) for m, s in zip(matched, run.steps) if m >= 0]
    known = [(a, b) for a, b in sides if a != "unknown"]
    assert len(known) >= 0.8 * len(sides)
    assert np.mean([a == b for a, b in known]) >= 0.95
    checked = 0
    for w in out.windows:
        truth = run.truth_window(w.t_start_ns, w.t_end_ns)
        if not truth.running or truth.cadence_spm is None:
            continue
        checked += 1
        assert w.running
        assert abs(w.cadence_spm - truth.cadence_spm) <= 1.0
        assert abs(w.impact_g - truth.impact_g) <= 0.15 * truth.impact_g
        assert abs(w.sway_ml_ratio - truth.sway_ml_ratio) <= 0.05
        assert abs(w.sway_ap_ratio - truth.sway_ap_ratio) <= 0.05
        if w.t_start_ns >= run.start_t_ns + 10 * 10**9:  # forward is decided after the first 16 steps
            assert w.lean_deg is not None and abs(w.lean_deg - truth.lean_deg) <= 2.0
    assert checked >= 8


def test_no_steps_while_standing_still_for_a_minute() -> None:
    run = SyntheticRunner(SyntheticConfig(standing_s=70.0)).generate(65.0, 100, seed=4)
    out, analyzer = analyse(run)
    assert out.steps == ()
    assert all(w.n_steps == 0 and not w.running and w.cadence_spm is None for w in out.windows)
    assert analyzer.summary["n_steps"] == 0


def test_noise_burst_while_standing_invents_no_steps() -> None:
    cfg = SyntheticConfig(
        standing_s=60.0,
        noise_bursts=(
            NoiseBurst(at_s=10.0, duration_s=3.0, noise_g=0.8),
            NoiseBurst(at_s=30.0, duration_s=5.0, noise_g=0.3),
        ),
    )
    for rate_hz in (25, 100, 500):
        run = SyntheticRunner(cfg).generate(50.0, rate_hz, seed=9)
        out, _ = analyse(run)
        assert len(out.steps) == 0, rate_hz


def test_walking_break_keeps_counting_and_marks_windows_not_running() -> None:
    cfg = SyntheticConfig(standing_s=5.0, walk_breaks=(WalkBreak(at_s=30.0, duration_s=25.0),))
    run = SyntheticRunner(cfg).generate(80.0, 100, seed=6)
    out, _ = analyse(run)
    matched, _ = match(run, out)
    assert np.mean(matched >= 0) >= 0.97
    for w in out.windows:
        truth = run.truth_window(w.t_start_ns, w.t_end_ns)
        if truth.cadence_spm is not None and not truth.running and truth.n_steps >= 8:
            assert not w.running
            assert abs(w.cadence_spm - truth.cadence_spm) <= 2.0


def test_step_time_asymmetry_follows_the_truth() -> None:
    cfg = SyntheticConfig(standing_s=5.0, step_time_asymmetry_pct=8.0, step_time_jitter_pct=0.5)
    run = SyntheticRunner(cfg).generate(60.0, 100, seed=12, placement=Placement.SACRUM)
    out, _ = analyse(run)
    later = [w for w in out.windows if w.running and w.t_start_ns >= run.start_t_ns + 10 * 10**9]
    got = [w.step_time_asymmetry_pct for w in later]  # sides need the forward direction: after 16 steps
    want = [run.truth_window(w.t_start_ns, w.t_end_ns).step_time_asymmetry_pct for w in later]
    assert got and all(g is not None for g in got)
    # Within 30 % of the truth (8 %). The index runs between estimated initial contacts, and this
    # generator carries a longer step's extra impulse in a broader pulse of the same contact time, which
    # moves that contact's 0.4-g crossing earlier: it reads about 10 % here. On the force plate, where
    # real runners do what they do, the same estimate reads 0.69 of the plate's index (test below).
    assert abs(np.median(got) - np.median(want)) <= 0.3 * abs(np.median(want)), (np.median(got), np.median(want))
