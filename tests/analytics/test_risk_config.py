"""Risk settings: defaults with sources, overrides, per-runner tables, and errors that name the key."""

from __future__ import annotations

import pytest

from strideguard.analytics.errors import ConfigError
from strideguard.analytics.results import Severity
from strideguard.analytics.risk import DEFAULTS, METRIC_FIELDS, SOURCES, RiskConfig, parse_risk_config, risk_config_for


def test_defaults_follow_the_evidence_table() -> None:
    c = RiskConfig.default()
    assert (c.rule("cadence").threshold, c.rule("cadence").direction) == (5.0, "down")
    assert c.rule("impact").threshold == 15.0
    assert c.rule("sway_ml").threshold == 20.0
    assert (c.rule("lean").threshold, c.rule("lean").unit) == (5.0, "deg")
    assert (c.rule("step_asymmetry").threshold, c.rule("step_asymmetry").unit) == (5.0, "points")
    assert c.rule("step_asymmetry").max_severity is Severity.WARNING
    assert c.fatigue.signs == ("cadence", "sway_ml", "lean", "impact")
    assert sum(r.weight for r in c.metrics) == pytest.approx(100.0)


def test_every_threshold_names_a_source() -> None:
    for name in METRIC_FIELDS:
        assert f"metrics.{name}.threshold" in SOURCES
    for key in DEFAULTS:
        if key not in ("metrics", "fatigue"):
            assert key in SOURCES


def test_round_trip_through_as_dict() -> None:
    c = RiskConfig.default()
    assert RiskConfig.from_dict(c.as_dict()) == c


def test_runner_override_merges_over_the_top_level() -> None:
    settings = {
        "risk": {"cooldown_s": 120, "metrics": {"impact": {"threshold": 20}}},
        "runner": {"anna": {"risk": {"metrics": {"impact": {"sustain_s": 30}}}}},
    }
    anna = risk_config_for(settings, "anna")
    assert (anna.cooldown_s, anna.rule("impact").threshold, anna.rule("impact").sustain_s) == (120, 20, 30)
    assert risk_config_for(settings, "ben").rule("impact").sustain_s == 60


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[risk]\ncoldown_s = 3", "risk.coldown_s"),
        ("[risk.metrics.cadence]\nthreshold = -5", "risk.metrics.cadence.threshold"),
        ("[risk.metrics.cadence]\nthreshold = 'five'", "risk.metrics.cadence.threshold"),
        ("[risk.metrics.lean]\ndirection = 'sideways'", "risk.metrics.lean.direction"),
        ("[risk.metrics.lean]\nenabled = 1", "risk.metrics.lean.enabled"),
        ("[risk.metrics.gait]\nthreshold = 1", "risk.metrics.gait"),
        ("[risk.fatigue]\nsigns = ['cadence', 'mood']", "risk.fatigue.signs"),
        ("[risk.fatigue]\nmin_signs = 5", "risk.fatigue.min_signs"),
        ("[risk]\nclear_fraction = 1.5", "risk.clear_fraction"),
        ("[risk]\nmetrics = 3", "risk.metrics"),
        ('[runner."anna".risk.metrics.cadence]\nsustain_s = -1', "runner.anna.risk.metrics.cadence.sustain_s"),
        ('[runner."anna".risk.metrics.cadense]\nsustain_s = 1', "runner.anna.risk.metrics.cadense"),
    ],
)
def test_bad_values_name_the_key(text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_risk_config(text, "anna")
    assert info.value.key == key
    assert str(info.value).startswith(key + ": ")


def test_invalid_toml_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_risk_config("[risk\n")


def test_docs_examples_parse_and_the_table_lists_every_metric_default() -> None:
    import pathlib
    import re
    import tomllib

    from strideguard.stream.alerts import alert_settings

    text = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "risk.md").read_text()
    for block in re.findall(r"```toml\n(.*?)```", text, re.S):
        parse_risk_config(block, "anna")
        alert_settings(tomllib.loads(block))
    c = RiskConfig.default()
    for rule in c.metrics:
        row = next(line for line in text.splitlines() if line.startswith(f"| {rule.name} (`{rule.field}`)"))
        unit = {"%": " %", "deg": "°", "points": " points"}[rule.unit]
        assert f"| {rule.threshold:g}{unit} | {rule.max_severity.value} | {rule.weight:g} | {rule.cue} |" in row


def test_runner_override_is_checked_together_with_the_top_level() -> None:
    text = """
[risk.fatigue]
min_signs = 2
[runner."anna".risk.fatigue]
signs = ["cadence", "lean"]
"""
    assert parse_risk_config(text, "anna").fatigue.signs == ("cadence", "lean")
