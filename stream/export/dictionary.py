"""The data dictionary: every exported column with its type, unit and meaning.

Result columns are derived from the result dataclasses (`analytics.results`) and their type hints, and
units from the naming rule the project follows (a unit suffix on every name that has one), so a field
added to a result type shows up in the export and in the dictionary without anyone editing a list; a
test fails if a field's unit or description cannot be found. The same columns drive the Arrow schemas,
the CSV headers, the BIDS `events.json` and the dictionary files, so these cannot disagree.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from strideguard.analytics.results import RiskEvent, StepEvent, WindowMetrics
from strideguard.sensors.types import HeartRateReading, SampleKind, StrideReading
from strideguard.stream.retraining.records import COLUMN_DOCS as RETRAINING_DOCS
from strideguard.stream.retraining.records import PROGRESS_TABLE

# Unit by name suffix, longest first; "1" is dimensionless.
UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_ratio", "1"),
    ("_spm", "steps/min"),
    ("_bpm", "beats/min"),
    ("_mps", "m/s"),
    ("_pct", "%"),
    ("_deg", "deg"),
    ("_dps", "deg/s"),
    ("_ns", "ns"),
    ("_ms", "ms"),
    ("_hz", "Hz"),
    ("_kj", "kJ"),
    ("_cm", "cm"),
    ("_s", "s"),
    ("_g", "g"),
    ("_m", "m"),
)
# Names without a unit suffix: their unit ("n/a" for labels, text and flags).
UNITS_BY_NAME: dict[str, str] = {
    "subject": "n/a",
    "session": "n/a",
    "group": "n/a",
    "device": "n/a",
    "placement": "n/a",
    "kind": "n/a",
    "unit": "n/a",
    "tracksys": "n/a",
    "status": "n/a",
    "summary_json": "n/a",
    "warmup_start": "n/a",
    "shoe": "n/a",
    "age_years": "year",
    "sex": "n/a",
    "mass_kg": "kg",
    "meta_json": "n/a",
    "index": "1",
    "n_steps": "1",
    "n_samples": "1",
    "running": "n/a",
    "side": "n/a",
    "metric": "n/a",
    "severity": "n/a",
    "message": "n/a",
    "cue": "n/a",
    "deviation_unit": "n/a",
    "value": "unit of `metric`",
    "baseline": "unit of `metric`",
    "deviation": "`deviation_unit`",
    "step_regularity": "1",
    "stride_regularity": "1",
    "risk_score": "1",
    "overstriding_ratio": "1",
    "sensor_contact": "n/a",
    "is_running": "n/a",
    "id": "n/a",
    "pain_before": "0-10 scale",
    "pain_after": "0-10 scale",
    "red_flags_json": "n/a",
    "note": "n/a",
    "n_missing": "1",
    "link_lost": "n/a",
    "n_gaps": "1",
    "x": "g (acc) or deg/s (gyro)",
    "y": "g (acc) or deg/s (gyro)",
    "z": "g (acc) or deg/s (gyro)",
}

TIME_NOTE = "ns since 1970-01-01T00:00:00Z (UTC), shifted by the export's date offset when dates are shifted"
DESCRIPTIONS: dict[str, str] = {
    "subject": "BIDS participant label (sub-...); pseudonymous when the export is pseudonymised",
    "session": "BIDS session label (ses-...) of one analysed run",
    "group": "team label; pseudonymous when the export is pseudonymised",
    "device": "sensor device label; pseudonymous when the export is pseudonymised",
    "placement": "where the device was worn (chest, sacrum, foot, shank, wrist, arm, unknown)",
    "kind": "acc = acceleration including gravity, gyro = angular rate",
    "unit": "unit of x, y and z for this stream",
    "tracksys": "Motion-BIDS tracking system label the stream was written under",
    "rate_hz": "nominal sampling rate the analytics filter at",
    "effective_rate_hz": "samples per second where there is data: (samples - 1 - gaps) / (last - first "
    "sample time - gap durations)",
    "n_samples": "number of samples",
    "first_t_ns": f"time of the first sample, {TIME_NOTE}",
    "last_t_ns": f"time of the last sample, {TIME_NOTE}",
    "meta_json": "the recording's own metadata for the stream (JSON object)",
    "x": "sensor x axis (device frame)",
    "y": "sensor y axis (device frame)",
    "z": "sensor z axis (device frame)",
    "status": "completed, or unfinished (still running or cut off)",
    "started_t_ns": f"first sample of the session, {TIME_NOTE}",
    "ended_t_ns": f"end of the last analysed step or window, {TIME_NOTE}",
    "duration_s": "ended - started (for alerts: how long the anomaly had lasted when reported)",
    "summary_json": "the analyzer's session summary (JSON object); its `risk` holds the score statistics, "
    "the baseline, event counts (metric:onset/cleared, metric:note for info notes), `warmup` (the warm-up "
    "check: judged, hard_start, pct_of_working per signal, against) and `cadence_floor_windows` (running "
    "windows where the 160-spm floor was judged, had no speed, or were below running speed) and "
    "`settings` (the [risk] table in force for the session: with it as --config a re-analysis gives the "
    "same alerts)",
    "warmup_start": "how the run started by the warm-up check: easy, hard, or n/a when not judged "
    "(too short, too few signals); a heuristic, docs/risk.md 'Warm-up'",
    "shoe": "the shoes worn (`strideguard shoes`); a label shoe-N under --pseudonymise, n/a when none",
    "age_years": "the runner's age in whole years at the session (from the birth year of `strideguard runner`; "
    "rounded down to a multiple of 5 under --pseudonymise); empty when unknown",
    "sex": "female, male or other (`strideguard runner`); n/a when unknown",
    "height_cm": "the runner's height (`strideguard runner`; to the nearest 5 cm under --pseudonymise); empty "
    "when unknown",
    "mass_kg": "the runner's body mass (`strideguard runner`; to the nearest 5 kg under --pseudonymise): "
    "impact_g x mass_kg x 9.81 is the trunk impact in newtons; empty when unknown",
    # StepEvent
    "t_ns": f"event time, {TIME_NOTE}",
    "index": "0-based step number in the session",
    "side": "foot the step landed on as far as the trunk signal tells (left, right, unknown)",
    "impact_g": "peak vertical trunk acceleration (gravity included)",
    "step_time_s": "interval from the previous step (empty for the first step of a bout)",
    "contact_t_ns": f"estimated initial contact, {TIME_NOTE}",
    "contact_time_ms": "estimated ground contact time",
    "vertical_oscillation_cm": "peak-to-peak vertical trunk displacement over the step",
    "braking_g": "anteroposterior braking peak before the impact",
    # WindowMetrics
    "t_start_ns": f"window start (inclusive), {TIME_NOTE}",
    "t_end_ns": f"window end (exclusive), {TIME_NOTE}",
    "n_steps": "steps detected in the window",
    "running": "true when the window is running (not walking or standing)",
    "cadence_spm": "steps per minute (60 / mean step interval)",
    "sway_ml_ratio": "mediolateral RMS / resultant RMS of the dynamic trunk acceleration",
    "sway_ap_ratio": "anteroposterior RMS / resultant RMS of the dynamic trunk acceleration",
    "lean_deg": "forward trunk tilt against the reference posture, positive forward",
    "step_time_asymmetry_pct": "symmetry index (left - right) / mean x 100 of step time",
    "impact_asymmetry_pct": "symmetry index (left - right) / mean x 100 of impact",
    "contact_time_asymmetry_pct": "symmetry index (left - right) / mean x 100 of contact time",
    "step_regularity": "autocorrelation of vertical acceleration at one step lag",
    "stride_regularity": "autocorrelation of vertical acceleration at one stride lag",
    "speed_mps": "running speed from a footpod, when one was connected",
    "stride_length_m": "stride length from a footpod, when one was connected",
    "overstriding_ratio": "stride length over the stride at the early-run cadence for the same footpod speed "
    "(1 = unchanged, above 1 = longer, slower steps for the speed)",
    "heart_rate_bpm": "mean heart rate, when a heart-rate strap was connected",
    "risk_score": "0-100 low-back-pain risk score of the window (heuristic from the cited evidence, not a diagnosis)",
    # RiskEvent
    "kind@alerts": "onset = a sustained anomaly was confirmed, cleared = back within its band",
    "metric": "which metric the alert is about",
    "severity": "info, warning or alert",
    "value": "the metric's value when the event was raised",
    "baseline": "the runner's baseline for the metric",
    "deviation": "value - baseline in `deviation_unit`",
    "deviation_unit": "% for cadence, impact and sway, deg for lean, percentage points for asymmetry, "
    "spm for the absolute cadence floor (then `baseline` is the floor)",
    "message": "what the runner was told",
    "cue": "the suggested correction",
    "onset_t_ns": f"when the anomaly began, {TIME_NOTE}",
    # HeartRateReading / StrideReading (as the strap or footpod sent them)
    "heart_rate_bpm@heart_rate": "heart rate as the strap sent it",
    "speed_mps@footpod": "footpod's instantaneous speed",
    "cadence_spm@footpod": "footpod's instantaneous cadence (steps per minute, as the SIG spec defines it)",
    "stride_length_m@footpod": "footpod's stride length, when it sends one",
    "t_ns@heart_rate": f"time the notification was received, {TIME_NOTE}",
    "t_ns@footpod": f"time the notification was received, {TIME_NOTE}",
    "rr_intervals_ms": "beat-to-beat intervals in the notification (CSV: separated by ';')",
    "energy_expended_kj": "cumulative energy expended, when the strap sends it",
    "sensor_contact": "whether the strap reported skin contact (empty: not supported)",
    "total_distance_m": "footpod's total distance, when it sends one",
    "is_running": "footpod's walking/running flag",
    # pain log (stream/sqlite/painlog.py; its columns are read from SQLite, these describe the known ones)
    "id": "row number in the pain log",
    "pain_before": "pain before the run, 0 (none) to 10 (worst)",
    "pain_after": "pain after the run, 0 (none) to 10 (worst)",
    "red_flags_json": "answers to the red-flag questions (JSON object); any yes means: stop, see a clinician",
    "note": "the runner's own note (pseudonymised exports: left out, or scrubbed with --keep-notes)",
    # gaps
    "n_missing": "samples the nominal rate expected in the gap(s) that never came",
    "n_missing@events": "link_lost: samples the nominal rate expected in the gap (n/a rows in the motion file)",
    "link_lost": "true when the recorder logged the sensor link as lost in the gap; false: samples "
    "missing without a logged link loss",
    "link_lost@events": "link_lost: true when the recorder logged the link as lost, false when only the "
    "sample times show the hole",
    "n_gaps": "holes longer than 3 nominal sample intervals",
    "missing_s": "time without samples (sum of the gaps less one nominal interval each)",
    "start_t_ns@gaps": f"last sample before the gap, {TIME_NOTE}",
    "end_t_ns@gaps": f"first sample after the gap, {TIME_NOTE}",
    "duration_s@gaps": "end - start",
}
DESCRIPTIONS.update({f"{name}@{PROGRESS_TABLE}": text for name, text in RETRAINING_DOCS.items()})


@dataclass(frozen=True, slots=True, kw_only=True)
class Column:
    """One exported column."""

    name: str
    arrow_type: pa.DataType
    unit: str
    description: str
    nullable: bool = False

    @property
    def is_timestamp(self) -> bool:
        """Absolute times (shifted with dates): t_ns, *_t_ns, t_start_ns, t_end_ns."""
        return self.name.endswith("t_ns") or (self.name.startswith("t_") and self.name.endswith("_ns"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": str(self.arrow_type),
            "unit": self.unit,
            "description": self.description,
            "nullable": self.nullable,
        }


def unit_of(name: str) -> str:
    """The unit of a column from its name: the explicit table first, else the suffix rule."""
    if name in UNITS_BY_NAME:
        return UNITS_BY_NAME[name]
    for suffix, unit in UNIT_SUFFIXES:
        if name.endswith(suffix):
            return unit
    raise KeyError(f"no unit known for column {name!r}: give it a unit suffix or add it to UNITS_BY_NAME")


def describe(name: str, *, table: str = "") -> str:
    """The column's meaning; `name@table` entries override the general one for that table."""
    for key in (f"{name}@{table}", name):
        if key in DESCRIPTIONS:
            return DESCRIPTIONS[key]
    raise KeyError(f"no description for column {name!r}: add it to DESCRIPTIONS")


