"""Polar PMD data frames: header, raw and delta-compressed samples, conversion to g and deg/s.

Frame layout (Polar_Measurement_Data_Specification)::

    measurement type u8 (& 0x3F) | timestamp u64 LE (ns since 2000-01-01, LAST sample) | frame type u8 |
    content: raw samples, or a delta-compressed block sequence when frame type bit 7 is set

Raw ACC types 0/1/2 carry int8/int16/int24 per axis in mG (the H10 sends type 1). A delta frame holds a
reference sample (channels x ceil(resolution/8) bytes, signed LE) then blocks of
[bit width u8][sample count u8][ceil(width*count*channels/8) bytes]; bits are read LSB-first, each value
sign-extended from its width and added to the previous sample. Compressed ACC type 0 is in G after
multiplying by the start response's factor (Verity Sense); compressed ACC type 1 is in mG.
GYRO is supported as compressed type 0 (int16 counts times the factor, deg/s).

`parse_frame` is pure and vectorised; `build_raw_frame` / `build_delta_frame` are its inverses (the
simulated H10 and the tests use them).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from strideguard.sensors.errors import DecodeError
from strideguard.sensors.protocols._reader import ByteReader
from strideguard.sensors.protocols.pmd_control import MeasurementType

PROTOCOL = "pmd-data"
HEADER = struct.Struct("<BQB")  # measurement type, timestamp ns, frame type
HEADER_BYTES = HEADER.size
MEASUREMENT_TYPE_MASK = 0x3F
COMPRESSED_BIT = 0x80
FRAME_TYPE_MASK = 0x7F
MAX_DELTA_WIDTH_BITS = 32  # wider deltas than this cannot come from a 16/24-bit sensor
CHANNELS = 3

# raw ACC frame type -> bytes per axis value
_RAW_ACC_BYTES = {0: 1, 1: 2, 2: 3}
# (measurement type, compressed frame type) -> reference sample resolution in bits
_DELTA_RESOLUTION_BITS = {
    (MeasurementType.ACC, 0): 16,
    (MeasurementType.ACC, 1): 16,
    (MeasurementType.GYRO, 0): 16,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class PmdFrame:
    """One decoded data frame: integer counts as sent, before any unit conversion.

    `counts` is int64 (n, 3); `timestamp_ns` is the device time of the LAST sample.
    """

    measurement_type: int
    timestamp_ns: int
    frame_type: int
    compressed: bool
    counts: np.ndarray

    def __len__(self) -> int:
        return int(self.counts.shape[0])


def parse_frame(payload: bytes) -> PmdFrame:
    """Decode one PMD data notification; anything malformed raises DecodeError."""
    reader = ByteReader(payload, protocol=PROTOCOL)
    type_byte, timestamp_ns, frame_byte = reader.unpack(HEADER, "frame header")
    measurement = type_byte & MEASUREMENT_TYPE_MASK
    compressed = bool(frame_byte & COMPRESSED_BIT)
    frame_type = frame_byte & FRAME_TYPE_MASK
    content = reader.rest()
    if compressed:
        bits = _DELTA_RESOLUTION_BITS.get((measurement, frame_type))
        if bits is None:
            raise reader.fail(f"unsupported compressed frame type {frame_type} for measurement {measurement}", offset=9)
        counts = decode_delta(content, channels=CHANNELS, resolution_bits=bits, offset=HEADER_BYTES, payload=payload)
    else:
        if measurement != MeasurementType.ACC or frame_type not in _RAW_ACC_BYTES:
            raise reader.fail(f"unsupported raw frame type {frame_type} for measurement {measurement}", offset=9)
        counts = _decode_raw(content, _RAW_ACC_BYTES[frame_type], payload)
    return PmdFrame(
        measurement_type=measurement,
        timestamp_ns=timestamp_ns,
        frame_type=frame_type,
        compressed=compressed,
        counts=counts,
    )


def _decode_raw(content: bytes, value_bytes: int, payload: bytes) -> np.ndarray:
    sample_bytes = value_bytes * CHANNELS
    if not content or len(content) % sample_bytes:
        raise DecodeError(
            f"raw content of {len(content)} bytes is not a whole number of {sample_bytes}-byte samples",
            protocol=PROTOCOL,
            payload=payload,
            offset=HEADER_BYTES,
        )
    if value_bytes == 3:
        b = np.frombuffer(content, dtype=np.uint8).reshape(-1, 3).astype(np.int64)
        values = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        values = np.where(values >= 1 << 23, values - (1 << 24), values)
    else:
        values = np.frombuffer(content, dtype=np.dtype(f"<i{value_bytes}")).astype(np.int64)
    return values.reshape(-1, CHANNELS)


def decode_delta(
    content: bytes, *, channels: int, resolution_bits: int, offset: int = 0, payload: bytes | None = None
) -> np.ndarray:
    """Reference sample plus delta blocks -> int64 (n, channels) counts.

    `content` is `payload[offset:]` when `payload` (the whole notification) is given: every DecodeError
    then carries the notification and the offset in it, not an offset into the content."""
    if payload is None:
        payload, offset = content, 0
    reader = ByteReader(payload, protocol=PROTOCOL, offset=offset)
    ref_bytes = math.ceil(resolution_bits / 8)
    ref_raw = reader.take(ref_bytes * channels, "reference sample")
    reference = np.array(
        [int.from_bytes(ref_raw[i * ref_bytes : (i + 1) * ref_bytes], "little", signed=True) for i in range(channels)],
        dtype=np.int64,
    )
    blocks = [reference[np.newaxis, :]]
    while reader.remaining:
        block_offset = reader.offset
        width = reader.u8("delta bit width")
        count = reader.u8("delta sample count")
        if width > MAX_DELTA_WIDTH_BITS:
            raise reader.fail(f"delta bit width {width} exceeds {MAX_DELTA_WIDTH_BITS}", offset=block_offset)
        n_values = count * channels
        packed = reader.take(math.ceil(width * n_values / 8), "delta block")
        if width == 0 or count == 0:
            blocks.append(np.zeros((count, channels), dtype=np.int64))
            continue
        bits = np.unpackbits(np.frombuffer(packed, dtype=np.uint8), bitorder="little")[: width * n_values]
        weights = np.left_shift(np.int64(1), np.arange(width, dtype=np.int64))
        values = bits.reshape(n_values, width).astype(np.int64) @ weights
        values = np.where(values >= (1 << (width - 1)), values - (1 << width), values)
        blocks.append(values.reshape(count, channels))
    deltas = np.concatenate(blocks, axis=0)
    return np.cumsum(deltas, axis=0)


def counts_to_unit(frame: PmdFrame, *, factor: float = 1.0) -> np.ndarray:
    """Counts -> float64 (n, 3) in g (ACC) or deg/s (GYRO).

    Raw ACC frames are mG; compressed ACC type 0 is G after the factor; compressed ACC type 1 is mG times
    the factor (1.0 on the H10); compressed GYRO type 0 is deg/s after the factor.
    """
    counts = frame.counts.astype(np.float64)
    if frame.measurement_type == MeasurementType.ACC:
        if not frame.compressed:
            return counts / 1000.0
        if frame.frame_type == 0:
            return counts * float(np.float32(factor))
        return counts * float(np.float32(factor)) / 1000.0
    if frame.measurement_type == MeasurementType.GYRO:
        return counts * float(np.float32(factor))
    raise DecodeError(f"no unit conversion for measurement {frame.measurement_type}", protocol=PROTOCOL)


def milli_g_like_polar_sdk(frame: PmdFrame, *, factor: float = 1.0) -> np.ndarray:
    """ACC in integer mG exactly as polar-ble-sdk reports it (float32 arithmetic, truncated toward 0).

    Only for cross-checking against the SDK's own test vectors; the pipeline uses `counts_to_unit`.
    """
    counts = frame.counts
    if not frame.compressed:
        return counts.copy()
    scale = np.float32(factor) * np.float32(1000) if frame.frame_type == 0 else np.float32(factor)
    return np.trunc(counts.astype(np.float32) * scale).astype(np.int64)


def build_raw_frame(measurement: int, timestamp_ns: int, counts: np.ndarray, *, frame_type: int = 1) -> bytes:
    """Encode a raw ACC frame (types 0/1/2 = int8/16/24 per axis)."""
    value_bytes = _RAW_ACC_BYTES[frame_type]
    values = np.asarray(counts, dtype=np.int64).reshape(-1)
    limit = 1 << (8 * value_bytes - 1)
    if np.any(values < -limit) or np.any(values >= limit):
        raise ValueError(f"counts do not fit {8 * value_bytes}-bit values")
    if value_bytes == 3:
        u = values & 0xFFFFFF
        body = np.stack([u & 0xFF, (u >> 8) & 0xFF, (u >> 16) & 0xFF], axis=1).astype(np.uint8).tobytes()
    else:
        body = values.astype(np.dtype(f"<i{value_bytes}")).tobytes()
    return HEADER.pack(measurement, timestamp_ns, frame_type) + body


def build_delta_frame(
    measurement: int, timestamp_ns: int, counts: np.ndarray, *, frame_type: int = 0, block_samples: int = 16
) -> bytes:
    """Encode a delta-compressed frame: reference sample, then blocks of `block_samples` deltas each
    packed at the smallest width that holds them (how Polar devices pack)."""
    counts = np.asarray(counts, dtype=np.int64)
    bits = _DELTA_RESOLUTION_BITS[(MeasurementType(measurement), frame_type)]
    ref_bytes = math.ceil(bits / 8)
    out = bytearray(HEADER.pack(measurement, timestamp_ns, COMPRESSED_BIT | frame_type))
    for value in counts[0]:
        out += int(value).to_bytes(ref_bytes, "little", signed=True)
    deltas = np.diff(counts, axis=0)
    for start in range(0, deltas.shape[0], block_samples):
        block = deltas[start : start + block_samples]
        width = max(_signed_width(int(block.min())), _signed_width(int(block.max())))
        n_values = block.size
        u = (block.reshape(-1) & ((1 << width) - 1)).astype(np.int64)
        bit_matrix = ((u[:, np.newaxis] >> np.arange(width)) & 1).astype(np.uint8).reshape(-1)
        packed = np.packbits(bit_matrix, bitorder="little").tobytes()
        out += bytes((width, block.shape[0])) + packed[: math.ceil(width * n_values / 8)]
    return bytes(out)


def _signed_width(value: int) -> int:
    """Bits needed to hold `value` as two's complement (at least 1)."""
    return max(1, (value.bit_length() if value >= 0 else (-value - 1).bit_length()) + 1)
