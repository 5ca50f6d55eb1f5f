"""The capture format: round trip, crash safety, and damage that is reported, not swallowed."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from strideguard.sensors.capture import (
    CaptureEvent,
    CaptureReader,
    CaptureWriter,
    Notification,
    RecordedSamples,
    StreamInfo,
    replay,
    write_batches,
)
from strideguard.sensors.errors import CaptureError
from strideguard.sensors.types import Placement, SampleBatch, SampleKind

T0_NS = 1_700_000_000_000_000_000


def make_batch(
    n: int, *, rate_hz: float = 100.0, runner: str = "anna", kind: str = "acc", seed: int = 0
) -> SampleBatch:
    rng = np.random.default_rng(seed)
    t_ns = T0_NS + (np.arange(n) * (1e9 / rate_hz)).astype(np.int64)
    return SampleBatch(
        runner=runner,
        device="sim-h10",
        placement=Placement.CHEST,
        kind=SampleKind(kind),
        rate_hz=rate_hz,
        t_ns=t_ns,
        values=rng.normal(size=(n, 3)).astype(np.float32),
    )


def test_round_trip_keeps_samples_notifications_events_and_metadata(tmp_path):
    path = tmp_path / "run.sgcap"
    batch = make_batch(500)
    with CaptureWriter(path, meta={"attribution": "test"}) as w:
        sid = w.add_stream(
            runner="anna", device="sim-h10", placement="chest", source="samples", rate_hz=100.0, kind="acc"
        )
        raw = w.add_stream(
            runner="anna",
            device="h10-raw",
            placement="chest",
            source="pmd_data",
            characteristic="fb005c82-02e7-f387-1cad-8acd2d8df0c8",
        )
        w.write_samples(sid, batch.slice(0, 200))
        w.write_notification(raw, T0_NS + 5, b"\x02\x00\xff")
        w.write_event(T0_NS + 6, "link_lost", device="h10-raw")
        w.write_samples(sid, batch.slice(200, 500))
    reader = CaptureReader(path)
    records = list(reader)
    assert reader.header["attribution"] == "test"
    assert isinstance(records[0], StreamInfo) and records[0].placement is Placement.CHEST
    assert records[2] == RecordedSamples(stream_id=0, batch=batch.slice(0, 200))
    assert records[3] == Notification(stream_id=1, t_ns=T0_NS + 5, payload=b"\x02\x00\xff")
    assert records[4] == CaptureEvent(t_ns=T0_NS + 6, kind="link_lost", fields={"device": "h10-raw"})
    assert records[5] == RecordedSamples(stream_id=0, batch=batch.slice(200, 500))


def test_write_batches_interleaves_streams_in_time_order_and_replays_identically(tmp_path):
    acc, gyro = make_batch(1000, seed=1), make_batch(1000, kind="gyro", seed=2)
    path = tmp_path / "two.sgcap"
    write_batches(path, [acc, gyro], batch_s=1.0)
    items = list(replay(path))
    assert [b.kind.value for b in items[:4]] == ["acc", "gyro", "acc", "gyro"]
    got_acc = [b for b in items if b.kind is SampleKind.ACC]
    assert np.array_equal(np.concatenate([b.values for b in got_acc]), acc.values)
    assert np.array_equal(np.concatenate([b.t_ns for b in got_acc]), acc.t_ns)


def test_never_overwrites_an_existing_recording(tmp_path):
    path = tmp_path / "x.sgcap"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        CaptureWriter(path)
    assert path.read_bytes() == b"precious"


def frames_file(tmp_path, n_frames: int = 5) -> tuple[str, list[int]]:
    """A capture with one sample record per frame; returns the path and each frame's end offset."""
    path = str(tmp_path / "frames.sgcap")
    batch = make_batch(100 * n_frames)
    ends = []
    with CaptureWriter(path) as w:
        sid = w.add_stream(runner="anna", device="d", placement="chest", source="samples", rate_hz=100.0, kind="acc")
        w.flush()
        for i in range(n_frames):
            w.write_samples(sid, batch.slice(100 * i, 100 * (i + 1)))
            w.flush()
            ends.append(os.path.getsize(path))
    return path, ends


