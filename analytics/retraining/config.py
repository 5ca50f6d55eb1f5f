"""Settings of the gait-retraining mode, each with its unit, its default and where the default comes from.

Sources (docs/retraining.md): a step-rate cue of +5 to +10 % over the runner's own cadence (Willy 2016 used
+7.5 %; the issue asks for a default of +5 % and a range of 0-10 %), impact feedback from a 5-step moving
average (Van den Berghe 2021), and feedback faded over the last sessions of an 8-session programme
(Crowell & Davis 2011; Willy 2016). The in-band width, the impact mapping's end points, the fade's block
length and the calibration time are engineering choices, labelled so here and in the docs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from strideguard.analytics.errors import ConfigError

MAX_INCREASE_PCT = 10.0  # the sources cued +5 to +10 %
FIXED_TARGET_RANGE_SPM = (120.0, 230.0)  # a fixed rate outside this is a typo, not a running cadence


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrainingConfig:
    """What the retraining mode asks of the runner and how it sounds; `from_mapping` checks a plain dict."""

    # cadence target
    cadence_increase_pct: float = 5.0  # % over the baseline cadence (0-10)
    fixed_target_spm: float | None = None  # a fixed step rate instead of baseline + %
    band_pct: float = 2.0  # +- % of the target that counts as "in band" (engineering choice)
    cadence_steps: int = 8  # step intervals in the rolling cadence that is judged (about 3 s at 170 spm)
    cadence_speed_slope_pct_per_mps: float = 4.5  # % per m/s: the risk config's metrics.cadence default
    impact_speed_slope_pct_per_mps: float = 10.0  # % per m/s: the risk config's metrics.impact default
    # impact sonification
    impact_window_steps: int = 5  # moving average length (Van den Berghe 2021)
    impact_clean_ratio: float = 0.85  # average / baseline at or below this: no noise (engineering choice)
    impact_full_ratio: float = 1.15  # average / baseline at or above this: full noise (engineering choice)
    # calibration when no stored baseline exists: this much running after the tap measures it
    calibrate_s: float = 60.0
    # faded programme
    continuous_sessions: int = 4  # sessions with feedback on all the time (Crowell & Davis 2011: 4 of 8)
    fade_sessions: int = 4  # then sessions whose on-share falls by 1 / (fade_sessions + 1) each
    maintenance_on_share: float = 0.2  # on-share after the programme
    cycle_s: float = 120.0  # s, one on block then one off block (engineering choice)
    min_session_s: float = 600.0  # s of active mode for a session to count in the programme

    def __post_init__(self) -> None:
        _check_range(self, "cadence_increase_pct", 0.0, MAX_INCREASE_PCT)
        if self.fixed_target_spm is not None:
            _check_range(self, "fixed_target_spm", *FIXED_TARGET_RANGE_SPM)
        _check_range(self, "band_pct", 0.1, 10.0)
        _check_int(self, "cadence_steps", 2, 64)
        _check_range(self, "cadence_speed_slope_pct_per_mps", 0.0, 20.0)
        _check_range(self, "impact_speed_slope_pct_per_mps", 0.0, 50.0)
        _check_int(self, "impact_window_steps", 1, 64)
        _check_range(self, "impact_clean_ratio", 0.1, 3.0)
        _check_range(self, "impact_full_ratio", 0.1, 3.0)
        if self.impact_full_ratio <= self.impact_clean_ratio:
            raise ConfigError("must be above impact_clean_ratio", key="retraining.impact_full_ratio")
        _check_range(self, "calibrate_s", 10.0, 600.0)
        _check_int(self, "continuous_sessions", 0, 100)
        _check_int(self, "fade_sessions", 0, 100)
        _check_range(self, "maintenance_on_share", 0.0, 1.0)
        _check_range(self, "cycle_s", 10.0, 3600.0)
        _check_range(self, "min_session_s", 0.0, 7200.0)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> RetrainingConfig:
        """From a plain mapping (a TOML table, a page's JSON); unknown keys are an error, not ignored."""
        if not isinstance(values, Mapping):
            raise ConfigError("must be a table", key="retraining")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in values if k not in known)
        if unknown:
            known_text = ", ".join(sorted(known))
            raise ConfigError(f"unknown setting {', '.join(unknown)} (known: {known_text})", key="retraining")
        return cls(**dict(values))

    def replace(self, **changes: Any) -> RetrainingConfig:
        return dataclasses.replace(self, **changes)


def _check_range(cfg: RetrainingConfig, key: str, low: float, high: float) -> None:
    value = getattr(cfg, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"must be a number, got {value!r}", key=f"retraining.{key}")
    if not low <= value <= high:
        raise ConfigError(f"must be from {low:g} to {high:g}, got {value:g}", key=f"retraining.{key}")


def _check_int(cfg: RetrainingConfig, key: str, low: int, high: int) -> None:
    value = getattr(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"must be a whole number from {low} to {high}, got {value!r}", key=f"retraining.{key}")
