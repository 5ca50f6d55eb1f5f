"""The synthetic runner's truth is self-consistent: what the signal shows is what the truth says."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy.signal import find_peaks

from strideguard.sensors.synthetic import (
    FATIGUE_ONSET_S,
    Change,
    NoiseBurst,
    SyntheticConfig,
    SyntheticConfigError,
    SyntheticRunner,
    Turn,
    WalkBreak,
    fatigue_run,
    random_rotation,
    rotation_from_euler_deg,
)
from strideguard.sensors.types import NS_PER_S, Placement, SampleKind

QUIET = {"noise_g": 0.0, "gyro_noise_dps": 0.0}


def generate(duration_s: float = 60.0, rate_hz: float = 100.0, seed: int = 7, **config: object):
    return SyntheticRunner(SyntheticConfig(**config)).generate(duration_s, rate_hz, seed=seed)


def seconds(run, t_ns: int) -> float:
    return (t_ns - run.start_t_ns) / NS_PER_S


def test_same_seed_same_run_and_other_seed_differs() -> None:
    a, b, c = generate(seed=3), generate(seed=3), generate(seed=4)
    assert a.acc == b.acc and a.gyro == b.gyro and a.steps == b.steps
    assert a.acc != c.acc and a.steps != c.steps


@pytest.mark.parametrize("rate_hz", [25.0, 52.0, 100.0, 500.0])
def test_any_rate_gives_batches_at_that_rate_and_the_same_steps(rate_hz: float) -> None:
    run = generate(30.0, rate_hz, seed=11)
    reference = generate(30.0, 100.0, seed=11)
    assert run.acc.kind is SampleKind.ACC and run.gyro.kind is SampleKind.GYRO
    assert run.acc.rate_hz == rate_hz and len(run.acc) == int(30.0 * rate_hz) == len(run.gyro)
    assert np.array_equal(run.acc.t_ns, run.gyro.t_ns)
    assert np.allclose(np.diff(run.acc.t_ns), NS_PER_S / rate_hz, atol=1)
    assert run.steps == reference.steps  # step truth does not depend on the sampling rate


@pytest.mark.parametrize("rate_hz", [25.0, 100.0, 500.0])
@pytest.mark.parametrize("rotation_seed", [None, 1, 2])
def test_peaks_of_the_noise_free_signal_are_the_truth_steps(rate_hz: float, rotation_seed: int | None) -> None:
    """One impact peak per step: peaks of |acc| (any mounting) land on the truth impact times."""
    mount = random_rotation(rotation_seed) if rotation_seed is not None else rotation_from_euler_deg()
    run = generate(60.0, rate_hz, seed=5, mount_rotation=mount, **QUIET)
    norm = np.linalg.norm(run.acc.values, axis=1)
    peaks, _ = find_peaks(norm, height=1.6, distance=max(1, int(0.2 * rate_hz)))
    limit_ns = run.end_t_ns - NS_PER_S // 2  # a peak in the last samples may be cut off
    peaks = peaks[run.acc.t_ns[peaks] < limit_ns]
    peak_ns = run.acc.t_ns[peaks]
    inside = [s for s in run.steps if s.impact_t_ns < limit_ns]
    assert len(peak_ns) == len(inside) > 130  # 50 s of running at 170 spm
    sample_ns = NS_PER_S / rate_hz
    assert np.all(np.abs(peak_ns - [s.impact_t_ns for s in inside]) <= sample_ns)
    if rate_hz >= 100:  # the sampled peak is the truth impact, within the loss of sampling
        assert np.allclose(norm[peaks], [s.impact_g for s in inside], rtol=0.05)


def test_cadence_and_step_truth_match_the_config() -> None:
    run = generate(120.0, 100.0, cadence_spm=165.0, contact_time_ms=240.0, impact_g=3.0, standing_s=10.0)
    assert seconds(run, run.steps[0].t_ns) == pytest.approx(10.0)
    step_times = np.array([s.step_time_s for s in run.steps[1:]])
    assert 60.0 / step_times.mean() == pytest.approx(165.0, abs=0.5)
    assert 0.005 < step_times.std() / step_times.mean() < 0.025  # step-to-step jitter of about 1.5 %
    for window in run.truth_windows(10.0)[2:]:
        assert window.running and window.cadence_spm == pytest.approx(165.0, abs=1.0)
        assert window.contact_time_ms == pytest.approx(240.0)
        assert window.impact_g == pytest.approx(3.0, rel=0.03)
    assert [s.side for s in run.steps[:4]] == ["right", "left", "right", "left"]
    assert all(s.toe_off_t_ns - s.t_ns == pytest.approx(240e6, abs=1) for s in run.steps)
    assert all(s.t_ns < s.impact_t_ns < s.toe_off_t_ns for s in run.steps)
    assert all(5.0 < s.vertical_oscillation_cm < 12.0 for s in run.steps)


def test_standing_before_the_run_reads_the_rotated_gravity_vector() -> None:
    mount = random_rotation(42)
    run = generate(20.0, 100.0, mount_rotation=mount, standing_s=10.0, noise_g=0.02)
    standing = run.acc.values[run.acc.t_ns < run.steps[0].t_ns]
    assert standing.shape[0] == 1000
    assert np.allclose(standing.mean(axis=0), np.asarray(mount) @ [0.0, 0.0, 1.0], atol=0.005)
    assert run.truth_window(run.start_t_ns, run.steps[0].t_ns).cadence_spm is None


def test_mounting_rotation_preserves_norms_and_rotates_both_sensors() -> None:
    mount = np.asarray(random_rotation(9))
    plain = generate(20.0, 100.0, seed=2, **QUIET)
    rotated = generate(20.0, 100.0, seed=2, mount_rotation=mount, **QUIET)
    for a, b in ((plain.acc, rotated.acc), (plain.gyro, rotated.gyro)):
        assert np.allclose(np.linalg.norm(a.values, axis=1), np.linalg.norm(b.values, axis=1), rtol=1e-5, atol=1e-4)
        assert np.allclose(a.values @ mount.T, b.values, atol=1e-4)
    assert plain.steps == rotated.steps


def test_vertical_mean_is_one_g_flight_is_free_fall_and_braking_precedes_propulsion() -> None:
    run = generate(60.0, 500.0, **QUIET)
    t, aligned = run.acc.t_ns, run.aligned_acc_g
    running = t >= run.steps[0].t_ns
    assert aligned[running, 2].mean() == pytest.approx(1.0, abs=0.01)
    for step, nxt in zip(run.steps[:-1], run.steps[1:]):
        flight = (t >= step.toe_off_t_ns) & (t < nxt.t_ns)
        assert np.all(np.abs(aligned[flight, 2]) < 0.03)  # free fall, up to the trunk's roll and pitch
        contact = (t >= step.t_ns) & (t < step.toe_off_t_ns)
        half = contact & (t < (step.t_ns + step.toe_off_t_ns) // 2)
        assert aligned[half, 0].sum() < 0 < aligned[contact & ~half, 0].sum()
        side_sign = np.sign(aligned[np.searchsorted(t, step.t_ns), 1])
        assert side_sign == (1.0 if step.side == "right" else -1.0)


def test_ap_energy_at_step_frequency_and_ml_at_stride_frequency() -> None:
    run = generate(60.0, 100.0, cadence_spm=180.0, step_time_jitter_pct=0.0, **QUIET)
    running = run.aligned_acc_g[run.acc.t_ns >= run.steps[0].t_ns]
    freq_hz = np.fft.rfftfreq(running.shape[0], 1 / 100.0)

    def dominant_hz(column: int) -> float:
        spectrum = np.abs(np.fft.rfft(running[:, column] - running[:, column].mean()))
        return float(freq_hz[np.argmax(spectrum)])

    assert dominant_hz(0) == pytest.approx(3.0, abs=0.05)  # AP: 180 steps/min
    assert dominant_hz(1) == pytest.approx(1.5, abs=0.05)  # ML: 90 strides/min
    assert dominant_hz(2) == pytest.approx(3.0, abs=0.05)  # vertical: one impact per step


def test_gyro_integrates_to_the_lean() -> None:
    """The pitch rate integrates to the trunk lean (standing upright, then leaning 8 degrees)."""
    run = generate(
        20.0, 500.0, lean_deg=8.0, roll_oscillation_deg=0.0, yaw_oscillation_deg=0.0, pitch_oscillation_deg=0.0, **QUIET
    )
    pitch_deg = np.cumsum(run.gyro.values[:, 1]) / 500.0
    assert np.allclose(pitch_deg, run.lean_deg, atol=0.05)
    assert pitch_deg[-1] == pytest.approx(8.0, abs=0.05)


def test_gyro_sees_the_trunk_oscillations() -> None:
    run = generate(20.0, 500.0, pitch_oscillation_deg=2.0, **QUIET)
    pitch_deg = np.cumsum(run.gyro.values[:, 1]) / 500.0
    residual = pitch_deg - run.lean_deg
    assert 1.5 < np.abs(residual).max() < 2.5


def test_scripted_changes_apply_at_the_scripted_time() -> None:
    run = fatigue_run(duration_s=1320.0, rate_hz=50.0)
    onset_ns = run.start_t_ns + int(FATIGUE_ONSET_S * NS_PER_S)
    before = run.truth_window(onset_ns - 60 * NS_PER_S, onset_ns)
    ramp = run.truth_window(onset_ns + 10 * NS_PER_S, onset_ns + 20 * NS_PER_S)
    after = run.truth_window(onset_ns + 40 * NS_PER_S, onset_ns + 100 * NS_PER_S)
    assert before.cadence_spm == pytest.approx(170.0, abs=1.0)
    assert after.cadence_spm == pytest.approx(170.0 * 0.94, abs=1.0)
    assert before.cadence_spm > ramp.cadence_spm > after.cadence_spm
    assert before.lean_deg == pytest.approx(6.0, abs=0.01) and after.lean_deg == pytest.approx(12.0, abs=0.01)
    assert before.lean_deg < ramp.lean_deg < after.lean_deg
    assert after.sway_ml_ratio > 1.2 * before.sway_ml_ratio
    assert after.impact_g == pytest.approx(before.impact_g, rel=0.03)
    steady = run.truth_windows(30.0)[1:39]  # 30-1200 s: nothing changes before the onset
    assert max(w.cadence_spm for w in steady) - min(w.cadence_spm for w in steady) < 1.5
    assert max(w.sway_ml_ratio for w in steady) - min(w.sway_ml_ratio for w in steady) < 0.01


def test_asymmetry_truth_follows_the_config_and_changes() -> None:
    run = generate(
        120.0,
        100.0,
        step_time_asymmetry_pct=6.0,
        impact_asymmetry_pct=10.0,
        changes=(Change(at_s=60.0, ramp_s=0.0, step_time_asymmetry_pct=4.0),),
    )
    early = run.truth_window(run.start_t_ns + 15 * NS_PER_S, run.start_t_ns + 60 * NS_PER_S)
    late = run.truth_window(run.start_t_ns + 65 * NS_PER_S, run.start_t_ns + 120 * NS_PER_S)
    assert early.step_time_asymmetry_pct == pytest.approx(6.0, abs=1.0)
    assert late.step_time_asymmetry_pct == pytest.approx(10.0, abs=1.0)
    assert early.impact_asymmetry_pct == pytest.approx(10.0, abs=1.5)


def test_walk_breaks_and_loose_strap_bursts_are_in_the_truth() -> None:
    run = generate(
        90.0,
        100.0,
        walk_breaks=(WalkBreak(at_s=40.0, duration_s=20.0),),
        noise_bursts=(NoiseBurst(at_s=75.0, duration_s=5.0, noise_g=0.8),),
    )
    walk = run.truth_window(run.start_t_ns + 42 * NS_PER_S, run.start_t_ns + 58 * NS_PER_S)
    assert not walk.running and walk.cadence_spm == pytest.approx(115.0, abs=3.0)
    assert all(s.gait == "walk" for s in run.steps_between(walk.t_start_ns, walk.t_end_ns))
    assert run.truth_window(run.start_t_ns + 62 * NS_PER_S, run.start_t_ns + 72 * NS_PER_S).running
    burst = run.truth_window(run.start_t_ns + 75 * NS_PER_S, run.start_t_ns + 80 * NS_PER_S)
    calm = run.truth_window(run.start_t_ns + 65 * NS_PER_S, run.start_t_ns + 70 * NS_PER_S)
    assert burst.disturbed and not calm.disturbed

    def acc_std(window) -> float:
        lo, hi = np.searchsorted(run.acc.t_ns, [window.t_start_ns, window.t_end_ns])
        return float(np.std(np.diff(run.acc.values[lo:hi], axis=0)))

    assert acc_std(burst) > 3 * acc_std(calm)


def test_impossible_impact_is_raised_to_the_physical_minimum() -> None:
    run = generate(30.0, 500.0, impact_g=1.2, **QUIET)
    minimum_g = (60 / 170) / (0.64 * 0.25)
    assert all(s.impact_g > 0.95 * minimum_g for s in run.steps)
    running = run.acc.t_ns >= run.steps[0].t_ns
    assert run.aligned_acc_g[running, 2].mean() == pytest.approx(1.0, abs=0.01)


def test_iter_batches_covers_the_run_in_time_order() -> None:
    run = generate(10.0, 100.0)
    batches = list(run.iter_batches(0.73))
    kinds = [b.kind for b in batches]
    half = len(batches) // 2
    assert kinds[::2] == [SampleKind.ACC] * half and kinds[1::2] == [SampleKind.GYRO] * half
    assert np.array_equal(np.concatenate([b.values for b in batches[::2]]), run.acc.values)
    assert np.array_equal(np.concatenate([b.t_ns for b in batches[1::2]]), run.gyro.t_ns)
    assert {len(b) for b in batches[:-2]} == {73}


def test_placement_runner_and_start_time_are_passed_through() -> None:
    run = SyntheticRunner().generate(
        5.0, 50.0, seed=1, runner="ann", device="dev1", placement=Placement.SACRUM, start_t_ns=123 * NS_PER_S
    )
    assert (run.acc.runner, run.acc.device, run.acc.placement) == ("ann", "dev1", Placement.SACRUM)
    assert run.acc.t_ns[0] == 123 * NS_PER_S and run.end_t_ns == 128 * NS_PER_S


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"cadence_spm": 20.0}, "cadence_spm"),
        ({"impact_g": 0.5}, "impact_g"),
        ({"first_side": "middle"}, "first_side"),
        ({"mount_rotation": ((1, 0, 0), (0, 1, 0), (0, 0, -1))}, "mount_rotation"),
        ({"mount_rotation": ((2, 0, 0), (0, 1, 0), (0, 0, 1))}, "mount_rotation"),
    ],
)
def test_bad_config_names_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(SyntheticConfigError) as info:
        SyntheticConfig(**overrides)
    assert info.value.field == field and field in str(info.value)


@pytest.mark.parametrize("rate_hz", [10.0, 1000.0])
def test_rates_outside_25_to_500_hz_are_refused(rate_hz: float) -> None:
    with pytest.raises(SyntheticConfigError, match="rate_hz"):
        SyntheticRunner().generate(10.0, rate_hz, seed=1)


def test_rotation_helpers() -> None:
    assert np.allclose(np.asarray(rotation_from_euler_deg(pitch_deg=90.0)) @ [0, 0, 1], [1, 0, 0])
    assert np.allclose(np.asarray(rotation_from_euler_deg(yaw_deg=90.0)) @ [1, 0, 0], [0, 1, 0])
    assert random_rotation(5) == random_rotation(5) != random_rotation(6)
    m = np.asarray(random_rotation(5))
    assert np.allclose(m @ m.T, np.eye(3)) and np.linalg.det(m) == pytest.approx(1.0)


def test_an_hour_at_100_hz_is_generated_whole() -> None:
    run = SyntheticRunner(dataclasses.replace(SyntheticConfig(), standing_s=10.0)).generate(3600.0, 100.0, seed=1)
    assert len(run.acc) == 360_000
    assert len(run.steps) == pytest.approx(3590 * 170 / 60, rel=0.01)


def test_gyro_and_accelerometer_agree_on_the_trunk_rotation() -> None:
    """Against rotation matrices built independently: the accelerometer sees R^T f and the gyroscope
    the body rate omega with R^T dR/dt = [omega]x, for R = Rz(yaw) Ry(pitch) Rx(roll)."""
    from strideguard.sensors.synthetic.generator import _body_rates, _world_to_trunk

    t = np.linspace(0.0, 2.0, 4001)
    roll, pitch, yaw = 0.3 * np.sin(3 * t), 0.2 + 0.4 * np.sin(2 * t + 1), 0.5 * np.cos(1.5 * t)
    rates = (0.9 * np.cos(3 * t), 0.8 * np.cos(2 * t + 1), -0.75 * np.sin(1.5 * t))
    matrices = np.array(
        [
            np.asarray(rotation_from_euler_deg(roll_deg=r, pitch_deg=p, yaw_deg=y))
            for r, p, y in np.degrees(np.column_stack((roll, pitch, yaw)))
        ]
    )
    f_world = np.random.default_rng(0).normal(size=(t.size, 3))
    assert np.allclose(_world_to_trunk(f_world, roll, pitch, yaw), np.einsum("nji,nj->ni", matrices, f_world))
    d_matrices = np.gradient(matrices, t, axis=0)
    skew = np.einsum("nji,njk->nik", matrices, d_matrices)
    omega_numeric = np.column_stack((skew[:, 2, 1], skew[:, 0, 2], skew[:, 1, 0]))
    omega = _body_rates((roll, pitch, yaw), rates)
    assert np.allclose(omega[5:-5], omega_numeric[5:-5], atol=1e-5)


STILL_TRUNK = dict(
    lean_deg=0.0, pitch_oscillation_deg=0.0, roll_oscillation_deg=0.0, yaw_oscillation_deg=0.0, sway_g=0.0, **QUIET
)


@pytest.mark.parametrize("angle_deg", [180.0, -90.0])
def test_a_turn_rotates_the_gyro_by_its_angle_around_the_true_vertical(angle_deg: float) -> None:
    """Only the heading turns (a still trunk otherwise): the body rates, integrated as rotations, bank
    the trunk into the turn and back and end as a pure rotation by the angle about the vertical (left
    is positive)."""
    from scipy.spatial.transform import Rotation

    run = generate(
        30.0, 500.0, standing_s=5.0, turns=(Turn(at_s=15.0, duration_s=2.0, angle_deg=angle_deg),), **STILL_TRUNK
    )
    trunk = Rotation.identity()
    most_bank_deg = 0.0
    for step in Rotation.from_rotvec(np.radians(run.gyro.values) / 500.0):
        trunk = trunk * step
        most_bank_deg = max(most_bank_deg, abs(trunk.as_euler("ZYX", degrees=True)[2]))
    left_over = trunk * Rotation.from_euler("z", angle_deg, degrees=True).inv()
    assert np.degrees(left_over.magnitude()) < 0.2
    assert most_bank_deg > 10.0
    assert run.turn_spans_ns == ((run.start_t_ns + 15 * NS_PER_S, run.start_t_ns + 17 * NS_PER_S),)


def test_in_a_bend_the_ground_carries_weight_and_centripetal_force_and_the_trunk_banks_with_it() -> None:
    """Over whole steps in the steady part of a bend the specific force is 1 g up plus v x heading rate
    toward the centre: its magnitude is sqrt(1 + c^2) g. The trunk banks by atan(c), so in the trunk
    frame that force lies along the trunk's up axis (no mean sideways force), and the flight phases
    still read free fall."""
    turn = Turn(at_s=10.0, duration_s=12.0, angle_deg=360.0, speed_mps=4.5)
    centripetal_g = turn.speed_mps * turn.heading_rate_rps / 9.80665
    run = generate(32.0, 500.0, standing_s=2.0, turns=(turn,), **STILL_TRUNK)
    contacts = run.step_arrays.t_ns
    steady = contacts[(contacts > run.start_t_ns + 11 * NS_PER_S) & (contacts < run.start_t_ns + 21 * NS_PER_S)]
    lo, hi = np.searchsorted(run.acc.t_ns, [steady[0], steady[-1]])
    mean_g = run.acc.values[lo:hi].mean(axis=0)
    assert np.linalg.norm(mean_g) == pytest.approx(math.hypot(1.0, centripetal_g), rel=0.01)
    assert abs(mean_g[1]) < 0.01 and centripetal_g > 0.2
    assert np.abs(run.acc.values[lo:hi]).min(axis=0) == pytest.approx([0.0, 0.0, 0.0], abs=1e-6)


def test_standing_longer_than_the_recording_gives_no_steps() -> None:
    run = generate(20.0, 50.0, standing_s=30.0)
    assert run.steps == () and run.truth_window(run.start_t_ns, run.end_t_ns).n_steps == 0
    assert np.allclose(np.linalg.norm(run.acc.values.mean(axis=0)), 1.0, atol=0.01)


def trunk_rms_g(acc_g: np.ndarray, rate_hz: float) -> tuple[float, float, float]:
    """(vertical, step-frequency horizontal, stride-frequency horizontal) RMS in g: vertical along the
    mean gravity, the horizontal plane split into its two principal axes, told apart by the frequency of
    their spectral peak (AP moves at step frequency, ML at stride frequency)."""
    up = acc_g.mean(axis=0) / np.linalg.norm(acc_g.mean(axis=0))
    vertical = acc_g @ up
    horizontal = acc_g - np.outer(vertical, up)
    horizontal -= horizontal.mean(axis=0)
    axes = np.linalg.eigh(np.cov(horizontal.T))[1][:, -2:]
    parts = horizontal @ axes
    freq_hz = np.fft.rfftfreq(parts.shape[0], 1 / rate_hz)
    band = (freq_hz > 0.5) & (freq_hz < 5.0)
    peak_hz = [freq_hz[band][np.argmax(np.abs(np.fft.rfft(p))[band])] for p in parts.T]
    rms = np.sqrt(np.mean(parts**2, axis=0))
    order = np.argsort(peak_hz)  # stride frequency first
    return float(vertical.std()), float(rms[order[1]]), float(rms[order[0]])


def test_chest_strap_preset_has_the_horizontal_accelerations_of_the_real_torso_units(real_data) -> None:
    from strideguard.sensors.imports import read_uci_dsa
    from strideguard.sensors.synthetic import chest_strap_config

    real = np.array(
        [
            trunk_rms_g(read_uci_dsa(path).acc.values.astype(np.float64), 25.0)
            for path in sorted((real_data / "uci_dsa_treadmill_running").glob("p*_a12_*.csv"))
        ]
    )
    config = chest_strap_config(standing_s=0.0, cadence_spm=160.0)
    synthetic = trunk_rms_g(SyntheticRunner(config).generate(120.0, 25.0, seed=1).acc.values.astype(np.float64), 25.0)
    gentle = trunk_rms_g(generate(120.0, 25.0, standing_s=0.0).acc.values.astype(np.float64), 25.0)
    for name, value, low, high in zip(("vertical", "AP", "ML"), synthetic, real.min(axis=0), real.max(axis=0)):
        assert 0.9 * low <= value <= 1.1 * high, f"{name} RMS {value:.2f} g outside the real {low:.2f}-{high:.2f} g"
    assert gentle[1] < real[:, 1].min() and gentle[2] < real[:, 2].min()  # why the preset exists
