"""Recordings with references, read from the repository's `data/` (or any folder with the same layout).

Every loader returns `Recording`s in one shape: time in s from the recording start, acceleration in g
(gravity included) and, where there is one, angular rate in deg/s, plus the axes a peer needs (which
column is vertical, which anteroposterior) and the independent reference. A missing dataset is not an
error: `discover` reports it as missing and the harness goes on with what is there.
"""

from __future__ import annotations

import csv
import json
import pathlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.validation.references import (
    ForcePlateStep,
    force_plate_steps,
    implausible_steps,
    leg_gyro_steps_s,
    stride_jitter_ms,
)
from benchmarks.validation.scoring import StepReference
from strideguard.sensors.units import DEG_PER_RAD, STANDARD_GRAVITY_MPS2

if TYPE_CHECKING:  # the harness imports sensors.synthetic only when it runs the synthetic section
    from strideguard.sensors.synthetic import SyntheticRun

UCI_FOLDER = "uci_dsa_treadmill_running"
UCI_RATE_HZ = 25.0  # Hz, Xsens MTx in the UCI Daily and Sports Activities set
ALCANTARA_FOLDER = "alcantara_sacral_grf"
ALCANTARA_RATE_HZ = 500.0  # Hz, sacral accelerometer and force plate
ALCANTARA_TRIAL_SAMPLES = 2480  # samples per trial and channel
KNOWN_FOLDERS = (UCI_FOLDER, ALCANTARA_FOLDER)
NOT_VALIDATION_INPUT = {
    "davis_garmin_stryd_metrics": "1-Hz device metrics only (no raw IMU): nothing to run the analytics on",
}


@dataclass(kw_only=True)
class Recording:
    """One recording and what is known about it independently of the sensor under test."""

    name: str
    dataset: str  # "uci", "alcantara", "synthetic", "generic"
    placement: str  # sensors.types.Placement value
    rate_hz: float
    t_s: np.ndarray  # (n,) seconds from the start, strictly increasing
    acc_g: np.ndarray  # (n, 3) g, gravity included
    gyro_dps: np.ndarray | None = None  # (n, 3) deg/s
    vertical_axis: int | None = None  # column of acc_g that is vertical (up = +1 g), if known
    ap_axis: int | None = None  # column that is anteroposterior, if known
    step_ref: StepReference | None = None
    step_ref_peak: StepReference | None = None  # UCI: the same steps at the swing peak's highest sample
    force_plate: list[ForcePlateStep] | None = None
    truth: SyntheticRun | None = None  # for synthetic recordings
    ref_sides: np.ndarray | None = None  # per reference step: which leg's gyro peak ("left"/"right")
    info: dict = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return float(len(self.t_s) / self.rate_hz)

    def require_step_ref(self) -> StepReference:
        """`step_ref`, for the scores that cannot do without one."""
        if self.step_ref is None:
            raise ValueError(f"{self.name} has no step reference")
        return self.step_ref

    def require_truth(self) -> SyntheticRun:
        """`truth`, for the scores against the synthetic run."""
        if self.truth is None:
            raise ValueError(f"{self.name} has no synthetic truth")
        return self.truth


def _read_columns(path: pathlib.Path) -> dict[str, np.ndarray]:
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader)]
        data = np.array([[float(x) for x in row] for row in reader if row], dtype=float)
    return {h: data[:, i] for i, h in enumerate(header)}


def load_uci(folder: pathlib.Path) -> list[Recording]:
    """The four UCI treadmill runners: torso unit (x vertical, m/s^2, rad/s), leg-gyro step reference
    (swing-hump centres; `step_ref_peak` holds the same steps at the highest sample, as the independent
    reference script)."""
    out = []
    for path in sorted(folder.glob("p*_a12_*.csv")):
        col = _read_columns(path)
        t = col["t_s"]
        right, left = leg_gyro_steps_s(t, col["RL_zgyro"], col["LL_zgyro"], UCI_RATE_HZ, hump_centre=True)
        steps = np.sort(np.r_[right, left])
        duration_s = float(t[-1] + 1 / UCI_RATE_HZ)
        t0s = np.arange(0.0, t[-1] - 10.0, 10.0)  # the reference's own 10-s grid
        right_peak, left_peak = leg_gyro_steps_s(t, col["RL_zgyro"], col["LL_zgyro"], UCI_RATE_HZ)
        peak_steps = np.sort(np.r_[right_peak, left_peak])
        acc = np.stack([col["T_xacc"], col["T_yacc"], col["T_zacc"]], axis=1) / STANDARD_GRAVITY_MPS2
        gyro = np.stack([col["T_xgyro"], col["T_ygyro"], col["T_zgyro"]], axis=1) * DEG_PER_RAD
        out.append(
            Recording(
                name=f"uci_{path.stem.split('_')[0]}",
                dataset="uci",
                placement="chest",
                rate_hz=UCI_RATE_HZ,
                t_s=t,
                acc_g=acc,
                gyro_dps=gyro,
                vertical_axis=0,
                ap_axis=None,
                step_ref=StepReference.from_steps(steps, rate_hz=UCI_RATE_HZ, duration_s=duration_s, window_t0s_s=t0s),
                step_ref_peak=StepReference.from_steps(
                    peak_steps, rate_hz=UCI_RATE_HZ, duration_s=duration_s, window_t0s_s=t0s
                ),
                ref_sides=np.where(np.isin(steps, left), "left", "right"),
                info={
                    "right_strides": len(right),
                    "left_strides": len(left),
                    "ref_cadence_spm_whole": 60.0 * len(steps) / duration_s,
                    "stride_jitter_ms_hump_centre": _mean_jitter(right, left),
                    "stride_jitter_ms_peak": _mean_jitter(right_peak, left_peak),
                    "implausible_steps": implausible_steps(steps),
                },
            )
        )
    return out


