"""Which wearable is this advertisement? Pure: name and advertised services in, a profile out.

Many devices do not advertise their vendor services (the H10 advertises only Heart Rate and its name),
so names count as much as UUIDs.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from strideguard.sensors.protocols import uuids


class DeviceKind(str, enum.Enum):
    POLAR_PMD = "polar-pmd"  # Polar H10, Verity Sense, OH1: accelerometer (and gyro) over PMD, plus HR
    MOVESENSE = "movesense"  # Movesense with gatt_sensordata_app: IMU6 / Acc over GSP
    RSC_FOOTPOD = "rsc-footpod"  # Stryd, Polar Stride, Zwift RunPod, ...: speed, cadence, stride length
    HR_STRAP = "hr-strap"  # any Heart Rate service: HR and RR intervals
    ALERT_BAND = "alert-band"  # Immediate Alert service: can buzz the runner


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceProfile:
    kind: DeviceKind
    model: str
    streams: tuple[str, ...]  # human-readable: what it can stream
    has_gyro: bool = False


_POLAR_MODELS = (
    (re.compile(r"^Polar H10\b"), "Polar H10", ("acc 25-200 Hz +-2/4/8 g", "heart rate + RR"), False),
    (re.compile(r"^Polar (Sense|Verity)\b"), "Polar Verity Sense", ("acc 52 Hz", "gyro 52 Hz", "heart rate"), True),
    (re.compile(r"^Polar OH1\b"), "Polar OH1", ("acc 50 Hz", "heart rate"), False),
)
_FOOTPOD_NAMES = re.compile(r"^(Stryd|Polar Stride|RunPod|Zwift RunPod|MilestonePod|Garmin Foot ?Pod)", re.I)
_MOVESENSE_NAME = re.compile(r"^Movesense\b")


def recognise(name: str | None, service_uuids: list[str] | tuple[str, ...]) -> DeviceProfile | None:
    """The profile of a device StrideGuard can use, or None."""
    name = name or ""
    services = {u.lower() for u in service_uuids}
    for pattern, model, streams, gyro in _POLAR_MODELS:
        if pattern.match(name):
            return DeviceProfile(kind=DeviceKind.POLAR_PMD, model=model, streams=streams, has_gyro=gyro)
    if uuids.PMD_SERVICE in services:
        return DeviceProfile(kind=DeviceKind.POLAR_PMD, model=name or "Polar PMD sensor", streams=("acc", "heart rate"))
    if uuids.MOVESENSE_SERVICE in services or _MOVESENSE_NAME.match(name):
        return DeviceProfile(
            kind=DeviceKind.MOVESENSE, model="Movesense", streams=("acc 13-1666 Hz", "gyro"), has_gyro=True
        )
    if uuids.RSC_SERVICE in services or _FOOTPOD_NAMES.match(name):
        return DeviceProfile(
            kind=DeviceKind.RSC_FOOTPOD, model=name or "RSC footpod", streams=("speed", "cadence", "stride length")
        )
    if uuids.IMMEDIATE_ALERT_SERVICE in services:
        return DeviceProfile(kind=DeviceKind.ALERT_BAND, model=name or "alert band", streams=("haptic alerts",))
    if uuids.HR_SERVICE in services:
        return DeviceProfile(kind=DeviceKind.HR_STRAP, model=name or "heart-rate strap", streams=("heart rate + RR",))
    return None
