"""Guessing a unit that neither the caller nor the header declared, only where the data leaves no doubt.

A worn accelerometer with gravity reads about 1 g (9.8 m/s^2) in the median; sample intervals fit one
time unit at a plausible rate; a moving trunk turns at tens of deg/s (under one rad/s). When the data is
ambiguous the guess is refused and the error asks for a declaration.
"""

from __future__ import annotations

import numpy as np

from strideguard.sensors.errors import ImportFormatError
from strideguard.sensors.imports.units import TIME_UNITS_TO_NS

ACC_G_MEDIAN_RANGE = (0.5, 3.0)  # median |acc| when the file is in g
ACC_MPS2_MEDIAN_RANGE = (5.0, 30.0)  # median |acc| when the file is in m/s^2
PREFERRED_RATE_HZ = (10.0, 1000.0)  # Hz: wearable IMU rates; a time unit giving one of these wins
POSSIBLE_RATE_HZ = (1.0, 2000.0)  # Hz
GYRO_DEG_S_MIN_P99 = 15.0  # a moving trunk's 99th-percentile |rate| in deg/s exceeds this; in rad/s it stays below
MOVING_ACC_STD_G = 0.2  # g: std of |acc| above this means running or walking


def infer_time_unit(path: str, t: np.ndarray) -> str:
    steps = np.diff(t)
    steps = steps[steps > 0]
    if steps.size == 0:
        raise ImportFormatError("cannot tell the time unit from fewer than two increasing times: declare it", path=path)
    interval = float(np.median(steps))
    rates = {unit: 1e9 / (interval * per_ns) for unit, per_ns in TIME_UNITS_TO_NS.items()}
    for low, high in (PREFERRED_RATE_HZ, POSSIBLE_RATE_HZ):
        for unit, rate in rates.items():
            if low <= rate <= high:
                return unit
    raise ImportFormatError(
        f"cannot tell the time unit: the median interval {interval:g} fits no rate of 1-2000 Hz in s, ms, us or ns",
        path=path,
    )


def infer_acc_unit(path: str, acc: np.ndarray) -> str:
    median = float(np.median(np.linalg.norm(acc, axis=1))) if acc.shape[0] else float("nan")
    if ACC_G_MEDIAN_RANGE[0] <= median <= ACC_G_MEDIAN_RANGE[1]:
        return "g"
    if ACC_MPS2_MEDIAN_RANGE[0] <= median <= ACC_MPS2_MEDIAN_RANGE[1]:
        return "m/s2"
    raise ImportFormatError(
        f"cannot tell the acceleration unit (median magnitude {median:.3g}, neither about 1 g nor about "
        "9.8 m/s^2): declare it, with gravity included",
        path=path,
    )


def infer_gyro_unit(path: str, gyro: np.ndarray, acc_g: np.ndarray) -> str:
    p99 = float(np.percentile(np.abs(gyro), 99)) if gyro.shape[0] else 0.0
    if p99 >= GYRO_DEG_S_MIN_P99:
        return "deg/s"
    if acc_g.shape[0] and float(np.std(np.linalg.norm(acc_g, axis=1))) > MOVING_ACC_STD_G:
        return "rad/s"
    raise ImportFormatError(
        "cannot tell the angular-rate unit while the sensor barely moves: declare deg/s or rad/s", path=path
    )
