"""A worker's durable journal of the IMU messages of one session, to rebuild runner state on restart.

Why a journal and not a checkpoint of the analyzer: the analytics are deterministic and independent of
chunking, so feeding the same samples again rebuilds exactly the same state, without every stage
having to expose a serialisable state (and without a format to migrate). The cost is re-analysis time
proportional to the session so far, which at hundreds of times real time is seconds for an hour.

File `<session>.jnl`: records `[u32 length][u32 crc32][u8 type][body]`; type `I` = an IMU message
(u16 topic length, topic, payload), type `W` = JSON watermark of outputs already published on MQTT
(so a rebuild does not publish them twice). `sync()` fsyncs; the worker acknowledges a message to the
broker only after the journal holding it is synced. A torn tail (crash inside a write) fails its CRC
and is ignored: its message was not acknowledged, so the broker delivers it again. A finished session's
journal is renamed `.done` (kept for audit; delete at will).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import struct
import zlib
from collections.abc import Iterator
from typing import Any

_RECORD = struct.Struct("<IIB")
_TOPIC_LEN = struct.Struct("<H")


def _safe_name(session_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", session_id) + "-" + format(zlib.crc32(session_id.encode()), "08x")


class Journal:
    """Append-only journal of one session. `open_existing` reads one back."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self._file = open(path, "ab")  # noqa: SIM115 - closed by close()/finish()
        self._dirty = False

    @classmethod
    def for_session(cls, directory: pathlib.Path, session_id: str) -> Journal:
        directory.mkdir(parents=True, exist_ok=True)
        return cls(directory / f"{_safe_name(session_id)}.jnl")

    def _append(self, kind: bytes, body: bytes) -> None:
        self._file.write(_RECORD.pack(len(body), zlib.crc32(kind + body), kind[0]) + body)
        self._dirty = True

    def append_message(self, topic: str, payload: bytes) -> None:
        t = topic.encode()
        self._append(b"I", _TOPIC_LEN.pack(len(t)) + t + payload)

    def append_watermark(self, watermark: dict[str, int]) -> None:
        self._append(b"W", json.dumps(watermark, separators=(",", ":")).encode())

    def sync(self) -> None:
        if self._dirty:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._dirty = False

    def finish(self) -> None:
        """The session is complete: sync and rename to `.done` so no restart rebuilds it."""
        self.sync()
        self._file.close()
        os.replace(self.path, self.path.with_suffix(".done"))

    def close(self) -> None:
        self.sync()
        self._file.close()


def is_finished(directory: pathlib.Path, session_id: str) -> bool:
    """Whether a session's journal was finished (late redeliveries for it are duplicates)."""
    return (directory / f"{_safe_name(session_id)}.done").exists()


def unfinished(directory: pathlib.Path) -> list[pathlib.Path]:
    """Journals of sessions that were not finished, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(directory.glob("*.jnl"), key=lambda p: p.stat().st_mtime)


def read_records(path: pathlib.Path) -> Iterator[tuple[str, Any]]:
    """("message", (topic, payload)) and ("watermark", dict) records up to the first damaged one."""
    data = path.read_bytes()
    pos = 0
    while pos + _RECORD.size <= len(data):
        length, crc, kind = _RECORD.unpack_from(data, pos)
        start, end = pos + _RECORD.size, pos + _RECORD.size + length
        body = data[start:end]
        if len(body) != length or zlib.crc32(bytes((kind,)) + body) != crc:
            return
        if kind == ord("I"):
            (topic_len,) = _TOPIC_LEN.unpack_from(body)
            topic = body[2 : 2 + topic_len].decode()
            yield "message", (topic, body[2 + topic_len :])
        elif kind == ord("W"):
            yield "watermark", json.loads(body)
        pos = end
