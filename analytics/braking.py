"""Anteroposterior braking: the peak deceleration of the trunk in early stance, in g (positive).

At initial contact the foot lands ahead of the body and the ground pushes backwards until mid-stance;
landing further ahead (overstriding) brakes harder. The peak is the largest backward AP acceleration
from contact (or a fixed span before the impact peak when contact is unknown) to the impact peak.
"""

from __future__ import annotations

import numpy as np


def braking_peak_g(ap_forward_g: np.ndarray) -> float | None:
    """Largest backward acceleration in the span, as a positive number (0 when it never brakes)."""
    if ap_forward_g.size == 0:
        return None
    return max(0.0, -float(ap_forward_g.min()))
