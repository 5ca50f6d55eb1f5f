"""Left/right side per step and symmetry indices.

Side comes from the mediolateral acceleration around contact (after Lee et al.): at left foot contact
the ground pushes the trunk towards the right (the force runs from the lateral foot through the centre
of mass), at right contact towards the left. One noisy step must not swap the labels, so the side
alternates from step to step and the ML sign only votes on the phase of that alternation (which parity
is left); the vote decays so a missed step is corrected after a few steps. A new bout restarts the vote.

Which horizontal direction is ML is not taken on trust from the orientation stage: that stage picks the
AP axis as the direction of most step-band energy, which fails for runners whose side-to-side trunk
acceleration is as strong as the fore-aft one (UCI p1: the axes swap back and forth over the run). The
ML direction is instead the one in which the contact acceleration ALTERNATES from one step to the next:
`AlternationAxis` keeps a slowly decaying covariance of step-to-step differences of the horizontal
contact acceleration (what repeats every step, AP braking and posture offsets, cancels in a difference;
what alternates, the side-to-side push, doubles), and its principal axis is the ML direction.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

from strideguard.analytics.consts import NS_PER_S
from strideguard.analytics.results import Side, StepEvent

VOTE_DECAY = 0.8  # weight kept by the phase vote per step
MIN_VOTE = 0.5  # |vote| needed before a side is given (else UNKNOWN)
AXIS_DECAY = 0.98  # weight kept per step by the step-difference covariance (a horizon of ~50 steps)
MIN_AXIS_STEPS = 20  # step-difference products before the alternation overrides the orientation's ML axis
ML_SIGN_MARGIN = 0.5  # |ML component| of the direction (sin 30 deg) above which its sign follows the +ML axis


class AlternationAxis:
    """The ML direction in the orientation's (AP, ML) frame, from the step-to-step alternation.

    `push` takes one step's mean horizontal acceleration around contact (unsigned AP, ML convention of
    `orientation`) and returns its alternating part along the ML direction: half the difference from
    the previous step of the same bout, projected on the ML direction. The direction is the principal
    axis of the decaying covariance between each step difference and the difference two steps before:
    an alternating component a (-1)^i adds 4 a a^T to it, while sensor noise (independent per step)
    and what repeats every step do not enter at all. Its sign follows the orientation's +ML axis unless
    the direction lies within 30 degrees of the AP axis (axes swapped: the ML sign says nothing), where
    it is kept continuous instead. Until `MIN_AXIS_STEPS` products have accumulated, the orientation's
    ML axis is used as it is (a few products point anywhere). None for a bout's first step.
    """

    def __init__(self) -> None:
        self._c_ap_ap = self._c_ml_ml = self._c_ap_ml = 0.0
        self._dir_ap, self._dir_ml = 0.0, 1.0
        self._prev: tuple[float, float] | None = None
        self._diffs: deque[tuple[float, float]] = deque(maxlen=2)  # the last two step differences
        self._n_products = 0

    def new_bout(self) -> None:
        self._prev = None  # no difference across a gap; the covariance (a property of the runner) stays
        self._diffs.clear()

    def push(self, ap_g: float, ml_g: float) -> float | None:
        prev, self._prev = self._prev, (ap_g, ml_g)
        if prev is None:
            return None
        d_ap, d_ml = ap_g - prev[0], ml_g - prev[1]
        if len(self._diffs) == 2:
            e_ap, e_ml = self._diffs[0]
            self._c_ap_ap = AXIS_DECAY * self._c_ap_ap + d_ap * e_ap
            self._c_ml_ml = AXIS_DECAY * self._c_ml_ml + d_ml * e_ml
            self._c_ap_ml = AXIS_DECAY * self._c_ap_ml + 0.5 * (d_ap * e_ml + d_ml * e_ap)
            self._n_products += 1
        if self._n_products >= MIN_AXIS_STEPS:
            self._update_direction()
        self._diffs.append((d_ap, d_ml))
        return 0.5 * (d_ap * self._dir_ap + d_ml * self._dir_ml)

    def _update_direction(self) -> None:
        theta = 0.5 * math.atan2(2.0 * self._c_ap_ml, self._c_ap_ap - self._c_ml_ml)
        c, s = math.cos(theta), math.sin(theta)
        if s < -ML_SIGN_MARGIN or (s <= ML_SIGN_MARGIN and c * self._dir_ap + s * self._dir_ml < 0):
            c, s = -c, -s  # the +ML side decides the sign; near the AP axis it is kept continuous
        self._dir_ap, self._dir_ml = c, s


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


def contact_step_times_s(steps: Sequence[StepEvent]) -> list[float | None]:
    """Per step, the time (s) from the previous step's initial contact to its own: the step time of the
    symmetry index. None when either contact is unknown or the previous step is not the one just before
    it in the same bout (the first step of a window has no previous one here).

    Not `step_time_s`, which runs between stance centres: where one foot's stance is longer or its
    force peaks later, its centre moves, and the centre-to-centre intervals even out the left/right
    difference. On the force plate (Alcantara) the plate's own impulse centres give step-time indices of
    +1.5 % where its contacts give +6.7 % (trial 2), and about half the contact-based index on most trials.
    """
    out: list[float | None] = [None] * len(steps)
    for i in range(1, len(steps)):
        prev, step = steps[i - 1], steps[i]
        if (
            step.step_time_s is not None
            and step.index == prev.index + 1
            and step.contact_t_ns is not None
            and prev.contact_t_ns is not None
        ):
            out[i] = (step.contact_t_ns - prev.contact_t_ns) / NS_PER_S
    return out


def symmetry_index_pct(left: Sequence[float], right: Sequence[float]) -> float | None:
    """(mean L - mean R) / mean of both x 100; None without values on both sides."""
    if not left or not right:
        return None
    mean_l = sum(left) / len(left)
    mean_r = sum(right) / len(right)
    mean = 0.5 * (mean_l + mean_r)
    return None if mean == 0 else 100.0 * (mean_l - mean_r) / mean
