"""The risk stage of the per-runner analyzer: baselines, sustained anomalies with reasons, a 0-100 score.

`RiskEngine.push_window(window)` returns the window with `risk_score` filled in and the risk events it
caused. Pure and deterministic: time comes only from `window.t_end_ns`; no wall clock, no I/O.

The score is a heuristic built from the evidence in docs/risk.md, not a diagnosis: each metric adds up
to its `weight` in points, linearly from 0 at its baseline to the full weight at `alert_factor` times
its threshold in the risky direction; the sum is capped at 100. It is None until a baseline exists and
the warm-up is over, and for windows where the runner is not running.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from strideguard.analytics.errors import ConfigError
from strideguard.analytics.results import RiskEvent, RiskEventKind, Severity, WindowMetrics
from strideguard.analytics.risk.baseline import Baseline, MetricBaseline, fit_metric_baseline
from strideguard.analytics.risk.config import AbsoluteCadenceRule, MetricRule, RiskConfig
from strideguard.analytics.risk.detect import NS_PER_S, SEVERITY_ORDER, SustainedDetector, Transition
from strideguard.analytics.risk.warmup import WarmupCheck

FATIGUE = "fatigue"
CADENCE = "cadence"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Deviation:
    """One metric in one window against its baseline."""

    value: float
    expected: float
    deviation: float  # signed, in the rule's unit
    risky: float  # deviation in the risky direction (positive = worse)
    threshold: float  # effective threshold (rule threshold, raised for a noisy baseline)

    @property
    def ratio(self) -> float:
        return self.risky / self.threshold


def deviation_of(
    rule: MetricRule, value: float, base: MetricBaseline, speed_mps: float | None, min_z: float
) -> Deviation | None:
    """How far `value` is from the baseline, or None when the baseline cannot express it (<= 0)."""
    expected = base.expected(speed_mps)
    if rule.kind == "relative":
        if expected <= 0:
            return None
        deviation = (value - expected) / expected * 100.0
        sd = base.sd / expected * 100.0
    elif rule.kind == "magnitude":
        deviation = abs(value) - expected
        sd = base.sd
    else:
        deviation = value - expected
        sd = base.sd
    risky = deviation if rule.direction == "up" else -deviation
    threshold = max(rule.threshold, min_z * sd)
    return Deviation(value=value, expected=expected, deviation=deviation, risky=risky, threshold=threshold)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CadenceWindow:
    """One window of the cadence episode: the baseline-relative rule and the absolute floor, either absent."""

    cadence_spm: float
    relative: Deviation | None  # None: no baseline yet, or the relative rule is off
    floor_ratio: float | None  # None: the floor is off, or the speed is known and below running speed
    below_spm: float

    @property
    def ratio(self) -> float:
        return max(r for r in (self.relative.ratio if self.relative else None, self.floor_ratio) if r is not None)

    def rules_held(self) -> tuple[bool, bool]:
        """(relative, floor) beyond their thresholds; when neither is, the nearer one (the episode's median
        window may sit inside the hysteresis band)."""
        rel = self.relative is not None and self.relative.ratio >= 1.0
        floor = self.floor_ratio is not None and self.floor_ratio >= 1.0
        if rel or floor:
            return rel, floor
        if self.floor_ratio is None:
            return True, False
        if self.relative is None:
            return False, True
        return self.relative.ratio >= self.floor_ratio, self.relative.ratio < self.floor_ratio


def cadence_floor_ratio(rule: AbsoluteCadenceRule, window: WindowMetrics, alert_factor: float) -> float | None:
    """The absolute cadence rule's ratio for a running window, or None when it does not apply.

    The floor is a population figure for running *speed* (about 10 km/h and up): an easy jog at 8 km/h
    is normally run at 150-158 spm. Without a speed source (footpod, phone GPS) the window's speed is
    unknown, so the floor is not judged at all: judging it would buzz every slower runner on every run
    (four real treadmill runners at 8 km/h, three of them below 160 spm). The runner's own baseline
    (the relative rule) still watches cadence then."""
    if not rule.enabled or not window.running or window.cadence_spm is None:
        return None
    if window.speed_mps is None or window.speed_mps < rule.min_speed_mps:
        return None
    return rule.ratio(float(window.cadence_spm), alert_factor)


def score_contributions(window: WindowMetrics, baseline: Baseline, config: RiskConfig) -> dict[str, float]:
    """Points each metric adds to the window's risk score (0 when inside its band; absent without data)."""
    out: dict[str, float] = {}
    for rule in config.metrics:
        d = _window_deviation(rule, window, baseline, config)
        if d is not None:
            out[rule.name] = rule.weight * min(max(d.ratio, 0.0), config.alert_factor) / config.alert_factor
    return out


