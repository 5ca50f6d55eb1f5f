"""Reference decoders written from the protocol layouts alone (the module docstrings and the specs they
cite), not from the code under test: for any bytes each says the exact outcome, either `Refused(offset)`
(the byte offset the DecodeError must carry; None where the error names no single byte) or the decoded
value in a plain form (`plain`). A fuzz test then asserts the decoder gives exactly that, so "some
error" is never enough and "no error" is never accepted for damage.

Integers are little-endian throughout. Floats are compared by their bits (`plain`), so NaN compares
equal to itself and -0.0 differs from 0.0.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Refused:
    """A DecodeError at `offset` of the payload, or of `within` (the bytes the decoder was parsing when
    that is not one notification: the parameters a multi-packet control-point response assembled)."""

    offset: int | None
    within: bytes | None = None


Outcome = Refused | Any


def plain(value: Any) -> Any:
    """A comparable form of a decoder's output: dataclasses by their fields, arrays and sequences as
    tuples, floats by their bits, enums by their value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, *(plain(getattr(value, f.name)) for f in dataclasses.fields(value)))
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, list | tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, frozenset | set):
        return frozenset(plain(v) for v in value)
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, float):
        return ("f", struct.pack("<d", value))
    if isinstance(value, bool | int | str | bytes) or value is None:
        return value
    raise TypeError(f"no plain form for {type(value).__name__}")


def _u(p: bytes, at: int, n: int, *, signed: bool = False) -> int:
    return int.from_bytes(p[at : at + n], "little", signed=signed)


def _f32(p: bytes, at: int) -> float:
    return struct.unpack_from("<f", p, at)[0]


class _Short(Exception):
    """A field runs past the end: refused at the field's first byte."""

    def __init__(self, at: int) -> None:
        self.at = at


def _need(p: bytes, at: int, n: int) -> None:
    if n < 0 or len(p) - at < n:
        raise _Short(at)


def _guard(decode: Callable[[bytes], Any]) -> Callable[[bytes], Outcome]:
    def run(p: bytes) -> Outcome:
        try:
            return decode(p)
        except _Short as short:
            return Refused(short.at)

    return run


# -- Bluetooth SIG Heart Rate Measurement (0x2A37) ----------------------------------------------------


@_guard
def hrm(p: bytes) -> Outcome:
    _need(p, 0, 1)
    flags, at = p[0], 1
    width = 2 if flags & 0x01 else 1
    _need(p, at, width)
    bpm, at = _u(p, at, width), at + width
    contact = bool(flags & 0x02) if flags & 0x04 else None
    energy = None
    if flags & 0x08:
        _need(p, at, 2)
        energy, at = _u(p, at, 2), at + 2
    left = len(p) - at
    if flags & 0x10:
        if left == 0 or left % 2:
            return Refused(at)
        rr = tuple(_u(p, i, 2) for i in range(at, len(p), 2))
    elif left:
        return Refused(at)
    else:
        rr = ()
    return ("HeartRateMeasurement", bpm, contact, energy, rr)


# -- Bluetooth SIG Running Speed and Cadence Measurement (0x2A53) -------------------------------------


@_guard
def rsc(p: bytes) -> Outcome:
    _need(p, 0, 4)
    flags, speed_raw, cadence, at = p[0], _u(p, 1, 2), p[3], 4
    stride = distance = None
    if flags & 0x01:
        _need(p, at, 2)
        stride, at = plain(_u(p, at, 2) / 100.0), at + 2
    if flags & 0x02:
        _need(p, at, 4)
        distance, at = plain(_u(p, at, 4) / 10.0), at + 4
    if len(p) > at:
        return Refused(at)
    return ("RscMeasurement", plain(speed_raw / 256.0), cadence, stride, distance, bool(flags & 0x04))


# -- Bluetooth SIG Alert Level (0x2A06) ---------------------------------------------------------------


def alert_level(p: bytes) -> Outcome:
    if len(p) != 1:
        return Refused(None)
    return p[0] if p[0] <= 2 else Refused(0)


# -- Polar Measurement Data: control point --------------------------------------------------------------

_SETTING = {0: ("sample_rate_hz", 2), 1: ("resolution_bits", 2), 2: ("range", 2), 3: ("range_milliunit", 4)}
_SETTING |= {4: ("channels", 1), 5: ("factor", 4)}
_SETTING_FIELDS = ("sample_rate_hz", "resolution_bits", "range", "range_milliunit", "channels", "factor")
MEASUREMENT_TYPES = (0, 1, 2, 3, 5, 6)  # ECG PPG ACC PPI GYRO MAG


