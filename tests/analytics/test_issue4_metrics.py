"""Vertical oscillation, braking, impact asymmetry, regularity, footpod/heart-rate fusion and turns against
the synthetic runner's truth and simple cases."""

from __future__ import annotations

import numpy as np
import pytest

from strideguard.analytics.footpod import overstriding_ratio, window_speed_and_stride
from strideguard.analytics.regularity import autocorrelation, regularity
from strideguard.analytics.runner import RunnerAnalyzer
from strideguard.sensors.synthetic import NoiseBurst, SyntheticConfig, SyntheticRunner, Turn, random_rotation
from strideguard.sensors.types import NS_PER_S, HeartRateReading, Placement, StrideReading


def analyse(run, readings=()):
    analyzer = RunnerAnalyzer(runner=run.acc.runner)
    for r in readings:
        analyzer.push_reading(r)
    return analyzer.push(run.acc) + analyzer.finish()


def truth_for(run, step):
    truth = np.array([s.impact_t_ns for s in run.steps])
    return run.steps[int(np.argmin(np.abs(truth - step.t_ns)))]


@pytest.mark.parametrize("rate_hz", [25, 100, 500])
def test_vertical_oscillation_and_braking_follow_the_truth(rate_hz: int) -> None:
    cfg = SyntheticConfig(standing_s=5.0, braking_g=0.5, mount_rotation=random_rotation(4))
    run = SyntheticRunner(cfg).generate(50.0, rate_hz, seed=21, placement=Placement.SACRUM)
    out = analyse(run)
    vo = [
        s.vertical_oscillation_cm - truth_for(run, s).vertical_oscillation_cm
        for s in out.steps
        if s.vertical_oscillation_cm is not None
    ]
    braking = [s.braking_g - truth_for(run, s).braking_g for s in out.steps if s.braking_g is not None]
    assert len(vo) >= 0.9 * len(out.steps) and len(braking) >= 0.7 * len(out.steps)
    assert abs(np.median(vo)) <= 0.5
    assert abs(np.median(braking)) <= 0.1
    windows = [w for w in out.windows if w.running]
    assert all(5.0 <= w.vertical_oscillation_cm <= 13.0 for w in windows)


def test_impact_asymmetry_has_the_truth_sign_and_size() -> None:
    cfg = SyntheticConfig(standing_s=5.0, impact_asymmetry_pct=12.0, impact_jitter_pct=1.0)
    run = SyntheticRunner(cfg).generate(60.0, 100, seed=8, placement=Placement.SACRUM)
    out = analyse(run)
    later = [w for w in out.windows if w.t_start_ns >= run.start_t_ns + 15 * NS_PER_S]
    got = np.median([w.impact_asymmetry_pct for w in later])
    want = np.median([run.truth_window(w.t_start_ns, w.t_end_ns).impact_asymmetry_pct for w in later])
    assert abs(got - want) <= 4.0, (got, want)
    assert all(w.contact_time_asymmetry_pct is not None for w in later)


def test_regularity_is_high_for_steady_running_and_drops_with_a_loose_strap() -> None:
    steady = SyntheticRunner(SyntheticConfig(standing_s=0.0)).generate(30.0, 100, seed=1)
    noisy = SyntheticRunner(
        SyntheticConfig(standing_s=0.0, noise_bursts=(NoiseBurst(at_s=10.0, duration_s=10.0, noise_g=0.8),))
    ).generate(30.0, 100, seed=1)
    a = next(w for w in analyse(steady).windows if w.t_start_ns == steady.start_t_ns + 10 * NS_PER_S)
    b = next(w for w in analyse(noisy).windows if w.t_start_ns == noisy.start_t_ns + 10 * NS_PER_S)
    assert a.step_regularity > 0.85 and a.stride_regularity > 0.85
    assert b.step_regularity is None or b.step_regularity < a.step_regularity - 0.2


def test_autocorrelation_of_a_sine() -> None:
    rate = 100.0
    x = np.sin(2 * np.pi * 2.5 * np.arange(1000) / rate)
    assert autocorrelation(x, 40) == pytest.approx(1.0, abs=1e-9)  # one period
    assert autocorrelation(x, 20) == pytest.approx(-1.0, abs=1e-9)  # half a period
    step, stride = regularity(x, step_interval_s=0.4, rate_hz=rate)
    assert step == pytest.approx(1.0, abs=1e-6) and stride == pytest.approx(1.0, abs=1e-6)


def test_footpod_and_heart_rate_fill_the_windows() -> None:
    run = SyntheticRunner(SyntheticConfig(standing_s=0.0, cadence_spm=170.0)).generate(30.0, 50, seed=2)
    t0 = run.start_t_ns
    readings = [
        StrideReading(runner=run.acc.runner, device="pod", t_ns=t0 + k * NS_PER_S, speed_mps=3.4, cadence_spm=170)
        for k in range(30)
    ]
    readings += [
        HeartRateReading(runner=run.acc.runner, device="hrm", t_ns=t0 + k * NS_PER_S, heart_rate_bpm=150)
        for k in range(30)
    ]
    out = analyse(run, readings)
    w = out.windows[1]
    assert w.speed_mps == pytest.approx(3.4)
    assert w.heart_rate_bpm == pytest.approx(150.0)
    assert w.stride_length_m == pytest.approx(3.4 * 120 / w.cadence_spm)


