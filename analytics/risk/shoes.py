"""Shoes: distance per session and when a pair is due for replacement ("every 500-800 km", EVIDENCE.md).

A session's distance comes from its windows' speed (a footpod or the phone's GPS) when most of its
running time has one; otherwise it is estimated from the running time and the runner's usual pace
(from their sessions that had speed), or a default easy pace when none did, and said to be an estimate.
Windows are 10 s long on a 5-s hop, so each window stands for the time until the next one starts (not
its whole length: that would count every second twice).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from strideguard.analytics.consts import NS_PER_S
from strideguard.analytics.results import WindowMetrics

REMIND_KM = 500.0  # EVIDENCE.md: "fresh shoes, every 500-800 km"
REPLACE_KM = 800.0
DEFAULT_PACE_MPS = 2.8  # about 10 km/h: the estimate when a runner has never had a speed source
MIN_SPEED_SHARE = 0.8  # of the running time with a speed, for the distance to count as measured


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SessionDistance:
    km: float
    estimated: bool
    basis: str  # "speed" | "your usual pace" | "a default pace of 10 km/h"
    running_s: float
    mean_speed_mps: float | None  # over the running time with a speed (None: none had one)


def session_distance(windows: Sequence[WindowMetrics], *, usual_speed_mps: float | None = None) -> SessionDistance:
    """The distance run in a session, from its windows; see the module docstring."""
    ordered = sorted(windows, key=lambda w: w.t_start_ns)
    span_s, speed_s, metres = 0.0, 0.0, 0.0
    speeds: list[float] = []
    for i, w in enumerate(ordered):
        if not w.running:
            continue
        until = min(w.t_end_ns, ordered[i + 1].t_start_ns) if i + 1 < len(ordered) else w.t_end_ns
        dt = max(0, until - w.t_start_ns) / NS_PER_S
        span_s += dt
        if w.speed_mps is not None and np.isfinite(w.speed_mps) and w.speed_mps >= 0:
            speed_s += dt
            metres += w.speed_mps * dt
            speeds.append(float(w.speed_mps))
    mean = metres / speed_s if speed_s > 0 else None
    if span_s > 0 and speed_s >= MIN_SPEED_SHARE * span_s and mean is not None:
        return SessionDistance(
            km=round((metres + mean * (span_s - speed_s)) / 1000, 3),
            estimated=False,
            basis="speed",
            running_s=span_s,
            mean_speed_mps=mean,
        )
    pace, basis = (
        (usual_speed_mps, "your usual pace") if usual_speed_mps else (DEFAULT_PACE_MPS, "a default pace of 10 km/h")
    )
    return SessionDistance(
        km=round(span_s * pace / 1000, 3), estimated=True, basis=basis, running_s=span_s, mean_speed_mps=mean
    )


def usual_speed(distances: Sequence[SessionDistance]) -> float | None:
    """The runner's usual pace: the median mean speed of their sessions measured by speed."""
    measured = [d.mean_speed_mps for d in distances if not d.estimated and d.mean_speed_mps is not None]
    return float(np.median(measured)) if measured else None


def wear_note(km: float, *, remind_km: float = REMIND_KM, replace_km: float = REPLACE_KM) -> str | None:
    """What to say about a pair of shoes with `km` on them (None: nothing yet)."""
    if km >= replace_km:
        return f"{km:.0f} km: past {replace_km:.0f} km, time for new shoes"
    if km >= remind_km:
        return f"{km:.0f} km: between {remind_km:.0f} and {replace_km:.0f} km, think about new shoes"
    return None
