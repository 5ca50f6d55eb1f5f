"""Warm-up check (issue 18): a hard start gets one gentle note within the first three minutes; an easy
start stays silent; the summary says which it was, against the previous session or this run's own
working level; too short or too little data is said, not guessed.

Truth comes from a scripted runner: an easy start ramps speed from 2.6 to the working 3.3 m/s over the
first four minutes (cadence 4.5 % and impact 10 % lower per m/s, the engine's own speed slopes); a hard
start is at 3.3 m/s from the first step. Heart rate follows effort with a 40-s time constant in both.
"""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from strideguard.analytics.errors import ConfigError
from strideguard.analytics.results import RiskEventKind, Severity, WindowMetrics
from strideguard.analytics.risk import RiskConfig, RiskEngine, parse_risk_config
from strideguard.analytics.risk.warmup import WARMUP
from tests.analytics.risk_helpers import t_s, windows

DEFAULT = RiskConfig.default()
WORK_MPS = 3.3
EASY_FROM_MPS = 2.6
RAMP_S = 240.0
REST_HR, WORK_HR, HR_TAU_S = 90.0, 160.0, 40.0


def speed_of(easy: bool):
    def speed(t: float) -> float:
        if not easy or t >= RAMP_S:
            return WORK_MPS
        return EASY_FROM_MPS + (WORK_MPS - EASY_FROM_MPS) * t / RAMP_S

    return speed


def scripted_run(duration_s: float, *, easy: bool, seed: int = 0) -> list[WindowMetrics]:
    """Windows of a runner whose cadence, impact and heart rate follow the speed profile."""
    speed = speed_of(easy)
    out = []
    for w in windows(duration_s, noise=0.5, seed=seed, speed_mps=speed):
        centre = t_s(w.t_start_ns) + 5.0
        slower = WORK_MPS - speed(centre)
        assert w.cadence_spm is not None and w.impact_g is not None
        hr_target = WORK_HR - 60.0 * slower  # about 60 bpm per m/s
        hr = hr_target - (hr_target - REST_HR) * math.exp(-centre / HR_TAU_S)
        out.append(
            dataclasses.replace(
                w,
                cadence_spm=w.cadence_spm * (1 - 0.045 * slower),
                impact_g=w.impact_g * (1 - 0.10 * slower),
                heart_rate_bpm=hr,
            )
        )
    return out


def run(engine: RiskEngine, ws: list[WindowMetrics]) -> list:
    return [e for w in ws for e in engine.push_window(w)[1]]


def notes(events: list) -> list:
    return [e for e in events if e.metric == WARMUP]


def previous_session() -> RiskEngine:
    """A finished easy-start session: its baseline (the working level) is the next run's prior."""
    engine = RiskEngine(DEFAULT)
    run(engine, scripted_run(900, easy=True, seed=1))
    assert engine.run_baseline is not None and engine.run_baseline.heart_rate_bpm is not None
    return engine


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_hard_start_gets_one_gentle_note_within_three_minutes(seed: int) -> None:
    prior = previous_session().run_baseline
    engine = RiskEngine(DEFAULT, prior_baseline=prior)
    events = run(engine, scripted_run(900, easy=False, seed=seed))
    (note,) = notes(events)
    assert note.kind is RiskEventKind.ONSET and note.severity is Severity.INFO  # a note, not an alarm
    assert t_s(note.t_ns) <= 180.0
    assert note.cue == "ease into it: a few easy minutes first"
    assert re.fullmatch(
        r"Hard start: speed \d+ %, cadence \d+ %, impact \d+ % and heart rate \d+ % of your working level"
        r" from the first minutes",
        note.message,
    )
    summary = engine.session_summary()["warmup"]
    assert summary["judged"] and summary["hard_start"] and summary["against"] == "previous session"
    assert set(summary["pct_of_working"]) == {"speed_mps", "cadence_spm", "impact_g", "heart_rate_bpm"}
    assert engine.session_summary()["events"] == {"warmup:note": 1}  # a note, not an onset


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_easy_start_stays_silent_and_the_summary_says_easy(seed: int) -> None:
    prior = previous_session().run_baseline
    engine = RiskEngine(DEFAULT, prior_baseline=prior)
    assert notes(run(engine, scripted_run(900, easy=True, seed=seed))) == []
    summary = engine.session_summary()["warmup"]
    assert summary["judged"] and summary["hard_start"] is False
    assert summary["pct_of_working"]["speed_mps"] < 95.0