def arrow_type(annotation: Any) -> tuple[pa.DataType, bool]:
    """(Arrow type, nullable) for a dataclass field's type hint."""
    hint, nullable = annotation, False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(hint))
        hint = args[0]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return pa.string(), nullable
    mapping = {bool: pa.bool_(), int: pa.int64(), float: pa.float64(), str: pa.string()}
    if typing.get_origin(hint) is tuple and typing.get_args(hint)[:1] == (float,):
        return pa.list_(pa.float64()), nullable
    if hint not in mapping:
        raise TypeError(f"no Arrow type for {annotation!r}")
    return mapping[hint], nullable


def key_columns() -> list[Column]:
    return [
        Column(name=n, arrow_type=pa.string(), unit=unit_of(n), description=describe(n)) for n in ("subject", "session")
    ]


def dataclass_columns(cls: type, *, table: str) -> list[Column]:
    """The export columns of a result type: subject and session replace `runner`."""
    hints = typing.get_type_hints(cls)
    out = key_columns()
    for f in dataclasses.fields(cls):
        if f.name == "runner":
            continue
        typ, nullable = arrow_type(hints[f.name])
        out.append(
            Column(
                name=f.name,
                arrow_type=typ,
                unit=unit_of(f.name),
                description=describe(f.name, table=table),
                nullable=nullable,
            )
        )
    return out


