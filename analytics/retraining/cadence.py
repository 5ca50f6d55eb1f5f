"""The cadence target and whether the runner is in its band.

The target is the runner's baseline cadence plus a chosen percentage, or a fixed rate. When the windows
carry a speed (footpod, the phone's GPS) the baseline is taken at that speed with the same slope the risk
engine uses (`analytics.risk.baseline.MetricBaseline.expected`), so slowing down on a hill lowers the
target instead of asking for a sprint cadence. The band is judged on a rolling cadence over the last few
step intervals: one step interval alternates left/right and is too noisy to judge.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from dataclasses import dataclass

from strideguard.analytics.retraining.config import RetrainingConfig
from strideguard.analytics.risk.baseline import MetricBaseline


class Band(str, enum.Enum):
    IN = "in"
    BELOW = "below"
    ABOVE = "above"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reference:
    """A baseline value of one metric, at `speed_mps` when known, with its change per m/s (unit / (m/s))."""

    value: float
    speed_mps: float | None = None
    slope_per_mps: float = 0.0

    def at(self, speed_mps: float | None) -> float:
        """The reference at a speed (the plain value when either speed is unknown)."""
        if speed_mps is None or self.speed_mps is None:
            return self.value
        return self.value + self.slope_per_mps * (speed_mps - self.speed_mps)

    @classmethod
    def from_metric(cls, metric: MetricBaseline, default_slope_pct_per_mps: float) -> Reference:
        """From a risk baseline; a baseline measured at one speed without a learned slope gets the default."""
        slope = metric.slope_per_mps
        if metric.speed_mps is not None and slope == 0.0:
            slope = metric.value * default_slope_pct_per_mps / 100.0
        return cls(value=metric.value, speed_mps=metric.speed_mps, slope_per_mps=slope)

    @classmethod
    def measured(cls, value: float, speed_mps: float | None, slope_pct_per_mps: float) -> Reference:
        """From this session's calibration: the slope is the configured % per m/s of the value."""
        return cls(value=value, speed_mps=speed_mps, slope_per_mps=value * slope_pct_per_mps / 100.0)


def target_spm(cadence: Reference | None, config: RetrainingConfig, speed_mps: float | None = None) -> float | None:
    """The step rate to cue: fixed, or the baseline at this speed plus `cadence_increase_pct`; None without
    a baseline (or when the speed puts the baseline at a nonsense value)."""
    if config.fixed_target_spm is not None:
        return config.fixed_target_spm
    if cadence is None:
        return None
    base = cadence.at(speed_mps)
    if not (math.isfinite(base) and base > 0):
        return None
    return base * (1.0 + config.cadence_increase_pct / 100.0)


def classify(cadence_spm: float, target: float, band_pct: float) -> Band:
    """In band when within +-band_pct % of the target."""
    half = target * band_pct / 100.0
    if cadence_spm < target - half:
        return Band.BELOW
    if cadence_spm > target + half:
        return Band.ABOVE
    return Band.IN


class RollingCadence:
    """Cadence over the last `n` step intervals of a bout (None until `n` intervals are in)."""

    def __init__(self, n: int) -> None:
        self._intervals: deque[float] = deque(maxlen=n)

    def push(self, step_time_s: float | None) -> float | None:
        """One step's interval from the previous step (None: a new bout starts, the window restarts)."""
        if step_time_s is None or not (math.isfinite(step_time_s) and step_time_s > 0):
            self._intervals.clear()
            return None
        self._intervals.append(step_time_s)
        if len(self._intervals) < (self._intervals.maxlen or 0):
            return None
        return 60.0 * len(self._intervals) / math.fsum(self._intervals)


@dataclass(frozen=True, slots=True, kw_only=True)
class BandTime:
    """Seconds spent in, below and above the band (data time), and the in-band share of the judged time."""

    in_s: float = 0.0
    below_s: float = 0.0
    above_s: float = 0.0

    @property
    def judged_s(self) -> float:
        return self.in_s + self.below_s + self.above_s

    @property
    def in_share(self) -> float | None:
        return self.in_s / self.judged_s if self.judged_s > 0 else None

    def add(self, band: Band, seconds: float) -> BandTime:
        return BandTime(
            in_s=self.in_s + (seconds if band is Band.IN else 0.0),
            below_s=self.below_s + (seconds if band is Band.BELOW else 0.0),
            above_s=self.above_s + (seconds if band is Band.ABOVE else 0.0),
        )


def band_time_from_windows(
    windows: list[tuple[float | None, bool, float | None]],
    cadence: Reference | None,
    config: RetrainingConfig,
    *,
    hop_s: float,
) -> BandTime:
    """Time in band from window metrics given as (cadence_spm, running, speed_mps), one per hop.

    Windows overlap (10 s on a 5-s hop), so each judged window stands for one hop of time; windows that
    are not running or have no cadence are not judged. The step-based count in `RetrainingSession` is
    finer (about 3 s of lag instead of a window's 10 s); this one needs only what the store keeps.
    """
    out = BandTime()
    for cadence_spm, running, speed_mps in windows:
        target = target_spm(cadence, config, speed_mps)
        if not running or cadence_spm is None or target is None:
            continue
        out = out.add(classify(cadence_spm, target, config.band_pct), hop_s)
    return out
