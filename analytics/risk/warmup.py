"""Warm-up check: a hard start, i.e. running at the session's working intensity from the first minutes.

The runners' own sources say "always warm up": a few easy minutes before working pace. Whether a start
was easy is judged by comparing the first `judge_s` of running (2 min) with the runner's working level,
signal by signal: speed (footpod or phone GPS), cadence, trunk impact and heart rate, whichever both
sides have. A start is *hard* when every compared signal is already within a few percent of working
level (`*_near_pct`) and at least `min_signs` signals could be compared; an easy start shows in all of
them (slower, so a lower cadence and a softer impact, and a heart rate still climbing).

Where the working level comes from:
- **live**, from the runner's previous session (the prior baseline: its cadence and impact baselines,
  the speed they were measured at, and its heart rate): one gentle cue right after `judge_s`, well
  within the first three minutes ("ease into it: a few easy minutes first"), as an `info` note;
- **after the run**, from this session's own running after `working_after_s` (5 min): a line in the
  session summary, for the first session of a runner too.

The thresholds are a heuristic (docs/risk.md, "Warm-up"): no study gives a cut-off for a "hard start"
from trunk or heart-rate data, and a note about warming up is never a diagnosis.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from strideguard.analytics.consts import NS_PER_S
from strideguard.analytics.results import RiskEvent, RiskEventKind, Severity, WindowMetrics
from strideguard.analytics.risk.baseline import Baseline
from strideguard.analytics.risk.config import WarmupRule

WARMUP = "warmup"
SIGNALS = ("speed_mps", "cadence_spm", "impact_g", "heart_rate_bpm")
_SIGNAL_WORDS = {"speed_mps": "speed", "cadence_spm": "cadence", "impact_g": "impact", "heart_rate_bpm": "heart rate"}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Intensity:
    """A level of effort in the signals a window can carry (None: not measured)."""

    speed_mps: float | None = None
    cadence_spm: float | None = None
    impact_g: float | None = None
    heart_rate_bpm: float | None = None

    @classmethod
    def median_of(cls, windows: Sequence[WindowMetrics]) -> Intensity:
        """Per signal, the median over the windows that have it (None when none has)."""

        def median(field: str) -> float | None:
            values = [float(v) for w in windows if (v := getattr(w, field)) is not None and math.isfinite(v)]
            return float(np.median(values)) if values else None

        return cls(**{field: median(field) for field in SIGNALS})

    @classmethod
    def of_baseline(cls, baseline: Baseline) -> Intensity:
        """The working level a stored baseline describes: its cadence and impact, the speed they were
        measured at, and its heart rate."""
        cadence, impact = baseline.get("cadence"), baseline.get("impact")
        speed = next((m.speed_mps for m in (cadence, impact) if m is not None and m.speed_mps is not None), None)
        return cls(
            speed_mps=speed,
            cadence_spm=cadence.value if cadence is not None else None,
            impact_g=impact.value if impact is not None else None,
            heart_rate_bpm=baseline.heart_rate_bpm,
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WarmupVerdict:
    """The start compared with working level: each compared signal in % of working level."""

    hard_start: bool | None  # None: too few signals to compare
    pct_of_working: dict[str, float]
    against: str  # "previous session" | "this run"

    def as_dict(self) -> dict[str, Any]:
        return {"hard_start": self.hard_start, "pct_of_working": self.pct_of_working, "against": self.against}

    def words(self) -> str:
        """'cadence 99 % and impact 98 % of your working level'."""
        parts = [f"{_SIGNAL_WORDS[k]} {v:.0f} %" for k, v in self.pct_of_working.items()]
        joined = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
        return f"{joined} of your working level"


def judge_start(start: Intensity, working: Intensity, rule: WarmupRule, *, against: str) -> WarmupVerdict:
    """Hard start when every signal both sides have is within its `*_near_pct` of working level."""
    near = {
        "speed_mps": rule.speed_near_pct,
        "cadence_spm": rule.cadence_near_pct,
        "impact_g": rule.impact_near_pct,
        "heart_rate_bpm": rule.heart_rate_near_pct,
    }
    pct: dict[str, float] = {}
    for field in SIGNALS:
        s, w = getattr(start, field), getattr(working, field)
        if s is not None and w is not None and w > 0:
            pct[field] = round(100.0 * s / w, 1)
    if len(pct) < rule.min_signs:
        return WarmupVerdict(hard_start=None, pct_of_working=pct, against=against)
    return WarmupVerdict(hard_start=all(v >= near[k] for k, v in pct.items()), pct_of_working=pct, against=against)


class WarmupCheck:
    """Watches the first minutes of running; see the module docstring. Pure state, data time only."""

    def __init__(self, rule: WarmupRule, prior: Baseline | None) -> None:
        self.rule = rule
        self.prior = prior
        self._first_ns: int | None = None
        self._start: list[WindowMetrics] = []
        self._working: list[WindowMetrics] = []
        self._live: WarmupVerdict | None = None
        self._judged = False

    def push(self, window: WindowMetrics) -> RiskEvent | None:
        """One window; returns the hard-start note once, when the first `judge_s` of running is over."""
        if not self.rule.enabled or not window.running:
            return None
        if self._first_ns is None:
            self._first_ns = window.t_start_ns
        since_s = (window.t_start_ns - self._first_ns) / NS_PER_S
        if since_s >= self.rule.working_after_s:
            self._working.append(window)
        if self._judged:
            return None
        if window.t_end_ns <= self._first_ns + int(self.rule.judge_s * NS_PER_S):
            self._start.append(window)
            return None
        self._judged = True
        if self.prior is None or not self._start:
            return None
        self._live = judge_start(
            Intensity.median_of(self._start), Intensity.of_baseline(self.prior), self.rule, against="previous session"
        )
        if not self._live.hard_start:
            return None
        return RiskEvent(
            runner=window.runner,
            t_ns=self._start[-1].t_end_ns,
            kind=RiskEventKind.ONSET,
            metric=WARMUP,
            severity=Severity.INFO,
            value=min(self._live.pct_of_working.values()),
            baseline=100.0,
            deviation=round(min(self._live.pct_of_working.values()) - 100.0, 2),
            deviation_unit="%",
            duration_s=round((self._start[-1].t_end_ns - self._first_ns) / NS_PER_S, 1),
            message=f"Hard start: {self._live.words()} from the first minutes",
            cue=self.rule.cue,
            onset_t_ns=self._first_ns,
        )

    def summary(self) -> dict[str, Any]:
        """What the session summary says about the start: the live verdict (against the previous
        session) when there was one, else the start against this run's own working level."""
        if not self.rule.enabled:
            return {"judged": False, "reason": "off"}
        if self._live is not None and self._live.hard_start is not None:
            return {"judged": True, **self._live.as_dict()}
        if not self._start or len(self._working) < self.rule.min_working_windows:
            return {"judged": False, "reason": "too short to know your working level"}
        verdict = judge_start(
            Intensity.median_of(self._start), Intensity.median_of(self._working), self.rule, against="this run"
        )
        if verdict.hard_start is None:
            return {"judged": False, "reason": "too few signals to compare", **verdict.as_dict()}
        return {"judged": True, **verdict.as_dict()}
