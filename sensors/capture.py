"""The capture format: what a collector received, recorded append-only and replayed through the same
decoders.

Layout (all integers little-endian)::

    header : b"SGCAP\\0" | u16 version | u32 n | n bytes of JSON metadata | u32 crc32(JSON)
    frame* : b"F" | u32 compressed_len | u32 raw_len | u32 crc32(compressed) | zlib(records)
    record : u8 type | u32 body_len | body
        STREAM  JSON {stream_id, runner, device, placement, source, characteristic, rate_hz, kind, meta}
                (meta: the stream's StreamMeta as an object of strings, StreamMeta.to_strings)
        NOTIFY  u16 stream_id | i64 t_ns | raw notification bytes (exactly as received)
        SAMPLES u16 stream_id | u32 n | i64 t_ns[n] | f32 values[n*3]   (decoded samples: imports, synthetic)
        EVENT   i64 t_ns | JSON {kind, ...}                              (link lost/restored, gaps, notes)

Version 1 throughout: the typed `StreamMeta` is converted to and from the strings every version-1
capture holds at this boundary (`StreamInfo.to_json` / `from_json`), under the same keys and number
formats, so old captures read as they always did and older readers accept new ones.

Why this shape: frames are independently compressed and checksummed and written with one `write` and
a flush, at least once a second, so a killed recorder loses at most the last second and a damaged file
replays every good frame before the damage and says at which byte it stopped. Raw notification bytes are
kept so that a better decoder can re-read old captures.
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, NoReturn

import numpy as np

from strideguard.sensors.errors import CaptureError, DecodeError
from strideguard.sensors.types import (
    NO_META,
    HeartRateReading,
    Placement,
    SampleBatch,
    SampleKind,
    StreamMeta,
    StrideReading,
)

MAGIC = b"SGCAP\x00"
VERSION = 1
SUFFIX = ".sgcap"
SAMPLES_SOURCE = "samples"  # a stream of already-decoded samples: nothing to decode on replay

_HEADER = struct.Struct("<6sHI")
_U32 = struct.Struct("<I")
_FRAME = struct.Struct("<cIII")
_RECORD = struct.Struct("<BI")
_NOTIFY = struct.Struct("<Hq")
_SAMPLES = struct.Struct("<HI")
_EVENT = struct.Struct("<q")

REC_STREAM, REC_NOTIFY, REC_SAMPLES, REC_EVENT = 1, 2, 3, 4
MAX_FRAME_RAW_BYTES = 64 * 1024 * 1024  # a frame claiming more than this is damage, not data
FLUSH_BYTES = 64 * 1024  # start a new frame once this much is buffered: damage costs at most one frame


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamInfo:
    """One recorded stream: which device, worn where, by whom, decoded how."""

    stream_id: int
    runner: str
    device: str
    placement: Placement
    source: str  # decoder name (see sensors.decoding) or "samples"
    characteristic: str | None = None
    rate_hz: float | None = None
    kind: SampleKind | None = None
    meta: StreamMeta = NO_META

    def to_json(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["placement"] = self.placement.value
        d["kind"] = self.kind.value if self.kind else None
        d["meta"] = self.meta.to_strings()
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> StreamInfo:
        """Raises ValueError (and the like) for a declaration of the wrong shape, a meta number included."""
        source = str(d["source"])
        return cls(
            stream_id=int(d["stream_id"]),
            runner=str(d["runner"]),
            device=str(d["device"]),
            placement=Placement(d.get("placement", "unknown")),
            source=source,
            characteristic=d.get("characteristic"),
            rate_hz=None if d.get("rate_hz") is None else float(d["rate_hz"]),
            kind=None if d.get("kind") is None else SampleKind(d["kind"]),
            meta=StreamMeta.from_strings(
                {str(k): str(v) for k, v in (d.get("meta") or {}).items()}, movesense=source == "movesense"
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    stream_id: int
    t_ns: int
    payload: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedSamples:
    stream_id: int
    batch: SampleBatch


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureEvent:
    """Something that happened to the recording itself: a link lost or restored, a gap, a note."""

    t_ns: int
    kind: str
    fields: dict[str, Any] = field(default_factory=dict)


Record = StreamInfo | Notification | RecordedSamples | CaptureEvent
ReplayItem = SampleBatch | HeartRateReading | StrideReading | CaptureEvent


class CaptureWriter:
    """Append-only, crash-safe writer. Use as a context manager; call `flush()` about once a second
    from the event loop (writes also flush by themselves when a second has passed)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        meta: dict[str, str] | None = None,
        flush_interval_s: float = 1.0,
        durable: bool = False,
    ) -> None:
        self.path = os.fspath(path)
        self._file: BinaryIO = open(self.path, "xb")  # noqa: SIM115  # never overwrite a recording; the writer owns the file until close()
        self._flush_interval_s = flush_interval_s
        self._durable = durable
        self._buffer = bytearray()
        self._last_flush = time.monotonic()
        self._streams: dict[int, StreamInfo] = {}
        header = json.dumps({"created_t_ns": time.time_ns(), **(meta or {})}, sort_keys=True).encode()
        self._file.write(_HEADER.pack(MAGIC, VERSION, len(header)) + header + _U32.pack(zlib.crc32(header)))
        self._file.flush()

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def streams(self) -> dict[int, StreamInfo]:
        return dict(self._streams)

    def add_stream(
        self,
        *,
        runner: str,
        device: str,
        placement: Placement | str,
        source: str,
        characteristic: str | None = None,
        rate_hz: float | None = None,
        kind: SampleKind | str | None = None,
        meta: StreamMeta = NO_META,
    ) -> int:
        """Declare a stream and return its id for the write calls."""
        stream_id = len(self._streams)
        info = StreamInfo(
            stream_id=stream_id,
            runner=runner,
            device=device,
            placement=Placement(placement),
            source=source,
            characteristic=characteristic,
            rate_hz=rate_hz,
            kind=None if kind is None else SampleKind(kind),
            meta=meta,
        )
        self._streams[stream_id] = info
        self._append(REC_STREAM, json.dumps(info.to_json(), sort_keys=True).encode())
        return stream_id

    def write_notification(self, stream_id: int, t_ns: int, payload: bytes) -> None:
        self._check_stream(stream_id)
        self._append(REC_NOTIFY, _NOTIFY.pack(stream_id, t_ns) + bytes(payload))

    def write_samples(self, stream_id: int, batch: SampleBatch) -> None:
        self._check_stream(stream_id)
        body = (
            _SAMPLES.pack(stream_id, len(batch))
            + batch.t_ns.astype("<i8").tobytes()
            + batch.values.astype("<f4").tobytes()
        )
        self._append(REC_SAMPLES, body)

    def write_event(self, t_ns: int, kind: str, **fields: Any) -> None:
        self._append(REC_EVENT, _EVENT.pack(t_ns) + json.dumps({"kind": kind, **fields}, sort_keys=True).encode())

    def flush(self) -> None:
        """Write what is buffered as one frame (no-op when empty)."""
        self._last_flush = time.monotonic()
        if not self._buffer:
            return
        raw = bytes(self._buffer)
        self._buffer.clear()
        packed = zlib.compress(raw, 6)
        self._file.write(_FRAME.pack(b"F", len(packed), len(raw), zlib.crc32(packed)) + packed)
        self._file.flush()
        if self._durable:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file.closed:
            return
        self.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def _check_stream(self, stream_id: int) -> None:
        if stream_id not in self._streams:
            raise ValueError(f"stream {stream_id} was not declared with add_stream")

    def _append(self, record_type: int, body: bytes) -> None:
        self._buffer += _RECORD.pack(record_type, len(body)) + body
        if len(self._buffer) >= FLUSH_BYTES or time.monotonic() - self._last_flush >= self._flush_interval_s:
            self.flush()


