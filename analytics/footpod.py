"""Footpod (Running Speed and Cadence) fusion: speed and stride length per window.

A footpod measures speed (and often stride length); the trunk sensor measures cadence. Stride length
comes from the footpod when it sends it, else from speed / stride frequency = speed x 120 / cadence.
Overstriding shows as a long stride with a low cadence for the speed and a large braking peak
(`braking.py`); `overstriding_ratio` compares the stride length with the one a runner would have at the
same speed with the `reference_cadence_spm` (e.g. their early-run cadence).
"""

from __future__ import annotations

from collections.abc import Sequence

from strideguard.sensors.types import StrideReading


def window_speed_and_stride(
    readings: Sequence[StrideReading], cadence_spm: float | None
) -> tuple[float | None, float | None]:
    """(mean speed m/s, mean stride length m) over the readings of one window."""
    if not readings:
        return None, None
    speed = sum(r.speed_mps for r in readings) / len(readings)
    lengths = [r.stride_length_m for r in readings if r.stride_length_m is not None]
    if lengths:
        return speed, sum(lengths) / len(lengths)
    steps_per_min = cadence_spm if cadence_spm else sum(r.cadence_spm for r in readings) / len(readings)
    return speed, (speed * 120.0 / steps_per_min if steps_per_min else None)


def overstriding_ratio(*, stride_length_m: float, speed_mps: float, reference_cadence_spm: float) -> float | None:
    """Stride length / the stride length at `reference_cadence_spm` for the same speed (1 = no change;
    above 1 = longer, slower steps for the speed)."""
    if speed_mps <= 0 or reference_cadence_spm <= 0:
        return None
    return stride_length_m / (speed_mps * 120.0 / reference_cadence_spm)
