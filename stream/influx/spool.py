"""A durable, append-only, in-order spool of line-protocol batches for when the database is away.

Layout in the spool directory: `spool.log` holds records `[magic 4 B][u32 length][u32 crc32][batch]`,
each appended and fsync'd before `append` returns; `spool.offset` holds the byte offset up to which
records have been delivered, replaced atomically (write, fsync, rename). A crash at any point loses
nothing that `append` returned for: at worst the last delivered batch is sent again, which InfluxDB
absorbs (same series + time overwrites). When everything is delivered the log is truncated to empty.

Damage costs only the damaged record, and says so: every record is checked (magic, length, CRC) before
it is handed out; a record that fails is skipped up to the next offset where a whole, valid record
starts (found by its magic, which cannot occur inside line protocol: 0xFF is never part of UTF-8), with
one log line giving the offset and the bytes skipped, counted in `damaged_records`/`damaged_bytes`. A
torn record at the end (a crash inside `append`) is cut off when the spool is reopened, also said once.
"""

from __future__ import annotations

import logging
import os
import pathlib
import struct
import zlib

from strideguard.sensors.errors import DecodeError

log = logging.getLogger(__name__)

MAGIC = b"\xffSGs"  # 0xFF never occurs in UTF-8 text, so no batch can hold a false record start
_HEADER = struct.Struct("<4sII")  # magic, body length, crc32 of the body
_LEGACY = struct.Struct("<II")  # the header before the magic (read once, to upgrade an old spool)
MAX_RECORD_BYTES = 1 << 30  # a length above this is damage, not a batch
_SCAN_CHUNK = 1 << 20  # bytes read at a time while looking for the next record after damage
PROTOCOL = "influx spool"


