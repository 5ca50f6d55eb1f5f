"""A worker's durable journal of the IMU messages it accepted, to rebuild runner state on restart.

Why a journal and not a checkpoint of the analyzer: the analytics are deterministic and independent of
chunking, so feeding the same samples again rebuilds exactly the same state, without every stage
having to expose a serialisable state (and without a format to migrate). The cost is re-analysis time
proportional to the session so far, which at hundreds of times real time is seconds for an hour.

Why one log for the whole worker and not one file per session: the worker acknowledges a message to
the broker only after the journal holding it is on disk, and a group of messages drained from the socket
belongs to as many sessions as there are runners. With a file per session that is one fsync per message
at 200 runners; with one log it is one fsync per group (group commit), whatever the number of runners.

Layout: `<dir>/<n>.wal` segments, written in order, a new one at every start (so nothing is appended
behind a torn tail) and when one exceeds `segment_bytes`. Records: `[u32 length][u32 crc32][u8 type]
[body]`; type `I` = an IMU message (u16 session length, session, u16 topic length, topic, payload),
type `W` = the JSON watermark of a session's outputs already published on MQTT (`{"session", "watermark"}`,
so a rebuild does not publish them twice). `sync()` flushes and fsyncs the open segment once. A torn
tail (crash inside a write) fails its CRC and ends that segment's reading: its message was not
acknowledged, so the broker delivers it again. A finished session gets an empty marker
`<safe session name>.done` (late redeliveries for it are duplicates); a segment is deleted once every
session with a record in it is finished.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Literal

_RECORD = struct.Struct("<IIB")
_U16 = struct.Struct("<H")
SEGMENT_BYTES = 64 * 1024 * 1024  # a new segment after this many bytes, so finished data can be deleted

# What `read_records` yields: ("message", session, (topic, payload)) or ("watermark", session, watermark)
MessageRecord = tuple[Literal["message"], str, tuple[str, bytes]]
WatermarkRecord = tuple[Literal["watermark"], str, dict[str, int]]


def _safe_name(session_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", session_id) + "-" + format(zlib.crc32(session_id.encode()), "08x")


def _segment_number(path: pathlib.Path) -> int:
    return int(path.stem) if path.stem.isdigit() else -1


def segments(directory: pathlib.Path) -> list[pathlib.Path]:
    """The journal's segment files, oldest first."""
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.glob("*.wal") if p.stem.isdigit()), key=_segment_number)


@dataclass(slots=True)
class Recovered:
    """What a journal holds for its unfinished sessions (read at start, before anything is appended)."""

    watermarks: dict[str, dict[str, int]] = field(default_factory=dict)  # session -> last journaled watermark
    messages: dict[str, int] = field(default_factory=dict)  # session -> journaled IMU messages
    segments: dict[pathlib.Path, set[str]] = field(default_factory=dict)  # segment -> sessions with records


