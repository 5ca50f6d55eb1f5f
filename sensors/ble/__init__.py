"""The bleak shell: scan, recognise, connect, stream, record and reconnect (see `collector`)."""

from sensors.ble.clock import Clock, RealClock, SimClock
from sensors.ble.collector import (
    CollectorStats,
    DeviceSpec,
    ReconnectPolicy,
    ScanResult,
    adapter_error,
    collect,
    scan,
)
from sensors.ble.recognize import DeviceKind, DeviceProfile, recognise

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