def test_footpod_stride_length_wins_and_overstriding_ratio() -> None:
    r = [StrideReading(runner="a", device="pod", t_ns=1, speed_mps=3.0, cadence_spm=160, stride_length_m=2.4)]
    assert window_speed_and_stride(r, 170.0) == (3.0, 2.4)
    assert window_speed_and_stride([], 170.0) == (None, None)
    assert overstriding_ratio(stride_length_m=2.4, speed_mps=3.0, reference_cadence_spm=160.0) == pytest.approx(
        2.4 / (3.0 * 120 / 160)
    )


def test_overstriding_ratio_rises_when_cadence_drops_at_the_same_footpod_speed() -> None:
    """Same speed, 6 % lower cadence: each stride is 1/0.94 longer than at the early-run cadence."""
    from strideguard.sensors.synthetic import Change

    cfg = SyntheticConfig(
        standing_s=0.0, cadence_spm=170.0, changes=(Change(at_s=150.0, ramp_s=0.0, cadence_pct=-6.0),)
    )
    run = SyntheticRunner(cfg).generate(240.0, 50, seed=5)
    analyzer = RunnerAnalyzer(runner=run.acc.runner)
    out = analyzer.push_reading(
        StrideReading(runner=run.acc.runner, device="pod", t_ns=run.start_t_ns, speed_mps=3.3, cadence_spm=170)
    )
    for batch in run.iter_batches(1.0):
        if batch.kind.value == "acc":
            out = out + analyzer.push_reading(
                StrideReading(
                    runner=run.acc.runner, device="pod", t_ns=int(batch.t_ns[0]), speed_mps=3.3, cadence_spm=170
                )
            )
            out = out + analyzer.push(batch)
    out = out + analyzer.finish()
    ratios = {w.t_start_ns: w.overstriding_ratio for w in out.windows}
    early = [r for t, r in ratios.items() if r is not None and t < run.start_t_ns + 140 * NS_PER_S]
    late = [r for t, r in ratios.items() if r is not None and t >= run.start_t_ns + 160 * NS_PER_S]
    assert early and late
    assert np.median(early) == pytest.approx(1.0, abs=0.01)
    assert np.median(late) == pytest.approx(1 / 0.94, abs=0.015)
    assert all(r is None for t, r in ratios.items() if t < run.start_t_ns + 60 * NS_PER_S)  # reference forming


@pytest.mark.parametrize("rate_hz", [25, 100])
def test_sharp_turns_keep_every_step_its_side_and_the_cadence(rate_hz: int) -> None:
    """Turnarounds and corners at 3 m/s (0.3-0.4 g centripetal, the trunk banking 18-21 degrees within a
    second) on an unknown mounting: the gravity estimate lags the bank, so for a moment the vertical
    reads low and the ML axis carries part of gravity. No step may be lost or invented, no side may
    flip, and the windows over the turns keep their cadence."""
    turns = (
        Turn(at_s=15.0, duration_s=2.5, angle_deg=180.0, speed_mps=3.0),
        Turn(at_s=30.0, duration_s=1.5, angle_deg=-90.0, speed_mps=3.0),
        Turn(at_s=45.0, duration_s=2.5, angle_deg=-180.0, speed_mps=3.0),
    )
    cfg = SyntheticConfig(standing_s=5.0, contact_time_ms=210.0, turns=turns, mount_rotation=random_rotation(13))
    run = SyntheticRunner(cfg).generate(60.0, rate_hz, seed=22)
    out = analyse(run)
    ours_ns = np.array([s.t_ns for s in out.steps])
    lag_ns = int(np.median([ours_ns[np.argmin(np.abs(ours_ns - t))] - t for t in run.step_arrays.t_ns[5:-5]]))
    for a_ns, b_ns in run.turn_spans_ns:
        a_ns, b_ns = a_ns - NS_PER_S, b_ns + NS_PER_S
        truth = [s for s in run.steps if a_ns <= s.t_ns < b_ns]
        ours = [s for s in out.steps if a_ns <= s.t_ns - lag_ns < b_ns]
        assert len(ours) == len(truth) >= 6
        for mine, true in zip(ours, truth):
            assert abs(mine.t_ns - lag_ns - true.t_ns) < 0.05 * NS_PER_S
            assert mine.side.value == true.side
        over = [w for w in out.windows if w.running and w.t_start_ns < b_ns and w.t_end_ns > a_ns]
        assert over
        for w in over:
            assert abs(w.cadence_spm - run.truth_window(w.t_start_ns, w.t_end_ns).cadence_spm) < 1.0