class Journal:
    """`Journal(directory)`: recover what is there (`recovered`, `replay()`), then append and `sync()`."""

    def __init__(self, directory: pathlib.Path, *, segment_bytes: int = SEGMENT_BYTES) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.syncs = 0  # fsync calls made (one per group of messages)
        self.recovered = _recover(directory)
        self._segment_sessions: dict[pathlib.Path, set[str]] = dict(self.recovered.segments)
        self._live: set[str] = set(self.recovered.messages)  # sessions with records and not finished
        existing = segments(directory)
        self._number = (_segment_number(existing[-1]) + 1) if existing else 0
        self._file = self._open_segment()
        self._dirty = False
        self._size = 0

    # -- writing ---------------------------------------------------------------------------------
    def _open_segment(self) -> BinaryIO:
        self.path = self.directory / f"{self._number:08d}.wal"
        self._segment_sessions.setdefault(self.path, set())
        return open(self.path, "ab")  # closed by close() or at rotation

    def _append(self, session_id: str, kind: bytes, body: bytes) -> None:
        record = _RECORD.pack(len(body), zlib.crc32(kind + body), kind[0]) + body
        self._file.write(record)
        self._size += len(record)
        self._dirty = True
        self._segment_sessions[self.path].add(session_id)
        self._live.add(session_id)

    def append_message(self, session_id: str, topic: str, payload: bytes) -> None:
        s, t = session_id.encode(), topic.encode()
        self._append(session_id, b"I", b"".join((_U16.pack(len(s)), s, _U16.pack(len(t)), t, payload)))

    def append_watermark(self, session_id: str, watermark: dict[str, int]) -> None:
        body = json.dumps({"session": session_id, "watermark": watermark}, separators=(",", ":")).encode()
        self._append(session_id, b"W", body)

    def sync(self) -> None:
        """Make everything appended so far durable: one flush + fsync of the open segment."""
        fd = self.write_out()
        if fd is not None:
            os.fsync(fd)
            self.syncs += 1

    def write_out(self) -> int | None:
        """The first half of `sync` for a caller that fsyncs on another thread: hand the appended records
        to the OS and return the descriptor to fsync (None: nothing new). Records appended after this
        call are not covered by that fsync. Count it with `synced()` once the fsync has returned."""
        if not self._dirty:
            return None
        self._file.flush()
        self._dirty = False
        return self._file.fileno()

    def synced(self) -> None:
        """An fsync of `write_out()`'s descriptor has returned."""
        self.syncs += 1

    def rotate_if_full(self) -> None:
        """Start a new segment once the open one has `segment_bytes` (call with no fsync in flight)."""
        if self._size < self.segment_bytes:
            return
        self.sync()
        self._file.close()
        self._number += 1
        self._size = 0
        self._file = self._open_segment()
        self._collect()

    def finish(self, session_id: str) -> None:
        """The session is complete: mark it so no restart rebuilds it, and free segments it held."""
        self.sync()
        (self.directory / f"{_safe_name(session_id)}.done").touch()
        self._live.discard(session_id)
        self._collect()

    def close(self) -> None:
        """Sync and close; the open segment goes too if every session in it is finished."""
        self.sync()
        self._file.close()
        if not self._segment_sessions.get(self.path, set()) & self._live:
            self.path.unlink(missing_ok=True)
            self._segment_sessions.pop(self.path, None)

    def _collect(self) -> None:
        """Delete closed segments whose sessions are all finished."""
        for path, sessions in list(self._segment_sessions.items()):
            if path != self.path and not sessions & self._live:
                path.unlink(missing_ok=True)
                del self._segment_sessions[path]

    # -- reading back ----------------------------------------------------------------------------
    def replay(self) -> Iterator[tuple[str, str, bytes]]:
        """(session, topic, payload) of every journaled message of an unfinished session, in the order
        they were accepted (the recovered segments only: call before appending)."""
        for path in self.recovered.segments:
            for record in read_records(path):
                if record[0] == "message" and record[1] in self.recovered.messages:
                    topic, payload = record[2]
                    yield record[1], topic, payload


def is_finished(directory: pathlib.Path, session_id: str) -> bool:
    """Whether a session was finished (late redeliveries for it are duplicates)."""
    return (directory / f"{_safe_name(session_id)}.done").exists()


def _recover(directory: pathlib.Path) -> Recovered:
    recovered = Recovered()
    finished: dict[str, bool] = {}
    for path in segments(directory):
        sessions = recovered.segments.setdefault(path, set())
        for record in read_records(path):
            session_id = record[1]
            if session_id not in finished:
                finished[session_id] = is_finished(directory, session_id)
            sessions.add(session_id)
            if finished[session_id]:
                continue
            if record[0] == "message":
                recovered.messages[session_id] = recovered.messages.get(session_id, 0) + 1
            else:
                recovered.watermarks[session_id] = record[2]
        if not sessions - {s for s, done in finished.items() if done}:
            path.unlink()  # everything in it is finished (or it is empty): nothing to keep
            del recovered.segments[path]
    return recovered


def read_records(path: pathlib.Path) -> Iterator[MessageRecord | WatermarkRecord]:
    """("message", session, (topic, payload)) and ("watermark", session, dict) records up to the first
    damaged one (a torn tail)."""
    data = path.read_bytes()
    pos = 0
    while pos + _RECORD.size <= len(data):
        length, crc, kind = _RECORD.unpack_from(data, pos)
        start, end = pos + _RECORD.size, pos + _RECORD.size + length
        body = data[start:end]
        if len(body) != length or zlib.crc32(bytes((kind,)) + body) != crc:
            return
        if kind == ord("I"):
            (session_len,) = _U16.unpack_from(body)
            session_id = body[2 : 2 + session_len].decode()
            at = 2 + session_len
            (topic_len,) = _U16.unpack_from(body, at)
            topic = body[at + 2 : at + 2 + topic_len].decode()
            yield "message", session_id, (topic, body[at + 2 + topic_len :])
        elif kind == ord("W"):
            record = json.loads(body)
            yield "watermark", record["session"], record["watermark"]
        pos = end
