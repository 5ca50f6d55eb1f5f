"""Personal baselines: what is normal for this runner, per metric, optionally as a function of speed.

A baseline is robust (median, and the MAD scaled to a standard deviation) so that a few odd windows in
the early run do not move it. Where the windows carry a speed the baseline remembers the speed it was
measured at and a slope per m/s: learned from the windows when they span enough speeds, else the
configured default. `Baseline` is JSON-able (`as_dict` / `from_dict`) so the shell can store it with a
session and hand it back as the prior of the next one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from strideguard.analytics.errors import ConfigError
from strideguard.analytics.risk.config import MetricRule

MAD_TO_SD = 1.4826  # scales the median absolute deviation to a normal standard deviation


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricBaseline:
    """One metric's normal value (`value`, at `speed_mps` when known) and its window-to-window spread."""

    value: float
    sd: float
    n_windows: int
    speed_mps: float | None = None
    slope_per_mps: float = 0.0  # in the metric's own unit per m/s

    def expected(self, speed_mps: float | None) -> float:
        """The baseline at a given speed (the plain baseline when either speed is unknown)."""
        if speed_mps is None or self.speed_mps is None:
            return self.value
        return self.value + self.slope_per_mps * (speed_mps - self.speed_mps)


@dataclass(frozen=True, slots=True, kw_only=True)
class Baseline:
    """A runner's baselines by metric name; `source` says where they came from ("run" or "prior")."""

    metrics: Mapping[str, MetricBaseline] = field(default_factory=dict)
    source: str = "run"
    t_end_ns: int | None = None
    heart_rate_bpm: float | None = None  # median over the baseline windows: the working heart rate

    def get(self, name: str) -> MetricBaseline | None:
        return self.metrics.get(name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "t_end_ns": self.t_end_ns,
            "heart_rate_bpm": self.heart_rate_bpm,
            "metrics": {
                name: {
                    "value": m.value,
                    "sd": m.sd,
                    "n_windows": m.n_windows,
                    "speed_mps": m.speed_mps,
                    "slope_per_mps": m.slope_per_mps,
                }
                for name, m in self.metrics.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Baseline:
        """Inverse of `as_dict`; a malformed stored baseline raises ConfigError naming the entry."""
        try:
            metrics = {
                str(name): MetricBaseline(
                    value=_finite(m["value"]),
                    sd=_finite(m["sd"]),
                    n_windows=int(m["n_windows"]),
                    speed_mps=None if m.get("speed_mps") is None else _finite(m["speed_mps"]),
                    slope_per_mps=_finite(m.get("slope_per_mps", 0.0)),
                )
                for name, m in dict(data.get("metrics", {})).items()
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"stored baseline is malformed: {exc!r}", key="baseline") from exc
        t_end = data.get("t_end_ns")
        try:
            hr = None if data.get("heart_rate_bpm") is None else _finite(data["heart_rate_bpm"])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"stored baseline is malformed: {exc!r}", key="baseline") from exc
        return cls(
            metrics=metrics,
            source=str(data.get("source", "prior")),
            t_end_ns=None if t_end is None else int(t_end),
            heart_rate_bpm=hr,
        )


def _finite(x: Any) -> float:
    v = float(x)
    if not math.isfinite(v):
        raise ValueError(f"not finite: {x!r}")
    return v


def fit_metric_baseline(
    values: Sequence[float],
    speeds_mps: Sequence[float | None],
    rule: MetricRule,
    *,
    min_windows: int,
    min_speed_span_mps: float,
) -> MetricBaseline | None:
    """A robust baseline from window values, or None with fewer than `min_windows` values."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < min_windows:
        return None
    if rule.kind == "magnitude":
        x = np.abs(x)
    median = float(np.median(x))
    sd = float(MAD_TO_SD * np.median(np.abs(x - median)))
    known = [(v, s) for v, s in zip(x, speeds_mps, strict=True) if s is not None]
    if len(known) < min_windows:
        return MetricBaseline(value=median, sd=sd, n_windows=int(x.size))
    kv = np.array([v for v, _ in known])
    ks = np.array([s for _, s in known], dtype=np.float64)
    speed_ref = float(np.median(ks))
    if float(ks.max() - ks.min()) >= min_speed_span_mps:
        slope, intercept = np.polyfit(ks, kv, 1)
        value = float(intercept + slope * speed_ref)
        sd = float(MAD_TO_SD * np.median(np.abs(kv - (intercept + slope * ks))))
        slope = float(slope)
    else:
        value = float(np.median(kv))
        per_mps = rule.speed_slope_per_mps
        slope = value * per_mps / 100.0 if rule.kind == "relative" else per_mps
    return MetricBaseline(value=value, sd=sd, n_windows=int(x.size), speed_mps=speed_ref, slope_per_mps=slope)
