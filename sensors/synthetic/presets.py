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