class CaptureReader:
    """Reads a capture: `header`, then iterate for records. Iteration stops at the first damage and
    raises CaptureError (offset and how many records were read) after yielding every good record."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.streams: dict[int, StreamInfo] = {}
        self.records_read = 0
        with open(self.path, "rb") as f:
            head = f.read(_HEADER.size)
            if len(head) < _HEADER.size or head[:6] != MAGIC:
                raise CaptureError("not a StrideGuard capture (.sgcap): wrong magic bytes", path=self.path, offset=0)
            _, version, n = _HEADER.unpack(head)
            if version > VERSION:
                raise CaptureError(
                    f"capture format version {version} is newer than this StrideGuard "
                    f"reads ({VERSION}): upgrade strideguard",
                    path=self.path,
                    offset=6,
                )
            # a damaged length must not make us allocate it: never read past the end of the file
            if n + _U32.size > os.fstat(f.fileno()).st_size - _HEADER.size:
                raise CaptureError("capture header is truncated or damaged", path=self.path, offset=_HEADER.size)
            blob = f.read(n + _U32.size)
        if len(blob) < n + _U32.size or _U32.unpack_from(blob, n)[0] != zlib.crc32(blob[:n]):
            raise CaptureError("capture header is truncated or damaged", path=self.path, offset=_HEADER.size)
        try:
            self.header: dict[str, Any] = json.loads(blob[:n])
        except ValueError as exc:
            raise CaptureError(
                f"capture header is not valid JSON ({exc})", path=self.path, offset=_HEADER.size
            ) from None
        self.version = version
        self._data_offset = _HEADER.size + n + _U32.size

    def __iter__(self) -> Iterator[Record]:
        with open(self.path, "rb") as f:
            file_bytes = os.fstat(f.fileno()).st_size
            f.seek(self._data_offset)
            offset = self._data_offset
            while True:
                head = f.read(_FRAME.size)
                if not head:
                    return
                if len(head) < _FRAME.size:
                    self._damage("file ends inside a frame header (truncated recording)", offset)
                tag, packed_len, raw_len, crc = _FRAME.unpack(head)
                if tag != b"F" or raw_len > MAX_FRAME_RAW_BYTES:
                    self._damage("bad frame header (corrupted recording)", offset)
                if packed_len > file_bytes - offset - _FRAME.size:  # checked before reading: never allocate it
                    self._damage("file ends inside a frame (truncated recording)", offset)
                packed = f.read(packed_len)
                if len(packed) < packed_len:
                    self._damage("file ends inside a frame (truncated recording)", offset)
                if zlib.crc32(packed) != crc:
                    self._damage("frame checksum mismatch (corrupted recording)", offset)
                inflater = zlib.decompressobj()
                try:  # never inflate past the declared size: a frame that lies would take any memory
                    raw = inflater.decompress(packed, raw_len + 1)
                except zlib.error:
                    self._damage("frame does not decompress (corrupted recording)", offset)
                if len(raw) != raw_len or inflater.unconsumed_tail or not inflater.eof:
                    self._damage("frame length mismatch (corrupted recording)", offset)
                yield from self._records(raw, offset)
                offset += _FRAME.size + packed_len

    def _damage(self, reason: str, offset: int) -> NoReturn:
        raise CaptureError(
            f"{reason}; replayed {self.records_read} records before it",
            path=self.path,
            offset=offset,
            records_read=self.records_read,
        )

    def _records(self, raw: bytes, frame_offset: int) -> Iterator[Record]:
        pos = 0
        while pos < len(raw):
            if pos + _RECORD.size > len(raw):
                self._damage("record header cut off inside a frame", frame_offset)
            rtype, n = _RECORD.unpack_from(raw, pos)
            pos += _RECORD.size
            body = raw[pos : pos + n]
            if len(body) < n:
                self._damage("record cut off inside a frame", frame_offset)
            pos += n
            try:
                record = self._parse(rtype, body)
            except (
                ValueError,
                KeyError,
                TypeError,
                AttributeError,
                struct.error,
            ) as exc:  # JSON of the wrong shape too
                self._damage(f"unreadable record of type {rtype} ({exc})", frame_offset)
            if isinstance(record, StreamInfo):
                self.streams[record.stream_id] = record
            self.records_read += 1
            yield record

    def _parse(self, rtype: int, body: bytes) -> Record:
        if rtype == REC_STREAM:
            return StreamInfo.from_json(json.loads(body))
        if rtype == REC_NOTIFY:
            stream_id, t_ns = _NOTIFY.unpack_from(body)
            if stream_id not in self.streams:
                raise ValueError(f"notification for undeclared stream {stream_id}")
            return Notification(stream_id=stream_id, t_ns=t_ns, payload=body[_NOTIFY.size :])
        if rtype == REC_SAMPLES:
            stream_id, n = _SAMPLES.unpack_from(body)
            if len(body) != _SAMPLES.size + n * 8 + n * 12:
                raise ValueError(f"sample record of {n} samples has {len(body)} bytes")
            t_ns = np.frombuffer(body, "<i8", n, _SAMPLES.size)
            values = np.frombuffer(body, "<f4", n * 3, _SAMPLES.size + n * 8).reshape(n, 3)
            info = self.streams[stream_id]
            if info.kind is None or info.rate_hz is None:
                raise ValueError(f"samples stream {stream_id} declares no kind or rate")
            batch = SampleBatch(
                runner=info.runner,
                device=info.device,
                placement=info.placement,
                kind=info.kind,
                rate_hz=info.rate_hz,
                t_ns=t_ns,
                values=values,
                meta=info.meta,
            )
            return RecordedSamples(stream_id=stream_id, batch=batch)
        if rtype == REC_EVENT:
            (t_ns,) = _EVENT.unpack_from(body)
            d = json.loads(body[_EVENT.size :])
            return CaptureEvent(t_ns=t_ns, kind=str(d.pop("kind")), fields=d)
        raise ValueError(f"unknown record type {rtype}")


@dataclass(slots=True)
class ReplayStats:
    """What a replay met besides samples: undecodable notifications per stream and kind of error."""

    decode_errors: dict[str, int] = field(default_factory=dict)
    notifications: int = 0


def replay(path: str | os.PathLike[str], stats: ReplayStats | None = None) -> Iterator[ReplayItem]:
    """Everything a capture holds, decoded, in recorded order.

    Raw notifications go through the same decoders the live collector uses (`sensors.decoding`);
    a notification that does not decode is counted in `stats` and skipped, as it would be live.
    """
    stats = stats if stats is not None else ReplayStats()
    reader = CaptureReader(path)
    decoders: dict[int, Any] = {}
    context = _decoder_context()  # control-point responses reach the data decoders of the same device
    for record in reader:
        if isinstance(record, RecordedSamples):
            yield record.batch
        elif isinstance(record, CaptureEvent):
            yield record
        elif isinstance(record, Notification):
            stats.notifications += 1
            decoder = decoders.get(record.stream_id)
            if decoder is None:
                info = reader.streams[record.stream_id]
                decoder = decoders[record.stream_id] = _decoder_for(info, reader.path, context)
            try:
                yield from decoder.feed(record.t_ns, record.payload)
            except DecodeError as exc:
                key = f"{reader.streams[record.stream_id].device}/{exc.protocol}"
                stats.decode_errors[key] = stats.decode_errors.get(key, 0) + 1


def _decoder_context() -> Any:
    from strideguard.sensors import decoding  # the protocol decoders; imported only when raw bytes are replayed

    return decoding.DecoderContext()


def _decoder_for(info: StreamInfo, path: str, context: Any) -> Any:
    from strideguard.sensors import decoding

    try:
        return decoding.make_decoder(
            info.source,
            runner=info.runner,
            device=info.device,
            placement=info.placement,
            rate_hz=info.rate_hz,
            meta=info.meta,
            context=context,
        )
    except (KeyError, ValueError) as exc:
        raise CaptureError(f"stream {info.stream_id} uses unknown decoder {info.source!r} ({exc})", path=path) from None


def write_batches(
    path: str | os.PathLike[str],
    batches: list[SampleBatch],
    *,
    meta: dict[str, str] | None = None,
    batch_s: float = 1.0,
) -> None:
    """Record decoded sample batches (imports, synthetic runs) as a capture, in chunks of `batch_s`."""
    with CaptureWriter(path, meta=meta) as writer:
        ids: dict[tuple[str, str, str], int] = {}
        for batch in batches:
            key = batch.stream_key
            if key not in ids:
                ids[key] = writer.add_stream(
                    runner=batch.runner,
                    device=batch.device,
                    placement=batch.placement,
                    source=SAMPLES_SOURCE,
                    rate_hz=batch.rate_hz,
                    kind=batch.kind,
                    meta=batch.meta,
                )
        # float(): numpy 1.x rounds its floats to floats (a rate may be one)
        step = max(1, round(float(batch_s * max(b.rate_hz for b in batches)))) if batches else 1
        # interleave streams chunk by chunk in time order so a replay is a plausible live order
        chunks = [(b.t_ns[i], n, b.slice(i, i + step)) for n, b in enumerate(batches) for i in range(0, len(b), step)]
        for _, _, chunk in sorted(chunks, key=lambda c: (c[0], c[1])):
            writer.write_samples(ids[chunk.stream_key], chunk)
