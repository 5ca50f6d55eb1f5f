"""The Motion-BIDS layout: one tracking system per device (and sample grid), steps and alerts as events.

    bids/dataset_description.json  README  participants.tsv/.json
    bids/sub-01/sub-01_sessions.tsv
    bids/sub-01/ses-01/sub-01_ses-01_scans.tsv
    bids/sub-01/ses-01/motion/sub-01_ses-01_task-run_tracksys-imuChest_{motion.tsv,motion.json,channels.tsv}
    bids/sub-01/ses-01/motion/sub-01_ses-01_task-run_tracksys-imuChest_{events.tsv,events.json}

Accelerations are written in m/s^2 (BIDS units follow SI, where "g" is the gram; the exact recorded
values in g are in the Parquet export), angular rates in deg/s, and a LATENCY channel keeps each
sample's own time (BLE timestamps jitter around the nominal rate). Every tracking system gets the
session's events (steps and alerts come from the trunk sensor), timed from its own first sample, so
each events file stands on its own beside the motion file whose name it shares.
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from strideguard.analytics.results import RiskEvent, RiskEventKind, StepEvent
from strideguard.sensors.types import Placement, SampleKind, StreamMeta
from strideguard.sensors.units import NS_PER_S, STANDARD_GRAVITY_MPS2
from strideguard.stream.export.dictionary import DESCRIPTIONS, unit_of
from strideguard.stream.export.gaps import Gap, on_grid
from strideguard.stream.export.pseudonym import bids_label
from strideguard.stream.export.samples import SampleStream

BIDS_VERSION = "1.10.0"
HED_VERSION = "8.3.0"  # HED schema of the trial_type annotations below (the validator checks them offline)
# Each alert's tags are grouped with its metric ({metric} is replaced by that row's `metric` HED), so two
# alerts at the same onset are two different HED groups: identical top-level tags at one onset are an
# error (TAG_EXPRESSION_REPEATED), which the validator only finds when it reads every row.
HED_TRIAL_TYPES = {
    "step": "Agent-action, Step",
    "alert_onset": "(Sensory-event, Cue, Warning, {metric})",
    "alert_cleared": "(Sensory-event, Cue, {metric})",
    "link_lost": "(Nonbiological-artifact, Data-feature)",
}
HED_METRIC = "Label/#"
TASK = "run"
MISSING = "n/a"  # how a motion.tsv row of a gap (a sample the nominal rate expected but never came) reads
CHANNEL_TYPES = {SampleKind.ACC: "ACCEL", SampleKind.GYRO: "GYRO"}
ALL_CHANNEL_TYPES = ("ACCEL", "ANGACCEL", "GYRO", "JNTANG", "LATENCY", "MAGN", "MISC", "ORNT", "POS", "VEL")
BIDS_UNITS = {SampleKind.ACC: "m/s^2", SampleKind.GYRO: "deg/s"}
STEP_COLUMNS = ("side", "impact_g", "step_time_s", "contact_time_ms", "vertical_oscillation_cm", "braking_g")
ALERT_COLUMNS = ("metric", "severity", "value", "baseline", "deviation", "deviation_unit", "message", "cue")
GAP_COLUMNS = ("n_missing", "link_lost")


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackingSystem:
    """Channels that share a device and a sample grid (Motion-BIDS: one *_motion.tsv)."""

    label: str
    device_label: str
    placement: Placement
    streams: tuple[SampleStream, ...]

    @property
    def t_ns(self) -> np.ndarray:
        return self.streams[0].t_ns

    @property
    def rate_hz(self) -> float:
        return self.streams[0].rate_hz

    @property
    def gaps(self) -> tuple[Gap, ...]:
        return self.streams[0].gaps

    @property
    def effective_rate_hz(self) -> float | None:
        return self.streams[0].effective_rate_hz


def tracking_systems(streams: Sequence[SampleStream], device_labels: dict[str, str]) -> list[TrackingSystem]:
    """Group streams: a device's acc and gyro share one system when their timestamps are identical."""
    by_device: dict[str, list[SampleStream]] = {}
    for s in streams:
        if len(s):
            by_device.setdefault(s.device, []).append(s)
    systems: list[TrackingSystem] = []
    used: set[str] = set()
    for device, group in by_device.items():
        group = sorted(group, key=lambda s: list(SampleKind).index(s.kind))
        base = "imu" + bids_label(group[0].placement.value.capitalize())
        if all(np.array_equal(g.t_ns, group[0].t_ns) for g in group[1:]):
            parts = [(base, tuple(group))]
        else:
            parts = [(base + g.kind.value.capitalize(), (g,)) for g in group]
        for label, members in parts:
            unique, i = label, 2
            while unique in used:
                unique, i = f"{label}{i}", i + 1
            used.add(unique)
            systems.append(
                TrackingSystem(
                    label=unique, device_label=device_labels[device], placement=members[0].placement, streams=members
                )
            )
    return systems