@pytest.mark.parametrize(("easy", "hard"), [(True, False), (False, True)])
def test_without_a_previous_session_the_summary_judges_against_this_run(easy: bool, hard: bool) -> None:
    engine = RiskEngine(DEFAULT)
    assert notes(run(engine, scripted_run(900, easy=easy, seed=5))) == []  # no live note without a prior
    summary = engine.session_summary()["warmup"]
    assert summary == {**summary, "judged": True, "hard_start": hard, "against": "this run"}


def test_a_short_run_or_too_few_signals_is_not_judged() -> None:
    engine = RiskEngine(DEFAULT)
    run(engine, scripted_run(300, easy=False))
    assert engine.session_summary()["warmup"] == {"judged": False, "reason": "too short to know your working level"}
    # only cadence (no speed, impact, heart rate): one signal is too few to call a start hard
    bare = [
        dataclasses.replace(w, speed_mps=None, impact_g=None, heart_rate_bpm=None)
        for w in scripted_run(900, easy=False)
    ]
    engine = RiskEngine(DEFAULT, prior_baseline=previous_session().run_baseline)
    assert notes(run(engine, bare)) == []
    assert engine.session_summary()["warmup"]["reason"] == "too few signals to compare"


def test_the_check_can_be_switched_off_and_its_settings_are_checked() -> None:
    off = parse_risk_config("[risk.warmup_check]\nenabled = false\n")
    engine = RiskEngine(off, prior_baseline=previous_session().run_baseline)
    assert notes(run(engine, scripted_run(900, easy=False))) == []
    assert engine.session_summary()["warmup"] == {"judged": False, "reason": "off"}
    assert RiskConfig.from_dict(DEFAULT.as_dict()) == DEFAULT
    with pytest.raises(ConfigError) as info:
        parse_risk_config("[risk.warmup_check]\ncadence_near_pct = 120\n")
    assert info.value.key == "risk.warmup_check.cadence_near_pct"
    with pytest.raises(ConfigError) as info:
        parse_risk_config("[risk.warmup_check]\nmin_signs = 1.5\n")
    assert info.value.key == "risk.warmup_check.min_signs"


def test_the_working_heart_rate_travels_with_the_stored_baseline() -> None:
    from strideguard.analytics.risk import Baseline

    base = previous_session().run_baseline
    assert base is not None
    again = Baseline.from_dict(base.as_dict())
    assert again.heart_rate_bpm == pytest.approx(base.heart_rate_bpm)
    assert Baseline.from_dict({k: v for k, v in base.as_dict().items() if k != "heart_rate_bpm"}).heart_rate_bpm is None
    with pytest.raises(ConfigError):
        Baseline.from_dict({**base.as_dict(), "heart_rate_bpm": "fast"})


def _analyse(run, prior=None):
    from strideguard.analytics.runner import RunnerAnalyzer

    engine = RiskEngine(DEFAULT, prior_baseline=prior)
    analyzer = RunnerAnalyzer(runner=run.acc.runner, risk=engine)
    out = analyzer.push(run.acc) + analyzer.finish()
    return engine, out


def test_the_synthetic_runner_easy_and_hard_starts_through_the_whole_analyzer() -> None:
    """From raw chest acceleration (the synthetic runner's warm-up profile, with truth): a previous easy
    session gives the working level; the next run's hard start is noted within 3 min, an easy one is not."""
    from strideguard.sensors.synthetic.presets import warmup_run

    previous, _ = _analyse(warmup_run("easy", seed=1))
    prior = previous.run_baseline
    assert prior is not None
    hard, out = _analyse(warmup_run("hard", seed=2), prior)
    (note,) = [e for e in out.risk_events if e.metric == WARMUP]
    assert (t_s(note.t_ns) - t_s(note.onset_t_ns)) <= 180.0 and note.severity is Severity.INFO
    assert hard.session_summary()["warmup"]["hard_start"] is True
    easy, out = _analyse(warmup_run("easy", seed=3), prior)
    assert [e for e in out.risk_events if e.metric == WARMUP] == []
    assert easy.session_summary()["warmup"]["hard_start"] is False


def test_the_summary_carries_the_settings_in_force_so_alerts_can_be_reproduced() -> None:
    config = parse_risk_config("[risk.metrics.cadence]\nthreshold = 7.0\n[risk.warmup_check]\njudge_s = 90.0\n")
    engine = RiskEngine(config)
    run(engine, scripted_run(300, easy=False))
    stored = engine.session_summary()["settings"]
    assert RiskConfig.from_dict(stored) == config  # a re-analysis with these gives the same alerts
    assert stored["metrics"]["cadence"]["threshold"] == 7.0 and stored["warmup_check"]["judge_s"] == 90.0
