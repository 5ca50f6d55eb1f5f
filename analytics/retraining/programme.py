"""The faded programme across sessions, and what one session achieved.

Crowell & Davis 2011 and Willy 2016 retrained over 8 sessions and removed the feedback progressively in
the last ones, so the runner learns to hold the new gait without the cue (retention at 30 days in Willy
2016). Here: `continuous_sessions` sessions with feedback on all the time, then `fade_sessions` sessions
in on/off blocks whose on-share falls by 1 / (fade_sessions + 1) per session (4 + 4: 80, 60, 40, 20 %),
then maintenance at `maintenance_on_share`. Each cycle of `cycle_s` starts with its on block.

Which session the runner is in is derived from the stored progress of earlier sessions (plain records, as
`SessionProgress.as_dict` wrote them): a session counts when the mode ran at least `min_session_s`. A
record that cannot be read is counted in `skipped`, never guessed from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from strideguard.analytics.errors import AnalyticsError
from strideguard.analytics.retraining.config import RetrainingConfig

CONTINUOUS = "continuous"
FADING = "fading"
MAINTENANCE = "maintenance"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionProgress:
    """What one session of the mode achieved (stored with the session, shown in report and sessions).

    Times are data time in seconds while the mode was active (started by the runner, not paused, past
    calibration). `cadence_spm` is the mean step rate over those steps; `impact_change_pct` compares the
    mean per-step impact with the programme's first session (None in that session, or without impacts).
    """

    runner: str
    session_id: str
    started_t_ns: int
    session_number: int
    phase: str
    on_share: float
    active_s: float
    feedback_on_s: float
    paused_s: float
    baseline_cadence_spm: float | None
    target_spm: float | None
    cadence_spm: float | None
    cadence_vs_target_pct: float | None
    cadence_change_pct: float | None
    time_in_band_s: float
    time_below_s: float
    time_above_s: float
    time_in_band_share: float | None
    time_in_band_share_feedback_off: float | None
    baseline_impact_g: float | None
    impact_g: float | None
    impact_change_pct: float | None
    pause_reasons: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["pause_reasons"] = list(self.pause_reasons)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SessionProgress:
        """Inverse of `as_dict`; a malformed record raises AnalyticsError naming the field."""
        if not isinstance(data, Mapping):
            raise AnalyticsError(f"a progress record must be a mapping, got {type(data).__name__}")
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                if f.name == "pause_reasons":
                    continue
                raise AnalyticsError(f"progress record lacks {f.name!r}")
            value = data[f.name]
            kind = str(f.type)
            if f.name == "pause_reasons":
                if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                    raise AnalyticsError("progress record field 'pause_reasons' must be a list of texts")
                value = tuple(value)
            elif kind == "str":
                if not isinstance(value, str):
                    raise AnalyticsError(f"progress record field {f.name!r} must be text, got {value!r}")
            elif kind == "int":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise AnalyticsError(f"progress record field {f.name!r} must be a whole number, got {value!r}")
            elif value is not None or "None" not in kind:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise AnalyticsError(f"progress record field {f.name!r} must be a finite number, got {value!r}")
                value = float(value)
            values[f.name] = value
        return cls(**values)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgrammeStep:
    """Where the runner is in the programme for the coming session."""

    session_number: int  # 1-based, counting sessions that reached min_session_s
    phase: str  # continuous | fading | maintenance
    on_share: float  # share of each cycle with feedback on
    cycle_s: float
    first_impact_g: float | None  # the programme's first session's mean impact (None before it)
    skipped: int = 0  # records that could not be read

    def feedback_on(self, elapsed_s: float) -> bool:
        """Whether feedback plays `elapsed_s` into the active mode (each cycle starts with its on block)."""
        if self.on_share >= 1.0:
            return True
        if self.on_share <= 0.0 or elapsed_s < 0:
            return False
        return math.fmod(elapsed_s, self.cycle_s) < self.on_share * self.cycle_s

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def on_share_for(session_number: int, config: RetrainingConfig) -> tuple[str, float]:
    """The phase and on-share of the n-th counted session (1-based)."""
    if session_number <= config.continuous_sessions:
        return CONTINUOUS, 1.0
    k = session_number - config.continuous_sessions
    if k <= config.fade_sessions:
        return FADING, 1.0 - k / (config.fade_sessions + 1)
    return MAINTENANCE, config.maintenance_on_share


def programme_step(history: Iterable[Mapping[str, Any]], config: RetrainingConfig) -> ProgrammeStep:
    """The next session's place in the programme, from the stored progress of earlier sessions."""
    counted: list[SessionProgress] = []
    skipped = 0
    for record in history:
        try:
            progress = SessionProgress.from_dict(record)
        except AnalyticsError:
            skipped += 1
            continue
        if progress.active_s >= config.min_session_s:
            counted.append(progress)
    counted.sort(key=lambda p: p.started_t_ns)
    first_impact = next((p.impact_g for p in counted if p.impact_g is not None), None)
    number = len(counted) + 1
    phase, share = on_share_for(number, config)
    return ProgrammeStep(
        session_number=number,
        phase=phase,
        on_share=share,
        cycle_s=config.cycle_s,
        first_impact_g=first_impact,
        skipped=skipped,
    )


def fade_table(config: RetrainingConfig, sessions: int) -> Sequence[tuple[int, str, float]]:
    """(session number, phase, on-share) for the first `sessions` sessions: the programme at a glance."""
    return [(n, *on_share_for(n, config)) for n in range(1, sessions + 1)]
