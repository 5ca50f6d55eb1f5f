"""What a session report shows, gathered from the store and reduced to plain arrays and numbers.

Kept apart from the plotting so the reductions (alert spans, per-side statistics, baselines, the
runner's history and training load) are plain functions a test can check without drawing anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from strideguard.analytics.results import RiskEvent, RiskEventKind, Side, StepEvent, WindowMetrics
from strideguard.analytics.risk.config import parse_risk_config
from strideguard.analytics.training_load import LoadReport, RunRecord, load_report
from strideguard.sensors.units import NS_PER_MIN, NS_PER_S
from strideguard.stream.errors import UsageError
from strideguard.stream.retraining.records import read_progress
from strideguard.stream.sqlite.store import SessionRow, SessionStore

HISTORY_SESSIONS = 10  # previous sessions of the runner shown beside this one
# The metrics drawn over time: (window field, label, unit). Sway has two fields, drawn in one panel.
METRICS: tuple[tuple[str, str, str], ...] = (
    ("cadence_spm", "cadence", "steps/min"),
    ("impact_g", "impact", "g"),
    ("sway_ml_ratio", "sway mediolateral", "ratio"),
    ("sway_ap_ratio", "sway anteroposterior", "ratio"),
    ("lean_deg", "forward lean", "deg"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertSpan:
    """An alert from its confirmation until its metric cleared (or the session ended)."""

    metric: str
    severity: str
    start_min: float
    end_min: float
    cleared: bool
    message: str
    cue: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SideStats:
    side: str
    n_steps: int
    step_time_s: np.ndarray
    impact_g: np.ndarray


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionPoint:
    """One session of the runner, reduced to its window means."""

    session_id: str
    started_t_ns: int
    duration_s: float
    means: dict[str, float | None]
    is_current: bool


@dataclass(slots=True, kw_only=True)
class ReportData:
    row: SessionRow
    steps: list[StepEvent]
    windows: list[WindowMetrics]
    alerts: list[RiskEvent]
    spans: list[AlertSpan]
    sides: dict[str, SideStats]
    baseline: dict[str, float | None]
    baseline_note: str
    history: list[SessionPoint]
    load: LoadReport | None
    load_runs: list[RunRecord] = field(default_factory=list)
    gaps: list[tuple[float, float]] = field(default_factory=list)  # (start, end) minutes without samples
    missing_s: float = 0.0  # time without samples (sum of the gaps)
    samples_note: str = ""  # why gaps could not be looked for (the recording is not readable), else ""
    across: list[str] = field(default_factory=list)  # start, shoes, recovery, impact over sessions (issue 18)
    retraining: dict[str, Any] | None = None  # the retraining mode's progress in this session (issue 20)

    @property
    def duration_s(self) -> float:
        return session_duration_s(self.row, self.windows)

    @property
    def device_text(self) -> str:
        """Device, placement and sampling rate as the session summary recorded them."""
        s = self.row.summary
        rate = s.get("rate_hz")
        parts = [
            str(s["device"]) if s.get("device") else "device not recorded",
            f"worn at the {s['placement']}" if s.get("placement") else "placement not recorded",
            f"{rate:g} Hz" if isinstance(rate, (int, float)) else "rate not recorded",
        ]
        return ", ".join(parts)


def minutes(t_ns: np.ndarray | int, t0_ns: int) -> Any:
    return (np.asarray(t_ns, dtype=np.int64) - t0_ns) / NS_PER_MIN


def series(windows: list[WindowMetrics], name: str) -> tuple[np.ndarray, np.ndarray]:
    """(window centre times in ns, values) with None as NaN."""
    t = np.array([(w.t_start_ns + w.t_end_ns) // 2 for w in windows], dtype=np.int64)
    v = np.array([np.nan if getattr(w, name) is None else float(getattr(w, name)) for w in windows])
    return t, v


def alert_spans(alerts: list[RiskEvent], *, t0_ns: int, end_ns: int) -> list[AlertSpan]:
    """Onsets paired with the next clearing of the same metric."""
    spans = []
    for i, a in enumerate(alerts):
        if a.kind is not RiskEventKind.ONSET:
            continue
        cleared = next((b for b in alerts[i + 1 :] if b.kind is RiskEventKind.CLEARED and b.metric == a.metric), None)
        end = cleared.t_ns if cleared else end_ns
        spans.append(
            AlertSpan(
                metric=a.metric,
                severity=a.severity.value,
                start_min=float(minutes(a.t_ns, t0_ns)),
                end_min=float(minutes(end, t0_ns)),
                cleared=cleared is not None,
                message=a.message,
                cue=a.cue,
            )
        )
    return spans


def side_stats(steps: list[StepEvent]) -> dict[str, SideStats]:
    out = {}
    for side in (Side.LEFT, Side.RIGHT):
        mine = [s for s in steps if s.side is side]
        out[side.value] = SideStats(
            side=side.value,
            n_steps=len(mine),
            step_time_s=np.array([s.step_time_s for s in mine if s.step_time_s is not None]),
            impact_g=np.array([s.impact_g for s in mine if s.impact_g is not None]),
        )
    return out


def window_means(
    windows: list[WindowMetrics], *, from_ns: int | None = None, until_ns: int | None = None
) -> dict[str, float | None]:
    """Means of each metric over running windows (starting from `from_ns`, ending by `until_ns`, when given)."""
    chosen = [
        w
        for w in windows
        if w.running and (from_ns is None or w.t_start_ns >= from_ns) and (until_ns is None or w.t_end_ns <= until_ns)
    ]
    out: dict[str, float | None] = {}
    for name, _, _ in METRICS:
        values = [getattr(w, name) for w in chosen if getattr(w, name) is not None]
        out[name] = float(np.mean(values)) if values else None
    return out


def session_duration_s(row: SessionRow, windows: list[WindowMetrics]) -> float:
    if isinstance(row.summary.get("duration_s"), (int, float)):
        return float(row.summary["duration_s"])
    end = row.ended_t_ns or (windows[-1].t_end_ns if windows else row.started_t_ns)
    return (end - row.started_t_ns) / NS_PER_S


def gather(store: SessionStore, session: str) -> ReportData:
    """Everything the report needs for one session (id or unique prefix)."""
    row = store.session(session)
    if row is None:
        raise UsageError(f"no single session matches {session!r}: see `strideguard sessions`")
    steps, windows, alerts = (
        store.steps(row.session_id),
        store.windows(row.session_id),
        store.risk_events(row.session_id),
    )
    end_ns = max([row.ended_t_ns or row.started_t_ns] + [w.t_end_ns for w in windows])
    previous = [r for r in store.sessions(runner=row.runner) if r.started_t_ns < row.started_t_ns]
    previous = previous[-HISTORY_SESSIONS:]
    history = []
    for r in previous:
        w = store.windows(r.session_id)
        history.append(
            SessionPoint(
                session_id=r.session_id,
                started_t_ns=r.started_t_ns,
                duration_s=session_duration_s(r, w),
                means=window_means(w),
                is_current=False,
            )
        )
    history.append(
        SessionPoint(
            session_id=row.session_id,
            started_t_ns=row.started_t_ns,
            duration_s=session_duration_s(row, windows),
            means=window_means(windows),
            is_current=True,
        )
    )
    baseline, note = baseline_for(windows, history[:-1], settings=(row.summary.get("risk") or {}).get("settings"))
    runs = [
        RunRecord(start_t_ns=p.started_t_ns, duration_s=p.duration_s, distance_m=None, session_id=p.session_id)
        for p in _all_runs(store, row)
    ]
    current = next((r for r in runs if r.session_id == row.session_id), None)
    gaps, missing_s, samples_note = _gaps(store, row)
    return ReportData(
        row=row,
        steps=steps,
        windows=windows,
        alerts=alerts,
        spans=alert_spans(alerts, t0_ns=row.started_t_ns, end_ns=end_ns),
        sides=side_stats(steps),
        baseline=baseline,
        baseline_note=note,
        history=history,
        load=load_report(runs, latest=current) if current else None,
        load_runs=runs,
        gaps=gaps,
        missing_s=missing_s,
        samples_note=samples_note,
        across=across_sessions(store, row),
        retraining=read_progress(store.path).get(row.session_id),
    )


def across_sessions(store: SessionStore, row: SessionRow) -> list[str]:
    """What the runner's history says about this session: how it started (the warm-up check), the shoes
    and their distance, a hard session before it with too little rest, impact rising over sessions."""
    from strideguard.stream.runtime.history import impact_observation, recovery, shoe_statuses
    from strideguard.stream.sqlite.shoes import ShoeLog

    lines = []
    warmup = (row.summary.get("risk") or {}).get("warmup") or {}
    if warmup.get("judged"):
        pct = ", ".join(f"{k.split('_')[0]} {v:.0f} %" for k, v in (warmup.get("pct_of_working") or {}).items())
        how = "hard: at working level from the first minutes" if warmup.get("hard_start") else "easy"
        lines.append(f"Start: {how} ({pct} of working level, against {warmup.get('against')}).")
    with ShoeLog(store.path, readonly=True) as log:
        shoe = log.shoe_of(row.session_id)
        if shoe is not None:
            status = next(s for s in shoe_statuses(store, log, row.runner) if s.shoe.shoe_id == shoe.shoe_id)
            km = f"{'about ' if status.estimated else ''}{status.km:.0f} km"
            lines.append(f"Shoes: {shoe.name}, {km} in total." + (f" {status.note}." if status.note else ""))
            if status.impact is not None:
                lines.append(f"{status.impact.message[0].upper()}{status.impact.message[1:]}: {status.impact.cue}.")
    for pair in recovery(store, row.runner):
        if row.session_id in (pair.first.session_id, pair.second.session_id if pair.second else None):
            lines.append(f"Recovery: {pair.message}: {pair.advice} (heuristic).")
    observation = impact_observation(store, row.runner)
    if observation is not None:
        lines.append(f"Across sessions: {observation.message}: {observation.cue} (an observation, not an alarm).")
    return lines


def _gaps(store: SessionStore, row: SessionRow) -> tuple[list[tuple[float, float]], float, str]:
    """Where the session had no samples, read from its recording as the export reads it (the store keeps
    results, not samples). A recording that is gone leaves the gaps unknown, and the page says so."""
    from strideguard.stream.export.samples import load_session_samples, segment_bounds

    samples = load_session_samples(row, **segment_bounds(store, row))
    if samples.problem and not samples.streams:
        return [], 0.0, f"gaps not shown: {samples.problem}"
    stream = max(samples.streams, key=lambda s: s.missing_s, default=None)
    if stream is None:
        return [], 0.0, ""
    t0 = row.started_t_ns
    spans = [(float(minutes(g.start_t_ns, t0)), float(minutes(g.end_t_ns, t0))) for g in stream.gaps]
    return spans, stream.missing_s, ""


def _all_runs(store: SessionStore, row: SessionRow) -> list[SessionPoint]:
    """Every session of the runner up to and including this one (durations for training load)."""
    out = []
    for r in store.sessions(runner=row.runner):
        if r.started_t_ns <= row.started_t_ns:
            dur = r.summary.get("duration_s")
            if not isinstance(dur, (int, float)):
                dur = ((r.ended_t_ns or r.started_t_ns) - r.started_t_ns) / NS_PER_S
            out.append(
                SessionPoint(
                    session_id=r.session_id,
                    started_t_ns=r.started_t_ns,
                    duration_s=float(dur),
                    means={},
                    is_current=r.session_id == row.session_id,
                )
            )
    return out


def baseline_for(
    windows: list[WindowMetrics], previous: list[SessionPoint], *, settings: dict[str, Any] | None
) -> tuple[dict[str, float | None], str]:
    """The comparison line: the mean of the previous sessions' means when there are any, else this run's
    baseline period as its risk engine took it: after the warm-up from the first running window, for
    `baseline_s`, by the settings the session ran with (`settings`: its summary's `risk.settings`; the
    defaults for a session stored before they were kept)."""
    if previous:
        out: dict[str, float | None] = {}
        for name, _, _ in METRICS:
            values = [v for p in previous if (v := p.means.get(name)) is not None]
            out[name] = float(np.mean(values)) if values else None
        return out, f"mean of the previous {len(previous)} session(s)"
    defaults = parse_risk_config("")
    warmup_s, period_s = defaults.warmup_s, defaults.baseline_s
    if settings is not None:
        warmup_s = _seconds(settings.get("warmup_s"), warmup_s)
        period_s = _seconds(settings.get("baseline_s"), period_s)
    first = next((w for w in windows if w.running), None)
    if first is None:
        return window_means([]), "no baseline: no running in this run and no earlier session"
    start_ns = first.t_start_ns + int(warmup_s * NS_PER_S)
    end_ns = start_ns + int(period_s * NS_PER_S)
    early = window_means(windows, from_ns=start_ns, until_ns=end_ns)
    after = f" after a {warmup_s / 60:g}-min warm-up" if warmup_s > 0 else ""
    note = f"this run's first {period_s / 60:g} min of running{after} (no earlier session)"
    last_end_ns = max(w.t_end_ns for w in windows)
    if last_end_ns <= start_ns:
        return early, f"no baseline: the run ended within its {warmup_s / 60:g}-min warm-up (no earlier session)"
    if last_end_ns < end_ns:
        note += f"; the run ended {(end_ns - last_end_ns) / NS_PER_S / 60:.1f} min before that period did"
    return early, note


def _seconds(value: Any, default: float) -> float:
    """A stored duration setting, or `default` when it is missing or not a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return default
    return float(value)


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)
