"""Risk settings: validated, frozen, built from a dict (parsed TOML) over the defaults.

No file I/O and no TOML parsing on the app's path: `stream.settings` reads and parses the file once and
passes the document in (`risk_settings`: the top-level config and every runner's, all checked at once).
`parse_risk_config` takes TOML text for tests. Per-runner overrides live under `[runner."NAME".risk]` and
are merged over the top-level `[risk]` table. Every bad value raises `ConfigError` naming the dotted key.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import tomllib
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from strideguard.analytics.errors import ConfigError
from strideguard.analytics.results import Severity
from strideguard.analytics.risk.defaults import DEFAULTS, METRIC_FIELDS


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricRule:
    """How one metric is compared with its baseline (threshold in the metric's deviation unit)."""

    name: str
    field: str
    kind: str  # relative | absolute | magnitude
    unit: str  # % | deg | points
    label: str
    enabled: bool
    direction: str  # up | down: which way is the risky way
    threshold: float
    sustain_s: float
    weight: float
    speed_slope_per_mps: float  # % per m/s for relative metrics, unit per m/s otherwise
    max_severity: Severity
    cue: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AbsoluteCadenceRule:
    """Cadence below a population floor at running speed, judged without a baseline.

    It feeds the same detector as the baseline-relative cadence rule (one cadence episode, the larger
    of the two ratios), so both never alert twice for one drop. Ratio 1 at `below_spm`, `alert_factor`
    at `alert_below_spm`, linear in between and beyond (the hysteresis band sits above the floor).
    """

    enabled: bool
    below_spm: float
    alert_below_spm: float
    min_speed_mps: float  # judged only in windows whose known speed reaches this
    max_severity: Severity  # of an episode the floor alone holds (the relative rule not)
    cue: str

    def ratio(self, cadence_spm: float, alert_factor: float) -> float:
        """How far below the floor, in units where 1 is the floor and `alert_factor` the alert level."""
        return 1.0 + (alert_factor - 1.0) * (self.below_spm - cadence_spm) / (self.below_spm - self.alert_below_spm)


@dataclass(frozen=True, slots=True, kw_only=True)
class FatigueRule:
    """The combined fatigue pattern: at least `min_signs` of `signs` drifting the risky way."""

    enabled: bool
    signs: tuple[str, ...]
    min_signs: int
    sign_fraction: float
    sustain_s: float
    cooldown_s: float
    cue: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WarmupRule:
    """A hard start: the first `judge_s` of running within `*_near_pct` of working level in every signal
    compared (at least `min_signs` of them); see `analytics.risk.warmup`."""

    enabled: bool
    judge_s: float
    speed_near_pct: float
    cadence_near_pct: float
    impact_near_pct: float
    heart_rate_near_pct: float
    min_signs: int
    working_after_s: float
    min_working_windows: int
    cue: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskConfig:
    """Everything the risk engine needs; build it with `RiskConfig.from_dict` or `default()`."""

    warmup_s: float
    baseline_s: float
    min_baseline_windows: int
    max_gap_s: float
    clear_fraction: float
    clear_s: float
    cooldown_s: float
    alert_factor: float
    min_z: float
    min_speed_span_mps: float
    metrics: tuple[MetricRule, ...]
    absolute_cadence: AbsoluteCadenceRule
    fatigue: FatigueRule
    warmup_check: WarmupRule

    @classmethod
    def default(cls) -> RiskConfig:
        return cls.from_dict({})

    @classmethod
    def from_dict(cls, risk: Mapping[str, Any]) -> RiskConfig:
        """Build from a `[risk]` table (partial: missing keys take the defaults)."""
        if not isinstance(risk, Mapping):
            raise ConfigError("must be a table", key="risk")
        merged = merge(DEFAULTS, risk, prefix="risk")
        return _build(merged)

    def rule(self, name: str) -> MetricRule:
        for rule in self.metrics:
            if rule.name == name:
                return rule
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        """The effective settings as a TOML-able `[risk]` table (for `strideguard config`)."""
        tables = ("metrics", "fatigue", "absolute", "warmup_check")
        out: dict[str, Any] = {k: getattr(self, k) for k in DEFAULTS if k not in tables}
        out["metrics"] = {
            r.name: {
                k: (getattr(r, k).value if k == "max_severity" else getattr(r, k)) for k in DEFAULTS["metrics"][r.name]
            }
            for r in self.metrics
        }
        a = self.absolute_cadence
        out["absolute"] = {
            "cadence": {
                k: (getattr(a, k).value if k == "max_severity" else getattr(a, k))
                for k in DEFAULTS["absolute"]["cadence"]
            }
        }
        f = self.fatigue
        out["fatigue"] = {k: (list(getattr(f, k)) if k == "signs" else getattr(f, k)) for k in DEFAULTS["fatigue"]}
        out["warmup_check"] = {k: getattr(self.warmup_check, k) for k in DEFAULTS["warmup_check"]}
        return out


def risk_config_for(settings: Mapping[str, Any], runner: str | None = None) -> RiskConfig:
    """The risk config of one runner from a whole settings document (top-level `risk` and `runner`).

    `[runner."anna".risk.metrics.cadence] threshold = 4` overrides only that key for anna.
    """
    base = settings.get("risk", {})
    if not isinstance(base, Mapping):
        raise ConfigError("must be a table", key="risk")
    runners = settings.get("runner", {})
    if not isinstance(runners, Mapping):
        raise ConfigError("must be a table of runner names", key="runner")
    if runner is not None and runner in runners:
        override = runners[runner]
        if not isinstance(override, Mapping):
            raise ConfigError("must be a table", key=f"runner.{runner}")
        over_risk = override.get("risk", {})
        if not isinstance(over_risk, Mapping):
            raise ConfigError("must be a table", key=f"runner.{runner}.risk")
        where = f"runner.{runner}.risk"
        merge(DEFAULTS, over_risk, prefix=where)  # unknown keys, named under the runner's table
        merged = merge(base, over_risk, prefix=where, strict=False)
        try:
            return RiskConfig.from_dict(merged)
        except ConfigError as exc:
            if exc.key and _has_path(over_risk, exc.key.split(".")[1:]):
                raise ConfigError(exc.args[0], key=f"runner.{runner}.{exc.key}") from exc
            raise
    return RiskConfig.from_dict(base)


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskSettings:
    """The risk config of every runner of a settings document: `default` for runners without a
    `[runner."NAME".risk]` table, `runners` for those with one (read-only)."""

    default: RiskConfig
    runners: Mapping[str, RiskConfig] = dataclasses.field(default_factory=lambda: types.MappingProxyType({}))

    def for_runner(self, runner: str | None) -> RiskConfig:
        return self.runners.get(runner, self.default) if runner is not None else self.default


def risk_settings(settings: Mapping[str, Any]) -> RiskSettings:
    """Every runner's risk config from a whole settings document, each override checked now (before any
    data is read), each exactly as `risk_config_for(settings, runner)` builds it."""
    default = risk_config_for(settings)
    names = settings.get("runner", {})
    if not isinstance(names, Mapping):
        raise ConfigError("must be a table of runner names", key="runner")
    runners = {str(name): risk_config_for(settings, str(name)) for name in names}
    return RiskSettings(default=default, runners=types.MappingProxyType(runners))


def _has_path(table: Mapping[str, Any], path: list[str]) -> bool:
    for part in path:
        if not isinstance(table, Mapping) or part not in table:
            return False
        table = table[part]
    return True


def parse_risk_config(text: str, runner: str | None = None) -> RiskConfig:
    """Parse TOML text (a whole settings file) into one runner's RiskConfig: for tests and the shell; the
    app parses the user's file once, in `stream.settings`, and calls `risk_settings`."""
    try:
        settings = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}") from exc
    return risk_config_for(settings, runner)


