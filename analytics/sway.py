"""Trunk sway: RMS of the ML and AP dynamic acceleration as a ratio to the resultant's RMS.

Ratios (not absolute RMS) make sway comparable across speeds and sensors; fatigue raises both. The
window sums of squares come from `windows.BlockSums`, so the ratio does not depend on chunking.
"""

from __future__ import annotations

import math

MIN_RESULTANT_POWER_G2 = 1e-8  # g^2 per sample, below this the window is still: no sway ratio


def sway_ratios(
    *, sum_ml_g2: float, sum_ap_g2: float, sum_resultant_g2: float, n_samples: int
) -> tuple[float | None, float | None]:
    """(ML ratio, AP ratio) = RMS(ML) / RMS(resultant), RMS(AP) / RMS(resultant)."""
    if n_samples <= 0 or sum_resultant_g2 / n_samples < MIN_RESULTANT_POWER_G2:
        return None, None
    return math.sqrt(sum_ml_g2 / sum_resultant_g2), math.sqrt(sum_ap_g2 / sum_resultant_g2)
