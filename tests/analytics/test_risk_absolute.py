"""Absolute evidence rules beside the baseline-relative ones: the cadence floor (below about 160 spm at
running speed) alerts without a baseline, shares one episode with the relative cadence rule (one onset,
the reason names both), is judged only when a speed source says the runner is at running speed (never
without one: real runners jog at 8 km/h below 160 spm), and can be switched off. The tibial
8-g rule is documented as not available (no shank/foot IMU processing), never faked."""

from __future__ import annotations

import pathlib
import re

import pytest

from strideguard.analytics.errors import ConfigError
from strideguard.analytics.results import RiskEvent, RiskEventKind, Severity, WindowMetrics
from strideguard.analytics.risk import DEFAULTS, SOURCES, RiskConfig, RiskEngine, parse_risk_config
from strideguard.sensors.types import StrideReading
from tests.analytics.risk_helpers import NS, STEADY, T0_NS, t_s
from tests.analytics.risk_helpers import windows as any_speed_windows

DEFAULT = RiskConfig.default()
BASE_SPM = STEADY["cadence_spm"]  # 170 spm in the crafted windows
NO_FLOOR = parse_risk_config("[risk.absolute.cadence]\nenabled = false\n")
RELATIVE_OFF = parse_risk_config("[risk.metrics.cadence]\nenabled = false\n")


RUNNING_SPEED_MPS = 3.0  # above the floor's min_speed_mps (2.8): the floor is judged


def windows(duration_s: float, change, **kw) -> list[WindowMetrics]:
    """The crafted windows with a footpod speed at running pace, unless the test names another."""
    kw.setdefault("speed_mps", lambda t: RUNNING_SPEED_MPS)
    return any_speed_windows(duration_s, change, **kw)


def footpod(runner: str, t_ns: int) -> StrideReading:
    return StrideReading(runner=runner, device="footpod", t_ns=t_ns, speed_mps=RUNNING_SPEED_MPS, cadence_spm=162)


def cadence_at(spm_of_t) -> callable:
    """A change function that sets cadence to `spm_of_t(t_s)` and leaves every other metric steady."""

    def change(field: str, t: float) -> float:
        if field == "cadence_spm":
            return spm_of_t(t) / BASE_SPM
        return 1.0 if field in ("cadence_spm", "impact_g", "sway_ml_ratio", "sway_ap_ratio") else 0.0

    return change


def run(engine: RiskEngine, ws: list[WindowMetrics]) -> list[RiskEvent]:
    events: list[RiskEvent] = []
    for w in ws:
        events.extend(engine.push_window(w)[1])
    return events


def onsets(events: list[RiskEvent]) -> list[RiskEvent]:
    return [e for e in events if e.kind is RiskEventKind.ONSET]


def test_floor_notes_without_a_baseline_with_its_own_message_and_cue() -> None:
    """A runner at 154 spm from the start: the relative rule can never see it (it is the baseline), the
    floor fires at the end of the warm-up + sustain, before any baseline exists: as an 'info' note,
    since a population figure alone is no reason to buzz a runner (its max_severity)."""
    config = parse_risk_config("[risk.metrics.cadence]\nsustain_s = 120\n")
    engine = RiskEngine(config)
    events = run(engine, windows(600, cadence_at(lambda t: 154.0)))
    (ev,) = onsets(events)
    assert ev.metric == "cadence"
    assert ev.message == "Cadence 154 spm, below 160 for 2 min"
    assert ev.cue == "shorter, quicker steps"
    assert (ev.value, ev.baseline, ev.deviation, ev.deviation_unit) == (
        pytest.approx(154.0),
        160.0,
        pytest.approx(-6.0),
        "spm",
    )
    assert ev.severity is Severity.INFO  # the floor alone: its max_severity
    warmup_s, sustain_s = config.warmup_s, config.rule("cadence").sustain_s
    assert warmup_s + sustain_s <= t_s(ev.t_ns) <= warmup_s + sustain_s + 5.0
    assert t_s(ev.t_ns) < warmup_s + config.baseline_s  # no baseline yet
    assert engine.baseline is not None  # ... which exists by the end, at 154: still no relative alert
    raised = parse_risk_config(
        "[risk.metrics.cadence]\nsustain_s = 120\n[risk.absolute.cadence]\nmax_severity = 'warning'\n"
    )
    (ev,) = onsets(run(RiskEngine(raised), windows(600, cadence_at(lambda t: 154.0))))
    assert ev.severity is Severity.WARNING  # 6 spm under the floor: ratio 1.6 < alert_factor 2