def merge(base: Mapping[str, Any], over: Mapping[str, Any], *, prefix: str, strict: bool = True) -> dict[str, Any]:
    """Deep-merge `over` onto a copy of `base`; with `strict`, keys unknown to `base` are errors."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        dotted = f"{prefix}.{key}"
        if key not in out:
            if strict:
                raise ConfigError("unknown setting (check the spelling; see `strideguard config`)", key=dotted)
            out[key] = copy.deepcopy(value)
        elif isinstance(out[key], Mapping) and isinstance(value, Mapping):
            out[key] = merge(out[key], value, prefix=dotted, strict=strict)
        elif isinstance(out[key], Mapping):
            raise ConfigError("must be a table", key=dotted)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _number(
    d: Mapping[str, Any],
    key: str,
    where: str,
    *,
    low: float | None = 0.0,
    low_open: bool = False,
    high: float | None = None,
) -> float:
    value = d[key]
    dotted = f"{where}.{key}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"must be a number, got {value!r}", key=dotted)
    if low is not None and (value < low or (low_open and value == low)):
        raise ConfigError(f"must be {'>' if low_open else '>='} {low:g}, got {value!r}", key=dotted)
    if high is not None and value > high:
        raise ConfigError(f"must be <= {high:g}, got {value!r}", key=dotted)
    return float(value)


def _bool(d: Mapping[str, Any], key: str, where: str) -> bool:
    if not isinstance(d[key], bool):
        raise ConfigError(f"must be true or false, got {d[key]!r}", key=f"{where}.{key}")
    return d[key]


def _text(d: Mapping[str, Any], key: str, where: str, choices: tuple[str, ...] | None = None) -> str:
    value = d[key]
    if not isinstance(value, str) or (choices and value not in choices):
        want = f"one of {', '.join(choices)}" if choices else "a string"
        raise ConfigError(f"must be {want}, got {value!r}", key=f"{where}.{key}")
    return value


def _build(d: dict[str, Any]) -> RiskConfig:
    w = "risk"
    rules = []
    for name, (field, kind, unit, label) in METRIC_FIELDS.items():
        m = d["metrics"][name]
        mw = f"risk.metrics.{name}"
        rules.append(
            MetricRule(
                name=name,
                field=field,
                kind=kind,
                unit=unit,
                label=label,
                enabled=_bool(m, "enabled", mw),
                direction=_text(m, "direction", mw, ("up", "down")),
                threshold=_number(m, "threshold", mw, low_open=True),
                sustain_s=_number(m, "sustain_s", mw),
                weight=_number(m, "weight", mw),
                speed_slope_per_mps=_number(m, "speed_slope_per_mps", mw, low=None),
                max_severity=Severity(_text(m, "max_severity", mw, tuple(s.value for s in Severity))),
                cue=_text(m, "cue", mw),
            )
        )
    a = d["absolute"]["cadence"]
    aw = "risk.absolute.cadence"
    below_spm = _number(a, "below_spm", aw, low_open=True)
    alert_below_spm = _number(a, "alert_below_spm", aw)
    if alert_below_spm >= below_spm:
        raise ConfigError(
            f"must be below below_spm ({below_spm:g}), got {a['alert_below_spm']!r}", key=f"{aw}.alert_below_spm"
        )
    absolute_cadence = AbsoluteCadenceRule(
        enabled=_bool(a, "enabled", aw),
        below_spm=below_spm,
        alert_below_spm=alert_below_spm,
        min_speed_mps=_number(a, "min_speed_mps", aw),
        max_severity=Severity(_text(a, "max_severity", aw, tuple(s.value for s in Severity))),
        cue=_text(a, "cue", aw),
    )
    f = d["fatigue"]
    fw = "risk.fatigue"
    signs = f["signs"]
    if not isinstance(signs, list) or not signs or any(s not in METRIC_FIELDS for s in signs):
        raise ConfigError(
            f"must be a non-empty list of metric names from {', '.join(METRIC_FIELDS)}, got {signs!r}",
            key=f"{fw}.signs",
        )
    min_signs = _number(f, "min_signs", fw, low=1)
    if min_signs != int(min_signs) or min_signs > len(signs):
        raise ConfigError(
            f"must be a whole number from 1 to {len(signs)}, got {f['min_signs']!r}", key=f"{fw}.min_signs"
        )
    fatigue = FatigueRule(
        enabled=_bool(f, "enabled", fw),
        signs=tuple(signs),
        min_signs=int(min_signs),
        sign_fraction=_number(f, "sign_fraction", fw, low_open=True, high=1.0),
        sustain_s=_number(f, "sustain_s", fw),
        cooldown_s=_number(f, "cooldown_s", fw),
        cue=_text(f, "cue", fw),
    )
    warmup_check = _warmup_rule(d["warmup_check"], "risk.warmup_check")
    min_windows = _number(d, "min_baseline_windows", w, low=1)
    if min_windows != int(min_windows):
        raise ConfigError(f"must be a whole number, got {d['min_baseline_windows']!r}", key=f"{w}.min_baseline_windows")
    return RiskConfig(
        warmup_s=_number(d, "warmup_s", w),
        baseline_s=_number(d, "baseline_s", w, low_open=True),
        min_baseline_windows=int(min_windows),
        max_gap_s=_number(d, "max_gap_s", w),
        clear_fraction=_number(d, "clear_fraction", w, low_open=True, high=1.0),
        clear_s=_number(d, "clear_s", w),
        cooldown_s=_number(d, "cooldown_s", w),
        alert_factor=_number(d, "alert_factor", w, low=1.0),
        min_z=_number(d, "min_z", w),
        min_speed_span_mps=_number(d, "min_speed_span_mps", w, low_open=True),
        metrics=tuple(rules),
        absolute_cadence=absolute_cadence,
        fatigue=fatigue,
        warmup_check=warmup_check,
    )


def _warmup_rule(d: Mapping[str, Any], where: str) -> WarmupRule:
    counts = {}
    for key, low in (("min_signs", 1), ("min_working_windows", 1)):
        value = _number(d, key, where, low=low)
        if value != int(value):
            raise ConfigError(f"must be a whole number, got {d[key]!r}", key=f"{where}.{key}")
        counts[key] = int(value)
    return WarmupRule(
        enabled=_bool(d, "enabled", where),
        judge_s=_number(d, "judge_s", where, low_open=True),
        speed_near_pct=_number(d, "speed_near_pct", where, low_open=True, high=100.0),
        cadence_near_pct=_number(d, "cadence_near_pct", where, low_open=True, high=100.0),
        impact_near_pct=_number(d, "impact_near_pct", where, low_open=True, high=100.0),
        heart_rate_near_pct=_number(d, "heart_rate_near_pct", where, low_open=True, high=100.0),
        min_signs=counts["min_signs"],
        working_after_s=_number(d, "working_after_s", where, low_open=True),
        min_working_windows=counts["min_working_windows"],
        cue=_text(d, "cue", where),
    )