def entity_prefix(subject: str, session: str) -> str:
    return f"sub-{subject}_ses-{session}_task-{TASK}"


def _meta(system: TrackingSystem, fact: Callable[[StreamMeta], str | None]) -> str:
    """A device fact from the recording's stream metadata, "n/a" when the recorder did not know it."""
    for stream in system.streams:
        value = fact(stream.meta)
        if value:
            return value
    return "n/a"


def write_tracking_system(
    motion_dir: pathlib.Path, prefix: str, system: TrackingSystem, *, institution: dict[str, str]
) -> list[pathlib.Path]:
    """*_motion.tsv (no header), *_channels.tsv and *_motion.json for one tracking system."""
    stem = motion_dir / f"{prefix}_tracksys-{system.label}"
    tracked_point = system.placement.value.capitalize()
    names, columns, channel_rows = [], [], []
    counts: dict[str, int] = {}
    t, present = on_grid(system.t_ns, system.rate_hz, system.gaps)  # gaps: n/a rows on the nominal grid
    absent = None if present.all() else ~present
    for stream in system.streams:
        ctype = CHANNEL_TYPES[stream.kind]
        values = stream.values * np.float32(STANDARD_GRAVITY_MPS2) if stream.kind is SampleKind.ACC else stream.values
        for axis, component in enumerate("xyz"):
            name = f"{tracked_point.lower()}_{stream.kind.value}_{component}"
            names.append(name)
            column = np.zeros(len(t), np.float32)
            column[present] = values[:, axis]
            columns.append(pa.array(column, pa.float32(), mask=absent))
            channel_rows.append(
                [name, component, ctype, tracked_point, BIDS_UNITS[stream.kind], f"{system.rate_hz:g}", "local"]
            )
            counts[ctype] = counts.get(ctype, 0) + 1
    names.append("latency")
    columns.append(pa.array((t - t[0]) / 1e9, pa.float64()))
    channel_rows.append(["latency", "n/a", "LATENCY", "n/a", "s", f"{system.rate_hz:g}", "n/a"])
    counts["LATENCY"] = 1
    motion_tsv = stem.with_name(stem.name + "_motion.tsv")
    pacsv.write_csv(
        pa.table(columns, names=names),
        motion_tsv,
        write_options=pacsv.WriteOptions(
            include_header=False, delimiter="\t", quoting_style="none", null_string=MISSING
        ),
    )
    channels_tsv = stem.with_name(stem.name + "_channels.tsv")
    write_tsv(
        channels_tsv,
        ["name", "component", "type", "tracked_point", "units", "sampling_frequency", "reference_frame"],
        channel_rows,
    )
    channels_json = stem.with_name(stem.name + "_channels.json")
    write_json(channels_json, {"reference_frame": reference_frame(system)})
    duration_s = (int(t[-1]) - int(t[0])) / 1e9
    sidecar: dict[str, Any] = {
        "TaskName": "running",
        "TaskDescription": "Running while wearing StrideGuard inertial sensors; steps and gait alerts are in the "
        "events file.",
        "TrackingSystemName": f"{system.placement.value} IMU ({system.device_label})",
        "SamplingFrequency": float(system.rate_hz),
        "SamplingFrequencyEffective": _rounded(system.effective_rate_hz or float(system.rate_hz)),
        "RecordingDuration": duration_s,
        "MotionChannelCount": len(names),
        "TrackedPointsCount": 1,
        "SubjectArtefactDescription": "n/a",
        "SoftwareFilters": "n/a",
        "MissingValues": MISSING,
        "DeviceSerialNumber": system.device_label,
        "Manufacturer": _meta(system, lambda m: m.manufacturer),
        "ManufacturersModelName": _meta(system, lambda m: m.model),
        "SoftwareVersions": _meta(system, lambda m: m.firmware),
        "Instructions": "Run as usual with the sensor strapped on.",
        **institution,
        **{f"{ctype}ChannelCount": counts.get(ctype, 0) for ctype in ALL_CHANNEL_TYPES},
    }
    motion_json = stem.with_name(stem.name + "_motion.json")
    write_json(motion_json, sidecar)
    return [motion_tsv, channels_tsv, motion_json, channels_json]


