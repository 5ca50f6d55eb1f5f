"""Running Speed and Cadence Measurement (Bluetooth SIG characteristic 0x2A53), as footpods send it.

flags u8 | speed u16 (1/256 m/s) | cadence u8 (1/min) | [stride length u16 (1/100 m)] |
[total distance u32 (1/10 m)]
flags: bit 0 stride length present, bit 1 total distance present, bit 2 running (else walking)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from strideguard.sensors.protocols._reader import ByteReader

PROTOCOL = "rsc"
_FIXED = struct.Struct("<BHB")
FLAG_STRIDE_LENGTH = 0x01
FLAG_TOTAL_DISTANCE = 0x02
FLAG_RUNNING = 0x04


@dataclass(frozen=True, slots=True, kw_only=True)
class RscMeasurement:
    speed_mps: float
    cadence_per_min: int
    stride_length_m: float | None
    total_distance_m: float | None
    running: bool


def parse_rsc(payload: bytes) -> RscMeasurement:
    """Decode one notification; a short payload or trailing bytes raise DecodeError."""
    reader = ByteReader(payload, protocol=PROTOCOL)
    flags, speed_raw, cadence = reader.unpack(_FIXED, "flags, speed and cadence")
    stride = reader.u16("stride length") / 100.0 if flags & FLAG_STRIDE_LENGTH else None
    distance = reader.u32("total distance") / 10.0 if flags & FLAG_TOTAL_DISTANCE else None
    if reader.remaining:
        raise reader.fail(f"{reader.remaining} unexpected trailing bytes")
    return RscMeasurement(
        speed_mps=speed_raw / 256.0,
        cadence_per_min=cadence,
        stride_length_m=stride,
        total_distance_m=distance,
        running=bool(flags & FLAG_RUNNING),
    )


def build_rsc(m: RscMeasurement) -> bytes:
    """Encode (the simulated footpod's side)."""
    flags = (
        (FLAG_RUNNING if m.running else 0)
        | (FLAG_STRIDE_LENGTH if m.stride_length_m is not None else 0)
        | (FLAG_TOTAL_DISTANCE if m.total_distance_m is not None else 0)
    )
    out = _FIXED.pack(flags, round(m.speed_mps * 256), m.cadence_per_min)
    if m.stride_length_m is not None:
        out += struct.pack("<H", round(m.stride_length_m * 100))
    if m.total_distance_m is not None:
        out += struct.pack("<I", round(m.total_distance_m * 10))
    return out
