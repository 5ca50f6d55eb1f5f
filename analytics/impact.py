"""Vertical impact: the per-step peak of the low-passed vertical acceleration, gravity included, in g.

At the sacrum the trunk moves with the centre of mass, so this peak approximates the peak vertical
ground reaction force in body weights. The raw signal carries a short soft-tissue transient at initial
contact that overshoots the force; a causal low-pass (`impact_lowpass_hz`) keeps the force-like part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from strideguard.analytics.config import AnalyticsConfig
from strideguard.analytics.filters import SosFilter, butter_sos


@dataclass(frozen=True, slots=True, kw_only=True)
class ImpactFilterParams:
    """What `ImpactFilter` needs of the configuration."""

    lowpass_hz: float  # Hz, 2nd-order Butterworth low-pass of the vertical acceleration

    @classmethod
    def from_config(cls, config: AnalyticsConfig) -> ImpactFilterParams:
        return cls(lowpass_hz=config.impact_lowpass_hz)


class ImpactFilter:
    """Causal low-pass of the vertical acceleration; the impact peak is read from its output."""

    def __init__(self, *, rate_hz: float, params: ImpactFilterParams):
        self._lowpass = SosFilter(butter_sos(2, params.lowpass_hz, "lowpass", rate_hz), steady_start=True)

    def push(self, vertical_g: np.ndarray) -> np.ndarray:
        return self._lowpass(np.asarray(vertical_g, dtype=np.float64))
