"""Analysis settings with documented defaults; every name carries its unit.

The defaults suit chest and sacrum sensors at 25-500 Hz for walking and running. Cutoffs above a
stream's Nyquist limit are clamped per stream (see `filters.clamp_cutoff_hz`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from strideguard.analytics.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalyticsConfig:
    """Parameters of the streaming gait analytics.

    Windows: a window of `window_s` starts every `hop_s` on a grid from the session's first sample
    (`window_s` must be a whole multiple of `hop_s`) and is emitted once the stream has passed its end
    by `latency_s`, the declared fixed look-ahead of the whole analyzer (steps need at most
    `step_search_back_s` + refractory + `step_post_s` after their impact, well inside it).
    """

    # windows
    window_s: float = 10.0  # s, analysis window length
    hop_s: float = 5.0  # s, window start spacing
    # s, declared fixed look-ahead before a window is emitted: a bout's first steps are held until its
    # third step shows a steady rhythm (steps.BOUT_START_STEPS), about 1.5 s into a walk at 115 steps/min
    latency_s: float = 2.5
    # orientation
    gravity_cutoff_hz: float = 0.3  # Hz, 2nd-order low-pass that estimates gravity (and posture)
    gravity_warmup_s: float = 1.0  # s, gravity = expanding mean this long, then the low-pass seeded with it
    ap_band_hz: tuple[float, float] = (1.6, 5.0)  # Hz, band whose horizontal energy marks the AP axis
    orientation_time_constant_s: float = 20.0  # s, smoothing of the horizontal covariance (slow update)
    orientation_update_s: float = 1.0  # s, AP/ML axis recomputed on this sample grid
    forward_votes: int = 16  # steps whose braking sign decide which way is forward
    # steps
    step_band_hz: tuple[float, float] = (0.6, 4.0)  # Hz, band-pass of vertical acc before peak picking
    step_threshold_rms_factor: float = 0.3  # peak must exceed this x running RMS of the band-passed signal
    step_threshold_floor_g: float = 0.08  # g, absolute floor: standing still never makes steps
    step_rms_time_constant_s: float = 0.75  # s, running RMS for the adaptive threshold
    gait_band_fraction_min: float = 0.42  # share of vertical dynamic power in the step band for gait
    gait_quality_time_constant_s: float = 1.0  # s, smoothing of that share (a noise burst fails it)
    # refractory period = this x current step interval. Below 0.5 so a detector that ever counts every other
    # step (interval 2T) has a refractory under T and finds the missed steps again; at 0.6 a walk at 100-110
    # spm followed by running at 175-185 spm stayed at half the cadence (test_steps_recover_from_half_rate).
    refractory_fraction: float = 0.45
    min_step_interval_s: float = 0.25  # s, refractory at the start of a bout (240 steps/min)
    max_refractory_s: float = 0.5  # s, upper bound of the refractory period
    max_step_interval_s: float = 1.5  # s, a longer gap starts a new bout (no step time across it)
    step_search_back_s: float = 0.3  # s, impact peak searched this far before the band-pass peak
    step_post_s: float = 0.4  # s, data after a step's band-pass peak needed for its per-step metrics
    impact_lowpass_hz: float = 6.0  # Hz, low-pass of vertical acc before the per-step impact peak
    contact_lowpass_hz: float = 15.0  # Hz, low-pass of vertical acc for the contact threshold crossings
    contact_threshold_g: float = 0.4  # g, vertical acc (gravity included) at or above it = foot on ground
    oscillation_highpass_hz: float = 0.5  # Hz, high-pass of the double integration for vertical oscillation
    # posture and windows
    still_threshold_g: float = 0.08  # g, dynamic RMS below this counts as standing still
    still_time_constant_s: float = 0.5  # s, smoothing of the dynamic power for standing detection
    standing_reference_min_s: float = 2.0  # s, standing at the start this long sets the lean reference
    running_min_cadence_spm: float = 140.0  # steps/min, a window below this is not `running`
    min_steps_per_window: int = 4  # fewer steps: window cadence and step metrics are None
    # footpod fusion
    overstride_reference_windows: int = 12  # running windows whose median cadence is the overstriding reference

    def __post_init__(self) -> None:
        positive = (
            "window_s",
            "hop_s",
            "gravity_cutoff_hz",
            "gravity_warmup_s",
            "orientation_time_constant_s",
            "orientation_update_s",
            "step_threshold_rms_factor",
            "step_rms_time_constant_s",
            "gait_quality_time_constant_s",
            "refractory_fraction",
            "min_step_interval_s",
            "max_refractory_s",
            "max_step_interval_s",
            "step_search_back_s",
            "step_post_s",
            "impact_lowpass_hz",
            "still_threshold_g",
            "still_time_constant_s",
            "contact_lowpass_hz",
            "contact_threshold_g",
            "oscillation_highpass_hz",
        )
        for key in positive:
            value = getattr(self, key)
            if not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"must be a positive number, got {value!r}", key=key)
        for key in (
            "latency_s",
            "step_threshold_floor_g",
            "gait_band_fraction_min",
            "standing_reference_min_s",
            "running_min_cadence_spm",
        ):
            value = getattr(self, key)
            if not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"must be a number >= 0, got {value!r}", key=key)
        for key in ("ap_band_hz", "step_band_hz"):
            lo, hi = getattr(self, key)
            if not 0 < lo < hi:
                raise ConfigError(f"must be (low, high) with 0 < low < high, got {(lo, hi)!r}", key=key)
        ratio = self.window_s / self.hop_s
        if abs(ratio - round(ratio)) > 1e-9:
            raise ConfigError(
                f"window_s ({self.window_s}) must be a whole multiple of hop_s ({self.hop_s})", key="window_s"
            )
        if self.min_step_interval_s >= self.max_step_interval_s:
            raise ConfigError("must be below max_step_interval_s", key="min_step_interval_s")
        if self.forward_votes < 1 or self.min_steps_per_window < 2:
            raise ConfigError("forward_votes >= 1 and min_steps_per_window >= 2 required", key="forward_votes")
        needed = self.step_search_back_s + max(self.max_refractory_s, self.step_post_s) + 0.1
        if self.latency_s < needed:
            raise ConfigError(f"must be at least {needed:.2f} s for the step look-back and look-ahead", key="latency_s")

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> AnalyticsConfig:
        """Build from a plain mapping (e.g. a TOML table); unknown keys are an error, not ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        for key in values:
            if key not in known:
                raise ConfigError(f"unknown setting (known: {', '.join(sorted(known))})", key=key)
        clean: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return cls(**clean)
