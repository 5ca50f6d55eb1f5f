"""Units a CSV may declare, their conversions to StrideGuard's units, and column-name aliases.

StrideGuard's units are fixed (`sensors.types`): acceleration in g with gravity, angular rate in deg/s,
time in integer ns. Everything else is converted here, once.
"""

from __future__ import annotations

import re

from strideguard.sensors.units import DEG_PER_RAD, STANDARD_GRAVITY_MPS2

ACC_UNITS_TO_G = {"g": 1.0, "m/s2": 1.0 / STANDARD_GRAVITY_MPS2}
GYRO_UNITS_TO_DPS = {"deg/s": 1.0, "rad/s": DEG_PER_RAD}
TIME_UNITS_TO_NS = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0}

_UNIT_SPELLINGS = {
    "g": "g",
    "m/s2": "m/s2",
    "m/s^2": "m/s2",
    "ms2": "m/s2",
    "mps2": "m/s2",
    "m_s2": "m/s2",
    "ms^2": "m/s2",
    "deg/s": "deg/s",
    "dps": "deg/s",
    "degs": "deg/s",
    "deg_s": "deg/s",
    "degps": "deg/s",
    "rad/s": "rad/s",
    "rads": "rad/s",
    "rad_s": "rad/s",
    "radps": "rad/s",
    "rps": "rad/s",
    "s": "s",
    "sec": "s",
    "ms": "ms",
    "us": "us",
    "ns": "ns",
}

_BASE_NAMES = {
    "t": ("t", "time", "timestamp", "ts", "seconds"),
    "ax": ("ax", "accx", "acc_x", "accel_x", "accelx", "x_acc", "xacc", "acceleration_x", "accelerometer_x"),
    "ay": ("ay", "accy", "acc_y", "accel_y", "accely", "y_acc", "yacc", "acceleration_y", "accelerometer_y"),
    "az": ("az", "accz", "acc_z", "accel_z", "accelz", "z_acc", "zacc", "acceleration_z", "accelerometer_z"),
    "gx": ("gx", "gyrx", "gyro_x", "gyr_x", "gyrox", "x_gyro", "xgyro", "angular_velocity_x", "gyroscope_x"),
    "gy": ("gy", "gyry", "gyro_y", "gyr_y", "gyroy", "y_gyro", "ygyro", "angular_velocity_y", "gyroscope_y"),
    "gz": ("gz", "gyrz", "gyro_z", "gyr_z", "gyroz", "z_gyro", "zgyro", "angular_velocity_z", "gyroscope_z"),
}
_ALIASES = {alias: canonical for canonical, aliases in _BASE_NAMES.items() for alias in aliases}
_SUFFIX = re.compile(
    r"^(?P<base>.+?)_(?P<unit>m_s2|m/s\^?2|ms\^?2|mps2|g|deg_s|deg/s|degs|degps|dps|rad_s|rad/s|rads|radps|rps"
    r"|sec|s|ms|us|ns)$"
)


def normalise_unit(text: str | None, *, allowed: dict[str, float], what: str) -> str | None:
    """The canonical spelling of a unit, or None for None; ValueError names the accepted units."""
    if text is None:
        return None
    unit = _UNIT_SPELLINGS.get(text.strip().lower().replace(" ", ""))
    if unit not in allowed:
        raise ValueError(f"unknown {what} unit {text!r}: use one of {', '.join(allowed)}")
    return unit


def parse_column(name: str) -> tuple[str | None, str | None]:
    """(canonical column, unit from the name) for a header cell: 'ax_g' -> ('ax', 'g'),
    'Time (ms)' -> ('t', 'ms'), 'acc_x [m/s^2]' -> ('ax', 'm/s2'); (None, None) if not recognised."""
    text = name.strip().strip('"').strip().lower()
    unit: str | None = None
    bracket = re.search(r"[\(\[]\s*([^\)\]]+?)\s*[\)\]]\s*$", text)
    if bracket:
        unit = _UNIT_SPELLINGS.get(bracket.group(1).replace(" ", ""))
        text = text[: bracket.start()].strip()
    text = re.sub(r"[\s\-]+", "_", text)
    if text in _ALIASES:
        return _ALIASES[text], unit
    match = _SUFFIX.match(text)
    if match and match.group("base") in _ALIASES:
        return _ALIASES[match.group("base")], _UNIT_SPELLINGS.get(match.group("unit"))
    return None, None