def _settings(p: bytes, at: int = 0) -> Any:
    """[type u8][count u8][count values] ...; values of a type that repeats are appended."""
    found: dict[str, tuple] = dict.fromkeys(_SETTING_FIELDS, ())
    while at < len(p):
        kind_at = at
        kind = p[at]
        if kind not in _SETTING:
            return Refused(kind_at)
        at += 1
        _need(p, at, 1)
        count, at = p[at], at + 1
        name, size = _SETTING[kind]
        _need(p, at, size * count)
        if name == "factor":
            values: tuple = tuple(plain(_f32(p, at + 4 * i)) for i in range(count))
        else:
            values = tuple(_u(p, at + size * i, size) for i in range(count))
        found[name] += values
        at += size * count
    return ("PmdSettings", *(found[name] for name in _SETTING_FIELDS))


pmd_settings = _guard(_settings)


@_guard
def pmd_request(p: bytes) -> Outcome:
    """op (1 get settings, 2 start, 3 stop) | measurement | settings list (offsets count from byte 2)."""
    _need(p, 0, 1)
    if p[0] not in (1, 2, 3):
        return Refused(0)
    _need(p, 1, 1)
    settings = _settings(p, 2)
    return settings if isinstance(settings, Refused) else (p[0], p[1], settings)


def _control(p: bytes, *, single: bool) -> Outcome:
    _need(p, 0, 1)
    if p[0] == 0x01:  # online measurement stopped: the measurement types follow
        stopped = ("MeasurementStopped", tuple(p[1:]))
        return stopped if single else (stopped,)
    if p[0] != 0xF0:
        return Refused(0)
    for at in (1, 2, 3):
        _need(p, at, 1)
    op, measurement, status = p[1], p[2], p[3]
    if status != 0:  # an error response carries no parameters
        error = ("PmdControlResponse", op, measurement, status, b"", None)
        return error if single else (error,)
    _need(p, 4, 1)
    params = p[5:]
    if len(params) > 4096:
        return Refused(len(p))
    if p[4]:
        return Refused(None) if single else ()  # more follows: nothing yet
    settings = None
    if op == 1:
        try:
            settings = _settings(params)
        except _Short as short:
            settings = Refused(short.at)
        if isinstance(settings, Refused):  # an offset into the parameters, which may span packets
            return Refused(settings.offset, within=params)
    elif op == 2 and params:
        parsed = _guard(_settings)(params)
        settings = None if isinstance(parsed, Refused) else parsed
    response = ("PmdControlResponse", op, measurement, status, params, settings)
    return response if single else (response,)


pmd_response = _guard(lambda p: _control(p, single=True))
pmd_control = _guard(lambda p: _control(p, single=False))


@_guard
def pmd_features(p: bytes) -> Outcome:
    _need(p, 0, 1)
    if p[0] != 0x0F:
        return Refused(0)
    _need(p, 1, 1)
    return frozenset(m for m in MEASUREMENT_TYPES if p[1] & (1 << m))


# -- Polar Measurement Data: data frames ----------------------------------------------------------------

_DELTA_REFERENCE_BITS = {(2, 0): 16, (2, 1): 16, (5, 0): 16}  # (measurement, compressed frame type)
_RAW_ACC_BYTES = {0: 1, 1: 2, 2: 3}
MAX_DELTA_WIDTH = 32


@_guard
def pmd_frame(p: bytes) -> Outcome:
    """type u8 (& 0x3F) | timestamp u64 | frame type u8 (bit 7: delta-compressed) | content."""
    _need(p, 0, 10)
    measurement, timestamp, frame_byte = p[0] & 0x3F, _u(p, 1, 8), p[9]
    compressed, frame_type = bool(frame_byte & 0x80), frame_byte & 0x7F
    if compressed:
        bits = _DELTA_REFERENCE_BITS.get((measurement, frame_type))
        if bits is None:
            return Refused(9)
        counts = _delta(p, 10, bits)
        if isinstance(counts, Refused):
            return counts
    else:
        if measurement != 2 or frame_type not in _RAW_ACC_BYTES:
            return Refused(9)
        size = _RAW_ACC_BYTES[frame_type]
        content = p[10:]
        if not content or len(content) % (3 * size):
            return Refused(10)
        values = [_u(content, i, size, signed=True) for i in range(0, len(content), size)]
        counts = [values[i : i + 3] for i in range(0, len(values), 3)]
    return ("PmdFrame", measurement, timestamp, frame_type, compressed, plain(counts))


def _delta(p: bytes, at: int, reference_bits: int) -> Any:
    """A reference sample (3 signed values of ceil(bits/8) bytes), then blocks [width u8][count u8]
    [ceil(width*count*3/8) bytes] of deltas, LSB-first, sign-extended from `width`, summed up."""
    size = math.ceil(reference_bits / 8)
    _need(p, at, 3 * size)
    rows = [[_u(p, at + size * c, size, signed=True) for c in range(3)]]
    at += 3 * size
    while at < len(p):
        block_at = at
        width = p[at]
        _need(p, at + 1, 1)
        count = p[at + 1]
        if width > MAX_DELTA_WIDTH:
            return Refused(block_at)
        at += 2
        n_bytes = math.ceil(width * count * 3 / 8)
        _need(p, at, n_bytes)
        bits = int.from_bytes(p[at : at + n_bytes], "little")
        at += n_bytes
        for i in range(count):
            row = []
            for c in range(3):
                v = (bits >> ((3 * i + c) * width)) & ((1 << width) - 1) if width else 0
                row.append(v - (1 << width) if width and v >= 1 << (width - 1) else v)
            rows.append([prev + d for prev, d in zip(rows[-1], row, strict=True)])
    return rows


