"""The one error tree of the `sensors` package.

Every error a user can cause with bad input (a corrupt notification, a damaged capture, a CSV with the
wrong columns) is a `SensorError`; the message is one line that says what is wrong and what to do, and
the attributes carry the data (which protocol, which byte offset) for logs and tests.
"""

from __future__ import annotations


class SensorError(Exception):
    """Base of every error raised by `sensors`."""


class DecodeError(SensorError):
    """A payload that does not follow its protocol. Decoders never guess: they raise this."""

    def __init__(self, message: str, *, protocol: str, payload: bytes = b"", offset: int | None = None):
        super().__init__(message)
        self.protocol = protocol
        self.payload = bytes(payload)
        self.offset = offset

    def __str__(self) -> str:
        where = f" at byte {self.offset}" if self.offset is not None else ""
        return f"{self.protocol}: {self.args[0]}{where}"


class CaptureError(SensorError):
    """A capture file that cannot be read (wrong type, damaged, truncated).

    `records_read` says how much was recovered before the damage, `offset` where the damage starts.
    """

    def __init__(self, message: str, *, path: str, offset: int | None = None, records_read: int = 0):
        super().__init__(message)
        self.path = path
        self.offset = offset
        self.records_read = records_read

    def __str__(self) -> str:
        where = f" at byte {self.offset}" if self.offset is not None else ""
        return f"{self.path}{where}: {self.args[0]}"


class ImportFormatError(SensorError):
    """A file in another tool's format (CSV, ...) whose content does not match what was declared."""

    def __init__(self, message: str, *, path: str, line: int | None = None):
        super().__init__(message)
        self.path = path
        self.line = line

    def __str__(self) -> str:
        where = f", line {self.line}" if self.line is not None else ""
        return f"{self.path}{where}: {self.args[0]}"


class DeviceError(SensorError):
    """A BLE device or adapter problem: no adapter, device not found, link lost, request refused."""

    def __init__(self, message: str, *, device: str | None = None):
        super().__init__(message)
        self.device = device