def _mean_jitter(right_s: np.ndarray, left_s: np.ndarray) -> float | None:
    values = [j for j in (stride_jitter_ms(right_s), stride_jitter_ms(left_s)) if j is not None]
    return float(np.mean(values)) if values else None


def load_alcantara(folder: pathlib.Path) -> list[Recording]:
    """The 16 sacral trials: vertical (g, with gravity, floored at 0) and AP; ML absent (zeros)."""
    acc_rows = np.loadtxt(folder / "sacral_accel_trials.csv", delimiter=",", ndmin=2)
    grf_rows = np.loadtxt(folder / "vgrf_trials.csv", delimiter=",", ndmin=2)
    info_rows = _trial_info(folder / "trial_info.csv")
    out = []
    for i, (a, f) in enumerate(zip(acc_rows, grf_rows, strict=True)):
        v, ap = a[:ALCANTARA_TRIAL_SAMPLES], a[ALCANTARA_TRIAL_SAMPLES:]
        t = np.arange(len(v)) / ALCANTARA_RATE_HZ
        plate = force_plate_steps(f, ALCANTARA_RATE_HZ)
        ref = (
            StepReference.from_steps(
                [s.contact_s for s in plate], rate_hz=ALCANTARA_RATE_HZ, duration_s=len(v) / ALCANTARA_RATE_HZ
            )
            if len(plate) >= 2
            else None
        )
        out.append(
            Recording(
                name=f"alc_{i:02d}",
                dataset="alcantara",
                placement="sacrum",
                rate_hz=ALCANTARA_RATE_HZ,
                t_s=t,
                acc_g=np.stack([v, np.zeros_like(v), ap], axis=1),
                vertical_axis=0,
                ap_axis=2,
                step_ref=ref,
                force_plate=plate,
                info=info_rows[i] if i < len(info_rows) else {},
            )
        )
    return out


def _trial_info(path: pathlib.Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        keys = ("Speed", "Slope", "RFS", "Height", "Mass")
        return [{k: row[k] for k in keys if k in row} for row in csv.DictReader(f)]


def load_generic(csv_path: pathlib.Path, ref_path: pathlib.Path, *, placement: str = "unknown") -> Recording:
    """A `t_s, ax_g, ay_g, az_g[, gx_dps, gy_dps, gz_dps]` CSV with a `*.ref.json` step or stride
    reference (the held-out format); the vertical axis is left to each method to find."""
    col = _read_columns(csv_path)
    missing = [c for c in ("t_s", "ax_g", "ay_g", "az_g") if c not in col]
    if missing:
        raise ValueError(f"{csv_path}: missing columns {', '.join(missing)} (want t_s, ax_g, ay_g, az_g)")
    t = col["t_s"]
    with open(ref_path) as f:
        ref_obj = json.load(f)
    rate_hz = float(round(1.0 / float(np.median(np.diff(t))), 3))
    gyro = (
        np.stack([col["gx_dps"], col["gy_dps"], col["gz_dps"]], axis=1)
        if all(c in col for c in ("gx_dps", "gy_dps", "gz_dps"))
        else None
    )
    return Recording(
        name=csv_path.stem,
        dataset="generic",
        placement=placement,
        rate_hz=rate_hz,
        t_s=t - t[0],
        acc_g=np.stack([col["ax_g"], col["ay_g"], col["az_g"]], axis=1),
        gyro_dps=gyro,
        step_ref=StepReference.from_json(ref_obj),
        info={"t_offset_s": float(t[0]), "ref": str(ref_path)},
    )


def discover(data_dir: pathlib.Path) -> tuple[dict[str, list[Recording]], dict[str, str]]:
    """Every known dataset under `data_dir`: recordings per dataset, and a note per missing one (and per
    folder there that the harness does not validate against, saying why)."""
    found: dict[str, list[Recording]] = {}
    missing: dict[str, str] = {}
    for key, folder, loader in (("uci", UCI_FOLDER, load_uci), ("alcantara", ALCANTARA_FOLDER, load_alcantara)):
        path = data_dir / folder
        if not path.is_dir():
            missing[key] = f"{path} not found"
            continue
        try:
            recs = loader(path)
        except (OSError, ValueError, KeyError) as exc:
            missing[key] = f"{path}: unreadable ({exc})"
            continue
        if recs:
            found[key] = recs
        else:
            missing[key] = f"{path}: no recordings"
    for folder in sorted(p.name for p in data_dir.iterdir()) if data_dir.is_dir() else []:
        if (data_dir / folder).is_dir() and folder not in KNOWN_FOLDERS:
            missing[folder] = NOT_VALIDATION_INPUT.get(folder, "no loader for this folder (use --csv/--ref)")
    return found, missing
