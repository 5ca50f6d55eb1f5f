"""Ready-made synthetic runs for demos and tests."""

from __future__ import annotations

from typing import Any

from strideguard.sensors.synthetic.config import Change, SyntheticConfig
from strideguard.sensors.synthetic.generator import SyntheticRunner
from strideguard.sensors.synthetic.truth import SyntheticRun
from strideguard.sensors.types import Placement

FATIGUE_ONSET_S = 1200.0  # s from the recording start: the fatigue episode begins at minute 20
FATIGUE_RAMP_S = 30.0  # s to reach the full change
FATIGUE_RUN_DURATION_S = 1620.0  # s: 27 minutes, 7 of them fatigued


def fatigue_config(**overrides: Any) -> SyntheticConfig:
    """10 s standing, steady running at 170 spm, and from minute 20 (30-s ramp): cadence -6 %, ML sway
    +30 %, forward lean +6 degrees. Keyword overrides replace any other config field."""
    fields: dict[str, Any] = {
        "cadence_spm": 170.0,
        "standing_s": 10.0,
        "changes": (
            Change(at_s=FATIGUE_ONSET_S, ramp_s=FATIGUE_RAMP_S, cadence_pct=-6.0, sway_pct=30.0, lean_deg=6.0),
        ),
    }
    fields.update(overrides)
    return SyntheticConfig(**fields)


def chest_strap_config(**overrides: Any) -> SyntheticConfig:
    """Horizontal trunk accelerations as large as real chest data: the defaults are gentle (AP and ML
    RMS about 0.22 g), the UCI treadmill torso units show 0.3-1.0 g. Use it to check that an analysis
    holds up when braking (peak 0.8 g) and sway (0.4 g) are strong. Keyword overrides as above."""
    fields: dict[str, Any] = {"impact_g": 3.0, "braking_g": 0.8, "sway_g": 0.4}
    fields.update(overrides)
    return SyntheticConfig(**fields)


def fatigue_run(
    *,
    duration_s: float = FATIGUE_RUN_DURATION_S,
    rate_hz: float = 100.0,
    seed: int = 20,
    runner: str = "synthetic-fatigue",
    placement: Placement = Placement.CHEST,
    **overrides: Any,
) -> SyntheticRun:
    """The fatigue preset recorded for `duration_s` (default 27 min) at `rate_hz`."""
    return SyntheticRunner(fatigue_config(**overrides)).generate(
        duration_s, rate_hz, seed=seed, runner=runner, placement=placement
    )


WARMUP_EASY_S = 240.0  # s: an easy start reaches working level over the first four minutes
WARMUP_EASY_CADENCE_PCT = -4.0  # % below working cadence at the first step (about 0.9 m/s slower)
WARMUP_EASY_IMPACT_PCT = -12.0  # % below working impact at the first step


def warmup_run(
    start: str,
    *,
    duration_s: float = 900.0,
    rate_hz: float = 50.0,
    seed: int = 30,
    runner: str = "synthetic-warmup",
    cadence_spm: float = 170.0,
    impact_g: float = 2.8,
    **overrides: Any,
) -> SyntheticRun:
    """A run that starts `"easy"` (cadence and impact below working level, ramping up over the first four
    minutes: the truth of a warm-up) or `"hard"` (at working level from the first step). Working level
    is `cadence_spm` and `impact_g` either way, so the two share one previous session's baseline."""
    if start == "hard":
        fields: dict[str, Any] = {"cadence_spm": cadence_spm, "impact_g": impact_g, "standing_s": 5.0}
    elif start == "easy":
        cadence_up = 100.0 / (1 + WARMUP_EASY_CADENCE_PCT / 100) - 100.0
        impact_up = 100.0 / (1 + WARMUP_EASY_IMPACT_PCT / 100) - 100.0
        fields = {
            "cadence_spm": cadence_spm * (1 + WARMUP_EASY_CADENCE_PCT / 100),
            "impact_g": impact_g * (1 + WARMUP_EASY_IMPACT_PCT / 100),
            "standing_s": 5.0,
            "changes": (Change(at_s=5.0, ramp_s=WARMUP_EASY_S, cadence_pct=cadence_up, impact_pct=impact_up),),
        }
    else:
        raise ValueError(f"start is 'easy' or 'hard', got {start!r}")
    fields.update(overrides)
    return SyntheticRunner(SyntheticConfig(**fields)).generate(duration_s, rate_hz, seed=seed, runner=runner)