def reference_frame(system: TrackingSystem) -> dict[str, Any]:
    """The axes the channels are in: the sensor's own, stated with the axis that was up in this session
    (from the mean acceleration) and, when the recorder knew the sensor's axes on the body, SpatialAxes."""
    level: dict[str, Any] = {"RotationRule": "right-hand"}
    up = next((s.up_axis for s in system.streams if s.up_axis), None)
    words = [
        f"The {system.placement.value} sensor's own axes, not rotated to the body.",
        f"Over this session the mean acceleration (gravity's reaction, pointing up) lay along {up}: "
        f"{up[1]} is the vertical axis."
        if up
        else "No accelerometer: the vertical axis is not known.",
        "Forward and sideways are found from the running motion by the analysis, not fixed device axes.",
    ]
    level["Description"] = " ".join(words)
    axes = _spatial_axes(_meta(system, lambda m: m.coordinate_frame))
    if axes:
        level["SpatialAxes"] = axes
    return {
        "Description": "the coordinate frame of the ACCEL and GYRO channels",
        "Levels": {"local": level},
    }


_AXIS_WORDS = {
    "fwd": "F",
    "forward": "F",
    "back": "B",
    "backward": "B",
    "left": "L",
    "right": "R",
    "up": "U",
    "down": "D",
}


def _spatial_axes(frame: str) -> str | None:
    """ "x fwd, y left, z up" -> "FLU"; None for anything else (a frame with a mounting rotation included)."""
    m = re.fullmatch(r"\s*x\s+(\w+),\s*y\s+(\w+),\s*z\s+(\w+)\s*", frame or "")
    if not m or any(w.lower() not in _AXIS_WORDS for w in m.groups()):
        return None
    return "".join(_AXIS_WORDS[w.lower()] for w in m.groups())


