"""The settings file: read once, parsed once, validated into frozen dataclasses, errors naming file and key."""

from __future__ import annotations

import dataclasses
import importlib
import pathlib
import re
import textwrap
import tomllib

import pytest

from strideguard.analytics.errors import ConfigError
from strideguard.analytics.risk import RiskConfig, risk_config_for
from strideguard.stream.alerts.settings import ALERT_DEFAULTS, AlertSettings
from strideguard.stream.errors import UsageError
from strideguard.stream.runtime.app import RunOptions, analyzer_factory, open_pipeline
from strideguard.stream.runtime.settings import (
    WEB_KEYS,
    Settings,
    SettingsError,
    WebSettings,
    load_settings,
    parse_settings,
)

REPO = pathlib.Path(__file__).resolve().parents[2]

CONFIG = """
[risk]
cooldown_s = 600
[risk.metrics.impact]
threshold = 20
[runner."anna".risk.metrics.impact]
sustain_s = 30
[runner."anna".alerts.haptic]
address = "C4:7C:8D:6A:12:34"
[runner."ben".alerts.haptic]
address = "C4:7C:8D:6A:56:78"
[alerts]
burst = 2
[alerts.haptic]
enabled = true
"""


@pytest.fixture
def no_default_file(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.delenv("STRIDEGUARD_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config-home"))


def test_no_file_is_all_defaults(no_default_file: None) -> None:
    settings = load_settings(None)
    assert settings == Settings.default()
    assert settings.source_path is None
    assert settings.risk.for_runner("anna") == RiskConfig.default()
    assert settings.alerts == AlertSettings.default()
    assert settings.alerts.as_dict() == ALERT_DEFAULTS


