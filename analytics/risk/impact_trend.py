"""Impact across sessions: a sustained rise of a runner's trunk impact over weeks, as an observation.

Within one run a rise of impact is judged against the run's own baseline (`metrics.impact`). Across
sessions the runners' sources name two causes a run cannot show: worn shoes and hard surfaces ("softer
surfaces and fresh shoes, every 500-800 km", EVIDENCE.md). This module compares the session medians of
impact over time: per session, impact is taken at a common speed where sessions carry one (impact rises
about 10 % per m/s, the engine's `metrics.impact.speed_slope_per_mps`), so a faster week is not read as
worn shoes.

Two views, both observations with reasons, never alarms:
- `recent_rise`: the last `recent_n` sessions above the runner's long-term median (the sessions before
  them, at least `min_history` of them) by `rise_pct` in their median, and each by half of it at least;
- `trend`: a straight-line fit over time (e.g. the sessions on one shoe), reported as the change over
  the span when the fit explains the sessions (r >= `min_r`) and the change is at least `rise_pct`.

Thresholds are a heuristic (docs/risk.md, "Impact across sessions"): no study sets a cut-off for a
session-to-session rise of trunk impact.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from strideguard.analytics.consts import NS_PER_DAY

IMPACT_PCT_PER_MPS = 10.0  # % per m/s: as the risk engine's metrics.impact speed slope
RISE_PCT = 10.0  # %: a rise smaller than this is within session-to-session spread (heuristic)
RECENT_N = 3  # sessions: "sustained" means several in a row, not one hard-surface run
MIN_HISTORY = 5  # sessions before them to know the runner's usual impact
MIN_TREND_SESSIONS = 5
MIN_R = 0.6
CUE = "softer surfaces, and check your shoes (replace every 500-800 km)"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SessionImpact:
    """One session's median trunk impact (g) and mean speed (m/s, None when unknown)."""

    start_t_ns: int
    impact_g: float
    speed_mps: float | None = None
    session_id: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ImpactObservation:
    kind: str  # recent_rise | trend
    change_pct: float
    n_sessions: int
    span_days: float
    message: str
    cue: str = CUE


def at_common_speed(sessions: Sequence[SessionImpact]) -> list[float]:
    """Each session's impact moved to the median speed of the sessions that have one (unchanged when
    fewer than all sessions know their speed: like is compared with like)."""
    speeds = [s.speed_mps for s in sessions]
    if not sessions or any(v is None for v in speeds):
        return [s.impact_g for s in sessions]
    ref = float(np.median([float(v) for v in speeds if v is not None]))
    return [s.impact_g * (1 + IMPACT_PCT_PER_MPS / 100 * (ref - float(s.speed_mps or ref))) for s in sessions]


def recent_rise(
    sessions: Sequence[SessionImpact], *, recent_n: int = RECENT_N, min_history: int = MIN_HISTORY
) -> ImpactObservation | None:
    """The last `recent_n` sessions RISE_PCT above the median of the ones before them (each of them at
    least half that: one hard-surface run among them is not a sustained rise)."""
    ordered = sorted(sessions, key=lambda s: s.start_t_ns)
    if len(ordered) < recent_n + min_history:
        return None
    values = at_common_speed(ordered)
    usual = float(np.median(values[:-recent_n]))
    recent = values[-recent_n:]
    if usual <= 0:
        return None
    rises = [100.0 * (v / usual - 1.0) for v in recent]
    change = float(np.median(rises))
    if change < RISE_PCT or min(rises) < RISE_PCT / 2:  # risen as a group, and every one of them
        return None
    return ImpactObservation(
        kind="recent_rise",
        change_pct=round(change, 1),
        n_sessions=recent_n,
        span_days=round((ordered[-1].start_t_ns - ordered[-recent_n].start_t_ns) / NS_PER_DAY, 1),
        message=f"impact up {change:.0f} % over your last {recent_n} sessions against your usual",
    )


def trend(sessions: Sequence[SessionImpact], *, what: str = "your runs") -> ImpactObservation | None:
    """A rising straight-line trend of impact over time (e.g. the sessions on one pair of shoes)."""
    ordered = sorted(sessions, key=lambda s: s.start_t_ns)
    if len(ordered) < MIN_TREND_SESSIONS:
        return None
    days = np.array([(s.start_t_ns - ordered[0].start_t_ns) / NS_PER_DAY for s in ordered])
    values = np.array(at_common_speed(ordered))
    if float(np.ptp(days)) <= 0 or float(np.ptp(values)) <= 0:
        return None
    slope, intercept = np.polyfit(days, values, 1)
    r = float(np.corrcoef(days, values)[0, 1])
    start, end = float(intercept), float(intercept + slope * days[-1])
    if not math.isfinite(r) or r < MIN_R or start <= 0:
        return None
    change = 100.0 * (end / start - 1.0)
    if change < RISE_PCT:
        return None
    weeks = days[-1] / 7
    return ImpactObservation(
        kind="trend",
        change_pct=round(change, 1),
        n_sessions=len(ordered),
        span_days=round(float(days[-1]), 1),
        message=f"impact on {what} up {change:.0f} % over {weeks:.0f} weeks",
    )
