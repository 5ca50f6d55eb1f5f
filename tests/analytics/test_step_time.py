"""The step's event time (`StepEvent.t_ns`): the centre of the stance impulse, minus the low-pass delay.

It used to be the parabolic maximum of the 6-Hz low-passed vertical acceleration, as the filter output
it: the maximum jumped between the impact transient and the active peak from step to step (40-70 ms),
and it came ~37 ms late (the filter's group delay), which put it about half a step after contact on
the Alcantara runner (182-190 steps/min), where a lag known only modulo one step is ambiguous.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly

from strideguard.analytics.config import AnalyticsConfig
from strideguard.analytics.filters import SosFilter, butter_sos
from strideguard.analytics.runner import RunnerAnalyzer
from strideguard.analytics.step_time import lowpass_delay_s, parabolic_peak, stance_centroid, step_event_time_ns
from strideguard.sensors.types import NS_PER_S, Placement, SampleBatch, SampleKind
from tests.analytics.recordings import T0_NS

STEP_S = 1.0 / 3.0  # 180 steps/min
CONTACT_S = 0.24


def two_hump_stance(t_s: np.ndarray, contact_s: float, impact_g: float, active_g: float) -> np.ndarray:
    """Vertical acceleration (g, gravity included) of one stance starting at t=0: an impact transient
    at 20 % of contact and the active peak at 50 %, both above 1 g; 0 g (free fall) outside contact."""
    u = t_s / contact_s
    inside = (u >= 0) & (u <= 1)
    active = 1.0 + (active_g - 1.0) * np.sin(np.pi * np.clip(u, 0, 1)) ** 2
    transient = (impact_g - 1.0) * np.exp(-0.5 * ((u - 0.2) / 0.09) ** 2)
    return np.where(inside, np.maximum(active, 1.0 + transient), 0.0)


def run_signal(impact_g: list[float], rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """A 20-s run whose steps cycle through the given impact transients (the active peak is 2.3 g);
    returns the contact times (s) and the vertical signal at `rate_hz`, made at 1 kHz and decimated
    with an anti-aliasing filter as a sensor would."""
    fine_hz = 1000.0
    n_steps = int(20.0 / STEP_S)
    t = np.arange(int(20.0 * fine_hz)) / fine_hz
    v = np.zeros_like(t)
    contacts = 0.5 + STEP_S * np.arange(n_steps - 2)
    for i, c in enumerate(contacts):
        sel = (t >= c) & (t <= c + CONTACT_S)
        v[sel] = two_hump_stance(t[sel] - c, CONTACT_S, impact_g[i % len(impact_g)], 2.3)
    return contacts, resample_poly(v, int(rate_hz), int(fine_hz))


def analyse(v: np.ndarray, rate_hz: float) -> np.ndarray:
    acc = np.zeros((v.shape[0], 3), dtype=np.float32)
    acc[:, 2] = v
    sway = 0.02 * np.sin(2 * np.pi * 1.5 * np.arange(v.shape[0]) / rate_hz)  # a little sway and surge
    acc[:, 0] = sway
    acc[:, 1] = 0.5 * sway
    t_ns = T0_NS + np.round(np.arange(v.shape[0]) * NS_PER_S / rate_hz).astype(np.int64)
    batch = SampleBatch(
        runner="r", device="d", placement=Placement.SACRUM, kind=SampleKind.ACC, rate_hz=rate_hz, t_ns=t_ns, values=acc
    )
    analyzer = RunnerAnalyzer(runner="r")
    out = analyzer.push(batch) + analyzer.finish()
    return np.array([(s.t_ns - T0_NS) / NS_PER_S for s in out.steps])


@pytest.mark.parametrize("rate_hz", [25.0, 100.0, 500.0])
def test_the_step_time_does_not_jump_between_the_two_stance_humps(rate_hz: float) -> None:
    """Every other step has an impact transient above the active peak (3.0 vs 2.3 g): the old maximum
    jumped between the humps on alternate steps; the stance centroid keeps a steady step interval."""
    contacts, v = run_signal([3.0, 2.0], rate_hz)
    steps = analyse(v, rate_hz)
    offsets = np.array([steps[np.argmin(np.abs(steps - c - 0.1))] - c for c in contacts[3:-3]])
    odd, even = offsets[0::2], offsets[1::2]
    print(
        f"{rate_hz:g} Hz: offsets to contact, median {1000 * np.median(offsets):.1f} ms, "
        f"odd-even {1000 * (np.median(odd) - np.median(even)):+.1f} ms"
    )
    # the centroid moves a little with the impulse's shape (~13 ms here); the maximum jumps by the
    # spacing of the humps (~55 ms at 100 and 500 Hz)
    assert abs(np.median(odd) - np.median(even)) < 0.02
    assert np.ptp(offsets) < 0.03


@pytest.mark.parametrize("rate_hz", [25.0, 100.0, 500.0])
def test_the_step_time_is_the_stance_centre_without_the_filter_delay(rate_hz: float) -> None:
    """Symmetric stances (no transient): the event is the middle of contact, not ~37 ms after it."""
    contacts, v = run_signal([1.0], rate_hz)
    steps = analyse(v, rate_hz)
    offsets = np.array([steps[np.argmin(np.abs(steps - c - 0.1))] - c for c in contacts[3:-3]])
    assert np.median(offsets) == pytest.approx(CONTACT_S / 2, abs=0.008)


def test_the_delay_is_the_impact_low_pass_group_delay() -> None:
    """~37 ms for the 2nd-order 6-Hz Butterworth (sqrt(2) / (2 pi 6 Hz) in continuous time): a slow
    pulse through the filter peaks that much later."""
    rate_hz = 500.0
    assert lowpass_delay_s(6.0, rate_hz) == pytest.approx(np.sqrt(2) / (2 * np.pi * 6.0), rel=0.03)
    t = np.arange(2000) / rate_hz
    pulse = np.exp(-0.5 * ((t - 2.0) / 0.08) ** 2)
    out = SosFilter(butter_sos(2, AnalyticsConfig().impact_lowpass_hz, "lowpass", rate_hz))(pulse)
    k = int(np.argmax(out))
    late_s = parabolic_peak(out, k) / rate_hz - 2.0
    assert late_s == pytest.approx(lowpass_delay_s(6.0, rate_hz), abs=0.004)


def test_centroid_needs_the_whole_stance_above_one_g() -> None:
    v = np.array([0.0, 0.5, 1.5, 2.0, 1.5, 0.5, 0.0])
    assert stance_centroid(v, 3) == pytest.approx(3.0)
    assert stance_centroid(v, 1) is None  # not above 1 g
    assert stance_centroid(v[2:], 1) is None  # the stance runs off the start
    assert stance_centroid(v, 3, max_samples=2) is None  # too long to be one contact
    t_ns = np.arange(7) * 10_000_000  # 100 Hz
    assert step_event_time_ns(t_ns, v, 3, delay_ns=5_000_000) == 25_000_000
    assert step_event_time_ns(t_ns, v[2:], 1, delay_ns=0.0) == 10_000_000  # parabolic maximum instead


def test_steps_just_over_the_refractory_floor_are_not_merged_at_25_hz() -> None:
    """180 steps/min at 25 Hz with alternating stances: band-pass peaks 7 and 9 samples apart, the
    refractory floor 6.25 samples. A candidate 7 samples after the pending one used to replace it
    (confirmation wanted one sample more than the refractory period): 49 of 58 steps."""
    contacts, v = run_signal([3.0, 2.0], 25.0)
    assert len(analyse(v, 25.0)) == len(contacts)
