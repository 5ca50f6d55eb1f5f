"""The capture reader and replay against damaged, truncated, bit-flipped, hostile and random files.

Property: every damaged copy of a valid capture reads exactly as the layout says (`Layout.expected`,
worked out from the format alone): the good records before the damage, in order, then `CaptureError` at
the byte offset of the part at fault (the header, or the start of the first damaged frame) with
`records_read` equal to what was yielded; a file cut at a frame boundary ends cleanly. "No error" is never
accepted where the layout says there is damage, nor an error where it says there is none.
Undecodable notifications inside a good frame are counted, never raised. Absurd length fields (a header,
frame or record claiming 4 GB) are refused without allocating what they claim.
"""

from __future__ import annotations

import json
import pathlib
import random
import struct
import tempfile
import zlib
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strideguard.sensors.capture import (
    MAGIC,
    MAX_FRAME_RAW_BYTES,
    REC_EVENT,
    REC_NOTIFY,
    REC_SAMPLES,
    REC_STREAM,
    CaptureReader,
    CaptureWriter,
    Notification,
    RecordedSamples,
    ReplayStats,
    replay,
)
from strideguard.sensors.errors import CaptureError
from strideguard.sensors.types import Placement, SampleBatch, SampleKind, StreamMeta
from tests.fuzz._support import LONG_FACTOR, fuzz_seed, fuzz_settings, mutate, peak_bytes

_HEADER = struct.Struct("<6sHI")
_FRAME = struct.Struct("<cIII")
_RECORD = struct.Struct("<BI")
ABSURD_LENGTH = 0xFFFF_FFF0  # ~4 GB
ABSURD_PEAK_BYTES = 1024 * 1024  # refusing a 4-GB claim must not cost more than this


def _valid_capture(path: pathlib.Path, vectors: dict) -> bytes:
    """A small capture with every record type, several frames, real BLE notifications."""
    with CaptureWriter(path, meta={"note": "fuzz seed"}) as writer:
        pmd = writer.add_stream(
            runner="ann",
            device="h10",
            placement=Placement.CHEST,
            source="pmd_data",
            rate_hz=200.0,
            meta=StreamMeta(acc_rate_hz=200.0, gyro_rate_hz=52.0),
        )
        heart = writer.add_stream(runner="ann", device="h10", placement=Placement.CHEST, source="hrm")
        samples = writer.add_stream(
            runner="bob", device="csv", placement=Placement.SACRUM, source="samples", rate_hz=100.0, kind=SampleKind.ACC
        )
        t_ns = 1_700_000_000 * 10**9
        for i, vector in enumerate(v for v in vectors["polar_pmd"]):
            writer.write_notification(pmd, t_ns + i * 10**8, bytes.fromhex(vector["hex"]))
        writer.flush()
        for vector in (v for v in vectors["sig"] if v["name"].startswith("hrm")):
            writer.write_notification(heart, t_ns, bytes.fromhex(vector["hex"]))
        writer.write_event(t_ns, "link_lost", device="h10")
        writer.flush()
        times = t_ns + np.arange(50, dtype=np.int64) * 10_000_000
        writer.write_samples(
            samples,
            SampleBatch(
                runner="bob",
                device="csv",
                placement=Placement.SACRUM,
                kind=SampleKind.ACC,
                rate_hz=100.0,
                t_ns=times,
                values=np.ones((50, 3), dtype=np.float32),
            ),
        )
    return path.read_bytes()


@pytest.fixture()
def valid(tmp_path: pathlib.Path, ble_vectors: dict) -> bytes:
    return _valid_capture(tmp_path / "valid.sgcap", ble_vectors)


def _read_all(path: pathlib.Path) -> int:
    """Everything the reader and the replay give; only CaptureError may escape (the caller checks)."""
    records = sum(1 for _ in CaptureReader(path))
    stats = ReplayStats()
    items = sum(1 for _ in replay(path, stats))
    return records + items


# -- the expected outcome, worked out from the layout alone (module docstring of sensors/capture.py) -----


