"""Recovery between sessions: hard sessions back to back with too little rest, from the stored history.

The runners' sources name "too little recovery" beside doing too much too soon. A session counts as
*hard* when it carried a sign of strain the monitor saw, or was long for this runner:
- a fatigue alert (the combined pattern of cadence down, sway, lean and impact up);
- at least `min_warnings` warning or alert onsets of other metrics;
- a duration at least `long_factor` x the runner's median of the previous 30 days.
Two hard sessions with less than `min_rest_h` between the end of one and the start of the next are
*back to back*. Before a run starts, a hard last session less than `min_rest_h` ago is worth a word
("an easy run or a rest day first"); in `strideguard load` every back-to-back pair is listed.

All of it is a heuristic (docs/risk.md, "Recovery"): no study gives a rest time for runners with or
without low-back pain; 36 h is a common coaching rule of an easy day between hard ones.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence

import numpy as np

from strideguard.analytics.consts import NS_PER_DAY, NS_PER_S

MIN_REST_H = 36.0  # h between hard sessions (heuristic: an easy day between hard ones)
MIN_WARNINGS = 2  # warning/alert onsets of single metrics that make a session hard
LONG_FACTOR = 1.3  # x the runner's median duration of the previous 30 days
LONG_WINDOW_DAYS = 30
ADVICE = "an easy run or a rest day before the next hard one"
NS_PER_H = 3600 * NS_PER_S


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PastSession:
    """What the history keeps of a session for this check."""

    session_id: str
    start_t_ns: int
    duration_s: float
    onsets: Mapping[str, int] = dataclasses.field(default_factory=dict)  # metric -> warning/alert onsets

    @property
    def end_t_ns(self) -> int:
        return self.start_t_ns + int(self.duration_s * NS_PER_S)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BackToBack:
    first: PastSession
    second: PastSession | None  # None: the run about to start
    rest_h: float
    reasons: tuple[str, ...]  # why the (last) hard session was hard
    message: str
    advice: str = ADVICE


def onsets_of(events: Mapping[str, int]) -> dict[str, int]:
    """Warning/alert onsets per metric from a session summary's `risk.events` ("cadence:onset": 2; info
    notes are counted as "metric:note" there and are not strain)."""
    out: dict[str, int] = {}
    for key, n in events.items():
        metric, _, kind = key.rpartition(":")
        if kind == "onset" and isinstance(n, int) and n > 0:
            out[metric] = out.get(metric, 0) + n
    return out


def hard_reasons(session: PastSession, history: Sequence[PastSession]) -> tuple[str, ...]:
    """Why `session` was hard (empty: it was not), with `history` the runner's sessions before it."""
    reasons = []
    if session.onsets.get("fatigue", 0) > 0:
        reasons.append("a fatigue alert")
    warnings = sum(n for metric, n in session.onsets.items() if metric != "fatigue")
    if warnings >= MIN_WARNINGS:
        reasons.append(f"{warnings} warnings")
    since = session.start_t_ns - LONG_WINDOW_DAYS * NS_PER_DAY
    recent = [s.duration_s for s in history if since <= s.start_t_ns < session.start_t_ns]
    if recent:
        usual_s = float(np.median(recent))
        if usual_s > 0 and session.duration_s >= LONG_FACTOR * usual_s:
            reasons.append(f"a long run ({session.duration_s / 60:.0f} min, your usual {usual_s / 60:.0f})")
    return tuple(reasons)


def back_to_back(sessions: Sequence[PastSession], *, min_rest_h: float = MIN_REST_H) -> list[BackToBack]:
    """Every pair of consecutive hard sessions with less than `min_rest_h` of rest between them."""
    ordered = sorted(sessions, key=lambda s: s.start_t_ns)
    hard = [(i, hard_reasons(s, ordered[:i])) for i, s in enumerate(ordered)]
    out = []
    for (i, first_why), (j, second_why) in itertools.pairwise(hard):
        if not first_why or not second_why:
            continue
        rest_h = (ordered[j].start_t_ns - ordered[i].end_t_ns) / NS_PER_H
        if rest_h < min_rest_h:
            out.append(
                BackToBack(
                    first=ordered[i],
                    second=ordered[j],
                    rest_h=round(rest_h, 1),
                    reasons=second_why,
                    message=f"two hard sessions {rest_h:.0f} h apart ({', '.join(first_why)}; then "
                    f"{', '.join(second_why)})",
                )
            )
    return out


def before_next_run(
    sessions: Sequence[PastSession], now_t_ns: int, *, min_rest_h: float = MIN_REST_H
) -> BackToBack | None:
    """A word before a run starts when the last session was hard and ended less than `min_rest_h` ago."""
    ordered = sorted(sessions, key=lambda s: s.start_t_ns)
    if not ordered:
        return None
    last = ordered[-1]
    why = hard_reasons(last, ordered[:-1])
    rest_h = (now_t_ns - last.end_t_ns) / NS_PER_H
    if not why or not 0 <= rest_h < min_rest_h:
        return None
    return BackToBack(
        first=last,
        second=None,
        rest_h=round(rest_h, 1),
        reasons=why,
        message=f"your last run, {rest_h:.0f} h ago, was hard ({', '.join(why)})",
    )
