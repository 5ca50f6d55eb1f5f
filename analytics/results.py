"""What the streaming analytics emit: steps, window metrics and risk events.

Frozen, slotted, keyword-only dataclasses so that tests compare whole objects and sinks (SQLite,
InfluxDB, MQTT, export) serialise them the same way (`as_row`). Optional metrics are `None` when a
window or step does not have enough data for them, never NaN, so that equality and JSON stay simple.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any


class Side(str, enum.Enum):
    """Which foot a step landed on, as far as the trunk signal can tell."""

    LEFT = "left"
    RIGHT = "right"
    UNKNOWN = "unknown"


class Severity(str, enum.Enum):
    INFO = "info"
    WARNING = "warning"
    ALERT = "alert"


class RiskEventKind(str, enum.Enum):
    ONSET = "onset"  # a sustained anomaly has just been confirmed: tell the runner
    CLEARED = "cleared"  # the metric is back inside its band (after hysteresis)


@dataclass(frozen=True, slots=True, kw_only=True)
class StepEvent:
    """One detected step.

    `t_ns` is the step's event time (the centre of the stance impulse in the vertical trunk acceleration,
    about mid-stance; see `analytics.step_time`); initial contact is `contact_t_ns` when it can be
    estimated. `step_time_s` is the interval from the previous step
    (None for the first step of a bout).
    """

    runner: str
    t_ns: int
    index: int
    side: Side = Side.UNKNOWN
    impact_g: float | None = None
    step_time_s: float | None = None
    contact_t_ns: int | None = None
    contact_time_ms: float | None = None
    vertical_oscillation_cm: float | None = None
    braking_g: float | None = None

    def as_row(self) -> dict[str, Any]:
        return _row(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowMetrics:
    """Metrics over one analysis window [t_start_ns, t_end_ns) of one runner.

    Windows sit on a fixed grid from the session's first sample, so they do not depend on how the input
    was chunked. Ratios are dimensionless; `lean_deg` is forward tilt of the trunk against the reference
    posture (standing at the start, else the early run), positive forward. `overstriding_ratio` needs a
    footpod: stride length over the stride the runner would take at the same speed with their early-run
    cadence (1 = unchanged, above 1 = longer, slower steps for the speed).
    """

    runner: str
    t_start_ns: int
    t_end_ns: int
    n_steps: int
    running: bool
    cadence_spm: float | None = None
    impact_g: float | None = None
    sway_ml_ratio: float | None = None
    sway_ap_ratio: float | None = None
    lean_deg: float | None = None
    step_time_asymmetry_pct: float | None = None
    impact_asymmetry_pct: float | None = None
    contact_time_ms: float | None = None
    contact_time_asymmetry_pct: float | None = None
    vertical_oscillation_cm: float | None = None
    step_regularity: float | None = None
    stride_regularity: float | None = None
    braking_g: float | None = None
    speed_mps: float | None = None
    stride_length_m: float | None = None
    overstriding_ratio: float | None = None
    heart_rate_bpm: float | None = None
    risk_score: float | None = None

    def as_row(self) -> dict[str, Any]:
        return _row(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskEvent:
    """A sustained anomaly turned into something to tell the runner (or that it has cleared).

    `deviation` is in the metric's own unit relative to the baseline: percent for cadence, impact and
    sway, degrees for lean, percentage points for asymmetry (`deviation_unit` says which).
    """

    runner: str
    t_ns: int
    kind: RiskEventKind
    metric: str
    severity: Severity
    value: float
    baseline: float
    deviation: float
    deviation_unit: str
    duration_s: float
    message: str
    cue: str
    onset_t_ns: int

    def as_row(self) -> dict[str, Any]:
        return _row(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalyzerOutput:
    """Everything one `push` produced, in time order within each kind."""

    steps: tuple[StepEvent, ...] = ()
    windows: tuple[WindowMetrics, ...] = ()
    risk_events: tuple[RiskEvent, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.steps or self.windows or self.risk_events)

    def __add__(self, other: AnalyzerOutput) -> AnalyzerOutput:
        return AnalyzerOutput(
            steps=self.steps + other.steps,
            windows=self.windows + other.windows,
            risk_events=self.risk_events + other.risk_events,
        )


def _row(obj: Any) -> dict[str, Any]:
    """A flat dict of plain values (enums as their strings) for sinks and JSON."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        out[f.name] = v.value if isinstance(v, enum.Enum) else v
    return out
