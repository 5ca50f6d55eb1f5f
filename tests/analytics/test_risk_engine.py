"""RiskEngine driven by crafted window sequences: timing of onsets, no false alerts, hysteresis,
cooldown, snooze, score, baselines (run, prior, speed-aware)."""

from __future__ import annotations

import json

import pytest

from strideguard.analytics.errors import ConfigError
from strideguard.analytics.results import RiskEvent, RiskEventKind, Severity, WindowMetrics
from strideguard.analytics.risk import (
    Baseline,
    MetricBaseline,
    RiskConfig,
    RiskEngine,
    format_duration,
    parse_risk_config,
)
from tests.analytics.risk_helpers import NS, T0_NS, episode, step_change, t_s, windows

DEFAULT = RiskConfig.default()
SUSTAIN_S = 60.0


def run(engine: RiskEngine, ws: list[WindowMetrics]) -> tuple[list[WindowMetrics], list[RiskEvent]]:
    out_w, out_e = [], []
    for w in ws:
        w2, evs = engine.push_window(w)
        out_w.append(w2)
        out_e.extend(evs)
    return out_w, out_e


def onsets(events: list[RiskEvent], metric: str | None = None) -> list[RiskEvent]:
    return [e for e in events if e.kind is RiskEventKind.ONSET and (metric is None or e.metric == metric)]


@pytest.mark.parametrize("onset_s", [600.0, 601.3, 603.7, 604.99])
def test_cadence_step_change_fires_within_sustain_plus_5_s(onset_s: float) -> None:
    _, events = run(RiskEngine(DEFAULT), windows(1200, step_change(onset_s, cadence_spm=-0.07)))
    (ev,) = onsets(events)
    assert ev.metric == "cadence"
    assert onset_s < t_s(ev.t_ns) <= onset_s + SUSTAIN_S + 5.0
    assert ev.severity is Severity.WARNING
    assert ev.deviation == pytest.approx(-7.0, abs=1.0)
    assert ev.deviation_unit == "%"
    assert ev.baseline == pytest.approx(170.0)
    # no speed source: the 160-spm floor is not judged, the runner's own baseline is (both: test_risk_absolute)
    assert ev.message == "Cadence 7 % below your baseline for 1 min"
    assert ev.cue == "shorter, quicker steps"
    assert ev.onset_t_ns <= ev.t_ns - int(SUSTAIN_S * NS)


@pytest.mark.parametrize(
    ("field", "size", "metric", "message"),
    [
        ("impact_g", 0.20, "impact", "Impact 20 % above your baseline for 1 min"),
        ("sway_ml_ratio", 0.30, "sway_ml", "Side-to-side trunk sway 30 % above your baseline for 1 min"),
        ("lean_deg", 6.0, "lean", "Forward lean 6° more than your baseline for 1 min"),
        (
            "step_time_asymmetry_pct",
            7.0,
            "step_asymmetry",
            "Step-time asymmetry 7 points above your baseline for 1 min",
        ),
    ],
)
def test_each_metric_names_itself_size_and_duration(field: str, size: float, metric: str, message: str) -> None:
    _, events = run(RiskEngine(DEFAULT), windows(900, step_change(602.0, **{field: size})))
    (ev,) = onsets(events)
    assert (ev.metric, ev.message) == (metric, message)
    assert 602.0 < t_s(ev.t_ns) <= 602.0 + SUSTAIN_S + 5.0