@dataclass(frozen=True)
class Layout:
    """Where a well-formed capture's parts lie: the first frame's offset and each frame's (start, end,
    number of records), found by walking the bytes with the layout, not with the code under test."""

    data_offset: int
    frames: tuple[tuple[int, int, int], ...]

    @classmethod
    def of(cls, data: bytes) -> Layout:
        (n,) = struct.unpack_from("<I", data, 8)
        pos = data_offset = _HEADER.size + n + 4
        frames = []
        while pos < len(data):
            _tag, packed_len, _raw_len, _crc = _FRAME.unpack_from(data, pos)
            raw = zlib.decompress(data[pos + _FRAME.size : pos + _FRAME.size + packed_len])
            count = at = 0
            while at < len(raw):
                at += _RECORD.size + _RECORD.unpack_from(raw, at)[1]
                count += 1
            frames.append((pos, pos + _FRAME.size + packed_len, count))
            pos = frames[-1][1]
        return cls(data_offset, tuple(frames))

    def expected(self, valid: bytes, data: bytes) -> tuple[int | None, int]:
        """(offset of the CaptureError, or None for a clean end; records read before it) for `data`, a
        damaged copy of `valid`: the header is refused where its check fails, the first frame whose bytes
        differ is refused at its start, a file cut exactly at a frame boundary ends cleanly."""
        if len(data) < _HEADER.size or data[:6] != MAGIC:
            return 0, 0
        if struct.unpack_from("<H", data, 6)[0] > 1:
            return 6, 0
        if data[8 : self.data_offset] != valid[8 : self.data_offset]:  # length, JSON or its CRC damaged
            return _HEADER.size, 0
        records = 0
        for start, end, count in self.frames:
            if len(data) == start:
                return None, records
            if data[start:end] != valid[start:end]:
                return start, records
            records += count
        end = self.frames[-1][1] if self.frames else self.data_offset
        return (None if len(data) == end else end), records


def _key(record: object) -> object:
    """A comparable form of a record (sample arrays by their bytes)."""
    if isinstance(record, RecordedSamples):
        b = record.batch
        return ("samples", record.stream_id, b.stream_key, b.rate_hz, b.t_ns.tobytes(), b.values.tobytes())
    return record


class Expect:
    """A valid capture, its layout and records: checks a damaged copy reads exactly as `Layout.expected`
    says, through the reader and through the replay."""

    def __init__(self, valid: bytes, path: pathlib.Path) -> None:
        self.valid, self.path, self.layout = valid, path, Layout.of(valid)
        path.write_bytes(valid)
        self.records = [_key(r) for r in CaptureReader(path)] if self.layout.frames else []

    def check(self, data: bytes) -> int | None:
        """Returns the offset of the error (None for a clean end)."""
        path = self.path
        path.write_bytes(data)
        offset, n_records = self.layout.expected(self.valid, data)
        where = f"expected {'a clean end' if offset is None else f'CaptureError at byte {offset}'} after "
        where += f"{n_records} records for {data[:64].hex()}... ({len(data)} bytes)"
        got: list[object] = []
        try:
            for record in CaptureReader(path):
                got.append(_key(record))
        except CaptureError as exc:
            assert (exc.offset, exc.records_read) == (offset, n_records), f"got {exc!r} at {exc.offset}: {where}"
            assert str(exc).startswith(f"{path} at byte {offset}: ") and "\n" not in str(exc)
        else:
            assert offset is None, f"read {len(got)} records and ended cleanly: {where}"
        assert got == self.records[:n_records], where  # the exact good prefix
        self._check_replay(offset)
        return offset

    def _check_replay(self, offset: int | None) -> None:
        stats = ReplayStats()
        try:
            for _ in replay(self.path, stats):
                pass
        except CaptureError as exc:
            assert exc.offset == offset and offset is not None, f"replay refused at {exc.offset}, reader at {offset}"
        else:
            assert offset is None, f"replay ended cleanly, the reader refused at byte {offset}"


_SCRATCH = pathlib.Path(tempfile.mkdtemp(prefix="sg-fuzz-capture-"))  # hypothesis examples reuse one file
_EMPTY_HEAD = b"{}"
EMPTY_CAPTURE = _HEADER.pack(MAGIC, 1, len(_EMPTY_HEAD)) + _EMPTY_HEAD + struct.pack("<I", zlib.crc32(_EMPTY_HEAD))
FIRST_FRAME_AT = len(EMPTY_CAPTURE)  # 18: where the frames of a capture with header "{}" start


@pytest.fixture()
def expect(tmp_path: pathlib.Path, valid: bytes) -> Expect:
    return Expect(valid, tmp_path / "damaged.sgcap")