def write_events(
    motion_dir: pathlib.Path,
    prefix: str,
    system: TrackingSystem,
    steps: Sequence[StepEvent],
    alerts: Sequence[RiskEvent],
    *,
    scrub: Any,
    version: str,
) -> list[pathlib.Path]:
    """Steps and alerts, timed from the first sample of `system`. An onset lasts until its metric clears."""
    t0 = int(system.t_ns[0])
    rows: list[tuple[float, list[str]]] = []
    extra = [*STEP_COLUMNS, *ALERT_COLUMNS, *GAP_COLUMNS]
    for s in steps:
        r = s.as_row()
        rows.append(
            (
                (s.t_ns - t0) / 1e9,
                [
                    _num((s.t_ns - t0) / 1e9),
                    "0",
                    "step",
                    *[_cell(r.get(c)) for c in STEP_COLUMNS],
                    *["n/a"] * (len(ALERT_COLUMNS) + len(GAP_COLUMNS)),
                ],
            )
        )
    for i, a in enumerate(alerts):
        r = a.as_row()
        duration = "0"
        if a.kind is RiskEventKind.ONSET:
            cleared = next(
                (b for b in alerts[i + 1 :] if b.kind is RiskEventKind.CLEARED and b.metric == a.metric), None
            )
            duration = _num((cleared.t_ns - a.t_ns) / 1e9) if cleared else "n/a"
        onset_s = (a.t_ns - t0) / 1e9
        rows.append(
            (
                onset_s,
                [
                    _num(onset_s),
                    duration,
                    f"alert_{a.kind.value}",
                    *["n/a"] * len(STEP_COLUMNS),
                    *[_cell(scrub(r[c]) if isinstance(r.get(c), str) else r.get(c)) for c in ALERT_COLUMNS],
                    *["n/a"] * len(GAP_COLUMNS),
                ],
            )
        )
    for g in system.gaps:  # missing data is an event too: when, how long, how many samples
        onset_s = (g.start_t_ns - t0) / 1e9
        rows.append(
            (
                onset_s,
                [
                    _num(onset_s),
                    _num(g.duration_s),
                    "link_lost",
                    *["n/a"] * (len(STEP_COLUMNS) + len(ALERT_COLUMNS)),
                    str(g.n_missing),
                    _cell(g.link_lost),
                ],
            )
        )
    rows.sort(key=lambda x: x[0])
    stem = motion_dir / f"{prefix}_tracksys-{system.label}"
    events_tsv = stem.with_name(stem.name + "_events.tsv")
    write_tsv(events_tsv, ["onset", "duration", "trial_type", *extra], [r for _, r in rows])
    sidecar: dict[str, Any] = {
        "StimulusPresentation": {
            "SoftwareName": "StrideGuard",
            "SoftwareVersion": version,
            "OperatingSystem": "n/a",
            "Code": "n/a",
        },
        "onset": {"Description": "time from the first sample of this tracking system", "Units": "s"},
        "duration": {
            "Description": "0 for steps; for an alert onset, time until its metric cleared "
            "(n/a: not cleared before the recording ended); for link_lost, from the last sample before the "
            "gap to the first after it",
            "Units": "s",
        },
        "trial_type": {
            "Description": "what happened",
            "Levels": {
                "step": "a detected step",
                "alert_onset": "a sustained gait anomaly was confirmed",
                "alert_cleared": "the metric is back within its band",
                "link_lost": "no samples arrived: the motion file has n/a rows for the samples the nominal "
                "rate expected in this interval",
            },
            "HED": HED_TRIAL_TYPES,
        },
    }
    for c in extra:
        entry: dict[str, Any] = {"Description": DESCRIPTIONS.get(f"{c}@events", DESCRIPTIONS[c])}
        if c == "metric":
            entry["HED"] = HED_METRIC
        unit = unit_of(c)
        if unit not in ("n/a", "1") and "`" not in unit:
            entry["Units"] = unit
        sidecar[c] = entry
    events_json = stem.with_name(stem.name + "_events.json")
    write_json(events_json, sidecar)
    return [events_tsv, events_json]


def write_scans(
    session_dir: pathlib.Path, subject: str, session: str, motion_files: Sequence[tuple[pathlib.Path, int]]
) -> pathlib.Path:
    """*_scans.tsv: each motion file with its first sample's (shifted) time, to the microsecond."""
    path = session_dir / f"sub-{subject}_ses-{session}_scans.tsv"
    write_tsv(
        path,
        ["filename", "acq_time"],
        [[f.relative_to(session_dir).as_posix(), iso_time(t_ns)] for f, t_ns in motion_files],
    )
    return path


def write_sessions_file(subject_dir: pathlib.Path, subject: str, rows: Sequence[tuple[str, int, str]]) -> pathlib.Path:
    path = subject_dir / f"sub-{subject}_sessions.tsv"
    write_tsv(
        path,
        ["session_id", "acq_time", "status"],
        [[f"ses-{ses}", iso_time(t_ns), status] for ses, t_ns, status in sorted(rows)],
    )
    return path