def risk_score(contributions: dict[str, float]) -> float | None:
    """The 0-100 score from its contributions (None when no metric could be scored)."""
    if not contributions:
        return None
    return float(min(100.0, sum(contributions.values())))


def summarize_scores(scores: Sequence[float], contributions: Sequence[dict[str, float]]) -> dict[str, Any]:
    """A session's risk in one dict: mean, 90th percentile and max score, mean contribution per factor."""
    if not scores:
        return {"windows_scored": 0, "score_mean": None, "score_p90": None, "score_max": None, "contributions_mean": {}}
    s = np.asarray(scores, dtype=np.float64)
    names = sorted({k for c in contributions for k in c})
    return {
        "windows_scored": int(s.size),
        "score_mean": round(float(s.mean()), 1),
        "score_p90": round(float(np.percentile(s, 90)), 1),
        "score_max": round(float(s.max()), 1),
        "contributions_mean": {n: round(float(np.mean([c.get(n, 0.0) for c in contributions])), 2) for n in names},
    }


def _window_deviation(
    rule: MetricRule, window: WindowMetrics, baseline: Baseline, config: RiskConfig
) -> Deviation | None:
    if not rule.enabled or not window.running:
        return None
    value = getattr(window, rule.field)
    base = baseline.get(rule.name)
    if value is None or base is None:
        return None
    return deviation_of(rule, float(value), base, window.speed_mps, config.min_z)


def format_duration(duration_s: float) -> str:
    """'45 s', '2 min', '2 min 30 s' (rounded to 5 s: the window hop)."""
    total = round(float(duration_s / 5.0)) * 5  # float(): numpy 1.x rounds its floats to floats
    if total < 60:
        return f"{total} s"
    minutes, seconds = divmod(total, 60)
    return f"{minutes} min" + (f" {seconds} s" if seconds else "")


def _amount(rule: MetricRule, deviation: float) -> str:
    size = abs(deviation)
    if rule.unit == "%":
        return f"{size:.0f} %"
    if rule.unit == "deg":
        return f"{size:.0f}°"
    return f"{size:.0f} points"


def cadence_message(rule: MetricRule, w: CadenceWindow, duration_s: float) -> str:
    """The cadence episode names every rule that held: 'Cadence 154 spm, 9 % below your baseline and
    below 160 for 2 min', 'Cadence 154 spm, below 160 for 2 min', or the relative message alone."""
    rel, floor = w.rules_held()
    if not floor:
        assert w.relative is not None
        return metric_message(rule, w.relative.deviation, duration_s)
    both = f"{_amount(rule, w.relative.deviation)} below your baseline and " if rel and w.relative else ""
    shown_spm = math.floor(
        round(w.cadence_spm, 1)
    )  # truncated: 159.8 spm is "159 spm, below 160", not "160, below 160"
    return f"{rule.label} {shown_spm} spm, {both}below {w.below_spm:g} for {format_duration(duration_s)}"


def metric_message(rule: MetricRule, deviation: float, duration_s: float) -> str:
    """E.g. 'Cadence 7 % below your baseline for 2 min'."""
    if rule.unit == "deg":
        where = "more than" if deviation >= 0 else "less than"
    else:
        where = "above" if deviation >= 0 else "below"
    return f"{rule.label} {_amount(rule, deviation)} {where} your baseline for {format_duration(duration_s)}"