def test_the_valid_capture_reads_completely(tmp_path: pathlib.Path, valid: bytes, ble_vectors: dict) -> None:
    path = tmp_path / "c.sgcap"
    path.write_bytes(valid)
    records = list(CaptureReader(path))
    pmd = [bytes.fromhex(v["hex"]) for v in ble_vectors["polar_pmd"]]
    heart = [bytes.fromhex(v["hex"]) for v in ble_vectors["sig"] if v["name"].startswith("hrm")]
    assert [type(r).__name__ for r in records] == ["StreamInfo"] * 3 + ["Notification"] * (len(pmd) + len(heart)) + [
        "CaptureEvent",
        "RecordedSamples",
    ]
    assert [r.payload for r in records if isinstance(r, Notification)] == pmd + heart
    assert [f[2] for f in Layout.of(valid).frames] == [3 + len(pmd), len(heart) + 1, 1]
    stats = ReplayStats()
    assert sum(1 for _ in replay(path, stats)) > 0 and stats.notifications == len(pmd) + len(heart)
    # hrm_invalid_rr_flag_without_data is invalid by design; two of the PMD vectors (recorded separately)
    # go back in device time after the ones before them, which the stream decoder refuses
    assert stats.decode_errors == {"h10/hrm": 1, "h10/pmd-data": 2}


def test_every_truncation_reads_the_good_part_then_raises_or_ends(expect: Expect) -> None:
    outcomes = {expect.check(expect.valid[:cut]) for cut in range(len(expect.valid))}
    frames = expect.layout.frames
    assert outcomes == {0, _HEADER.size, None} | {start for start, _, _ in frames}


def test_every_single_bit_flip_of_the_headers_is_caught(expect: Expect) -> None:
    """Bit flips in the file header and the first frame header (the payload is guarded by its CRC)."""
    n = expect.layout.data_offset + _FRAME.size
    outcomes = set()
    for byte in range(n):
        for bit in range(8):
            data = bytearray(expect.valid)
            data[byte] ^= 1 << bit
            outcomes.add(expect.check(bytes(data)))
    # version 1 -> 0 is read as the version it claims (older versions are readable)
    assert outcomes == {0, 6, _HEADER.size, expect.layout.data_offset, None}


def test_a_flipped_byte_anywhere_stops_at_its_frame(expect: Expect) -> None:
    rng = random.Random(fuzz_seed())
    for _ in range(200):
        data = bytearray(expect.valid)
        data[rng.randrange(expect.layout.data_offset, len(data))] ^= 1 << rng.randrange(8)
        assert expect.check(bytes(data)) is not None


@fuzz_settings(150)
@given(data=st.binary(max_size=2048), with_magic=st.booleans())
def test_random_files_are_refused_where_the_layout_says(data: bytes, with_magic: bool) -> None:
    """Noise is refused at byte 0 (no magic); after a valid header, at the first frame (byte 18), unless
    there is nothing after the header at all (an empty recording)."""
    expect = Expect(EMPTY_CAPTURE, _SCRATCH / "random.sgcap")
    offset = expect.check(EMPTY_CAPTURE + data if with_magic else data)
    if with_magic:
        assert offset == (FIRST_FRAME_AT if data else None)


def _record(draw: st.DrawFn) -> bytes:
    """One record with a plausible type and a hostile body: JSON of the wrong shape, short structs,
    references to undeclared streams, sample counts that lie, unknown decoders."""
    rtype = draw(st.sampled_from([REC_STREAM, REC_NOTIFY, REC_SAMPLES, REC_EVENT, 0, 9]))
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
        max_leaves=8,
    )
    stream = st.fixed_dictionaries(
        {
            "stream_id": st.integers(-2, 70000) | st.text(max_size=3),
            "runner": st.text(max_size=4),
            "device": st.text(max_size=4),
            "source": st.sampled_from(["pmd_data", "pmd_control", "hrm", "rsc", "movesense", "samples", "nope"]),
        },
        optional={
            "placement": st.sampled_from(["chest", "foot", "moon", 3]),
            "rate_hz": st.sampled_from([None, 0, -1, 100.0, "x", 1e308]),
            "kind": st.sampled_from([None, "acc", "gyro", "bad"]),
            "meta": st.dictionaries(
                st.sampled_from(["acc_rate_hz", "gyro_rate_hz", "acc_factor", "path", "reference"]),
                st.sampled_from(["", "x", "0", "-5", "nan", "/Meas/IMU6/104", "1e400"]),
            ),
        },
    )
    if rtype == REC_STREAM:
        body = json.dumps(draw(stream | json_values)).encode()
    elif rtype == REC_NOTIFY:
        body = struct.pack("<Hq", draw(st.integers(0, 5)), draw(st.integers(-(2**63), 2**63 - 1))) + draw(
            st.binary(max_size=64)
        )
    elif rtype == REC_SAMPLES:
        n = draw(st.integers(0, 8))
        claimed = draw(st.sampled_from([n, n + 1, 0xFFFFFFFF]))
        body = struct.pack("<HI", draw(st.integers(0, 5)), claimed) + draw(st.binary(min_size=20 * n, max_size=20 * n))
    elif rtype == REC_EVENT:
        body = struct.pack("<q", draw(st.integers(-(2**63), 2**63 - 1))) + json.dumps(draw(json_values)).encode()
    else:
        body = draw(st.binary(max_size=16))
    body = body[: draw(st.integers(0, len(body)))] if draw(st.integers(0, 9)) == 0 else body
    length = draw(st.sampled_from([len(body)] * 8 + [len(body) + 1, ABSURD_LENGTH]))
    return _RECORD.pack(rtype, length) + body


