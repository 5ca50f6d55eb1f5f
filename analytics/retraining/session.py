"""One session of the retraining mode: fed the runner's steps, windows and risk events on data time,
it says what the page should play (target, band, impact level, feedback on or off, a pause) and what
the session achieved (`SessionProgress`).

Life cycle: `off` until the runner taps (`start`) - the mode never starts by itself; `calibrating` when
no stored baseline gives the cadence or the impact (this much running measures them: median of the
rolling cadence and of the per-step impact); `active`; `paused` (red flag, fatigue alert) until the
runner taps again once the condition has gone; `off` again on the runner's stop. Only `active` time is
counted in the progress. Each step with an interval credits that interval to the band its rolling
cadence is in; steps are deduplicated by time, so a page that reconnects cannot count twice.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from strideguard.analytics.consts import NS_PER_S
from strideguard.analytics.pain import PainEntry
from strideguard.analytics.retraining.cadence import Band, BandTime, Reference, RollingCadence, classify, target_spm
from strideguard.analytics.retraining.config import RetrainingConfig
from strideguard.analytics.retraining.programme import ProgrammeStep, SessionProgress
from strideguard.analytics.retraining.safety import RUN, FatigueWatch, PauseDecision, pause_decision
from strideguard.analytics.retraining.sonify import ImpactAverage, impact_level

OFF = "off"
CALIBRATING = "calibrating"
ACTIVE = "active"
PAUSED = "paused"
MIN_RUNNING_SPM = 140.0  # the analytics' running_min_cadence_spm: slower steps do not calibrate a running cadence


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFeedback:
    """What one step changed, for the page (also in `snapshot`)."""

    t_ns: int
    cadence_spm: float | None
    band: Band | None
    impact_avg_g: float | None
    impact_level: float | None
    feedback_on: bool


class RetrainingSession:
    """The mode's state for one runner's session; see the module docstring."""

    def __init__(
        self,
        *,
        runner: str,
        session_id: str,
        config: RetrainingConfig,
        programme: ProgrammeStep,
        cadence_ref: Reference | None = None,
        impact_ref: Reference | None = None,
    ) -> None:
        self.runner = runner
        self.session_id = session_id
        self.config = config
        self.programme = programme
        self.cadence_ref = cadence_ref
        self.impact_ref = impact_ref
        self.mode = OFF
        self.started = False  # the runner tapped start at least once in this session
        self.pause = RUN
        self.pause_count = 0  # each new pause is spoken once: the page compares this number
        self._pain: list[PainEntry] = []
        self._fatigue = FatigueWatch()
        self._cadence = RollingCadence(config.cadence_steps)
        self._impact = ImpactAverage(config.impact_window_steps)
        self._speed_mps: float | None = None
        self._calib_cadence: list[float] = []
        self._calib_impact: list[float] = []
        self._calib_speed: list[float] = []
        self._calib_s = 0.0
        self._active_from_ns: int | None = None  # data time the programme's cycles count from
        self._started_t_ns: int | None = None
        self._last_step_ns: int | None = None
        self.last: StepFeedback | None = None
        # progress totals (active time only)
        self._band = BandTime()
        self._band_off = BandTime()
        self._active_s = 0.0
        self._feedback_on_s = 0.0
        self._paused_s = 0.0
        self._n_intervals = 0
        self._target_weighted = 0.0
        self._target_s = 0.0
        self._impact_sum = 0.0
        self._n_impacts = 0
        self._pause_reasons: list[str] = []

    # -- the runner's taps -----------------------------------------------------------------------
    def start(self) -> PauseDecision:
        """The runner's tap: start (or resume) unless a pause condition holds; returns that condition."""
        self.started = True
        decision = pause_decision(self._pain, fatigue_active=self._fatigue.active)
        if decision.paused:
            self._pause(decision)
            return decision
        self.pause = RUN
        if self.mode in (OFF, PAUSED):
            self.mode = ACTIVE if self._references_ready() else CALIBRATING
            if self.mode == ACTIVE and self._active_from_ns is None:
                self._active_from_ns = self._last_step_ns  # None: from the next step
        return RUN

    def stop(self) -> None:
        """The runner's tap on stop: silence, nothing more is counted until the next start."""
        self.mode = OFF

    # -- inputs -----------------------------------------------------------------------------------
    def set_pain_entries(self, entries: Iterable[PainEntry]) -> PauseDecision:
        self._pain = list(entries)
        return self._check_pause()

    def push_risk_event(self, *, metric: str, kind: str, onset_t_ns: int) -> PauseDecision:
        self._fatigue.push(metric, kind, onset_t_ns)
        return self._check_pause()

    def push_window(self, *, running: bool, speed_mps: float | None) -> None:
        """A window's speed moves the target (a window without a speed keeps the last one)."""
        if speed_mps is not None and math.isfinite(speed_mps) and speed_mps >= 0:
            self._speed_mps = speed_mps
            if self.mode == CALIBRATING and running:
                self._calib_speed.append(speed_mps)

    def push_step(self, *, t_ns: int, step_time_s: float | None, impact_g: float | None) -> StepFeedback | None:
        """One step (in time order; an older or repeated one is ignored and returns None)."""
        if self._last_step_ns is not None and t_ns <= self._last_step_ns:
            return None
        self._last_step_ns = t_ns
        if self._started_t_ns is None and self.mode != OFF:
            self._started_t_ns = t_ns
        if self.mode == ACTIVE and self._active_from_ns is None:
            self._active_from_ns = t_ns
        cadence = self._cadence.push(step_time_s)
        average = self._impact.push(impact_g)
        dt = step_time_s if step_time_s is not None and math.isfinite(step_time_s) and step_time_s > 0 else 0.0
        if self.mode == CALIBRATING:
            self._calibrate(cadence, impact_g, dt, t_ns)
        if self.mode == PAUSED:
            self._paused_s += dt
        target = self.target_spm
        band = classify(cadence, target, self.config.band_pct) if cadence is not None and target is not None else None
        level = None
        if average is not None and self.impact_ref is not None:
            base = self.impact_ref.at(self._speed_mps)
            level = impact_level(average, base, self.config) if base > 0 else None
        on = self.feedback_on(t_ns)
        if self.mode == ACTIVE and dt > 0:
            self._active_s += dt
            self._n_intervals += 1
            if on:
                self._feedback_on_s += dt
            if target is not None:
                self._target_weighted += target * dt
                self._target_s += dt
            if band is not None:
                self._band = self._band.add(band, dt)
                if not on:
                    self._band_off = self._band_off.add(band, dt)
        if self.mode == ACTIVE and impact_g is not None and math.isfinite(impact_g):
            self._impact_sum += impact_g
            self._n_impacts += 1
        self.last = StepFeedback(
            t_ns=t_ns, cadence_spm=cadence, band=band, impact_avg_g=average, impact_level=level, feedback_on=on
        )
        return self.last

    # -- outputs ----------------------------------------------------------------------------------
    @property
    def target_spm(self) -> float | None:
        return target_spm(self.cadence_ref, self.config, self._speed_mps)

    def feedback_on(self, t_ns: int | None = None) -> bool:
        """Whether the cue plays now: active, and in an on block of the programme's cycle."""
        if self.mode != ACTIVE:
            return False
        t = t_ns if t_ns is not None else self._last_step_ns
        if t is None or self._active_from_ns is None:
            return self.programme.on_share > 0
        return self.programme.feedback_on((t - self._active_from_ns) / NS_PER_S)

    @property
    def pause_holds(self) -> bool:
        """Whether a pause condition holds now (a paused mode may resume on a tap only when it does not)."""
        return pause_decision(self._pain, fatigue_active=self._fatigue.active).paused

    @property
    def calibration_left_s(self) -> float | None:
        return max(0.0, self.config.calibrate_s - self._calib_s) if self.mode == CALIBRATING else None

    def snapshot(self) -> dict[str, Any]:
        """The state the page shows and plays (JSON-able)."""
        last = self.last
        return {
            "runner": self.runner,
            "session_id": self.session_id,
            "mode": self.mode,
            "target_spm": _r(self.target_spm, 2),
            "band_pct": self.config.band_pct,
            "speed_mps": _r(self._speed_mps, 2),
            "feedback_on": self.feedback_on(),
            "calibration_left_s": _r(self.calibration_left_s, 1),
            "step_t_ns": last.t_ns if last else None,
            "cadence_spm": _r(last.cadence_spm, 1) if last else None,
            "band": last.band.value if last and last.band else None,
            "impact_avg_g": _r(last.impact_avg_g, 3) if last else None,
            "impact_level": _r(last.impact_level, 4) if last else None,
            "time_in_band_s": round(self._band.in_s, 1),
            "active_s": round(self._active_s, 1),
            "time_in_band_share": _r(self._band.in_share, 4),
            "pause": {
                "paused": self.pause.paused,
                "reason": self.pause.reason,
                "spoken": self.pause.spoken,
                "holds": self.pause_holds,
            },
            "pause_count": self.pause_count,
            "programme": self.programme.as_dict(),
        }

    def progress(self) -> SessionProgress:
        """What this session achieved so far (the final one after the session's last step)."""
        cadence = 60.0 * self._n_intervals / self._active_s if self._active_s > 0 else None
        target = self._target_weighted / self._target_s if self._target_s > 0 else None
        base = self.cadence_ref.value if self.cadence_ref is not None else None
        impact = self._impact_sum / self._n_impacts if self._n_impacts else None
        first = self.programme.first_impact_g
        return SessionProgress(
            runner=self.runner,
            session_id=self.session_id,
            started_t_ns=self._started_t_ns if self._started_t_ns is not None else 0,
            session_number=self.programme.session_number,
            phase=self.programme.phase,
            on_share=self.programme.on_share,
            active_s=round(self._active_s, 3),
            feedback_on_s=round(self._feedback_on_s, 3),
            paused_s=round(self._paused_s, 3),
            baseline_cadence_spm=_r(base, 2),
            target_spm=_r(target, 2),
            cadence_spm=_r(cadence, 2),
            cadence_vs_target_pct=_r(_pct(cadence, target), 2),
            cadence_change_pct=_r(_pct(cadence, base), 2),
            time_in_band_s=round(self._band.in_s, 3),
            time_below_s=round(self._band.below_s, 3),
            time_above_s=round(self._band.above_s, 3),
            time_in_band_share=_r(self._band.in_share, 4),
            time_in_band_share_feedback_off=_r(self._band_off.in_share, 4),
            baseline_impact_g=_r(self.impact_ref.value, 3) if self.impact_ref is not None else None,
            impact_g=_r(impact, 3),
            impact_change_pct=_r(_pct(impact, first), 2) if self.programme.session_number > 1 else None,
            pause_reasons=tuple(self._pause_reasons),
        )

    # -- inside -----------------------------------------------------------------------------------
    def _references_ready(self) -> bool:
        need_cadence = self.config.fixed_target_spm is None
        return (self.cadence_ref is not None or not need_cadence) and self.impact_ref is not None

    def _check_pause(self) -> PauseDecision:
        decision = pause_decision(self._pain, fatigue_active=self._fatigue.active)
        if decision.paused and self.mode in (ACTIVE, CALIBRATING):
            self._pause(decision)
        return decision

    def _pause(self, decision: PauseDecision) -> None:
        if self.mode == PAUSED and self.pause.reason == decision.reason:
            return
        self.mode = PAUSED
        self.pause = decision
        self.pause_count += 1
        if decision.reason is not None:
            self._pause_reasons.append(decision.reason)

    def _calibrate(self, cadence: float | None, impact_g: float | None, dt: float, t_ns: int) -> None:
        if cadence is None or cadence < MIN_RUNNING_SPM:
            return
        self._calib_cadence.append(cadence)
        if impact_g is not None and math.isfinite(impact_g) and impact_g > 0:
            self._calib_impact.append(impact_g)
        self._calib_s += dt
        if self._calib_s < self.config.calibrate_s or not self._calib_impact:
            return
        speed = statistics.median(self._calib_speed) if self._calib_speed else None
        if self.cadence_ref is None:
            value = statistics.median(self._calib_cadence)
            self.cadence_ref = Reference.measured(value, speed, self.config.cadence_speed_slope_pct_per_mps)
        if self.impact_ref is None:
            value = statistics.median(self._calib_impact)
            self.impact_ref = Reference.measured(value, speed, self.config.impact_speed_slope_pct_per_mps)
        self.mode = ACTIVE
        self._active_from_ns = t_ns


def _pct(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or reference == 0:
        return None
    return 100.0 * (value / reference - 1.0)


def _r(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