def test_one_cadence_episode_when_both_rules_hold_and_the_reason_names_both() -> None:
    events = run(RiskEngine(DEFAULT), windows(1100, cadence_at(lambda t: 154.0 if 600 <= t < 800 else 170.0)))
    assert [(e.metric, e.kind) for e in events] == [
        ("cadence", RiskEventKind.ONSET),
        ("cadence", RiskEventKind.CLEARED),
    ]
    onset, cleared = events
    assert onset.message == "Cadence 154 spm, 9 % below your baseline and below 160 for 1 min"
    assert (onset.deviation_unit, onset.baseline) == ("%", pytest.approx(170.0))  # the relative numbers
    assert 600 < t_s(onset.t_ns) <= 665
    assert cleared.message.startswith("Cadence back within your baseline band and back above 160 spm after")
    assert cleared.onset_t_ns == onset.onset_t_ns


def test_relative_rule_alone_keeps_its_message_when_cadence_stays_above_the_floor() -> None:
    """A runner at 182 spm dropping 7 % (to 169): only the baseline-relative rule holds."""
    events = run(RiskEngine(DEFAULT), windows(900, cadence_at(lambda t: 182.0 if t < 600 else 182.0 * 0.93)))
    (ev,) = onsets(events)
    assert ev.message == "Cadence 7 % below your baseline for 1 min"
    assert ev.deviation_unit == "%"


def test_floor_that_fires_first_and_a_later_relative_drop_stay_one_episode() -> None:
    """At 158 spm from the start the floor notes it after the warm-up; when the runner later drops to 148
    (6 % below the 158 baseline, so the relative rule holds too) the same episode is told again, now as
    the warning the runner's own baseline gives, naming both rules; it clears once."""
    events = run(RiskEngine(DEFAULT), windows(900, cadence_at(lambda t: 158.0 if t < 600 else 148.0)))
    assert [(e.metric, e.kind, e.severity) for e in events] == [
        ("cadence", RiskEventKind.ONSET, Severity.INFO),
        ("cadence", RiskEventKind.ONSET, Severity.WARNING),
    ]
    assert events[0].message == "Cadence 158 spm, below 160 for 1 min"
    assert events[1].message.startswith("Cadence 148 spm, 6 % below your baseline and below 160 for")
    assert events[1].onset_t_ns == events[0].onset_t_ns  # one episode
    assert 600 < t_s(events[1].t_ns) <= 665
    alone = onsets(run(RiskEngine(NO_FLOOR), windows(900, cadence_at(lambda t: 158.0 if t < 600 else 148.0))))
    assert [e.message for e in alone] == ["Cadence 6 % below your baseline for 1 min"]  # it would have fired


def test_floor_hysteresis_holds_near_the_floor_and_clears_above_it() -> None:
    """158 spm, then 162 (above the floor but inside the hysteresis band: 160 + 0.4 x 10 spm), then 167."""

    def spm(t: float) -> float:
        return 158.0 if t < 400 else (162.0 if t < 600 else 167.0)

    events = run(RiskEngine(RELATIVE_OFF), windows(800, cadence_at(spm)))
    assert [e.kind for e in events] == [RiskEventKind.ONSET, RiskEventKind.CLEARED]
    assert 600 < t_s(events[1].t_ns) <= 600 + DEFAULT.clear_s + 10
    assert events[1].message.startswith("Cadence back above 160 spm after 8 min")  # the episode began at 120 s
    assert (events[1].deviation_unit, events[1].baseline) == ("spm", 160.0)


@pytest.mark.parametrize(("speed_mps", "fires"), [(None, False), (2.5, False), (3.0, True)])
def test_floor_applies_at_running_speed_only(speed_mps: float | None, fires: bool) -> None:
    ws = windows(600, cadence_at(lambda t: 155.0), speed_mps=lambda t: speed_mps)
    events = run(RiskEngine(DEFAULT), ws)
    assert bool(onsets(events)) is fires


def test_floor_can_be_switched_off_and_moved() -> None:
    ws = windows(600, cadence_at(lambda t: 158.0))
    assert run(RiskEngine(NO_FLOOR), ws) == []
    lower = parse_risk_config("[risk.absolute.cadence]\nbelow_spm = 155.0\nalert_below_spm = 145.0\n")
    assert run(RiskEngine(lower), ws) == []
    (ev,) = onsets(run(RiskEngine(parse_risk_config("[risk.absolute.cadence]\nbelow_spm = 165.0\n")), ws))
    assert ev.message == "Cadence 158 spm, below 165 for 1 min"