class Spool:
    """`append(batch)`; `peek()` -> the oldest undelivered batch or None; `commit()` once it is sent."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.log_path = self.directory / "spool.log"
        self.offset_path = self.directory / "spool.offset"
        self.damaged_records = 0  # records lost to damage (each reported on one log line)
        self.damaged_bytes = 0
        self._delivered = self._read_offset()
        self._upgrade_legacy()
        self._file = open(self.log_path, "a+b")  # noqa: SIM115 - lives as long as the spool
        self._fd = self._file.fileno()
        self._end = self._recover_end()
        self._peeked_end: int | None = None

    def _read_offset(self) -> int:
        try:
            return max(0, int(self.offset_path.read_text().strip() or 0))
        except (FileNotFoundError, ValueError):
            return 0  # everything is sent again: InfluxDB overwrites what it has

    def _upgrade_legacy(self) -> None:
        """A spool written before records had a magic (`[u32 length][u32 crc32][batch]`): its undelivered
        records are rewritten in today's format (to a new file, fsync'd, renamed over), so an upgrade
        loses nothing."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._delivered)
                if f.read(len(MAGIC)) in (MAGIC, b""):
                    return
                f.seek(self._delivered)
                tmp = self.log_path.with_suffix(".upgrade")
                n_records = 0
                with open(tmp, "wb") as out:
                    while len(header := f.read(_LEGACY.size)) == _LEGACY.size:
                        length, crc = _LEGACY.unpack(header)
                        body = f.read(length)
                        if len(body) != length or zlib.crc32(body) != crc:
                            break
                        out.write(_HEADER.pack(MAGIC, length, crc) + body)
                        n_records += 1
                    out.flush()
                    os.fsync(out.fileno())
        except FileNotFoundError:
            return
        if n_records == 0:
            tmp.unlink()
            return  # not a legacy spool: damage, which the reader reports
        os.replace(tmp, self.log_path)
        self._delivered = 0
        self._write_offset()
        log.warning("influx spool %s: %d records of an older format rewritten", self.log_path, n_records)

    # -- reading records ---------------------------------------------------------------------
    def _record_at(self, pos: int, end: int) -> bytes:
        """The batch of the record starting at `pos`; DecodeError (with the offset) if it is not whole
        and valid there."""
        header = os.pread(self._fd, _HEADER.size, pos)
        if len(header) < _HEADER.size:
            raise DecodeError(f"truncated header: {len(header)} of {_HEADER.size} bytes", protocol=PROTOCOL, offset=pos)
        magic, length, crc = _HEADER.unpack(header)
        if magic != MAGIC:
            raise DecodeError(f"no record start (magic {magic.hex()})", protocol=PROTOCOL, offset=pos)
        if length > min(MAX_RECORD_BYTES, end - pos - _HEADER.size):
            raise DecodeError(f"length {length} runs past the end", protocol=PROTOCOL, offset=pos)
        body = os.pread(self._fd, length, pos + _HEADER.size)
        if len(body) != length or zlib.crc32(body) != crc:
            raise DecodeError("checksum mismatch", protocol=PROTOCOL, offset=pos)
        return body

    def _next_record(self, pos: int, end: int) -> int | None:
        """The first offset after `pos` where a whole, valid record starts; None if there is none."""
        start = pos + 1
        while start < end:
            chunk = os.pread(self._fd, min(_SCAN_CHUNK, end - start) + len(MAGIC) - 1, start)
            i = chunk.find(MAGIC)
            while i >= 0:
                try:
                    self._record_at(start + i, end)
                    return start + i
                except DecodeError:
                    i = chunk.find(MAGIC, i + 1)
            start += _SCAN_CHUNK
        return None

    def _recover_end(self) -> int:
        """The offset after the last whole record; a torn or damaged tail is cut off (and reported).
        Damaged records before the last good one stay: `peek` skips and reports them."""
        size = os.fstat(self._fd).st_size
        pos = min(self._delivered, size)
        last_good_end = pos
        while pos < size:
            try:
                pos += _HEADER.size + len(self._record_at(pos, size))
                last_good_end = pos
            except DecodeError:
                nxt = self._next_record(pos, size)
                if nxt is None:
                    break
                pos = nxt
        if last_good_end != size:
            self.damaged_records += 1
            self.damaged_bytes += size - last_good_end
            log.warning(
                "influx spool %s: cut %d bytes of a torn or damaged record at the end (offset %d; a crash while"
                " spooling, or damage)",
                self.log_path,
                size - last_good_end,
                last_good_end,
            )
            self._file.truncate(last_good_end)
            os.fsync(self._fd)
        if self._delivered > last_good_end:
            self._delivered = last_good_end
        return last_good_end

    # -- the queue ---------------------------------------------------------------------------
    def __len__(self) -> int:
        """Bytes of undelivered records (0 when the spool is empty)."""
        return self._end - self._delivered

    @property
    def empty(self) -> bool:
        return self._end == self._delivered

    def append(self, batch: bytes) -> None:
        self._file.seek(0, os.SEEK_END)
        self._file.write(_HEADER.pack(MAGIC, len(batch), zlib.crc32(batch)) + batch)
        self._file.flush()
        os.fsync(self._fd)
        self._end += _HEADER.size + len(batch)

    def peek(self) -> bytes | None:
        """The oldest undelivered batch (None when there is none). A damaged record in the way is
        skipped, reported on one log line and counted; it is the only thing lost."""
        while not self.empty:
            try:
                body = self._record_at(self._delivered, self._end)
            except DecodeError as exc:
                nxt = self._next_record(self._delivered, self._end)
                resume = self._end if nxt is None else nxt
                self.damaged_records += 1
                self.damaged_bytes += resume - self._delivered
                log.warning(
                    "influx spool %s: damaged record at offset %d (%s): %d bytes skipped, delivery goes on at"
                    " offset %d (%d damaged so far)",
                    self.log_path,
                    self._delivered,
                    exc.args[0],
                    resume - self._delivered,
                    resume,
                    self.damaged_records,
                )
                self._advance(resume)
                continue
            self._peeked_end = self._delivered + _HEADER.size + len(body)
            return body
        return None

    def commit(self) -> None:
        """Mark the batch returned by the last `peek` as delivered."""
        if self._peeked_end is None:
            raise RuntimeError("commit() without a peek()")
        end, self._peeked_end = self._peeked_end, None
        self._advance(end)

    def _advance(self, offset: int) -> None:
        self._delivered = offset
        if self.empty:
            self._file.truncate(0)
            os.fsync(self._fd)
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
