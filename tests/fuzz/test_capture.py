"""The capture reader and replay against damaged, truncated, bit-flipped, hostile and random files.

Property: `CaptureReader` and `replay` yield records and then either stop or raise `CaptureError`;
undecodable notifications inside a good frame are counted, never raised. Absurd length fields (a header,
frame or record claiming 4 GB) are refused without allocating what they claim.
"""

from __future__ import annotations

import json
import pathlib
import random
import struct
import tempfile
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strideguard.sensors.capture import (
    MAGIC,
    REC_EVENT,
    REC_NOTIFY,
    REC_SAMPLES,
    REC_STREAM,
    CaptureReader,
    CaptureWriter,
    ReplayStats,
    replay,
)
from strideguard.sensors.errors import CaptureError
from strideguard.sensors.types import Placement, SampleBatch, SampleKind, StreamMeta
from tests.fuzz._support import LONG_FACTOR, fuzz_settings, mutation_fuzz, peak_bytes

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


_SCRATCH = pathlib.Path(tempfile.mkdtemp(prefix="sg-fuzz-capture-"))  # hypothesis examples reuse one file


def _check(path: pathlib.Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        _read_all(path)
    except CaptureError as exc:
        assert str(exc).startswith(str(path))


def test_the_valid_capture_reads_completely(tmp_path: pathlib.Path, valid: bytes) -> None:
    path = tmp_path / "c.sgcap"
    path.write_bytes(valid)
    kinds = {type(r).__name__ for r in CaptureReader(path)}
    assert kinds == {"StreamInfo", "Notification", "CaptureEvent", "RecordedSamples"}
    stats = ReplayStats()
    assert sum(1 for _ in replay(path, stats)) > 0 and stats.notifications > 0


def test_every_truncation_reads_the_good_part_then_raises_or_ends(tmp_path: pathlib.Path, valid: bytes) -> None:
    path = tmp_path / "cut.sgcap"
    for cut in range(len(valid)):
        _check(path, valid[:cut])


def test_every_single_bit_flip_of_the_headers_is_caught(tmp_path: pathlib.Path, valid: bytes) -> None:
    """Bit flips in the file header and first frame header (the payload is guarded by its CRC)."""
    path = tmp_path / "flip.sgcap"
    n = len(json.dumps({"x": 0})) + 60
    for byte in range(min(len(valid), n)):
        for bit in range(8):
            data = bytearray(valid)
            data[byte] ^= 1 << bit
            _check(path, bytes(data))


@fuzz_settings(150)
@given(data=st.binary(max_size=2048), with_magic=st.booleans())
def test_random_files_are_read_or_refused_with_capture_error(data: bytes, with_magic: bool) -> None:
    path = _SCRATCH / "random.sgcap"
    if with_magic:
        data = _HEADER.pack(MAGIC, 1, 2) + b"{}" + struct.pack("<I", zlib.crc32(b"{}")) + data
    _check(path, data)


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
    return (
        _HEADER.pack(MAGIC, 1, 2)
        + b"{}"
        + struct.pack("<I", zlib.crc32(b"{}"))
        + _FRAME.pack(b"F", len(packed), len(raw), zlib.crc32(packed))
        + packed
    )


@fuzz_settings(250)
@given(records=st.lists(st.composite(_record)(), min_size=1, max_size=8))
@pytest.mark.slow
def test_hostile_records_in_a_well_formed_frame_raise_capture_error_only(records) -> None:
    _check(_SCRATCH / "hostile.sgcap", _capture_of(b"".join(records)))


def test_seeded_mutation_fuzz_of_a_valid_capture(tmp_path: pathlib.Path, valid: bytes) -> None:
    path = tmp_path / "m.sgcap"

    def parse(data: bytes) -> None:
        path.write_bytes(data)
        _read_all(path)

    _parsed, refused = mutation_fuzz("capture", [valid], parse, CaptureError, cases=300)
    assert refused > 0


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
    with pytest.raises(CaptureError):
        _read_all(path)
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
    with pytest.raises(CaptureError):
        _read_all(path)
    assert peak_bytes(lambda: _read_all(path)) < ABSURD_PEAK_BYTES
