"""StrideGuard's own IMU payload: one sample batch as a collector publishes it over MQTT (`stream.mqtt`).

Version 1 (little-endian, 34-byte fixed header, then two short strings, times, values)::

    offset size  field
    0      1     version            u8, 1
    1      1     kind               u8: 0 acc (g), 1 gyro (deg/s)
    2      1     placement          u8: index in PLACEMENT_CODES
    3      1     flags              u8: bit 0 = final batch of the session, bit 1 = int64 times
    4      8     rate_hz            f64, nominal sampling rate
    12     4     n                  u32, number of samples (0 is allowed: an end-of-session marker)
    16     8     seq                u64, sequence number within the session, from 0 (one counter for
                                    all of a runner's devices and kinds: they share the topic)
    24     8     t0_ns              i64, time of the first sample, ns since the Unix epoch
    32     2     session_len        u16, then session id, UTF-8
    ..     1     device_len         u8, then device id, UTF-8
    ..           times              n-1 int32 deltas in ns between consecutive samples
                                    (flag bit 1: n-1 int64 deltas instead, for gaps over 2.1 s)
    ..           values             n x 3 float32, row-major, in the kind's unit

The runner (and team) are in the MQTT topic, not the payload: the caller passes the runner in. A 50-sample
batch is 831 bytes plus the two ids (about 16 bytes a sample). The sequence number lets a receiver drop
redelivered duplicates (QoS 1 is at-least-once) and detect gaps.

`decode_imu` is pure and reads through the bounds-checked `ByteReader`; anything malformed raises
`DecodeError` (protocol "strideguard-imu") with the payload and the byte offset of the field at fault.
A sample count over `MAX_SAMPLES`, or one the payload's length does not match, is refused before
anything of that size is allocated.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from strideguard.sensors.protocols._reader import ByteReader
from strideguard.sensors.types import Placement, SampleBatch, SampleKind

PROTOCOL = "strideguard-imu"
IMU_VERSION = 1
KIND_CODES = (SampleKind.ACC, SampleKind.GYRO)
PLACEMENT_CODES = (
    Placement.CHEST,
    Placement.SACRUM,
    Placement.FOOT,
    Placement.SHANK,
    Placement.WRIST,
    Placement.ARM,
    Placement.UNKNOWN,
)
FLAG_FINAL = 0x01
FLAG_INT64_TIMES = 0x02
HEADER = struct.Struct("<BBBBdIQqH")  # version .. session_len: the fixed part
MAX_SAMPLES = 1_000_000  # refuse absurd sizes before allocating
# byte offsets of the header fields an error can name
OFFSET_VERSION, OFFSET_KIND, OFFSET_PLACEMENT, OFFSET_FLAGS, OFFSET_RATE, OFFSET_N, OFFSET_T0 = 0, 1, 2, 3, 4, 12, 24
VALUE_BYTES = 12  # 3 x float32 per sample
_INT32_MAX = 2**31 - 1
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ImuMessage:
    """One decoded IMU payload: the batch plus what the transport needs (session, seq, final)."""

    session: str
    seq: int
    final: bool
    batch: SampleBatch


def encode_imu(batch: SampleBatch, *, session: str, seq: int, final: bool = False) -> bytes:
    """The version-1 payload of one batch (see the module docstring for the layout)."""
    session_b, device_b = session.encode(), batch.device.encode()
    if len(session_b) > 0xFFFF or len(device_b) > 0xFF:
        raise ValueError("session id must be < 64 KiB and device id < 256 bytes in UTF-8")
    n = len(batch)
    deltas = np.diff(batch.t_ns)
    flags = FLAG_FINAL if final else 0
    if deltas.size and int(deltas.max()) > _INT32_MAX:
        flags |= FLAG_INT64_TIMES
        times = deltas.astype("<i8").tobytes()
    else:
        times = deltas.astype("<i4").tobytes()
    t0_ns = int(batch.t_ns[0]) if n else 0
    header = HEADER.pack(
        IMU_VERSION,
        KIND_CODES.index(batch.kind),
        PLACEMENT_CODES.index(batch.placement),
        flags,
        float(batch.rate_hz),
        n,
        seq,
        t0_ns,
        len(session_b),
    )
    return b"".join((header, session_b, bytes((len(device_b),)), device_b, times, batch.values.astype("<f4").tobytes()))


def decode_imu(payload: bytes, *, runner: str) -> ImuMessage:
    """Decode a version-1 IMU payload; `runner` comes from the topic. Raises DecodeError."""
    reader = ByteReader(payload, protocol=PROTOCOL)
    if reader.remaining < HEADER.size:
        raise reader.fail(f"payload of {reader.remaining} bytes is shorter than the {HEADER.size}-byte header")
    version, kind_code, placement_code, flags, rate_hz, n, seq, t0_ns, session_len = reader.unpack(HEADER, "header")
    if version != IMU_VERSION:
        raise reader.fail(
            f"unsupported IMU payload version {version} (this build reads {IMU_VERSION})", offset=OFFSET_VERSION
        )
    if kind_code >= len(KIND_CODES):
        raise reader.fail(f"unknown sample kind code {kind_code}", offset=OFFSET_KIND)
    if placement_code >= len(PLACEMENT_CODES):
        raise reader.fail(f"unknown placement code {placement_code}", offset=OFFSET_PLACEMENT)
    if flags & ~(FLAG_FINAL | FLAG_INT64_TIMES):
        raise reader.fail(f"unknown flag bits 0x{flags:02x}", offset=OFFSET_FLAGS)
    if not (np.isfinite(rate_hz) and rate_hz > 0):
        raise reader.fail(f"rate_hz must be positive, got {rate_hz}", offset=OFFSET_RATE)
    if n > MAX_SAMPLES:
        raise reader.fail(f"{n} samples exceeds the limit of {MAX_SAMPLES}", offset=OFFSET_N)
    if reader.remaining < session_len + 1:  # the session id and the device id's length byte
        raise reader.fail("truncated in the session id")
    session_at = reader.offset
    session_raw = reader.take(session_len, "session id")
    device_len = reader.u8("device id length")
    device_at = reader.offset
    session = _utf8(reader, session_raw, session_at)
    if reader.remaining < device_len:
        raise reader.fail("truncated in the device id")
    device = _utf8(reader, reader.take(device_len, "device id"), device_at)

    times_at = reader.offset
    delta_dtype, delta_bytes = ("<i8", 8) if flags & FLAG_INT64_TIMES else ("<i4", 4)
    n_deltas = max(n - 1, 0)
    expected = times_at + n_deltas * delta_bytes + n * VALUE_BYTES
    if len(reader.payload) != expected:  # checked before any array of n is made: n may lie
        raise reader.fail(f"payload is {len(reader.payload)} bytes, {n} samples need {expected}")
    deltas = reader.array(delta_dtype, n_deltas, "sample times")
    if n_deltas and int(deltas.min()) <= 0:
        raise reader.fail("sample times must be strictly increasing", offset=times_at)
    if (
        n_deltas
        and t0_ns + int(deltas.max()) * n_deltas > _INT64_MAX  # cheap bound first, exact sum if needed
        and t0_ns + sum(int(d) for d in deltas) > _INT64_MAX
    ):
        raise reader.fail("sample times run past the int64 nanosecond range", offset=OFFSET_T0)
    values = reader.array("<f4", n * 3, "sample values").reshape(n, 3)
    t_ns = np.empty(n, dtype=np.int64)
    if n:
        t_ns[0] = t0_ns
        np.cumsum(deltas, out=t_ns[1:])
        t_ns[1:] += t0_ns
    batch = SampleBatch(
        runner=runner,
        device=device,
        placement=PLACEMENT_CODES[placement_code],
        kind=KIND_CODES[kind_code],
        rate_hz=rate_hz,
        t_ns=t_ns,
        values=values,
    )
    return ImuMessage(session=session, seq=seq, final=bool(flags & FLAG_FINAL), batch=batch)


def _utf8(reader: ByteReader, raw: bytes, offset: int) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError as exc:
        raise reader.fail(f"session or device id is not UTF-8: {exc.reason}", offset=offset) from exc