def _capture_of(raw: bytes) -> bytes:
    """A well-formed file and frame (magic, checksums, compression all right) around hostile records."""
    packed = zlib.compress(raw)
    return EMPTY_CAPTURE + _FRAME.pack(b"F", len(packed), len(raw), zlib.crc32(packed)) + packed


def _refused_in_the_frame(data: bytes, path: pathlib.Path) -> CaptureError:
    """Reads `data` (one frame at FIRST_FRAME_AT); it must be refused at that frame, having yielded exactly
    the records it says it read."""
    path.write_bytes(data)
    reader = CaptureReader(path)
    got = 0
    with pytest.raises(CaptureError) as info:
        for _ in reader:
            got += 1
    assert (info.value.offset, info.value.records_read) == (FIRST_FRAME_AT, got)
    assert str(info.value).startswith(f"{path} at byte {FIRST_FRAME_AT}: ")
    with pytest.raises(CaptureError) as replayed:
        for _ in replay(path):
            pass
    assert replayed.value.offset == FIRST_FRAME_AT
    return info.value


# an unknown record type: whatever the hostile records before it are, the frame cannot end cleanly
_SENTINEL = _RECORD.pack(9, 0)


@fuzz_settings(250)
@given(records=st.lists(st.composite(_record)(), min_size=1, max_size=8))
@pytest.mark.slow
def test_hostile_records_in_a_well_formed_frame_are_refused_at_that_frame(records) -> None:
    error = _refused_in_the_frame(_capture_of(b"".join(records) + _SENTINEL), _SCRATCH / "hostile.sgcap")
    assert error.records_read <= len(records)


_STREAM_0 = {"stream_id": 0, "runner": "a", "device": "h10", "source": "hrm", "placement": "chest"}
_STREAM_1 = {"stream_id": 1, "runner": "a", "device": "csv", "source": "samples", "rate_hz": 100.0, "kind": "acc"}


def _rec(rtype: int, body: bytes) -> bytes:
    return _RECORD.pack(rtype, len(body)) + body


def _samples(stream_id: int, n: int, claimed: int | None = None) -> bytes:
    times = struct.pack(f"<{n}q", *range(0, n * 10_000_000, 10_000_000))
    return _rec(REC_SAMPLES, struct.pack("<HI", stream_id, n if claimed is None else claimed) + times + bytes(12 * n))


