"""Gait retraining (issue 20): a cadence metronome and impact sonification, faded across sessions.

Pure functions and one per-session state machine on data time; the phone page (stream/web/retrain.*)
plays the sound and `stream/web/retrain_routes.py` feeds it. The evidence and its limits are in
docs/retraining.md: the sources changed *loading* (vertical loading rate, tibial shock), not low-back pain.
"""

from strideguard.analytics.retraining.cadence import (
    Band,
    BandTime,
    Reference,
    RollingCadence,
    band_time_from_windows,
    classify,
    target_spm,
)
from strideguard.analytics.retraining.config import RetrainingConfig
from strideguard.analytics.retraining.programme import (
    ProgrammeStep,
    SessionProgress,
    fade_table,
    on_share_for,
    programme_step,
)
from strideguard.analytics.retraining.safety import FatigueWatch, PauseDecision, pause_decision
from strideguard.analytics.retraining.session import RetrainingSession, StepFeedback
from strideguard.analytics.retraining.sonify import ImpactAverage, impact_level

__all__ = [
    "Band",
    "BandTime",
    "FatigueWatch",
    "ImpactAverage",
    "PauseDecision",
    "ProgrammeStep",
    "Reference",
    "RetrainingConfig",
    "RetrainingSession",
    "RollingCadence",
    "SessionProgress",
    "StepFeedback",
    "band_time_from_windows",
    "classify",
    "fade_table",
    "impact_level",
    "on_share_for",
    "pause_decision",
    "programme_step",
    "target_spm",
]