@pytest.mark.parametrize("cut", [1, 7, 20])
def test_truncated_file_replays_every_complete_frame_then_says_where(tmp_path, cut):
    path, ends = frames_file(tmp_path)
    with open(path, "r+b") as f:
        f.truncate(ends[2] + cut)  # frames 0..2 complete, frame 3 cut
    got = []
    with pytest.raises(CaptureError) as info:
        for item in replay(path):
            got.append(item)
    assert len(got) == 3 and sum(len(b) for b in got) == 300
    assert info.value.offset == ends[2]
    assert "truncated" in str(info.value) and str(ends[2]) in str(info.value)
    assert "\n" not in str(info.value)


def test_flipped_byte_is_caught_by_the_checksum(tmp_path):
    path, ends = frames_file(tmp_path)
    data = bytearray(pathlib.Path(path).read_bytes())
    data[ends[1] + 30] ^= 0xFF  # inside frame 2's compressed body
    pathlib.Path(path).write_bytes(bytes(data))
    got = []
    with pytest.raises(CaptureError, match="checksum") as info:
        got.extend(replay(path))
    assert len(got) == 2 and info.value.offset == ends[1]


def test_a_frame_that_lies_about_its_size_is_damage_without_inflating_it(tmp_path):
    """A 1-KiB frame that inflates to 60 MB while declaring 100 bytes: refused at that frame, having
    inflated at most what it declared (it used to inflate everything before the length check)."""
    import struct
    import tracemalloc
    import zlib

    path, ends = frames_file(tmp_path, n_frames=2)
    bomb = zlib.compress(b"\0" * 60_000_000, 9)
    with open(path, "ab") as f:
        f.write(struct.pack("<cIII", b"F", len(bomb), 100, zlib.crc32(bomb)) + bomb)
    got = []
    tracemalloc.start()
    with pytest.raises(CaptureError, match="frame length mismatch") as info:
        got.extend(replay(path))
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(got) == 2 and info.value.offset == ends[-1]
    assert peak_bytes < 5_000_000, peak_bytes


@pytest.mark.parametrize("content", [b"", b"t,ax,ay,az\n0,0,0,1\n", b"SGCAP\x00\x09\x00" + b"\x00" * 8])
def test_not_a_capture_or_a_newer_version_is_one_clear_error(tmp_path, content):
    path = tmp_path / "bad.sgcap"
    path.write_bytes(content)
    with pytest.raises(CaptureError) as info:
        list(replay(path))
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_killed_recorder_loses_at_most_the_last_second(tmp_path):
    """A recorder killed with SIGKILL keeps everything but the frame it had not flushed yet."""
    path = tmp_path / "killed.sgcap"
    script = textwrap.dedent(f"""
        import sys, time, numpy as np
        from strideguard.sensors.capture import CaptureWriter
        from strideguard.sensors.types import SampleBatch
        w = CaptureWriter({str(path)!r}, flush_interval_s=1.0)
        sid = w.add_stream(runner="r", device="d", placement="chest", source="samples", rate_hz=100.0, kind="acc")
        print("ready", flush=True)
        while True:
            t = time.time_ns()
            w.write_samples(sid, SampleBatch(runner="r", device="d", placement="chest", kind="acc", rate_hz=100.0,
                                             t_ns=np.array([t]), values=np.zeros((1, 3))))
            time.sleep(0.01)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=os.getcwd())
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(2.5)
    killed_ns = time.time_ns()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    last_ns = max(int(b.t_ns[-1]) for b in replay(path))
    assert (killed_ns - last_ns) / 1e9 <= 1.5  # flush interval 1 s, plus scheduling slack