@pytest.mark.parametrize("noise", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_thirty_minutes_of_steady_running_raise_nothing(noise: float, seed: int) -> None:
    ws, events = run(RiskEngine(DEFAULT), windows(30 * 60, noise=noise, seed=seed))
    assert events == []
    scores = [w.risk_score for w in ws if w.risk_score is not None]
    assert len(scores) > 250  # scored from the end of the 2-min warm-up


def test_fatigue_pattern_fires_when_no_single_metric_does() -> None:
    change = step_change(700.0, cadence_spm=-0.04, sway_ml_ratio=0.13, lean_deg=3.5, impact_g=0.10)
    _, events = run(RiskEngine(DEFAULT), windows(1000, change))
    (ev,) = onsets(events)
    assert ev.metric == "fatigue"
    assert ev.severity is Severity.ALERT
    assert ev.message.startswith("Fatigue pattern for 1 min: cadence 4 % down")
    assert "associated with" in ev.message
    assert 700.0 < t_s(ev.t_ns) <= 765.0


def test_large_deviation_is_an_alert_and_asymmetry_is_capped_at_warning() -> None:
    _, events = run(
        RiskEngine(DEFAULT), windows(900, step_change(600.0, cadence_spm=-0.12, step_time_asymmetry_pct=15.0))
    )
    by_metric = {e.metric: e for e in onsets(events)}
    assert by_metric["cadence"].severity is Severity.ALERT
    assert by_metric["step_asymmetry"].severity is Severity.WARNING


def test_escalation_emits_a_second_onset_with_higher_severity() -> None:
    def change(field: str, t: float) -> float:
        if field != "cadence_spm":
            return 1.0 if field not in ("lean_deg", "step_time_asymmetry_pct", "impact_asymmetry_pct") else 0.0
        return 0.93 if 600 <= t < 700 else (0.85 if t >= 700 else 1.0)

    _, events = run(RiskEngine(DEFAULT), windows(900, change))
    sev = [e.severity for e in onsets(events, "cadence")]
    assert sev == [Severity.WARNING, Severity.ALERT]


def test_cleared_after_return_and_hysteresis_holds_near_the_threshold() -> None:
    # 7 % down from 600 s to 800 s, then 4 % down (above 0.6 x 5 %: still inside the episode), then normal.
    def change(field: str, t: float) -> float:
        if field != "cadence_spm":
            return 1.0 if field not in ("lean_deg", "step_time_asymmetry_pct", "impact_asymmetry_pct") else 0.0
        if 600 <= t < 800:
            return 0.93
        if 800 <= t < 900:
            return 0.96
        return 1.0

    _, events = run(RiskEngine(DEFAULT), windows(1100, change, speed_mps=lambda t: 3.0))  # floor judged
    kinds = [(e.metric, e.kind) for e in events]
    assert kinds == [("cadence", RiskEventKind.ONSET), ("cadence", RiskEventKind.CLEARED)]
    cleared = events[1]
    assert 900 < t_s(cleared.t_ns) <= 900 + DEFAULT.clear_s + 10
    # 158 spm is also below the 160-spm floor: one episode, and its clearing names both rules
    assert cleared.message.startswith("Cadence back within your baseline band and back above 160 spm after 5 min")
    assert cleared.onset_t_ns == events[0].onset_t_ns


def test_cooldown_holds_a_repeat_and_releases_after_it() -> None:
    def change(field: str, t: float) -> float:
        if field != "cadence_spm":
            return 1.0 if field not in ("lean_deg", "step_time_asymmetry_pct", "impact_asymmetry_pct") else 0.0
        return 0.92 if (600 <= t < 700 or 760 <= t < 860 or 1100 <= t < 1200) else 1.0

    _, events = run(RiskEngine(DEFAULT), windows(1300, change))
    times = [t_s(e.t_ns) for e in onsets(events, "cadence")]
    assert len(times) == 2  # the second episode falls inside the 300-s cooldown
    assert times[1] - times[0] >= DEFAULT.cooldown_s
    assert 1100 < times[1] <= 1165
    # the silent episode produced no CLEARED either: one CLEARED per heard onset
    assert len([e for e in events if e.kind is RiskEventKind.CLEARED]) == 2


@pytest.mark.parametrize("who", ["cadence", None])
def test_snooze_holds_onsets_until_it_ends(who: str | None) -> None:
    engine = RiskEngine(DEFAULT)
    engine.snooze(who, T0_NS + 900 * NS)
    change = episode(600, 750, cadence_spm=-0.08)
    ws = windows(1300, change)[:]
    _, first = run(engine, ws[:190])  # up to 950 s
    assert first == []
    late = windows(1300, step_change(1000.0, cadence_spm=-0.08))[190:]
    _, second = run(engine, late)
    assert [e.metric for e in onsets(second)] == ["cadence"]


def test_snooze_of_an_unknown_metric_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown or disabled metric 'cadense'"):
        RiskEngine(DEFAULT).snooze("cadense", T0_NS)


def test_score_is_none_in_warmup_low_when_steady_and_sums_its_contributions() -> None:
    engine = RiskEngine(DEFAULT)
    ws, _ = run(engine, windows(900, step_change(600.0, cadence_spm=-0.10), noise=1.0, seed=4))
    warmup = [w for w in ws if w.t_start_ns < T0_NS + 120 * NS]
    assert all(w.risk_score is None for w in warmup)
    steady = [w.risk_score for w in ws if 300 * NS <= w.t_start_ns - T0_NS < 590 * NS]
    late = [w.risk_score for w in ws if w.t_start_ns - T0_NS >= 620 * NS]
    assert max(steady) < 20 < 25 < min(late)
    last = ws[-1]
    contributions = engine.contributions(last)
    assert contributions["cadence"] == pytest.approx(30.0)  # at 2 x threshold: the full weight
    assert sum(contributions.values()) == pytest.approx(last.risk_score)
    summary = engine.session_summary()
    assert summary["windows_scored"] == len([w for w in ws if w.risk_score is not None])
    assert summary["score_max"] >= 30
    assert summary["events"] == {"cadence:onset": 1}
    assert set(summary["baseline"]["metrics"]) >= {"cadence", "impact", "lean"}


def test_not_running_windows_are_not_scored_and_do_not_alert() -> None:
    ws = windows(900, step_change(600.0, cadence_spm=-0.3), running=lambda t: t < 600)
    out, events = run(RiskEngine(DEFAULT), ws)
    assert events == []
    assert all(w.risk_score is None for w in out if w.t_start_ns - T0_NS > 600 * NS)


def test_prior_baseline_detects_before_this_runs_baseline_is_ready() -> None:
    engine = RiskEngine(DEFAULT)
    run(engine, windows(600, noise=1.0, seed=7))
    prior = Baseline.from_dict(json.loads(json.dumps(engine.run_baseline.as_dict())))
    assert prior.metrics == engine.run_baseline.metrics
    fresh = RiskEngine(DEFAULT, prior_baseline=prior)
    _, events = run(fresh, windows(600, step_change(180.0, cadence_spm=-0.08), seed=8))
    # the crafted run is at working level from its first window: with a prior, the warm-up note comes first
    note, ev = onsets(events)
    assert note.metric == "warmup" and t_s(note.t_ns) <= 130
    assert ev.metric == "cadence" and 180 < t_s(ev.t_ns) <= 245
    assert RiskEngine(DEFAULT).baseline is None


def test_speed_aware_baseline_follows_a_slower_pace() -> None:
    """Slowing from 3.5 to 2.5 m/s lowers cadence 4.5 % by the default slope: not an anomaly."""

    def speed(t: float) -> float:
        return 3.5 if t < 600 else 2.5

    def change(field: str, t: float) -> float:
        if field == "cadence_spm":
            return 1.0 if t < 600 else 0.955 * 0.975  # the pace drop plus a 2.5 % real drift
        return 1.0 if field not in ("lean_deg", "step_time_asymmetry_pct", "impact_asymmetry_pct") else 0.0

    ws = windows(1000, change, speed_mps=speed)
    _, events = run(RiskEngine(DEFAULT), ws)
    assert onsets(events) == []
    blind = list(ws)
    blind = [WindowMetrics(**{**w.as_row(), "speed_mps": None}) for w in blind]
    _, events_blind = run(RiskEngine(DEFAULT), blind)
    assert [e.metric for e in onsets(events_blind)] == ["cadence"]


def test_speed_slope_is_learned_when_the_baseline_spans_speeds() -> None:
    def speed(t: float) -> float:
        return 2.8 + 0.8 * ((t // 30) % 2)  # alternating 2.8 / 3.6 m/s every 30 s

    def change(field: str, t: float) -> float:
        if field == "cadence_spm":
            return 1.0 + 0.08 * (speed(t) - 3.2)  # 8 % per m/s, steeper than the 4.5 % default
        return 1.0 if field not in ("lean_deg", "step_time_asymmetry_pct", "impact_asymmetry_pct") else 0.0

    engine = RiskEngine(DEFAULT)
    run(engine, windows(400, change, speed_mps=speed))
    cad = engine.run_baseline.get("cadence")
    assert cad.slope_per_mps == pytest.approx(170 * 0.08, rel=0.15)


def test_noisy_metric_raises_its_own_threshold() -> None:
    base = MetricBaseline(value=0.4, sd=0.04, n_windows=30)  # 10 % sd: 3 sd = 30 % > 20 %
    from strideguard.analytics.risk.engine import deviation_of

    d = deviation_of(DEFAULT.rule("sway_ml"), 0.5, base, None, DEFAULT.min_z)
    assert d.deviation == pytest.approx(25.0)
    assert d.threshold == pytest.approx(30.0, rel=0.01)
    assert d.ratio < 1


def test_same_input_same_output() -> None:
    ws = windows(1000, step_change(620.0, cadence_spm=-0.09, lean_deg=7), noise=1.0, seed=11)
    assert run(RiskEngine(DEFAULT), ws) == run(RiskEngine(DEFAULT), ws)


def test_per_runner_override_changes_only_that_runner() -> None:
    text = """
[risk.metrics.cadence]
threshold = 8.0
[runner."anna".risk.metrics.cadence]
threshold = 4.0
[risk.absolute.cadence]
enabled = false  # 170 spm - 6 % is below the 160-spm floor; this test is about the relative threshold
"""
    change = step_change(600.0, cadence_spm=-0.06)
    _, anna = run(RiskEngine(parse_risk_config(text, "anna")), windows(900, change))
    _, ben = run(RiskEngine(parse_risk_config(text, "ben")), windows(900, change, runner="ben"))
    assert [e.metric for e in onsets(anna)] == ["cadence"]
    assert onsets(ben) == []


@pytest.mark.parametrize(("seconds", "text"), [(0, "0 s"), (44, "45 s"), (60, "1 min"), (151, "2 min 30 s")])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