def test_the_default_file_is_read_when_it_exists(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "strideguard" / "config.toml"
    path.parent.mkdir()
    path.write_text(CONFIG)
    monkeypatch.delenv("STRIDEGUARD_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    settings = load_settings(None)
    assert settings.source_path == path and settings.risk.default.cooldown_s == 600
    path.write_text("")
    assert load_settings(None).source_path is None  # an empty default file: all defaults


def test_per_runner_overrides_are_exactly_the_validators(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(CONFIG)
    settings = load_settings(path)
    document = tomllib.loads(CONFIG)
    for runner in ("anna", "ben", "carla", None):
        assert settings.risk.for_runner(runner) == risk_config_for(document, runner)
    anna = settings.risk.for_runner("anna")
    assert (anna.cooldown_s, anna.rule("impact").threshold, anna.rule("impact").sustain_s) == (600, 20, 30)
    assert settings.risk.for_runner("carla").rule("impact").sustain_s == 60
    assert dict(settings.alerts.haptic.addresses) == {"anna": "C4:7C:8D:6A:12:34", "ben": "C4:7C:8D:6A:56:78"}
    assert settings.alerts.burst == 2 and settings.source_path == path


def test_settings_are_frozen(tmp_path: pathlib.Path) -> None:
    settings = parse_settings(CONFIG)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.risk = settings.risk  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.alerts.haptic.enabled = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.risk.runners["anna"] = RiskConfig.default()  # type: ignore[index]
    with pytest.raises(TypeError):
        settings.alerts.haptic.addresses["carla"] = "x"  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[risk.metrics.cadence]\ntreshold = 4\n", "risk.metrics.cadence.treshold"),
        # every runner's overrides are checked at load, not when the runner first shows up
        ('[runner."zoe".risk.metrics.cadence]\nsustain_s = -1\n', "runner.zoe.risk.metrics.cadence.sustain_s"),
        ('[runner."zoe".alerts.haptic]\naddress = 5\n', "runner.zoe.alerts.haptic.address"),
        ("runner = 3\n", "runner"),
        ("[alerts]\nburts = 3\n", "alerts.burts"),
        ("[alerts.webhook]\nurl = 5\n", "alerts.webhook.url"),
    ],
)
def test_errors_are_one_line_naming_the_file_and_the_key(tmp_path: pathlib.Path, text: str, key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert isinstance(info.value, ConfigError) and info.value.key == key and info.value.path == path
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: ") and "\n" not in message


def test_unreadable_or_unparsable_files_name_the_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(UsageError, match=r"missing\.toml"):
        load_settings(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("[risk\n")
    with pytest.raises(SettingsError, match=r"bad\.toml: not valid TOML: .*line 1"):
        load_settings(tmp_path / "bad.toml")
    (tmp_path / "latin1.toml").write_bytes('[alerts.haptic]\naddress = "é"\n'.encode("latin-1"))
    with pytest.raises(SettingsError, match=r"latin1\.toml: not UTF-8"):
        load_settings(tmp_path / "latin1.toml")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        parse_settings("[risk\n")  # text without a file: the plain error
    assert not isinstance(info.value, SettingsError)


def test_analyzer_factory_takes_settings_or_text() -> None:
    text = '[runner."anna".risk.metrics.lean]\nthreshold = 7.0\n'
    for config in (text, parse_settings(text)):
        make = analyzer_factory(config)
        assert make("anna").risk is not None and make("anna").risk.config.rule("lean").threshold == 7.0
        assert make("ben").risk is not None and make("ben").risk.config.rule("lean").threshold == 5.0
    with pytest.raises(ConfigError):
        analyzer_factory("[risk]\ncoldown_s = 1\n")


async def test_a_run_parses_the_file_once(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening a pipeline and building analyzers for several runners parses the TOML once (it was parsed
    once per runner, once to check it and once for the alert channels)."""
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.replace("[alerts.haptic]\nenabled = true\n", ""))
    calls: list[str] = []
    real_loads = tomllib.loads

    def counting_loads(text: str, **kwargs: object) -> dict:
        calls.append(text)
        return real_loads(text, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tomllib, "loads", counting_loads)
    opts = RunOptions(config_path=path, store=False, live_view=False)
    async with open_pipeline(opts, source="test") as parts:
        factory = parts.pipeline.engine.analyzer_factory
        analyzers = {runner: factory(runner) for runner in ("anna", "ben", "carla")}
    assert len(calls) == 1
    anna_risk = analyzers["anna"].risk
    assert anna_risk is not None and anna_risk.config.rule("impact").sustain_s == 30


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        # a misspelt table was read by nobody: the defaults stayed in force without a word
        ("[riskk]\nwarmup_s = 60\n", "riskk", "unknown table, did you mean risk? (known: alerts, risk, runner, web)"),
        ("[Web]\nhosts = []\n", "Web", "unknown table, did you mean web?"),
        ("warmup_s = 60\n", "warmup_s", "unknown setting (known: alerts, risk, runner, web)"),
        (
            '[runner."anna".risks.metrics.lean]\nthreshold = 7\n',
            "runner.anna.risks",
            "did you mean risk? (known: alerts, risk)",
        ),
        (
            '[runner."anna".alerts.webhook]\nenabled = true\n',
            "runner.anna.alerts.webhook",
            "unknown table (known: haptic)",
        ),
        ('[runner."anna".alerts.haptic]\nadress = "x"\n', "runner.anna.alerts.haptic.adress", "did you mean address?"),
        ("[web]\nmax_feed = 3\n", "web.max_feed", "unknown setting, did you mean max_feeds?"),
        # a traceback (AttributeError in the alert settings) before
        ('[runner."anna"]\nalerts = 1\n', "runner.anna.alerts", "must be a table"),
        ('[runner."anna".alerts]\nhaptic = 1\n', "runner.anna.alerts.haptic", "must be a table"),
    ],
)
def test_unknown_names_are_one_line_with_the_known_ones(tmp_path: pathlib.Path, text: str, key: str, hint: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert info.value.key == key
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: ") and hint in message and "\n" not in message


def test_the_known_web_keys_are_the_web_settings() -> None:
    assert set(WEB_KEYS) == {f.name for f in dataclasses.fields(WebSettings)}


def _toml_blocks(text: str) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", text, flags=re.DOTALL)


def _settings_examples() -> dict[str, str]:
    """Every settings file the docs, the CLI's help and the tests show, each of which must load."""
    from strideguard.stream.alerts import settings as alert_settings_module
    from strideguard.stream.cli.commands.config import EXAMPLES

    examples = {
        f"docs/risk.md #{i}": block for i, block in enumerate(_toml_blocks((REPO / "docs/risk.md").read_text()))
    }
    examples["stream/alerts/settings.py"] = _toml_blocks(alert_settings_module.__doc__ or "")[0]
    examples["strideguard config --help"] = textwrap.dedent(
        EXAMPLES.split("A settings file holds only what you change, e.g.\n")[1].split("See ")[0]
    )
    for module in ("coach_rig", "test_e2e_live", "test_dashboards"):
        examples[f"tests/stream/{module}.py"] = importlib.import_module(f"tests.stream.{module}").RISK_TOML
    examples["this file's CONFIG, with [web]"] = CONFIG + '[web]\nmax_feeds = 8\nhosts = ["gait.example.org"]\n'
    return examples


@pytest.mark.parametrize(("where", "text"), sorted(_settings_examples().items()))
def test_every_shown_settings_file_loads(tmp_path: pathlib.Path, where: str, text: str) -> None:
    assert tomllib.loads(text), where  # not empty: the extraction found the example
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert load_settings(path).source_path == path


def test_a_run_with_a_misspelt_table_stops_before_it_starts(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from strideguard.stream.cli import main

    path = tmp_path / "bad.toml"
    path.write_text("[riskk]\nx = 1\n")
    assert main(["demo", "--config", str(path), "--no-store", "--speed", "0"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"strideguard demo: error: {path}: riskk: unknown table, did you mean risk? (known: alerts, risk, runner, web)"
    ]
