"""The pain log's rules: pain 0-10 before and after a run, the red-flag questions, and the advice.

Red flags come first and alone: any "yes" gives "stop running and see a clinician" and nothing else
(never a gait score: no metric replaces this). Otherwise, from EVIDENCE.md: mild pain below 3/10 that
does not rise after the run may continue with care; rising pain means rest. Pure: storage is in
stream/sqlite/painlog.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from strideguard.analytics.errors import AnalyticsError

# key: the question as the runner reads it
RED_FLAGS: dict[str, str] = {
    "leg_pain": "Does pain shoot down one or both legs?",
    "numbness": "Any numbness in the legs, buttocks or groin?",
    "tingling": "Any tingling (pins and needles) in the legs or feet?",
    "leg_weakness": "Any weakness in a leg or foot (tripping, foot slapping)?",
    "night_pain": "Does the pain wake you at night or stay when you lie still?",
    "bladder_bowel": "Any loss of bladder or bowel control, or new difficulty passing urine?",
}
MILD_PAIN_LIMIT = 3  # /10: below this and not rising, "may continue with care" (EVIDENCE.md)
CLINICIAN = "Stop running and see a clinician"


@dataclass(frozen=True, slots=True, kw_only=True)
class PainEntry:
    """One pain-log entry; `red_flags` maps RED_FLAGS keys to the answers given (missing = not asked)."""

    runner: str
    t_ns: int
    pain_before: int | None = None
    pain_after: int | None = None
    red_flags: Mapping[str, bool] = field(default_factory=dict)
    session_id: str | None = None
    note: str = ""

    def __post_init__(self) -> None:
        for name in ("pain_before", "pain_after"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10):
                raise AnalyticsError(f"{name.replace('_', ' ')} must be a whole number from 0 to 10, got {value!r}")
        unknown = sorted(set(self.red_flags) - set(RED_FLAGS))
        if unknown:
            raise AnalyticsError(f"unknown red-flag question {', '.join(unknown)}; known: {', '.join(RED_FLAGS)}")
        object.__setattr__(self, "red_flags", dict(self.red_flags))

    @property
    def flags_raised(self) -> tuple[str, ...]:
        return tuple(k for k in RED_FLAGS if self.red_flags.get(k))


@dataclass(frozen=True, slots=True, kw_only=True)
class PainAdvice:
    level: str  # red_flag | rest | care | ok | unknown
    message: str
    show_gait_scores: bool  # False with a red flag: no gait metric replaces a clinician


def advise(entry: PainEntry) -> PainAdvice:
    """What the runner should be told about one entry."""
    flags = entry.flags_raised
    if flags:
        said = "; ".join(RED_FLAGS[k].rstrip("?").lower() for k in flags)
        return PainAdvice(
            level="red_flag",
            show_gait_scores=False,
            message=f"{CLINICIAN}. You answered yes to: {said}. These can be signs that need a "
            "clinician, and no gait metric replaces that.",
        )
    before, after = entry.pain_before, entry.pain_after
    if before is None and after is None:
        return PainAdvice(level="unknown", show_gait_scores=True, message="No pain score recorded.")
    worst = max(p for p in (before, after) if p is not None)
    if before is not None and after is not None and after > before:
        return PainAdvice(
            level="rest",
            show_gait_scores=True,
            message=f"Pain rose during the run ({before}/10 to {after}/10): rest, and see a "
            "clinician if it keeps rising or does not settle.",
        )
    if worst == 0:
        return PainAdvice(level="ok", show_gait_scores=True, message="No pain recorded.")
    if worst < MILD_PAIN_LIMIT:
        return PainAdvice(
            level="care",
            show_gait_scores=True,
            message=f"Mild pain ({worst}/10) that did not rise: you may continue with care.",
        )
    return PainAdvice(
        level="rest",
        show_gait_scores=True,
        message=f"Pain of {worst}/10: rest rather than run through it, and see a clinician if it does not settle.",
    )


def latest_red_flag(entries: list[PainEntry]) -> PainEntry | None:
    """The most recent entry with a red flag, if the most recent answered entry has one (a later entry
    answering every question "no" lifts it)."""
    for entry in sorted(entries, key=lambda e: e.t_ns, reverse=True):
        if entry.flags_raised:
            return entry
        if entry.red_flags and all(k in entry.red_flags for k in RED_FLAGS):
            return None
    return None
