"""Anteroposterior braking: the peak deceleration of the trunk in early stance, in g (positive).

At initial contact the foot lands ahead of the body and the ground pushes backwards until mid-stance;
landing further ahead (overstriding) brakes harder. The peak is the largest backward AP acceleration
from contact (or a fixed span before the impact peak when contact is unknown) to the impact peak.
"""

from __future__ import annotations

import numpy as np


def braking_peak_g(ap_g: np.ndarray, *, sign: int = 1) -> float | None:
    """Largest backward acceleration of `sign * ap_g` (forward positive) in the span, as a positive
    number (0 when it never brakes). The sign is applied to the one reduced value, not to the array:
    -min(-x) is max(x) exactly, so this is the same number as negating first, without a temporary."""
    if ap_g.size == 0:
        return None
    return max(0.0, -float(ap_g.min())) if sign >= 0 else max(0.0, float(ap_g.max()))
