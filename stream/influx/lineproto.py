"""InfluxDB line protocol for StrideGuard outputs: pure functions, no I/O.

Measurements (one point per item; every point is tagged `runner`, `team`, `session` and, when the
worker knows them, `device` and `placement` of the trunk sensor):

==========  ==========  ====================================================================
measurement  time        extra tags / fields
==========  ==========  ====================================================================
steps        t_ns        tag `side`; fields index (int), impact_g, step_time_s, contact_t_ns
                         (int), contact_time_ms, vertical_oscillation_cm, braking_g
windows      t_end_ns    fields every WindowMetrics metric (cadence_spm, impact_g, sway_ml_ratio,
                         sway_ap_ratio, lean_deg, *_asymmetry_pct, risk_score, ...), n_steps (int),
                         running (bool), t_start_ns (int)
alerts       t_ns        tags metric, kind (onset/cleared), severity; fields value, baseline,
                         deviation, deviation_unit, duration_s, message, cue, onset_t_ns (int)
sessions     started     tag source; fields state ("running"/"finished"), the numeric and text
                         entries of the session summary, and from its risk table warmup_start
                         ("easy"/"hard"), cadence_floor_judged_windows, n_onsets
status       data time   fields state ("running"/"finished"), sensor ("ok"/"lost"/"silent"),
             of change   alert (most severe active alert: "none"/"info"/"warning"/"alert"),
                         alert_rank (int, 0-3), gap_s (when the sensor came back); one point
                         per change, every point the whole snapshot (Grafana's team table)
==========  ==========  ====================================================================

A point is identified by measurement + tag set + time, and InfluxDB overwrites a point written twice,
so re-writing a session (a restarted worker re-analysing its journal, a spool flushed after a retry)
never duplicates anything. Field types follow the dataclass annotations (a float field is always
written as a float) so that no write fails on a field-type conflict. None and non-finite values are
left out: InfluxDB has no null.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from influxdb_client import Point, WritePrecision

from strideguard.analytics.results import AnalyzerOutput, RiskEvent, StepEvent, WindowMetrics

MEASUREMENTS = ("steps", "windows", "alerts", "sessions", "status")
ALERT_RANKS = {"none": 0, "info": 1, "warning": 2, "alert": 3}  # the `status` point's alert_rank


def _text(value: str) -> str:
    """A text field value on one physical line: line breaks become the two-character escapes `\\n` and
    `\\r`, as Point writes them in tag values (a raw line break would be legal inside a quoted string, but
    the sink splits a refused batch at line ends, so a point must never span two)."""
    return value.replace("\r", "\\r").replace("\n", "\\n")


def _field_value(value: Any, kind: type | None) -> bool | int | float | str | None:
    """The value as the declared type, so a field never changes type between points (a conflict makes
    InfluxDB refuse the line); None when InfluxDB cannot store it (no null, no NaN or infinity)."""
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None:
        return None
    if isinstance(value, bool) or kind is bool:
        return bool(value)
    if kind is int or (kind is None and isinstance(value, int)):
        return int(value)
    if (
        kind is float
        or isinstance(value, float)
        or (kind is None and hasattr(value, "__float__") and not isinstance(value, str))
    ):
        f = float(value)
        return f if math.isfinite(f) else None
    return _text(str(value))


def point(
    measurement: str, tags: Mapping[str, str | None], fields: Mapping[str, tuple[Any, type | None]], t_ns: int
) -> str | None:
    """One line; `fields` maps name -> (value, declared type or None). None if no field has a value.

    Escaping is influxdb-client's `Point` (public API): commas, equals signs and spaces escaped, line
    breaks and tabs in tags as two-character escapes, and a tag value ending in a backslash gets a space
    after it, since InfluxDB's parser reads `\\,` and `\\ ` as escapes whatever precedes them and so no
    line can end a tag value in a backslash (such a name is stored with a trailing space instead of being
    refused)."""
    p = Point(measurement)
    for key, value in tags.items():
        if value not in (None, ""):
            p.tag(key, str(value))
    for name, (value, kind) in fields.items():
        rendered = _field_value(value, kind)
        if rendered is not None:
            p.field(name, rendered)
    p.time(int(t_ns), write_precision=WritePrecision.NS)
    return p.to_line_protocol() or None


def _declared_types(cls: type) -> dict[str, type | None]:
    """float / int / bool / None (text) for each field of a result dataclass, from its annotations."""
    hints = typing.get_type_hints(cls)
    out: dict[str, type | None] = {}
    for name, hint in hints.items():
        args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
        base = args[0]
        out[name] = base if base in (float, int, bool) else None
    return out


_TYPES = {cls: _declared_types(cls) for cls in (StepEvent, WindowMetrics, RiskEvent)}
_STEP_SKIP = {"runner", "t_ns", "side"}
_WINDOW_SKIP = {"runner", "t_end_ns"}
_ALERT_SKIP = {"runner", "t_ns", "metric", "kind", "severity"}


def _fields(obj: Any, skip: set[str]) -> dict[str, tuple[Any, type | None]]:
    types = _TYPES[type(obj)]
    return {f.name: (getattr(obj, f.name), types[f.name]) for f in dataclasses.fields(obj) if f.name not in skip}


def output_lines(output: AnalyzerOutput, tags: Mapping[str, str | None]) -> list[str]:
    """Line-protocol lines for everything in one analyzer output, with the session's tags."""
    lines: list[str | None] = []
    for s in output.steps:
        lines.append(point("steps", {**tags, "side": s.side.value}, _fields(s, _STEP_SKIP), s.t_ns))
    for w in output.windows:
        lines.append(point("windows", tags, _fields(w, _WINDOW_SKIP), w.t_end_ns))
    for e in output.risk_events:
        alert_tags = {**tags, "metric": e.metric, "kind": e.kind.value, "severity": e.severity.value}
        lines.append(point("alerts", alert_tags, _fields(e, _ALERT_SKIP), e.t_ns))
    return [line for line in lines if line is not None]


