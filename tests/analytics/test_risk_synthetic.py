"""Acceptance on the synthetic runner through the real analyzer: a fatigue step at minute 20 raises the
expected alerts within sustain + 5 s; 30 minutes of steady running at several noise levels raise none
(the false-alert rate per hour is printed)."""

from __future__ import annotations

import pytest

from strideguard.analytics.results import RiskEvent, RiskEventKind, Severity, WindowMetrics
from strideguard.analytics.risk import RiskConfig, RiskEngine
from strideguard.analytics.runner import RunnerAnalyzer
from strideguard.sensors.synthetic.config import Change
from strideguard.sensors.synthetic.presets import fatigue_run

NS = 1_000_000_000
ONSET_S = 1200.0
RUNNER = "synthetic-fatigue"
NOISE_LEVELS = {  # noise_g, step-time jitter %, impact jitter %
    "low": (0.02, 1.5, 3.0),
    "medium": (0.1, 3.0, 6.0),
    "high": (0.3, 5.0, 10.0),
}


def analyse(run, engine: RiskEngine) -> tuple[list[WindowMetrics], list[RiskEvent]]:
    analyzer = RunnerAnalyzer(runner=RUNNER, risk=engine)
    windows, events = [], []
    for batch in run.iter_batches(10.0):
        out = analyzer.push(batch)
        windows += out.windows
        events += out.risk_events
    out = analyzer.finish()
    return windows + list(out.windows), events + list(out.risk_events)


@pytest.mark.parametrize("noise", ["low", "medium"])
def test_fatigue_step_raises_cadence_sway_lean_and_fatigue_within_sustain_plus_5_s(noise: str) -> None:
    noise_g, step_jitter, impact_jitter = NOISE_LEVELS[noise]
    change = Change(at_s=ONSET_S, ramp_s=0.0, cadence_pct=-6.0, sway_pct=30.0, lean_deg=6.0)
    run = fatigue_run(
        duration_s=1500,
        rate_hz=50,
        changes=(change,),
        noise_g=noise_g,
        step_time_jitter_pct=step_jitter,
        impact_jitter_pct=impact_jitter,
        seed=5,
    )
    config = RiskConfig.default()
    windows, events = analyse(run, RiskEngine(config))
    t0 = run.start_t_ns
    onsets = {e.metric: e for e in events if e.kind is RiskEventKind.ONSET}
    assert set(onsets) == {"cadence", "sway_ml", "lean", "fatigue"}, [e.message for e in events]
    for metric, e in onsets.items():
        sustain_s = config.fatigue.sustain_s if metric == "fatigue" else config.rule(metric).sustain_s
        at_s = (e.t_ns - t0) / NS
        assert ONSET_S < at_s <= ONSET_S + sustain_s + 5.0, (metric, at_s)
    assert onsets["cadence"].deviation == pytest.approx(-6.0, abs=1.0)
    assert onsets["lean"].deviation == pytest.approx(6.0, abs=1.0)
    assert onsets["fatigue"].severity is Severity.ALERT
    assert all(e.t_ns - t0 > ONSET_S * NS for e in events)  # nothing in the steady 20 minutes
    before = [w.risk_score for w in windows if w.risk_score is not None and w.t_end_ns - t0 < ONSET_S * NS]
    after = [w.risk_score for w in windows if w.risk_score is not None and w.t_start_ns - t0 > (ONSET_S + 10) * NS]
    assert max(before) < min(after)


@pytest.mark.slow
@pytest.mark.parametrize("noise", sorted(NOISE_LEVELS))
def test_thirty_minutes_of_steady_running_raise_no_alert(noise: str) -> None:
    noise_g, step_jitter, impact_jitter = NOISE_LEVELS[noise]
    run = fatigue_run(
        duration_s=1800,
        rate_hz=50,
        changes=(),
        noise_g=noise_g,
        step_time_jitter_pct=step_jitter,
        impact_jitter_pct=impact_jitter,
        seed=11,
    )
    engine = RiskEngine(RiskConfig.default())
    windows, events = analyse(run, engine)
    hours = (run.end_t_ns - run.start_t_ns) / NS / 3600
    print(
        f"noise {noise}: {len(events)} alerts in {hours:.2f} h = {len(events) / hours:.1f} false alerts per hour; "
        f"score mean {engine.session_summary()['score_mean']}, max {engine.session_summary()['score_max']}"
    )
    assert events == []
    running = [w for w in windows if w.running]
    config = RiskConfig.default()
    baseline_ready_ns = running[0].t_start_ns + int((config.warmup_s + config.baseline_s) * NS)
    # scored from the first window after the baseline period (warm-up + baseline), every running window
    assert [w for w in windows if w.risk_score is not None] == [w for w in running if w.t_end_ns > baseline_ready_ns]
    assert len(running) > 300
