"""Movesense GATT SensorData Protocol (GSP, the `gatt_sensordata_app` firmware).

Requests are written to the write characteristic, answers and data arrive on the notify one::

    request      : command u8 (0 hello, 1 subscribe, 2 unsubscribe) | reference u8 | path (UTF-8)
    notification : kind u8 (1 command result, 2 data) | reference u8 | body
        command result body: HTTP-like status u16 LE (200 = OK)
        data body          : timestamp u32 LE (ms, device clock, FIRST sample) | float32 LE values
            /Meas/Acc/<rate>  : n x (x, y, z) acceleration in m/s^2
            /Meas/IMU6/<rate> : n x acc (m/s^2), then n x gyro (deg/s)

The reference byte ties data to its subscription; it is chosen by the client and must not be 0.
"""

from __future__ import annotations

import enum
import re
import struct
from dataclasses import dataclass

import numpy as np

from strideguard.sensors.protocols._reader import ByteReader

PROTOCOL = "movesense"
KIND_COMMAND_RESULT = 1
KIND_DATA = 2
KIND_DATA_PART2 = 3  # second half of an IMU9 packet at high rates; not subscribed by StrideGuard
_STATUS = struct.Struct("<H")
_TIMESTAMP = struct.Struct("<I")
_PATH = re.compile(r"^/?Meas/(IMU6|Acc)/(\d+)$")
SUPPORTED_RATES_HZ = (13, 26, 52, 104, 208, 416, 833, 1666)


class GspCommand(enum.IntEnum):
    HELLO = 0
    SUBSCRIBE = 1
    UNSUBSCRIBE = 2


class MovesenseResource(enum.Enum):
    ACC = "Acc"
    IMU6 = "IMU6"


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    """What a reference was subscribed to: the resource and its sample rate."""

    resource: MovesenseResource
    rate_hz: int

    @property
    def path(self) -> str:
        return f"/Meas/{self.resource.value}/{self.rate_hz}"

    @classmethod
    def from_path(cls, path: str) -> Subscription:
        match = _PATH.match(path)
        if not match or int(match.group(2)) not in SUPPORTED_RATES_HZ:
            raise ValueError(
                f"not a supported Movesense path: {path!r} (use /Meas/IMU6/<rate> or "
                f"/Meas/Acc/<rate>, rate one of {SUPPORTED_RATES_HZ})"
            )
        return cls(resource=MovesenseResource(match.group(1)), rate_hz=int(match.group(2)))


@dataclass(frozen=True, slots=True, kw_only=True)
class GspCommandResult:
    reference: int
    status: int

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True, slots=True, kw_only=True)
class GspData:
    """One data notification. `acc_mps2` is float64 (n, 3); `gyro_dps` is (n, 3) for IMU6, else None."""

    reference: int
    timestamp_ms: int
    acc_mps2: np.ndarray
    gyro_dps: np.ndarray | None


def build_hello(reference: int = 1) -> bytes:
    return bytes((GspCommand.HELLO, _check_reference(reference)))


def build_subscribe(reference: int, subscription: Subscription) -> bytes:
    return bytes((GspCommand.SUBSCRIBE, _check_reference(reference))) + subscription.path.lstrip("/").encode()


def build_unsubscribe(reference: int) -> bytes:
    return bytes((GspCommand.UNSUBSCRIBE, _check_reference(reference)))


def parse_request(payload: bytes) -> tuple[GspCommand, int, str]:
    """(command, reference, path) of a write, as the device sees it (the simulated sensor uses it)."""
    reader = ByteReader(payload, protocol=PROTOCOL)
    code = reader.u8("command")
    try:
        command = GspCommand(code)
    except ValueError:
        raise reader.fail(f"unknown command {code}", offset=0) from None
    reference = reader.u8("reference")
    try:
        path = reader.rest().decode("utf-8")
    except UnicodeDecodeError:
        raise reader.fail("path is not UTF-8", offset=2) from None
    return command, reference, path


def build_command_result(reference: int, status: int) -> bytes:
    return bytes((KIND_COMMAND_RESULT, reference)) + _STATUS.pack(status)


def build_data(reference: int, timestamp_ms: int, acc_mps2: np.ndarray, gyro_dps: np.ndarray | None = None) -> bytes:
    arrays = [np.asarray(acc_mps2, dtype="<f4").reshape(-1)]
    if gyro_dps is not None:
        arrays.append(np.asarray(gyro_dps, dtype="<f4").reshape(-1))
    return bytes((KIND_DATA, reference)) + _TIMESTAMP.pack(timestamp_ms) + np.concatenate(arrays).tobytes()


def parse_notification(payload: bytes, subscriptions: dict[int, Subscription]) -> GspCommandResult | GspData:
    """Decode one notification given the client's subscriptions by reference."""
    reader = ByteReader(payload, protocol=PROTOCOL)
    kind = reader.u8("notification kind")
    reference = reader.u8("reference")
    if kind == KIND_COMMAND_RESULT:
        status = reader.u16("status")
        return GspCommandResult(reference=reference, status=status)
    if kind != KIND_DATA:
        raise reader.fail(f"unsupported notification kind {kind}", offset=0)
    subscription = subscriptions.get(reference)
    if subscription is None:
        raise reader.fail(f"data for reference {reference} that was not subscribed", offset=1)
    timestamp_ms = reader.u32("timestamp")
    body = reader.rest()
    vectors = 2 if subscription.resource is MovesenseResource.IMU6 else 1
    sample_bytes = 12 * vectors
    if not body or len(body) % sample_bytes:
        raise reader.fail(f"data of {len(body)} bytes is not a whole number of {sample_bytes}-byte samples", offset=6)
    raw = np.frombuffer(body, dtype="<f4")
    with np.errstate(invalid="ignore"):  # signalling NaNs in garbage must not warn, only fail below
        finite = bool(np.isfinite(raw).all())
        values = raw.astype(np.float64)
    if not finite:
        raise reader.fail("non-finite sample value", offset=6)
    n = len(body) // sample_bytes
    acc = values[: n * 3].reshape(n, 3)
    gyro = values[n * 3 :].reshape(n, 3) if vectors == 2 else None
    return GspData(reference=reference, timestamp_ms=timestamp_ms, acc_mps2=acc, gyro_dps=gyro)


def _check_reference(reference: int) -> int:
    if not 1 <= reference <= 255:
        raise ValueError(f"GSP reference must be 1..255, got {reference}")
    return reference