class RiskEngine:
    """Per-runner risk stage; see the module docstring. Snooze with `snooze(metric | None, until_t_ns)`."""

    def __init__(self, config: RiskConfig, *, prior_baseline: Baseline | None = None) -> None:
        self.config = config
        self.prior_baseline = prior_baseline
        self._run_baseline: Baseline | None = None
        self._first_running_ns: int | None = None
        self._collected: dict[str, list[float]] = {r.name: [] for r in config.metrics}
        self._collected_speed: dict[str, list[float | None]] = {r.name: [] for r in config.metrics}
        self._collected_hr: list[float] = []
        self._warmup = WarmupCheck(config.warmup_check, prior_baseline)
        self._baseline_end_ns = 0
        self._detectors = {
            r.name: SustainedDetector(
                sustain_s=r.sustain_s,
                clear_fraction=config.clear_fraction,
                clear_s=config.clear_s,
                max_gap_s=config.max_gap_s,
                alert_factor=config.alert_factor,
                max_severity=r.max_severity,
            )
            for r in config.metrics
            if r.enabled or (r.name == CADENCE and config.absolute_cadence.enabled)
        }
        f = config.fatigue
        self._fatigue = SustainedDetector(
            sustain_s=f.sustain_s,
            clear_fraction=config.clear_fraction,
            clear_s=config.clear_s,
            max_gap_s=config.max_gap_s,
            alert_factor=1.0,
            max_severity=Severity.ALERT,
        )
        self._fatigue_detail: tuple[tuple[str, float], ...] = ()
        self._cadence_named: tuple[bool, bool] = (True, False)  # (relative, floor) named by the last onset
        self._cadence_capped = False  # the active cadence episode was told at the floor's max_severity
        self._silent: dict[str, bool] = {}
        self._last_onset_ns: dict[str, int] = {}
        self._snoozed: dict[str | None, int] = {}
        self._scores: list[float] = []
        self._contributions: list[dict[str, float]] = []
        self._event_counts: dict[str, int] = {}
        self._floor_windows = {"judged": 0, "no_speed": 0, "below_running_speed": 0}

    # -- public API ---------------------------------------------------------------------------
    @property
    def baseline(self) -> Baseline | None:
        """The baseline in use: this run's once it is ready (metrics it lacks come from the prior)."""
        run, prior = self._run_baseline, self.prior_baseline
        if run is None:
            return prior
        if prior is None:
            return run
        return Baseline(metrics={**prior.metrics, **run.metrics}, source="run+prior", t_end_ns=run.t_end_ns)

    @property
    def run_baseline(self) -> Baseline | None:
        """This run's own baseline (what the shell stores as the prior of the next session)."""
        return self._run_baseline

    def snooze(self, metric: str | None, until_t_ns: int) -> None:
        """Hold back onsets for `metric` ("fatigue" included; None = all) until `until_t_ns` (data time).

        An episode that starts while snoozed stays silent to its end (no CLEARED for an unheard onset).
        """
        if metric is not None and metric != FATIGUE and metric not in self._detectors:
            known = ", ".join([*self._detectors, FATIGUE])
            raise ConfigError(f"unknown or disabled metric {metric!r}; one of {known}", key="snooze")
        self._snoozed[metric] = int(until_t_ns)

    def contributions(self, window: WindowMetrics) -> dict[str, float]:
        """Points per metric for this window against the current baseline (see `score_contributions`)."""
        base = self.baseline
        if base is None or not self._past_warmup(window):
            return {}
        return score_contributions(window, base, self.config)

    def session_summary(self) -> dict[str, Any]:
        """Session risk: score statistics, mean contribution per factor, event counts, baseline."""
        out = summarize_scores(self._scores, self._contributions)
        out["events"] = dict(sorted(self._event_counts.items()))
        out["warmup"] = self._warmup.summary()
        out["settings"] = self.config.as_dict()  # the thresholds in force: the alerts can be reproduced
        if self.config.absolute_cadence.enabled:  # why the floor was (not) judged, in running windows
            out["cadence_floor_windows"] = dict(self._floor_windows)
        base = self.baseline
        out["baseline"] = base.as_dict() if base is not None else None
        return out

    def push_window(self, window: WindowMetrics) -> tuple[WindowMetrics, tuple[RiskEvent, ...]]:
        """Score the window and advance every detector; the absolute rules need no baseline, so they are
        judged from the end of the warm-up, the baseline-relative ones once a baseline exists."""
        self._collect_baseline(window)
        start_note = self._warmup.push(window)
        if start_note is not None:
            self._count(start_note)
        if not window.running or not self._past_warmup(window):
            return window, () if start_note is None else (start_note,)
        base = self.baseline
        score = None
        deviations: dict[str, Deviation | None] = {}
        if base is not None:
            contributions = score_contributions(window, base, self.config)
            score = risk_score(contributions)
            if score is not None:
                self._scores.append(score)
                self._contributions.append(contributions)
            deviations = {rule.name: _window_deviation(rule, window, base, self.config) for rule in self.config.metrics}
        events: list[RiskEvent] = []
        for rule in self.config.metrics:
            if rule.name not in self._detectors:
                continue
            if rule.name == CADENCE:
                tr = self._push_cadence(window, deviations.get(CADENCE))
            else:
                d = deviations.get(rule.name)
                tr = (
                    None
                    if d is None
                    else self._detectors[rule.name].push(
                        t_start_ns=window.t_start_ns,
                        t_end_ns=window.t_end_ns,
                        ratio=d.ratio,
                        value=d.value,
                        expected=d.expected,
                        deviation=d.deviation,
                    )
                )
            if tr is not None:
                ev = self._event(rule.name, tr, window, rule=rule)
                if ev is not None:
                    events.append(ev)
        if deviations:
            events.extend(self._push_fatigue(window, deviations))
        if start_note is not None:
            events.insert(0, start_note)
        return dataclasses.replace(window, risk_score=score), tuple(events)

    # -- internals ----------------------------------------------------------------------------
    def _past_warmup(self, window: WindowMetrics) -> bool:
        if self._first_running_ns is None:
            return False
        return window.t_start_ns >= self._first_running_ns + int(self.config.warmup_s * NS_PER_S)

    def _collect_baseline(self, window: WindowMetrics) -> None:
        if not window.running or self._run_baseline is not None:
            return
        if self._first_running_ns is None:
            self._first_running_ns = window.t_start_ns
            self._baseline_end_ns = window.t_start_ns + int((self.config.warmup_s + self.config.baseline_s) * NS_PER_S)
        if not self._past_warmup(window):
            return
        if window.t_end_ns <= self._baseline_end_ns:
            if window.heart_rate_bpm is not None and math.isfinite(window.heart_rate_bpm):
                self._collected_hr.append(float(window.heart_rate_bpm))
            for rule in self.config.metrics:
                value = getattr(window, rule.field)
                if value is not None:
                    self._collected[rule.name].append(float(value))
                    self._collected_speed[rule.name].append(window.speed_mps)
            return
        metrics = {}
        for rule in self.config.metrics:
            mb = fit_metric_baseline(
                self._collected[rule.name],
                self._collected_speed[rule.name],
                rule,
                min_windows=self.config.min_baseline_windows,
                min_speed_span_mps=self.config.min_speed_span_mps,
            )
            if mb is not None:
                metrics[rule.name] = mb
        hr = float(np.median(self._collected_hr)) if self._collected_hr else None
        self._run_baseline = Baseline(metrics=metrics, source="run", t_end_ns=self._baseline_end_ns, heart_rate_bpm=hr)
        self._collected.clear()
        self._collected_speed.clear()

    def _push_cadence(self, window: WindowMetrics, relative: Deviation | None) -> Transition | None:
        """One cadence episode for both cadence rules: the detector sees the larger of their ratios, so a
        drop that crosses both alerts once, and the message names both (see `cadence_message`)."""
        floor = self.config.absolute_cadence
        floor_ratio = cadence_floor_ratio(floor, window, self.config.alert_factor)
        if floor.enabled and window.cadence_spm is not None:
            speed = window.speed_mps
            why = "no_speed" if speed is None else ("judged" if speed >= floor.min_speed_mps else "below_running_speed")
            self._floor_windows[why] += 1
        if relative is None and floor_ratio is None:
            return None
        # either rule gives a ratio only for a window with a cadence (the relative rule reads cadence_spm)
        assert window.cadence_spm is not None
        w = CadenceWindow(
            cadence_spm=float(window.cadence_spm), relative=relative, floor_ratio=floor_ratio, below_spm=floor.below_spm
        )
        if relative is not None:
            expected, deviation = relative.expected, relative.deviation
        else:
            expected, deviation = floor.below_spm, w.cadence_spm - floor.below_spm
        detector = self._detectors[CADENCE]
        tr = detector.push(
            t_start_ns=window.t_start_ns,
            t_end_ns=window.t_end_ns,
            ratio=w.ratio,
            value=w.cadence_spm,
            expected=expected,
            deviation=deviation,
            rank=w.cadence_spm,
            detail=w,
        )
        if tr is None and self._cadence_capped and detector.state == "active" and w.rules_held()[0]:
            # told as the floor's note so far; now the runner's own baseline holds too: tell it in full
            tr = detector.restate(
                "escalated", window.t_end_ns, value=w.cadence_spm, expected=expected, deviation=deviation, detail=w
            )
        return tr

    def _cadence_parts(self, rule: MetricRule, tr: Transition) -> tuple[str, str, str, float, float]:
        """(message, cue, deviation unit, baseline, deviation) of a cadence transition: in % of the
        baseline when the relative rule is named, else in spm against the floor."""
        w: CadenceWindow = tr.detail
        floor = self.config.absolute_cadence
        rel, below = w.rules_held()
        if tr.what == "cleared":
            heard = self._cadence_named
            parts = (["back within your baseline band"] if heard[0] else []) + (
                [f"back above {floor.below_spm:g} spm"] if heard[1] else []
            )
            message = f"{rule.label} {' and '.join(parts)} after {format_duration(tr.duration_s)}"
            rel, below = heard
        else:
            message = cadence_message(rule, w, tr.duration_s)
            self._cadence_named = (rel, below)
        cue = rule.cue if rel or not below else floor.cue
        if rel and w.relative is not None:
            return message, cue, rule.unit, w.relative.expected, w.relative.deviation
        return message, cue, "spm", floor.below_spm, w.cadence_spm - floor.below_spm

    def _push_fatigue(self, window: WindowMetrics, deviations: dict[str, Deviation | None]) -> list[RiskEvent]:
        f = self.config.fatigue
        if not f.enabled:
            return []
        signs = [(name, deviations.get(name)) for name in f.signs]
        available = [(name, d) for name, d in signs if d is not None]
        if len(available) < f.min_signs:
            return []
        drifting = [(name, d) for name, d in available if d.ratio >= f.sign_fraction]
        tr = self._fatigue.push(
            t_start_ns=window.t_start_ns,
            t_end_ns=window.t_end_ns,
            ratio=len(drifting) / f.min_signs,
            value=float(len(drifting)),
            expected=float(f.min_signs),
            deviation=float(len(drifting)),
        )
        if drifting:
            self._fatigue_detail = tuple((name, d.deviation) for name, d in drifting)
        if tr is None:
            return []
        ev = self._event(FATIGUE, tr, window, rule=None)
        return [ev] if ev is not None else []

    def _event(self, name: str, tr: Transition, window: WindowMetrics, *, rule: MetricRule | None) -> RiskEvent | None:
        """Turn a detector transition into a RiskEvent, or None when snoozed / cooling down / silent."""
        t_ns = tr.t_ns
        if tr.what == "onset":
            cooldown_s = self.config.fatigue.cooldown_s if rule is None else self.config.cooldown_s
            last = self._last_onset_ns.get(name)
            cooling = last is not None and t_ns - last < int(cooldown_s * NS_PER_S)
            snoozed = max(self._snoozed.get(name, -1), self._snoozed.get(None, -1)) > t_ns
            self._silent[name] = cooling or snoozed
            if self._silent[name]:
                return None
            self._last_onset_ns[name] = t_ns
        elif self._silent.get(name, False):
            return None
        if tr.what == "escalated":
            snoozed = max(self._snoozed.get(name, -1), self._snoozed.get(None, -1)) > t_ns
            if snoozed:
                return None
        kind = RiskEventKind.CLEARED if tr.what == "cleared" else RiskEventKind.ONSET
        severity = self._cadence_severity(tr) if name == CADENCE else tr.severity
        if severity is None:
            return None
        value, baseline, deviation = tr.mean_value, tr.mean_expected, tr.mean_deviation
        if rule is None:
            message, cue, unit = self._fatigue_message(tr), self.config.fatigue.cue, "signs"
        elif name == CADENCE:
            message, cue, unit, baseline, deviation = self._cadence_parts(rule, tr)
        else:
            unit, cue = rule.unit, rule.cue
            if kind is RiskEventKind.CLEARED:
                message = f"{rule.label} back within your baseline band after {format_duration(tr.duration_s)}"
            else:
                message = metric_message(rule, tr.mean_deviation, tr.duration_s)
        return self._count(
            RiskEvent(
                runner=window.runner,
                t_ns=t_ns,
                kind=kind,
                metric=name,
                severity=severity,
                value=round(value, 3),
                baseline=round(baseline, 3),
                deviation=round(deviation, 2),
                deviation_unit=unit,
                duration_s=round(tr.duration_s, 1),
                message=message,
                cue=cue,
                onset_t_ns=tr.onset_t_ns,
            )
        )

    def _count(self, event: RiskEvent) -> RiskEvent:
        """Tally the event for the session summary's `events`: metric:onset / metric:cleared, and
        metric:note for an `info` onset (so a count of onsets is a count of warnings and alerts)."""
        note = event.severity is Severity.INFO and event.kind is RiskEventKind.ONSET
        key = f"{event.metric}:{'note' if note else event.kind.value}"
        self._event_counts[key] = self._event_counts.get(key, 0) + 1
        return event

    def _cadence_severity(self, tr: Transition) -> Severity | None:
        """A cadence episode only the population floor holds is capped at the floor's max_severity (an
        'info' note by default); None for an escalation that the cap leaves where it was."""
        if tr.what == "cleared":  # with the severity the runner was told
            told = self.config.absolute_cadence.max_severity if self._cadence_capped else tr.severity
            self._cadence_capped = False
            return told
        floor_only = not tr.detail.rules_held()[0]
        cap = self.config.absolute_cadence.max_severity
        capped = floor_only and SEVERITY_ORDER[tr.severity] > SEVERITY_ORDER[cap]
        if capped and tr.what == "escalated" and self._cadence_capped:
            return None
        self._cadence_capped = capped
        return cap if capped else tr.severity

    def _fatigue_message(self, tr: Transition) -> str:
        if tr.what == "cleared":
            return f"Fatigue pattern eased after {format_duration(tr.duration_s)}"
        parts = []
        for name, dev in self._fatigue_detail:
            rule = self.config.rule(name)
            word = "up" if dev >= 0 else "down"
            parts.append(f"{rule.label.lower()} {_amount(rule, dev)} {word}")
        return (
            f"Fatigue pattern for {format_duration(tr.duration_s)}: {', '.join(parts)} "
            "(associated with higher low-back load)"
        )