GOOD_RECORDS = {
    "notification": _rec(REC_NOTIFY, struct.pack("<Hq", 0, 10**18) + bytes([0, 80])),
    "empty notification": _rec(REC_NOTIFY, struct.pack("<Hq", 0, -1)),
    "event": _rec(REC_EVENT, struct.pack("<q", 5) + b'{"kind": "link_lost", "device": "h10"}'),
    "samples": _samples(1, 3),
    "no samples": _samples(1, 0),
    "stream again": _rec(REC_STREAM, json.dumps(_STREAM_0).encode()),
}
# (record, what the error says): each is refused at the frame, after the records before it
BAD_RECORDS = {
    "unknown type": (_rec(0, b"x"), "unknown record type 0"),
    "undeclared stream": (_rec(REC_NOTIFY, struct.pack("<Hq", 7, 0)), "undeclared stream 7"),
    "short notification": (_rec(REC_NOTIFY, b"\0\0\0"), "unreadable record of type 2"),
    "sample count lies": (_samples(1, 2, claimed=3), "sample record of 3 samples has 46 bytes"),
    "samples of an undeclared stream": (_samples(5, 1), "unreadable record of type 3"),
    "samples without kind or rate": (_samples(0, 1), "declares no kind or rate"),
    "stream not an object": (_rec(REC_STREAM, b"[1]"), "unreadable record of type 1"),
    "stream not JSON": (_rec(REC_STREAM, b"{"), "unreadable record of type 1"),
    "unknown placement": (_rec(REC_STREAM, json.dumps({**_STREAM_0, "placement": "moon"}).encode()), "type 1"),
    "event without kind": (_rec(REC_EVENT, struct.pack("<q", 5) + b"{}"), "unreadable record of type 4"),
    "body past the frame": (_RECORD.pack(REC_EVENT, 100) + struct.pack("<q", 5), "record cut off inside a frame"),
    "header past the frame": (b"\x04\0\0", "record header cut off inside a frame"),
    "header one byte short": (b"\x04\0\0\0", "record header cut off inside a frame"),
    "samples longer than their count": (_samples(1, 3, claimed=2), "sample record of 2 samples has 66 bytes"),
}


@fuzz_settings(150)
@given(good=st.lists(st.sampled_from(sorted(GOOD_RECORDS)), max_size=6), bad=st.sampled_from(sorted(BAD_RECORDS)))
def test_good_records_then_a_bad_one_yield_exactly_the_good_ones_then_the_error(good: list[str], bad: str) -> None:
    declared = [_rec(REC_STREAM, json.dumps(d).encode()) for d in (_STREAM_0, _STREAM_1)]
    record, message = BAD_RECORDS[bad]
    data = _capture_of(b"".join(declared + [GOOD_RECORDS[g] for g in good] + [record]))
    error = _refused_in_the_frame(data, _SCRATCH / "prefix.sgcap")
    assert error.records_read == 2 + len(good) and message in str(error), str(error)


@pytest.mark.parametrize("bad", sorted(BAD_RECORDS))
def test_each_bad_record_is_refused_at_its_frame_with_its_reason(bad: str) -> None:
    record, message = BAD_RECORDS[bad]
    data = _capture_of(b"".join(_rec(REC_STREAM, json.dumps(d).encode()) for d in (_STREAM_0, _STREAM_1)) + record)
    error = _refused_in_the_frame(data, _SCRATCH / "bad.sgcap")
    assert error.records_read == 2 and message in str(error), str(error)


@pytest.mark.parametrize(("version", "readable"), [(0, True), (1, True), (2, False), (3, False), (0xFFFF, False)])
def test_only_versions_up_to_1_are_read(tmp_path: pathlib.Path, version: int, readable: bool) -> None:
    path = tmp_path / "v.sgcap"
    path.write_bytes(_HEADER.pack(MAGIC, version, 2) + EMPTY_CAPTURE[_HEADER.size :])
    if readable:
        assert list(CaptureReader(path)) == []
        return
    with pytest.raises(CaptureError, match=f"version {version} is newer") as info:
        CaptureReader(path)
    assert info.value.offset == 6


def _frame(packed: bytes, raw_len: int) -> bytes:
    return _FRAME.pack(b"F", len(packed), raw_len, zlib.crc32(packed)) + packed


def test_a_frame_whose_compressed_stream_is_cut_is_refused_even_with_a_good_crc(tmp_path: pathlib.Path) -> None:
    """Every byte inflates (the zlib end marker and checksum are missing) and the CRC matches what was
    written: still damage, at that frame."""
    raw = _rec(REC_EVENT, struct.pack("<q", 5) + b'{"kind": "note"}')
    cut = zlib.compress(raw)[:-4]
    assert zlib.decompressobj().decompress(cut) == raw
    path = tmp_path / "cut-stream.sgcap"
    path.write_bytes(EMPTY_CAPTURE + _frame(zlib.compress(raw), len(raw)) + _frame(cut, len(raw)))
    got = []
    with pytest.raises(CaptureError, match="frame length mismatch") as info:
        got.extend(CaptureReader(path))
    assert len(got) == 1 and info.value.offset == FIRST_FRAME_AT + _FRAME.size + len(zlib.compress(raw))


