"""A durable, append-only, in-order spool of line-protocol batches for when the database is away.

Layout in the spool directory: `spool.log` holds records `[u32 length][u32 crc32][batch bytes]`, each
appended and fsync'd before `append` returns; `spool.offset` holds the byte offset up to which records
have been delivered, replaced atomically (write, fsync, rename). A crash at any point loses nothing
that `append` returned for: at worst the last delivered batch is sent again, which InfluxDB absorbs
(same series + time overwrites). A torn record at the end (a crash inside `append`) fails its CRC and is
cut off when the spool is reopened. When everything is delivered the log is truncated to empty.
"""

from __future__ import annotations

import os
import pathlib
import struct
import zlib

_RECORD = struct.Struct("<II")


class Spool:
    """`append(batch)`; `peek()` -> the oldest undelivered batch or None; `commit()` once it is sent."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.log_path = self.directory / "spool.log"
        self.offset_path = self.directory / "spool.offset"
        self._file = open(self.log_path, "a+b")  # noqa: SIM115 - lives as long as the spool
        self._delivered = self._read_offset()
        self._end = self._recover_end()
        self._peeked_end: int | None = None

    def _read_offset(self) -> int:
        try:
            return int(self.offset_path.read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _recover_end(self) -> int:
        """The offset after the last whole record; a torn tail is truncated away."""
        size = self.log_path.stat().st_size
        pos = min(self._delivered, size)
        with open(self.log_path, "rb") as f:
            f.seek(pos)
            while pos + _RECORD.size <= size:
                length, crc = _RECORD.unpack(f.read(_RECORD.size))
                body = f.read(length)
                if len(body) != length or zlib.crc32(body) != crc:
                    break
                pos += _RECORD.size + length
        if pos != size:
            self._file.truncate(pos)
            os.fsync(self._file.fileno())
        if self._delivered > pos:
            self._delivered = pos
        return pos

    def __len__(self) -> int:
        """Bytes of undelivered records (0 when the spool is empty)."""
        return self._end - self._delivered

    @property
    def empty(self) -> bool:
        return self._end == self._delivered

    def append(self, batch: bytes) -> None:
        self._file.seek(0, os.SEEK_END)
        self._file.write(_RECORD.pack(len(batch), zlib.crc32(batch)) + batch)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._end += _RECORD.size + len(batch)

    def peek(self) -> bytes | None:
        if self.empty:
            return None
        self._file.seek(self._delivered)
        length, _crc = _RECORD.unpack(self._file.read(_RECORD.size))
        body = self._file.read(length)
        self._peeked_end = self._delivered + _RECORD.size + length
        return body

    def commit(self) -> None:
        """Mark the batch returned by the last `peek` as delivered."""
        if self._peeked_end is None:
            raise RuntimeError("commit() without a peek()")
        self._delivered, self._peeked_end = self._peeked_end, None
        if self.empty:
            self._file.truncate(0)
            os.fsync(self._file.fileno())
            self._delivered = self._end = 0
        self._write_offset()

    def _write_offset(self) -> None:
        tmp = self.offset_path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            f.write(str(self._delivered))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.offset_path)

    def close(self) -> None:
        self._file.close()
