"""Trunk lean: sagittal tilt of the low-pass gravity vector against a reference posture, degrees.

The reference is the posture while standing still at the start of the session when there is at least
`standing_reference_min_s` of it, else the mean gravity direction of the first running window. Lean is
positive forward: with `up` the reference gravity direction and `forward` the AP axis pointing forward
(decided from braking, see `step_metrics`), projected perpendicular to `up`, a trunk pitched forward by phi
reads gravity as cos(phi) up - sin(phi) forward in the sensor frame, so phi = atan2(-g.forward, g.up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from strideguard.analytics.config import AnalyticsConfig
from strideguard.analytics.filters import RunningSum, SosFilter, one_pole_sos


@dataclass(frozen=True, slots=True, kw_only=True)
class StandingReferenceParams:
    """What `StandingReference` needs of the configuration."""

    still_threshold_g: float  # g, dynamic RMS below this counts as standing still
    still_time_constant_s: float  # s, smoothing of the dynamic power
    min_standing_s: float  # s, standing at the start at least this long sets the reference posture

    @classmethod
    def from_config(cls, config: AnalyticsConfig) -> StandingReferenceParams:
        return cls(
            still_threshold_g=config.still_threshold_g,
            still_time_constant_s=config.still_time_constant_s,
            min_standing_s=config.standing_reference_min_s,
        )


class StandingReference:
    """Accumulates the mean acceleration while the session starts standing still."""

    def __init__(self, *, rate_hz: float, params: StandingReferenceParams):
        self._power = SosFilter(one_pole_sos(params.still_time_constant_s, rate_hz))
        self._threshold_g2 = params.still_threshold_g**2
        self._min_samples = params.min_standing_s * rate_hz
        self._sum = RunningSum(3)
        self._count = 0
        self.closed_at: int | None = None  # sample index where the initial standing ended (movement)
        self.up: np.ndarray | None = None  # reference gravity direction, set when standing ends

    def push(self, acc_g: np.ndarray, dyn_power_g2: np.ndarray, first_index: int) -> None:
        if self.closed_at is not None:
            return  # decided: the smoothed power is no longer needed (its state is never read again)
        smooth = self._power(dyn_power_g2)
        moving = np.flatnonzero(smooth >= self._threshold_g2)
        stop = int(moving[0]) if moving.size else acc_g.shape[0]
        if stop:
            self._sum.add(acc_g[:stop])
            self._count += stop
        if moving.size:
            self.closed_at = first_index + stop
            if self._count >= self._min_samples:
                total = self._sum.total
                self.up = total / math.sqrt(float(total @ total))


def unit(v: np.ndarray) -> np.ndarray | None:
    norm = math.sqrt(float(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]))
    return None if norm == 0 else v / norm


def lean_deg(*, gravity: np.ndarray, up: np.ndarray, forward_axis: np.ndarray) -> float | None:
    """Forward sagittal tilt of `gravity` against `up`, in degrees (positive forward)."""
    f = unit(forward_axis - float(forward_axis @ up) * up)
    if f is None:
        return None
    return math.degrees(math.atan2(-float(gravity @ f), float(gravity @ up)))