def test_a_frame_over_the_size_bound_is_refused_before_inflating(tmp_path: pathlib.Path) -> None:
    """A well-formed frame of MAX_FRAME_RAW_BYTES + 1 zeros (64 MB from 64 KB) is refused by its header."""
    raw_len = MAX_FRAME_RAW_BYTES + 1
    path = tmp_path / "big.sgcap"
    path.write_bytes(EMPTY_CAPTURE + _frame(zlib.compress(bytes(raw_len), 9), raw_len))
    with pytest.raises(CaptureError, match="bad frame header") as info:
        list(CaptureReader(path))
    assert info.value.offset == FIRST_FRAME_AT
    assert peak_bytes(lambda: list(CaptureReader(path))) < ABSURD_PEAK_BYTES


def test_seeded_mutation_fuzz_of_a_valid_capture(expect: Expect) -> None:
    """Truncations, overwritten, flipped, inserted and deleted bytes and appended garbage (not duplicated
    slices: a copy of a whole small frame is a valid frame): each read exactly as the layout says."""
    seed = fuzz_seed()
    print(f"fuzz capture: STRIDEGUARD_FUZZ_SEED={seed}")
    rng = random.Random(seed)
    outcomes: dict[int | None, int] = {}
    for case in range(300 * LONG_FACTOR):
        data = mutate(rng, expect.valid, ops=range(6))
        try:
            offset = expect.check(data)
        except AssertionError as exc:
            raise AssertionError(f"case {case}: {exc} (replay: STRIDEGUARD_FUZZ_SEED={seed})") from None
        outcomes[offset] = outcomes.get(offset, 0) + 1
    assert {0, _HEADER.size, expect.layout.data_offset} <= set(outcomes), outcomes  # both headers, a frame


@pytest.mark.parametrize("where", ["header_json", "frame_packed", "frame_raw", "record_body", "samples_n"])
def test_a_length_field_claiming_4_gb_is_refused_without_allocating_it(tmp_path: pathlib.Path, where: str) -> None:
    head = b"{}"
    file_header = _HEADER.pack(MAGIC, 1, len(head)) + head + struct.pack("<I", zlib.crc32(head))
    if where == "header_json":
        data = _HEADER.pack(MAGIC, 1, ABSURD_LENGTH) + head
    elif where == "frame_packed":
        data = file_header + _FRAME.pack(b"F", ABSURD_LENGTH, 10, 0) + b"x" * 100
    elif where == "frame_raw":
        packed = zlib.compress(b"")
        data = file_header + _FRAME.pack(b"F", len(packed), ABSURD_LENGTH, zlib.crc32(packed)) + packed
    elif where == "record_body":
        data = _capture_of(_RECORD.pack(REC_NOTIFY, ABSURD_LENGTH) + b"\0" * 20)
    else:
        stream = json.dumps(
            {"stream_id": 0, "runner": "a", "device": "d", "source": "samples", "rate_hz": 100, "kind": "acc"}
        ).encode()
        data = _capture_of(
            _RECORD.pack(REC_STREAM, len(stream))
            + stream
            + _RECORD.pack(REC_SAMPLES, 26)
            + struct.pack("<HI", 0, 0xFFFFFFFF)
            + bytes(20)
        )
    path = tmp_path / f"{where}.sgcap"
    path.write_bytes(data)
    with pytest.raises(CaptureError) as info:
        _read_all(path)
    # the JSON header is refused where it starts; the rest at the one frame, after the declared stream
    assert (info.value.offset, info.value.records_read) == {
        "header_json": (_HEADER.size, 0),
        "samples_n": (FIRST_FRAME_AT, 1),
    }.get(where, (FIRST_FRAME_AT, 0))
    assert peak_bytes(lambda: _read_all(path)) < ABSURD_PEAK_BYTES


def test_a_large_random_file_is_refused_in_bounded_memory(tmp_path: pathlib.Path) -> None:
    """8 MB of noise after a valid header: one frame header is read, the rest never is."""
    rng = random.Random(8)
    path = tmp_path / "noise.sgcap"
    head = b"{}"
    path.write_bytes(
        _HEADER.pack(MAGIC, 1, 2)
        + head
        + struct.pack("<I", zlib.crc32(head))
        + rng.randbytes(8 * 1024 * 1024 * min(LONG_FACTOR, 4))
    )
    with pytest.raises(CaptureError) as info:
        _read_all(path)
    assert (info.value.offset, info.value.records_read) == (FIRST_FRAME_AT, 0)
    assert peak_bytes(lambda: _read_all(path)) < ABSURD_PEAK_BYTES
