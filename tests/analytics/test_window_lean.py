"""The window lean's reference posture: a window whose mean gravity has no direction gives no lean."""

from __future__ import annotations

import numpy as np

from strideguard.analytics.config import AnalyticsConfig
from strideguard.analytics.lean import StandingReferenceParams
from strideguard.analytics.step_metrics import ForwardDirection
from strideguard.analytics.window_assembly import WindowLean

RATE_HZ = 100.0
FORWARD = ForwardDirection(sign=1, decided_t_ns=0)
AXIS = np.array([1.0, 0.0, 0.0])


def moving_from_the_start() -> WindowLean:
    """A session that starts moving: the standing reference closes at once, without a posture."""
    lean = WindowLean(rate_hz=RATE_HZ, params=StandingReferenceParams.from_config(AnalyticsConfig()))
    acc = np.tile([0.0, 0.0, 1.0], (50, 1))
    lean.push(acc, np.full(50, 1.0), 0)
    return lean


def test_zero_mean_gravity_gives_no_lean_and_does_not_become_the_reference() -> None:
    lean = moving_from_the_start()
    kwargs = {"last_sample": 49, "end_ns": 10**9, "running": True, "axis": AXIS, "forward": FORWARD}
    # before the fix: unit() gave None, it became the reference and lean_deg failed (a ValueError from matmul)
    assert lean.lean_deg(np.zeros(3), **kwargs) is None
    # the next running window with a gravity direction sets the reference (upright against itself: 0 deg)
    assert lean.lean_deg(np.array([0.0, 0.0, 0.9]), **kwargs) == 0.0
    # and it stays the reference: a window tilted towards -forward reads as leaning forward
    tilted = np.array([-np.sin(np.radians(5.0)), 0.0, np.cos(np.radians(5.0))])
    assert np.isclose(lean.lean_deg(tilted, **kwargs), 5.0)
    assert lean.lean_deg(np.zeros(3), **kwargs) is None  # zero gravity against a reference: no direction either


def test_no_lean_before_a_running_window_or_the_forward_direction() -> None:
    lean = moving_from_the_start()
    up = np.array([0.0, 0.0, 1.0])
    base = {"last_sample": 49, "end_ns": 10**9, "axis": AXIS}
    assert lean.lean_deg(up, running=False, forward=FORWARD, **base) is None  # no reference yet
    assert lean.lean_deg(up, running=True, forward=None, **base) is None  # reference set, forward unknown
    late = ForwardDirection(sign=1, decided_t_ns=2 * 10**9)  # decided after the window's end
    assert lean.lean_deg(up, running=True, forward=late, **base) is None
    assert lean.lean_deg(up, running=True, forward=FORWARD, **base) == 0.0