def write_dataset_files(
    root: pathlib.Path,
    *,
    participants: Sequence[dict[str, Any]],
    pseudonymous: bool,
    dates_shifted: bool,
    version: str,
    name: str,
    authors: Sequence[str],
    license_id: str,
) -> list[pathlib.Path]:
    """dataset_description.json, README, participants.tsv/.json and sessions.json (for every sessions.tsv)."""
    description = {
        "Name": name,
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "raw",
        "License": license_id,
        "Authors": list(authors),
        "SourceDatasets": [{"URL": "n/a", "Version": "n/a"}],
        "HEDVersion": HED_VERSION,
        "GeneratedBy": [
            {
                "Name": "StrideGuard",
                "Version": version,
                "Description": "strideguard export: Motion-BIDS, Parquet and CSV",
            }
        ],
        "HowToAcknowledge": "Please describe the recording setup (sensor, placement, sampling rate) when using "
        "these data.",
    }
    paths = [
        root / "dataset_description.json",
        root / "README",
        root / "participants.tsv",
        root / "participants.json",
        root / "sessions.json",
    ]
    write_json(paths[0], description)
    paths[1].write_text(readme(pseudonymous=pseudonymous, dates_shifted=dates_shifted))

    def cell(value: Any) -> str:
        return "n/a" if value is None else f"{value:g}" if isinstance(value, float) else str(value)

    write_tsv(
        paths[2],
        ["participant_id", "group", "n_sessions", "age", "sex", "height", "weight"],
        [
            [
                f"sub-{p['subject']}",
                p["group"] or "n/a",
                str(p["n_sessions"]),
                *(cell(p.get(k)) for k in ("age_years", "sex", "height_cm", "mass_kg")),
            ]
            for p in participants
        ],
    )
    coarse = " (coarsened: pseudonymous export)" if pseudonymous else ""
    write_json(
        paths[3],
        {
            "participant_id": {"Description": "runner label" + (" (pseudonymous)" if pseudonymous else "")},
            "group": {"Description": "team label" + (" (pseudonymous)" if pseudonymous else "")},
            "n_sessions": {"Description": "sessions of this runner in the export"},
            "age": {
                "Description": "age in whole years at the runner's first exported session"
                + (", rounded down to a multiple of 5" if pseudonymous else ""),
                "Units": "year",
            },
            "sex": {
                "Description": "as the runner gave it (strideguard runner)",
                "Levels": {"female": "female", "male": "male", "other": "other"},
            },
            "height": {"Description": "body height" + coarse, "Units": "cm"},
            "weight": {"Description": "body mass" + coarse, "Units": "kg"},
        },
    )
    write_json(
        paths[4],
        {
            "acq_time": {
                "Description": "first sample of the session (UTC" + (", date-shifted)" if dates_shifted else ")")
            },
            "status": {
                "Description": "completed, unfinished (the run was cut off or was still going), or incomplete "
                "(the store lost part of the analysis results; see manifest.json beside this dataset)",
                "Levels": {
                    "completed": "analysed to the end",
                    "unfinished": "cut off or still running",
                    "incomplete": "part of the analysis results were lost by the store",
                },
            },
        },
    )
    return paths


def readme(*, pseudonymous: bool, dates_shifted: bool) -> str:
    return "\n".join(
        [
            "StrideGuard running gait recordings (Motion-BIDS)",
            "",
            "Each session is one run of one runner wearing inertial sensors (accelerometer, and gyroscope when",
            "the device has one). Each device is one tracking system (tracksys-imu<Placement>). Accelerations",
            "are in m/s^2 (converted from g with 9.80665 m/s^2), angular rates in deg/s, axes in the device frame.",
            "The latency channel is each sample's time in seconds from the first sample.",
            "",
            "The events file of the trunk sensor holds every detected step (side, impact, step time, contact time)",
            "and every gait alert (metric, value, the runner's baseline, deviation, and the message shown).",
            "Alerts are heuristics associated with low-back-pain risk in the literature; they are not a diagnosis.",
            "",
            "Subjects and sessions are pseudonymous; the key is kept apart from this dataset."
            if pseudonymous
            else "Subject and session labels are derived from the runners' names and start times.",
            "All dates are shifted by a fixed whole number of days."
            if dates_shifted
            else "Dates are the recording dates (UTC).",
            "",
            "Analysis results (steps, windows, alerts, pain log) and the exact samples in g are also in the",
            "parquet/ and csv/ folders beside this dataset; see data_dictionary.md there.",
            "",
        ]
    )


def iso_time(t_ns: int) -> str:
    stamp = dt.datetime.fromtimestamp(t_ns // NS_PER_S, tz=dt.UTC).replace(tzinfo=None)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + f".{(t_ns % NS_PER_S) // 1000:06d}"


def write_tsv(path: pathlib.Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    lines = ["\t".join(header)] + ["\t".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")


def write_json(path: pathlib.Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def _rounded(rate_hz: float) -> float:
    return round(rate_hz, 3)


def _num(x: float) -> str:
    return f"{x:.9f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def _cell(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    text = " ".join(str(v).split())
    return text or "n/a"
