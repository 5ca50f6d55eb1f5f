"""When the retraining mode must pause, and what it says.

Safe by design (issue 20): the mode never starts by itself (only `RetrainingSession.start`, called on the
runner's tap), and it pauses, with the reason spoken, when the pain log holds a red flag
(`analytics.pain.latest_red_flag`: a clinician comes before any gait cue) or while a fatigue alert is
active (the cue to quicken steps would push a tired runner; the fatigue cue is to ease off). A pause is
lifted only by the runner's tap again, and only once its condition has gone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from strideguard.analytics.pain import CLINICIAN, RED_FLAGS, PainEntry, latest_red_flag
from strideguard.analytics.risk import FATIGUE

RED_FLAG = "red_flag"
FATIGUE_ALERT = "fatigue"


@dataclass(frozen=True, slots=True, kw_only=True)
class PauseDecision:
    """`paused` with a machine-readable `reason` and the sentence the page speaks."""

    paused: bool
    reason: str | None = None
    spoken: str = ""


RUN = PauseDecision(paused=False)


def pause_decision(pain_entries: Iterable[PainEntry], *, fatigue_active: bool) -> PauseDecision:
    """Red flag first (it outranks everything), then an active fatigue alert."""
    flagged = latest_red_flag(list(pain_entries))
    if flagged is not None:
        said = "; ".join(RED_FLAGS[k].rstrip("?").lower() for k in flagged.flags_raised)
        return PauseDecision(
            paused=True,
            reason=RED_FLAG,
            spoken=f"Retraining paused. In your pain log you answered yes to: {said}. {CLINICIAN}.",
        )
    if fatigue_active:
        return PauseDecision(
            paused=True,
            reason=FATIGUE_ALERT,
            spoken="Retraining paused: fatigue pattern. Ease off: slow down or walk a minute.",
        )
    return RUN


class FatigueWatch:
    """Whether a fatigue alert is active: an onset not yet followed by its clearing (by onset time).

    Fed the risk events of the session as they come (the raw ones and the dispatcher's copies alike, so
    the alert rate limit never hides a fatigue onset from the pause)."""

    def __init__(self) -> None:
        self._open: set[int] = set()

    @property
    def active(self) -> bool:
        return bool(self._open)

    def push(self, metric: str, kind: str, onset_t_ns: int) -> bool:
        """One risk event; returns whether fatigue is active after it."""
        if metric == FATIGUE:
            if kind == "onset":
                self._open.add(onset_t_ns)
            elif kind == "cleared":
                self._open.discard(onset_t_ns)
        return self.active