def _plain(names_types: list[tuple[str, pa.DataType, bool]], *, table: str = "") -> list[Column]:
    return key_columns() + [
        Column(name=n, arrow_type=t, unit=unit_of(n), description=describe(n, table=table), nullable=nl)
        for n, t, nl in names_types
    ]


RESULT_TYPES: dict[str, type] = {
    "steps": StepEvent,
    "windows": WindowMetrics,
    "alerts": RiskEvent,
    "heart_rate": HeartRateReading,
    "footpod": StrideReading,
}


def standard_tables() -> dict[str, list[Column]]:
    """Every table the export writes (the pain log is added from its SQLite schema when present)."""
    tables = {
        "sessions": _plain(
            [
                ("group", pa.string(), False),
                ("status", pa.string(), False),
                ("started_t_ns", pa.int64(), False),
                ("ended_t_ns", pa.int64(), True),
                ("duration_s", pa.float64(), True),
                ("summary_json", pa.string(), False),
                ("warmup_start", pa.string(), False),
                ("shoe", pa.string(), False),
                ("age_years", pa.int64(), True),
                ("sex", pa.string(), False),
                ("height_cm", pa.float64(), True),
                ("mass_kg", pa.float64(), True),
            ]
        ),
        "devices": _plain(
            [
                ("device", pa.string(), False),
                ("placement", pa.string(), False),
                ("kind", pa.string(), False),
                ("unit", pa.string(), False),
                ("tracksys", pa.string(), True),
                ("rate_hz", pa.float64(), False),
                ("effective_rate_hz", pa.float64(), True),
                ("n_samples", pa.int64(), False),
                ("n_gaps", pa.int64(), False),
                ("n_missing", pa.int64(), False),
                ("missing_s", pa.float64(), False),
                ("first_t_ns", pa.int64(), True),
                ("last_t_ns", pa.int64(), True),
                ("meta_json", pa.string(), False),
            ]
        ),
        "gaps": _plain(
            [
                ("device", pa.string(), False),
                ("kind", pa.string(), False),
                ("start_t_ns", pa.int64(), False),
                ("end_t_ns", pa.int64(), False),
                ("duration_s", pa.float64(), False),
                ("n_missing", pa.int64(), False),
                ("link_lost", pa.bool_(), False),
            ],
            table="gaps",
        ),
        "samples": _plain(
            [
                ("device", pa.string(), False),
                ("kind", pa.string(), False),
                ("t_ns", pa.int64(), False),
                ("x", pa.float32(), False),
                ("y", pa.float32(), False),
                ("z", pa.float32(), False),
            ]
        ),
    }
    for table, cls in RESULT_TYPES.items():
        tables[table] = dataclass_columns(cls, table=table)
    return tables


