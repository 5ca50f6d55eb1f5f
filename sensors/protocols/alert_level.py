"""Alert Level (Bluetooth SIG characteristic 0x2A06) of the Immediate Alert service (0x1802).

A band that exposes Immediate Alert vibrates or beeps when a client writes one byte: 0 no alert,
1 mild alert, 2 high alert. StrideGuard writes it (without response) to buzz a runner.
"""

from __future__ import annotations

import enum

from strideguard.sensors.errors import DecodeError

PROTOCOL = "alert-level"


class AlertLevel(enum.IntEnum):
    NONE = 0
    MILD = 1
    HIGH = 2


def build_alert_level(level: AlertLevel | int) -> bytes:
    """The one-byte write payload; anything but 0, 1, 2 is a ValueError (a programming error)."""
    return bytes((AlertLevel(level),))


def parse_alert_level(payload: bytes) -> AlertLevel:
    """What a band does with a write (used by the simulated band); malformed writes raise."""
    if len(payload) != 1:
        raise DecodeError(f"alert level is one byte, got {len(payload)}", protocol=PROTOCOL, payload=payload)
    try:
        return AlertLevel(payload[0])
    except ValueError:
        raise DecodeError(f"unknown alert level {payload[0]}", protocol=PROTOCOL, payload=payload, offset=0) from None
