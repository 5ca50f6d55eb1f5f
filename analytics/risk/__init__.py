"""Risk: personal baselines, sustained-anomaly detection with reasons and cues, a 0-100 heuristic score.

The score and the alerts are a heuristic built from the evidence cited in docs/risk.md: a gait change
*associated with* low-back-pain risk, never a diagnosis.
"""

from strideguard.analytics.risk.baseline import Baseline, MetricBaseline
from strideguard.analytics.risk.config import (
    AbsoluteCadenceRule,
    FatigueRule,
    MetricRule,
    RiskConfig,
    parse_risk_config,
    risk_config_for,
)
from strideguard.analytics.risk.defaults import DEFAULTS, METRIC_FIELDS, SOURCES
from strideguard.analytics.risk.engine import (
    FATIGUE,
    RiskEngine,
    format_duration,
    risk_score,
    score_contributions,
    summarize_scores,
)

__all__ = [
    "DEFAULTS",
    "FATIGUE",
    "METRIC_FIELDS",
    "SOURCES",
    "AbsoluteCadenceRule",
    "Baseline",
    "FatigueRule",
    "MetricBaseline",
    "MetricRule",
    "RiskConfig",
    "RiskEngine",
    "format_duration",
    "parse_risk_config",
    "risk_config_for",
    "risk_score",
    "score_contributions",
    "summarize_scores",
]
