"""A bounds-checked cursor over an untrusted payload.

Every protocol module reads through this so that a short or garbled notification becomes one
`DecodeError` naming the protocol and the byte offset, never an `IndexError` or a `struct.error`.
"""

from __future__ import annotations

import struct

import numpy as np

from strideguard.sensors.errors import DecodeError

U8 = struct.Struct("<B")
U16 = struct.Struct("<H")
U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")
F32 = struct.Struct("<f")


class ByteReader:
    """Reads little-endian fields from `payload`, raising DecodeError past the end."""

    __slots__ = ("offset", "payload", "protocol")

    def __init__(self, payload: bytes, *, protocol: str, offset: int = 0) -> None:
        self.payload = bytes(payload)
        self.protocol = protocol
        self.offset = offset

    @property
    def remaining(self) -> int:
        return len(self.payload) - self.offset

    def fail(self, message: str, *, offset: int | None = None) -> DecodeError:
        """The error to raise for this payload (the caller raises it, so tracebacks point at the rule)."""
        return DecodeError(
            message, protocol=self.protocol, payload=self.payload, offset=self.offset if offset is None else offset
        )

    def take(self, n_bytes: int, what: str) -> bytes:
        if n_bytes < 0 or self.remaining < n_bytes:
            raise self.fail(f"truncated {what}: need {n_bytes} bytes, {self.remaining} left")
        start = self.offset
        self.offset += n_bytes
        return self.payload[start : self.offset]

    def unpack(self, layout: struct.Struct, what: str) -> tuple:
        if self.remaining < layout.size:
            raise self.fail(f"truncated {what}: need {layout.size} bytes, {self.remaining} left")
        values = layout.unpack_from(self.payload, self.offset)
        self.offset += layout.size
        return values

    def u8(self, what: str) -> int:
        return self.unpack(U8, what)[0]

    def u16(self, what: str) -> int:
        return self.unpack(U16, what)[0]

    def u32(self, what: str) -> int:
        return self.unpack(U32, what)[0]

    def u64(self, what: str) -> int:
        return self.unpack(U64, what)[0]

    def f32(self, what: str) -> float:
        return self.unpack(F32, what)[0]

    def array(self, dtype: str, count: int, what: str) -> np.ndarray:
        """`count` values of the explicit-endian `dtype` (e.g. "<i4") as a read-only view of the payload
        (no copy: a batch of samples is read where it lies)."""
        n_bytes = np.dtype(dtype).itemsize * count
        if count < 0 or self.remaining < n_bytes:
            raise self.fail(f"truncated {what}: need {n_bytes} bytes, {self.remaining} left")
        values = np.frombuffer(self.payload, dtype=dtype, count=count, offset=self.offset)
        self.offset += n_bytes
        return values

    def rest(self) -> bytes:
        data = self.payload[self.offset :]
        self.offset = len(self.payload)
        return data
