"""The one error tree of the `stream` package (the asyncio shell and its adapters)."""

from __future__ import annotations


class StreamError(Exception):
    """Base of every error raised by `stream`."""


class SinkError(StreamError):
    """A sink (SQLite, InfluxDB, MQTT, webhook) failed; `sink` names it, `endpoint` says where."""

    def __init__(self, message: str, *, sink: str, endpoint: str | None = None):
        super().__init__(message)
        self.sink = sink
        self.endpoint = endpoint

    def __str__(self) -> str:
        where = f" ({self.endpoint})" if self.endpoint else ""
        return f"{self.sink}{where}: {self.args[0]}"


class UsageError(StreamError):
    """The user asked for something that cannot be done (unknown session, bad option combination)."""
