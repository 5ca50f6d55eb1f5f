"""Sustained-anomaly detection for one signal: threshold, duration, hysteresis, severity.

The detector sees one number per window, `ratio` = how far the window is the risky way, in units of
its threshold (1.0 = exactly at the threshold). It is pure state, no clock: time comes from the window.

Timing rule (documented in docs/risk.md): an anomalous window counts from its START. An episode becomes
pending at the first window with ratio >= 1, stays pending while ratio >= `clear_fraction` (hysteresis),
and is confirmed when `t_end` of the latest window minus `t_start` of the first is at least `sustain_s`
and the mean ratio over the episode is >= 1. With 10-s windows on a 5-s hop a step change at t0 makes
the first anomalous window start no later than t0 + 5 s (the window starting at or after t0 is wholly
past the change), so the onset fires by t0 + sustain + 5 s in data time. Once active it clears after
`clear_s` seconds of windows below `clear_fraction`. Windows without evidence (not running, metric
missing) neither extend nor break an episode, but a gap over `max_gap_s` drops a pending one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strideguard.analytics.consts import NS_PER_S
from strideguard.analytics.results import Severity

SEVERITY_ORDER = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ALERT: 2}


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """What a window did to an episode: `onset`, `escalated` (severity rose) or `cleared`."""

    what: str
    onset_t_ns: int
    t_ns: int
    duration_s: float
    severity: Severity
    mean_ratio: float
    mean_value: float  # of the median window of the episode (the current one when clearing)
    mean_expected: float
    mean_deviation: float
    detail: Any = None  # what the caller attached to that window (e.g. which cadence rules held)


# One window of an episode: (value, expected, deviation, rank, detail); the median is taken by rank.
Row = tuple[float, float, float, float, Any]


def _median_window(rows: list[Row]) -> Row:
    """The episode's typical window: median rank (robust to the part-changed first window)."""
    ordered = sorted(rows, key=lambda r: r[3])
    return ordered[len(ordered) // 2]


class SustainedDetector:
    """Carries one signal's episode state across windows."""

    def __init__(
        self,
        *,
        sustain_s: float,
        clear_fraction: float,
        clear_s: float,
        max_gap_s: float,
        alert_factor: float,
        max_severity: Severity,
    ) -> None:
        self.sustain_ns = int(sustain_s * NS_PER_S)
        self.clear_fraction = clear_fraction
        self.clear_ns = int(clear_s * NS_PER_S)
        self.max_gap_ns = int(max_gap_s * NS_PER_S)
        self.alert_factor = alert_factor
        self.max_severity = max_severity
        self.state = "idle"  # idle | pending | active
        self._reset_episode()

    def _reset_episode(self) -> None:
        self.start_ns = 0
        self.last_end_ns = 0
        self.n = 0
        self.sum_ratio = 0.0
        self.values: list[Row] = []  # one row per window of the episode
        self.severity = Severity.INFO
        self.clear_start_ns: int | None = None

    def _add(self, ratio: float, row: Row) -> None:
        self.n += 1
        self.sum_ratio += ratio
        self.values.append(row)

    def _severity(self) -> Severity:
        sev = Severity.ALERT if self.sum_ratio / self.n >= self.alert_factor else Severity.WARNING
        return sev if SEVERITY_ORDER[sev] <= SEVERITY_ORDER[self.max_severity] else self.max_severity

    def _transition(self, what: str, t_ns: int, severity: Severity, current: Row | None = None) -> Transition:
        """The episode so far; `current` (this window's row) replaces the median window (clearing)."""
        n = max(self.n, 1)
        value, expected, deviation, _, detail = current or _median_window(self.values)
        return Transition(
            what=what,
            onset_t_ns=self.start_ns,
            t_ns=t_ns,
            duration_s=(t_ns - self.start_ns) / NS_PER_S,
            severity=severity,
            mean_ratio=self.sum_ratio / n,
            mean_value=value,
            mean_expected=expected,
            mean_deviation=deviation,
            detail=detail,
        )

    def restate(
        self, what: str, t_ns: int, *, value: float, expected: float, deviation: float, detail: Any
    ) -> Transition:
        """The active episode told again from this window (e.g. because a second rule now holds)."""
        return self._transition(what, t_ns, self.severity, (value, expected, deviation, deviation, detail))

    def push(
        self,
        *,
        t_start_ns: int,
        t_end_ns: int,
        ratio: float,
        value: float,
        expected: float,
        deviation: float,
        rank: float | None = None,
        detail: Any = None,
    ) -> Transition | None:
        """One window with evidence; returns the transition it caused, if any.

        `rank` orders the episode's windows for its median (default: the deviation); `detail` rides
        along with the window and comes back in the Transition of the median (or clearing) window.
        """
        row: Row = (value, expected, deviation, deviation if rank is None else rank, detail)
        if self.state == "pending" and t_start_ns - self.last_end_ns > self.max_gap_ns:
            self.state = "idle"
        if self.state == "idle":
            if ratio < 1.0:
                return None
            self._reset_episode()
            self.state = "pending"
            self.start_ns = t_start_ns
        if self.state == "pending":
            if ratio < self.clear_fraction:
                self.state = "idle"
                return None
            self._add(ratio, row)
            self.last_end_ns = t_end_ns
            if t_end_ns - self.start_ns >= self.sustain_ns and self.sum_ratio / self.n >= 1.0:
                self.state = "active"
                self.severity = self._severity()
                return self._transition("onset", t_end_ns, self.severity)
            return None
        # active
        self.last_end_ns = t_end_ns
        if ratio < self.clear_fraction:
            if self.clear_start_ns is None:
                self.clear_start_ns = t_start_ns
            if t_end_ns - self.clear_start_ns >= self.clear_ns:
                out = self._transition("cleared", t_end_ns, self.severity, row)
                self.state = "idle"
                return out
            return None
        self.clear_start_ns = None
        self._add(ratio, row)
        severity = self._severity()
        if SEVERITY_ORDER[severity] > SEVERITY_ORDER[self.severity]:
            self.severity = severity
            return self._transition("escalated", t_end_ns, severity)
        return None
