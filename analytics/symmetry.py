"""Left/right side per step and symmetry indices.

Side comes from the mediolateral acceleration around contact (after Lee et al.): at left foot contact
the ground pushes the trunk towards the right (the force runs from the lateral foot through the centre
of mass), at right contact towards the left. One noisy step must not swap the labels, so the side
alternates from step to step and the ML sign only votes on the phase of that alternation (which parity
is left); the vote decays so a missed step is corrected after a few steps. A new bout restarts the vote.
"""

from __future__ import annotations

from collections.abc import Sequence

from analytics.results import Side

VOTE_DECAY = 0.8  # weight kept by the phase vote per step
MIN_VOTE = 0.5  # |vote| needed before a side is given (else UNKNOWN)


class SideAssigner:
    """Alternating side labels whose phase follows the ML acceleration sign at contact."""

    def __init__(self) -> None:
        self._parity = 0
        self._vote = 0.0

    def new_bout(self) -> None:
        self._parity = 0
        self._vote = 0.0

    def assign(self, ml_left_g: float | None) -> Side:
        """Side of the next step from the ML acceleration (positive = to the left) around its contact.

        Pass None when the ML direction is not known yet; the step is then UNKNOWN but keeps the parity.
        """
        parity = self._parity
        self._parity ^= 1
        if ml_left_g is not None and ml_left_g != 0.0:
            says_left = 1.0 if ml_left_g < 0 else -1.0  # pushed right -> left foot on the ground
            self._vote = VOTE_DECAY * self._vote + (says_left if parity == 0 else -says_left)
        if abs(self._vote) < MIN_VOTE or ml_left_g is None:
            return Side.UNKNOWN
        even_is_left = self._vote > 0
        return Side.LEFT if (parity == 0) == even_is_left else Side.RIGHT


def symmetry_index_pct(left: Sequence[float], right: Sequence[float]) -> float | None:
    """(mean L - mean R) / mean of both x 100; None without values on both sides."""
    if not left or not right:
        return None
    mean_l = sum(left) / len(left)
    mean_r = sum(right) / len(right)
    mean = 0.5 * (mean_l + mean_r)
    return None if mean == 0 else 100.0 * (mean_l - mean_r) / mean
