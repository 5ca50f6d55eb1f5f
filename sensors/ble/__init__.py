"""The bleak shell: scan, recognise, connect, stream, record and reconnect (see `collector`)."""

from strideguard.sensors.ble.clock import Clock, RealClock, SimClock
from strideguard.sensors.ble.collector import (
    CollectorStats,
    DeviceSpec,
    ReconnectPolicy,
    ScanResult,
    adapter_error,
    collect,
    scan,
)
from strideguard.sensors.ble.recognize import DeviceKind, DeviceProfile, recognise

__all__ = [
    "Clock",
    "CollectorStats",
    "DeviceKind",
    "DeviceProfile",
    "DeviceSpec",
    "RealClock",
    "ReconnectPolicy",
    "ScanResult",
    "SimClock",
    "adapter_error",
    "collect",
    "recognise",
    "scan",
]