def sqlite_columns(decl: list[tuple[str, str]], *, table: str) -> list[Column]:
    """Columns of a table read from SQLite (the pain log): `runner` / `session_id` become subject / session."""
    sql_types = {"INTEGER": pa.int64(), "REAL": pa.float64(), "TEXT": pa.string()}
    out = key_columns()
    for name, sql in decl:
        if name in ("runner", "session_id"):
            continue
        try:
            unit = unit_of(name)
        except KeyError:
            unit = "n/a"
        out.append(
            Column(
                name=name,
                arrow_type=sql_types.get(sql.upper(), pa.string()),
                unit=unit,
                description=DESCRIPTIONS.get(f"{name}@{table}")
                or DESCRIPTIONS.get(name, f"column {name} of the {table} table"),
                nullable=True,
            )
        )
    return out


def schema(columns: list[Column]) -> pa.Schema:
    return pa.schema(
        [pa.field(c.name, c.arrow_type, nullable=c.nullable or c.name in ("subject", "session")) for c in columns]
    )


def sample_unit(kind: SampleKind) -> str:
    return kind.unit


def dictionary_rows(tables: dict[str, list[Column]]) -> list[dict[str, Any]]:
    return [{"table": t, **c.as_dict()} for t, cols in tables.items() for c in cols]


def dictionary_markdown(tables: dict[str, list[Column]]) -> str:
    lines = [
        "# Data dictionary",
        "",
        "Every table is written as Parquet (parquet/<table>.parquet) and CSV (csv/<table>.csv) with the same",
        "columns. Empty cells are missing values. Times are integer nanoseconds since the Unix epoch (UTC).",
        "",
    ]
    for table, cols in tables.items():
        lines += [f"## {table}", "", "| column | type | unit | description |", "|---|---|---|---|"]
        lines += [f"| {c.name} | {c.arrow_type} | {c.unit} | {c.description} |" for c in cols]
        lines.append("")
    return "\n".join(lines)