def test_floor_alone_below_alert_level_is_an_alert_only_when_its_max_severity_allows() -> None:
    (note,) = onsets(run(RiskEngine(RELATIVE_OFF), windows(600, cadence_at(lambda t: 147.0))))
    assert note.severity is Severity.INFO
    config = parse_risk_config(
        "[risk.metrics.cadence]\nenabled = false\n[risk.absolute.cadence]\nmax_severity = 'alert'\n"
    )
    (ev,) = onsets(run(RiskEngine(config), windows(600, cadence_at(lambda t: 147.0))))
    assert ev.severity is Severity.ALERT  # at or below alert_below_spm = 150
    assert ev.message == "Cadence 147 spm, below 160 for 1 min"


def test_snoozing_cadence_holds_the_floor_too() -> None:
    engine = RiskEngine(RELATIVE_OFF)
    engine.snooze("cadence", T0_NS + 400 * NS)
    ws = windows(900, cadence_at(lambda t: 155.0 if (150 <= t < 300 or t >= 500) else 170.0))
    events = onsets(run(engine, ws))
    assert len(events) == 1 and 500 < t_s(events[0].t_ns) <= 565


def test_floor_settings_are_checked_and_round_trip() -> None:
    a = DEFAULT.absolute_cadence
    assert (a.enabled, a.below_spm, a.alert_below_spm, a.min_speed_mps) == (True, 160.0, 150.0, 2.8)
    assert RiskConfig.from_dict(DEFAULT.as_dict()) == DEFAULT
    for key in DEFAULTS["absolute"]["cadence"]:
        if key != "enabled":
            assert f"absolute.cadence.{key}" in SOURCES
    with pytest.raises(ConfigError) as info:
        parse_risk_config("[risk.absolute.cadence]\nalert_below_spm = 165\n")
    assert info.value.key == "risk.absolute.cadence.alert_below_spm"
    with pytest.raises(ConfigError) as info:
        parse_risk_config('[runner."anna".risk.absolute.cadence]\nbelow_spm = -1\n', "anna")
    assert info.value.key == "runner.anna.risk.absolute.cadence.below_spm"


def test_tibial_rule_is_documented_as_not_available_not_faked() -> None:
    with pytest.raises(ConfigError) as info:
        parse_risk_config("[risk.absolute.tibial]\nabove_g = 8.0\n")
    assert info.value.key == "risk.absolute.tibial"
    assert "NOT available" in SOURCES["absolute"] and "8 g" in SOURCES["absolute"]
    text = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "risk.md").read_text()
    assert re.search(r"\| tibial peak \(shank/foot IMU\) \| above 8 g \| \*\*not available\*\*", text)


def test_docs_table_of_absolute_rules_matches_the_defaults() -> None:
    text = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "risk.md").read_text()
    a = DEFAULT.absolute_cadence
    row = next(line for line in text.splitlines() if line.startswith("| cadence floor (`cadence_spm`)"))
    assert (
        f"| below {a.below_spm:g} spm | alert at {a.alert_below_spm:g} spm | {a.min_speed_mps:g} m/s | {a.cue} |"
    ) in row


def test_steady_runner_just_above_the_floor_raises_no_alert_in_thirty_minutes() -> None:
    """A synthetic runner at 162 spm with high sensor noise and step jitter (single windows dip to about
    157 spm): the sustain and the episode mean keep the floor quiet (0 false alerts per hour here)."""
    from strideguard.analytics.runner import RunnerAnalyzer
    from strideguard.sensors.synthetic.presets import fatigue_run

    run = fatigue_run(
        duration_s=1800,
        rate_hz=50,
        changes=(),
        noise_g=0.3,
        step_time_jitter_pct=5.0,
        impact_jitter_pct=10.0,
        seed=11,
        cadence_spm=162.0,
    )
    engine = RiskEngine(DEFAULT)
    analyzer = RunnerAnalyzer(runner=run.acc.runner, risk=engine)
    events, cadences = [], []
    for batch in run.iter_batches(10.0):
        # a footpod at running speed, once a second, so the floor is judged in every window
        for t_ns in range(int(batch.t_ns[0]), int(batch.t_ns[-1]) + 1, NS):
            analyzer.push_reading(footpod(run.acc.runner, t_ns))
        out = analyzer.push(batch)
        events += out.risk_events
        cadences += [w.cadence_spm for w in out.windows if w.running and w.cadence_spm is not None]
    events += analyzer.finish().risk_events
    assert min(cadences) < DEFAULT.absolute_cadence.below_spm  # the floor was tested by single windows
    assert engine.session_summary()["cadence_floor_windows"]["no_speed"] == 0
    assert events == []