def session_line(
    tags: Mapping[str, str | None],
    started_t_ns: int,
    *,
    state: str,
    summary: Mapping[str, Any] | None = None,
    source: str | None = None,
) -> str:
    """The `sessions` point: state plus the flat numeric/text entries of the summary."""
    fields: dict[str, tuple[Any, type | None]] = {"state": (state, None)}
    reserved = {"session_id", "session", "source", "state", *tags}  # a field named like a tag is ambiguous
    for key, value in {**(summary or {}), **risk_fields(summary or {})}.items():
        if isinstance(value, (bool, int, float, str)) and key not in reserved:
            fields[key] = (value, float if isinstance(value, int) and not isinstance(value, bool) else None)
    line = point("sessions", {**tags, "source": source}, fields, started_t_ns)
    assert line is not None  # state is always there
    return line


def risk_fields(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Session-level risk facts a dashboard filters on, from the summary's nested `risk` table: how the
    run started (`warmup_start` "easy"/"hard", only when judged), the running windows where the cadence
    floor was judged, and the warning/alert onsets (info notes apart)."""
    risk = summary.get("risk")
    if not isinstance(risk, Mapping):
        return {}
    out: dict[str, Any] = {}
    warmup = risk.get("warmup")
    if isinstance(warmup, Mapping) and warmup.get("judged") is True:
        out["warmup_start"] = "hard" if warmup.get("hard_start") else "easy"
    floor = risk.get("cadence_floor_windows")
    if isinstance(floor, Mapping) and isinstance(floor.get("judged"), int):
        out["cadence_floor_judged_windows"] = floor["judged"]
    events = risk.get("events")
    if isinstance(events, Mapping):
        onsets = [n for k, n in events.items() if str(k).endswith(":onset") and isinstance(n, int)]
        out["n_onsets"] = sum(onsets)
    return out


def status_line(
    tags: Mapping[str, str | None],
    t_ns: int,
    *,
    state: str,
    sensor: str,
    alert: str,
    gap_s: float | None = None,
) -> str:
    """The `status` point: the runner's whole state at data time `t_ns` (every field in every point, so
    `last()` of each field is one consistent snapshot; a field left out would let an older value show)."""
    fields: dict[str, tuple[Any, type | None]] = {
        "state": (state, None),
        "sensor": (sensor, None),
        "alert": (alert, None),
        "alert_rank": (ALERT_RANKS[alert], int),
        "gap_s": (gap_s, float),
    }
    line = point("status", tags, fields, t_ns)
    assert line is not None  # state is always there
    return line


def flatten(lines: Iterable[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()
