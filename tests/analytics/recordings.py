"""Real recordings from the repository's data/ as SampleBatches, and their independent references.

The UCI reference re-implements the few lines of the data README (leg-gyro mid-swing peaks, one per
stride of each leg) instead of importing the maintainers' reference script:
tests depend on nothing outside the repository.
"""

from __future__ import annotations

import csv
import itertools
import pathlib
from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

from strideguard.sensors.types import Placement, SampleBatch, SampleKind

G_MPS2 = 9.80665  # m/s^2 per g
UCI_RATE_HZ = 25.0
ALCANTARA_RATE_HZ = 500.0
MIN_FLIGHT_S = 0.04  # s, shorter "flights" in the force-plate signal are noise around the threshold
MIN_CONTACT_PEAK_BW = 0.5  # BW, a contact that never carries half the body weight is not a step
T0_NS = 1_700_000_000_000_000_000  # an arbitrary epoch start so absolute times are realistic


@dataclass(frozen=True)
class UciRun:
    name: str
    batch: SampleBatch
    t_s: np.ndarray
    ref_steps_s: np.ndarray  # leg-gyro mid-swing times, one per step (either leg)
    ref_right_s: np.ndarray  # right-leg mid-swing times (one per right stride)


def load_uci(path: pathlib.Path) -> UciRun:
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        data = np.array([[float(x) for x in row] for row in reader])
    col = {name: i for i, name in enumerate(header)}
    t_s = data[:, col["t_s"]]
    acc = data[:, [col["T_xacc"], col["T_yacc"], col["T_zacc"]]] / G_MPS2
    t_ns = T0_NS + np.round(t_s * 1e9).astype(np.int64)
    batch = SampleBatch(
        runner=path.stem.split("_")[0],
        device="uci-torso",
        placement=Placement.CHEST,
        kind=SampleKind.ACC,
        rate_hz=UCI_RATE_HZ,
        t_ns=t_ns,
        values=acc,
    )
    right, left = leg_gyro_strides(data[:, col["RL_zgyro"]], data[:, col["LL_zgyro"]], t_s)
    return UciRun(
        name=batch.runner, batch=batch, t_s=t_s, ref_steps_s=np.sort(np.concatenate((right, left))), ref_right_s=right
    )


def leg_gyro_strides(right: np.ndarray, left: np.ndarray, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mid-swing peaks of each leg's sagittal angular rate; the sign per leg that makes the legs alternate."""

    def peaks(g: np.ndarray) -> np.ndarray:
        pk, _ = find_peaks(g, distance=int(0.5 * UCI_RATE_HZ), prominence=0.5 * np.std(g))
        return t_s[pk]

    def alternation(r: np.ndarray, left: np.ndarray) -> float:
        ev = sorted([(x, 0) for x in r] + [(x, 1) for x in left])
        alt = np.mean([a[1] != b[1] for a, b in itertools.pairwise(ev)])
        close = np.mean([b[0] - a[0] < 0.12 for a, b in itertools.pairwise(ev)])
        return alt - close

    sr, sl = max(
        ((a, b) for a in (1, -1) for b in (1, -1)), key=lambda s: alternation(peaks(s[0] * right), peaks(s[1] * left))
    )
    return peaks(sr * right), peaks(sl * left)


def window_cadence_spm(steps_s: np.ndarray, t0_s: float, window_s: float) -> float | None:
    """60 / mean step interval of the steps inside [t0, t0 + window)."""
    x = steps_s[(steps_s >= t0_s) & (steps_s < t0_s + window_s)]
    return None if len(x) < 3 else 60.0 * (len(x) - 1) / (x[-1] - x[0])


@dataclass(frozen=True)
class AlcantaraTrial:
    index: int
    batch: SampleBatch
    contacts_s: np.ndarray  # vGRF > 0.05 BW onsets of complete contacts
    toe_offs_s: np.ndarray
    peak_vgrf_bw: np.ndarray


def load_alcantara(folder: pathlib.Path) -> list[AlcantaraTrial]:
    """Sacral vertical and AP acceleration (no ML channel: zeros) as x=vertical, y=ML, z=AP, 500 Hz."""
    acc = np.loadtxt(folder / "sacral_accel_trials.csv", delimiter=",")
    grf = np.loadtxt(folder / "vgrf_trials.csv", delimiter=",")
    trials = []
    for i, (a, f) in enumerate(zip(acc, grf)):
        v, ap = a[:2480], a[2480:]
        n = len(v)
        t_ns = T0_NS + np.round(np.arange(n) / ALCANTARA_RATE_HZ * 1e9).astype(np.int64)
        values = np.stack((v, np.zeros(n), ap), axis=1)
        batch = SampleBatch(
            runner=f"alc{i:02d}",
            device="alcantara-sacrum",
            placement=Placement.SACRUM,
            kind=SampleKind.ACC,
            rate_hz=ALCANTARA_RATE_HZ,
            t_ns=t_ns,
            values=values,
        )
        on = f > 0.05
        # vGRF noise around the 0.05 BW threshold splits a few contacts (trial 14): close flight gaps
        # shorter than MIN_FLIGHT_S and drop "contacts" that never carry body weight
        gaps = np.flatnonzero(np.diff(on.astype(int)))
        for a, b in itertools.pairwise(gaps):
            if on[a] and not on[a + 1] and b - a < MIN_FLIGHT_S * ALCANTARA_RATE_HZ:
                on[a + 1 : b + 1] = True
        edges = np.flatnonzero(np.diff(on.astype(int)))
        starts = [e + 1 for e in edges if not on[e]]
        ends = [e + 1 for e in edges if on[e]]
        contacts, toe_offs, peaks = [], [], []
        for s0 in starts:
            e0 = next((e for e in ends if e > s0), None)
            if e0 is None:
                break
            if f[s0:e0].max() < MIN_CONTACT_PEAK_BW:
                continue
            contacts.append(s0 / ALCANTARA_RATE_HZ)
            toe_offs.append(e0 / ALCANTARA_RATE_HZ)
            peaks.append(float(f[s0:e0].max()))
        trials.append(
            AlcantaraTrial(
                index=i,
                batch=batch,
                contacts_s=np.array(contacts),
                toe_offs_s=np.array(toe_offs),
                peak_vgrf_bw=np.array(peaks),
            )
        )
    return trials