# -- Movesense GATT Sensor Protocol ----------------------------------------------------------------------

# reference -> floats per sample (the fuzz tests subscribe 1 to /Meas/IMU6/104 and 2 to /Meas/Acc/52)
MOVESENSE_VECTORS = {1: 2, 2: 1}


@_guard
def movesense_notification(p: bytes) -> Outcome:
    """kind u8 (1 command result: status u16; 2 data: timestamp u32 ms, f32 samples) | reference u8."""
    _need(p, 0, 1)
    _need(p, 1, 1)
    kind, reference = p[0], p[1]
    if kind == 1:
        _need(p, 2, 2)
        return ("GspCommandResult", reference, _u(p, 2, 2))
    if kind != 2:
        return Refused(0)
    if reference not in MOVESENSE_VECTORS:
        return Refused(1)
    _need(p, 2, 4)
    vectors, body = MOVESENSE_VECTORS[reference], p[6:]
    if not body or len(body) % (12 * vectors):
        return Refused(6)
    floats = [_f32(body, i) for i in range(0, len(body), 4)]
    if not all(math.isfinite(f) for f in floats):
        return Refused(6)
    n = len(body) // (12 * vectors)
    acc = [floats[3 * i : 3 * i + 3] for i in range(n)]
    gyro = [floats[3 * n + 3 * i : 3 * n + 3 * i + 3] for i in range(n)] if vectors == 2 else None
    return ("GspData", reference, _u(p, 2, 4), plain(acc), plain(gyro))


@_guard
def movesense_request(p: bytes) -> Outcome:
    """command u8 (0 hello, 1 subscribe, 2 unsubscribe) | reference u8 | UTF-8 path."""
    _need(p, 0, 1)
    if p[0] not in (0, 1, 2):
        return Refused(0)
    _need(p, 1, 1)
    try:
        path = p[2:].decode("utf-8")
    except UnicodeDecodeError:
        return Refused(2)
    return (p[0], p[1], path)


# -- StrideGuard IMU payload over MQTT (sensors/protocols/strideguard_imu.py docstring) ---------------

IMU_HEADER = struct.Struct("<BBBBdIQqH")  # version kind placement flags rate_hz n seq t0_ns session_len
IMU_KINDS = 2  # acc, gyro
IMU_PLACEMENTS = 7  # chest sacrum foot shank wrist arm unknown
IMU_MAX_SAMPLES = 1_000_000
INT64_MAX = 2**63 - 1


@_guard
def strideguard_imu(p: bytes) -> Outcome:
    """(session, seq, final, device, placement code, kind code, rate_hz, times, values) or Refused."""
    _need(p, 0, IMU_HEADER.size)
    version, kind, placement, flags, rate_hz, n, seq, t0_ns, session_len = IMU_HEADER.unpack_from(p)
    for ok, at in (
        (version == 1, 0),
        (kind < IMU_KINDS, 1),
        (placement < IMU_PLACEMENTS, 2),
        (not flags & ~0x03, 3),
        (math.isfinite(rate_hz) and rate_hz > 0, 4),
        (n <= IMU_MAX_SAMPLES, 12),
    ):
        if not ok:
            return Refused(at)
    at = IMU_HEADER.size
    _need(p, at, session_len + 1)  # the session id and the device id's length byte
    session_raw, device_len = p[at : at + session_len], p[at + session_len]
    device_at = at + session_len + 1
    try:
        session = session_raw.decode()
    except UnicodeDecodeError:
        return Refused(at)
    _need(p, device_at, device_len)
    try:
        device = p[device_at : device_at + device_len].decode()
    except UnicodeDecodeError:
        return Refused(device_at)
    times_at = device_at + device_len
    width = 8 if flags & 0x02 else 4
    n_deltas = max(n - 1, 0)
    if len(p) != times_at + n_deltas * width + 12 * n:
        return Refused(times_at)
    deltas = [_u(p, times_at + width * i, width, signed=True) for i in range(n_deltas)]
    if any(d <= 0 for d in deltas):
        return Refused(times_at)
    if t0_ns + sum(deltas) > INT64_MAX:
        return Refused(24)
    times = [t0_ns]
    for d in deltas:
        times.append(times[-1] + d)
    values_at = times_at + n_deltas * width
    values = [[_f32(p, values_at + 12 * i + 4 * c) for c in range(3)] for i in range(n)]
    return (session, seq, bool(flags & 0x01), device, placement, kind, plain(rate_hz), tuple(times[:n]), plain(values))
