"""Impact sonification: how much noise to add to the runner's tone, from the recent steps' impact.

Van den Berghe 2021 added noise to the runner's music in proportion to a 5-step moving average of
tibial shock, so that softer landings made the music cleaner; runners lowered tibial shock by about 27 %.
StrideGuard has a trunk sensor, so the per-step impact is the trunk's vertical peak (`StepEvent.impact_g`),
judged against the runner's own baseline: the level is 0 at or below `impact_clean_ratio` x baseline and 1
at or above `impact_full_ratio` x baseline, linear between (end points are engineering choices).
"""

from __future__ import annotations

import math
from collections import deque

from strideguard.analytics.retraining.config import RetrainingConfig


def impact_level(mean_impact_g: float, baseline_g: float, config: RetrainingConfig) -> float:
    """0 (clean) .. 1 (full noise) for a moving-average impact against the baseline."""
    if not (baseline_g > 0 and math.isfinite(baseline_g) and math.isfinite(mean_impact_g)):
        raise ValueError(f"impact and baseline must be finite and the baseline positive: {mean_impact_g}, {baseline_g}")
    ratio = mean_impact_g / baseline_g
    span = config.impact_full_ratio - config.impact_clean_ratio
    return min(1.0, max(0.0, (ratio - config.impact_clean_ratio) / span))


class ImpactAverage:
    """Moving average of the last `n` per-step impacts; steps without an impact are skipped, not zeros."""

    def __init__(self, n: int) -> None:
        self._values: deque[float] = deque(maxlen=n)

    def push(self, impact_g: float | None) -> float | None:
        """Add one step; the average once `n` impacts are in, else None."""
        if impact_g is not None and math.isfinite(impact_g) and impact_g >= 0:
            self._values.append(impact_g)
        if len(self._values) < (self._values.maxlen or 0):
            return None
        return math.fsum(self._values) / len(self._values)
