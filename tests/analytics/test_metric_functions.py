"""The pure per-metric functions on signals whose answer is known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strideguard.analytics.braking import braking_peak_g
from strideguard.analytics.cadence import cadence_spm
from strideguard.analytics.contact import contact_span
from strideguard.analytics.lean import lean_deg
from strideguard.analytics.oscillation import DisplacementFilter, bilinear_correction
from strideguard.analytics.results import Side, StepEvent
from strideguard.analytics.sway import sway_ratios
from strideguard.analytics.symmetry import SideAssigner, contact_step_times_s, symmetry_index_pct


@pytest.mark.parametrize("phi_deg", [-10.0, 0.0, 4.0, 25.0])
def test_lean_of_a_known_pitch_in_a_rotated_frame(phi_deg: float) -> None:
    rng = np.random.default_rng(int(phi_deg) + 50)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    up, forward = q[:, 0], q[:, 1]  # any orthonormal sensor-frame pair
    phi = math.radians(phi_deg)
    gravity = 0.98 * (math.cos(phi) * up - math.sin(phi) * forward)  # what a forward pitch reads
    assert lean_deg(gravity=gravity, up=up, forward_axis=forward + 0.3 * up) == pytest.approx(phi_deg, abs=1e-9)


def test_step_times_for_the_symmetry_index_run_between_initial_contacts() -> None:
    """Not between the step events: those are stance centres. None where a contact is unknown, at a
    bout's start (no step_time_s), across a missing step, and for the first step given."""

    def step(index: int, t_s: float, contact_s: float | None, step_time_s: float | None = 0.35) -> StepEvent:
        return StepEvent(
            runner="r",
            index=index,
            t_ns=round(t_s * 1e9),
            step_time_s=step_time_s,
            contact_t_ns=None if contact_s is None else round(contact_s * 1e9),
        )

    steps = [
        step(0, 0.10, 0.00, None),
        step(1, 0.45, 0.33),
        step(2, 0.80, 0.71),
        step(3, 1.15, None),
        step(4, 1.50, 1.40),
        step(6, 2.20, 2.10),
        step(7, 2.55, 2.46, None),
        step(8, 2.90, 2.80),
    ]
    assert contact_step_times_s(steps) == pytest.approx([None, 0.33, 0.38, None, None, None, None, 0.34])
    assert contact_step_times_s(steps[2:3]) == [None]


def test_symmetry_index_and_sway_ratios() -> None:
    assert symmetry_index_pct([1.1, 1.1], [0.9]) == pytest.approx(20.0)
    assert symmetry_index_pct([], [1.0]) is None
    ml, ap = sway_ratios(sum_ml_g2=4.0, sum_ap_g2=9.0, sum_resultant_g2=36.0, n_samples=100)
    assert (ml, ap) == (pytest.approx(1 / 3), pytest.approx(0.5))
    assert sway_ratios(sum_ml_g2=0.0, sum_ap_g2=0.0, sum_resultant_g2=0.0, n_samples=100) == (None, None)


def test_side_assigner_alternates_and_survives_one_wrong_vote() -> None:
    sides = SideAssigner()
    # left contact pushes the trunk right (negative ML-left); one noisy step says the opposite
    ml = [-0.2, 0.2, -0.2, 0.2, 0.2, 0.2, -0.2, 0.2]
    got = [sides.assign(v) for v in ml]
    assert got[2:] == [Side.LEFT, Side.RIGHT, Side.LEFT, Side.RIGHT, Side.LEFT, Side.RIGHT]
    assert sides.assign(None) is Side.UNKNOWN


def test_cadence_ignores_intervals_that_leave_the_collection() -> None:
    def step(i: int, t_s: float, dt: float | None) -> StepEvent:
        return StepEvent(runner="a", t_ns=int(t_s * 1e9), index=i, step_time_s=dt)

    steps = [step(3, 1.0, 2.0), step(4, 1.4, 0.4), step(5, 1.8, 0.4), step(7, 3.0, 0.3), step(8, 3.3, 0.3)]
    assert cadence_spm(steps) == pytest.approx(60 / ((0.4 + 0.4 + 0.3) / 3))
    assert cadence_spm(steps[:1]) is None


def test_contact_span_of_a_flight_stance_pulse() -> None:
    rate = 500.0
    t = np.arange(0, 0.6, 1 / rate)
    on, off = 0.2, 0.45  # 250 ms contact
    v = np.where((t >= on) & (t < off), 2.5 * np.sin(np.pi * (t - on) / (off - on)), 0.0)
    k = int(np.argmax(v))
    span = contact_span(v[: k + 1], v[k:], 0.4, rate)
    crossing = math.asin(0.4 / 2.5) / math.pi * (off - on)
    assert span is not None
    assert span[1] - span[0] == pytest.approx(off - on - 2 * crossing, abs=2 / rate)
    walking = 1.0 + 0.3 * np.sin(2 * np.pi * 2 * t)  # never near free fall: no contact time
    k = int(np.argmax(walking[:200]))
    assert contact_span(walking[: k + 1], walking[k:], 0.4, rate) is None


@pytest.mark.parametrize("rate_hz", [25.0, 100.0, 500.0])
def test_displacement_of_a_sinusoidal_bounce(rate_hz: float) -> None:
    f, amp_m = 2.8, 0.04  # 2.8 Hz, +-4 cm: 8 cm peak to peak
    t = np.arange(0, 20, 1 / rate_hz)
    acc_g = -((2 * np.pi * f) ** 2) * amp_m * np.sin(2 * np.pi * f * t) / 9.80665 + 0.01  # plus an offset
    z = DisplacementFilter(rate_hz=rate_hz, highpass_hz=0.5).push(acc_g)
    tail = z[int(10 * rate_hz) :]
    assert (tail.max() - tail.min()) * bilinear_correction(f, rate_hz) == pytest.approx(8.0, rel=0.01)


def test_braking_peak_is_the_largest_backward_acceleration() -> None:
    assert braking_peak_g(np.array([0.1, -0.4, -0.2, 0.3])) == pytest.approx(0.4)
    assert braking_peak_g(np.array([0.1, 0.2])) == 0.0
    assert braking_peak_g(np.array([])) is None
