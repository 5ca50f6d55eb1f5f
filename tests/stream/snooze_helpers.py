"""A short replayed run for the snooze tests: two cadence drops and a lean episode in between.

Risk settings are shortened so the run takes seconds: warm-up 10 s, baseline 40 s, sustain 15 s,
cooldown 20 s (short, so that only the snooze can hold the second cadence drop), fatigue off.

Timeline (data time from the run's start; `last_drop_s` moves the third drop):
  60-110 s  cadence -10 % (153 spm: both cadence rules)   -> cadence onset by 80 s
  150-200 s cadence -10 % and forward lean +8 deg          -> lean onset by 170 s; cadence only if not snoozed
  300-350 s cadence -10 %                                  -> cadence onset by 320 s
"""

from __future__ import annotations

from strideguard.analytics.results import RiskEvent, RiskEventKind
from strideguard.analytics.risk import RiskEngine, parse_risk_config
from strideguard.analytics.runner import RunnerAnalyzer
from strideguard.sensors.synthetic.config import Change
from strideguard.sensors.synthetic.presets import fatigue_run

NS = 1_000_000_000
RUNNER = "anna"
DURATION_S = 380.0
RISK = parse_risk_config("""
[risk]
warmup_s = 10
baseline_s = 40
min_baseline_windows = 4
cooldown_s = 20
[risk.metrics.cadence]
sustain_s = 15
[risk.metrics.lean]
sustain_s = 15
[risk.fatigue]
enabled = false
""")
BACK_PCT = 100.0 / 0.9 - 100.0  # undoes a -10 % change (changes multiply)


def snooze_run(*, last_drop_s: float = 300.0, duration_s: float = DURATION_S):
    changes = []
    for start, stop in ((60, 110), (150, 200), (last_drop_s, last_drop_s + 50)):
        changes += [Change(at_s=start, ramp_s=0, cadence_pct=-10.0), Change(at_s=stop, ramp_s=0, cadence_pct=BACK_PCT)]
    changes += [Change(at_s=150, ramp_s=0, lean_deg=8.0), Change(at_s=200, ramp_s=0, lean_deg=-8.0)]
    return fatigue_run(duration_s=duration_s, rate_hz=25, seed=3, runner=RUNNER, changes=tuple(changes))


def analyzer(runner: str) -> RunnerAnalyzer:
    return RunnerAnalyzer(runner=runner, risk=RiskEngine(RISK))


def onsets_s(events: list[RiskEvent], start_t_ns: int) -> list[tuple[str, float]]:
    """(metric, seconds from the run's start) of every onset."""
    return [(e.metric, (e.t_ns - start_t_ns) / NS) for e in events if e.kind is RiskEventKind.ONSET]
