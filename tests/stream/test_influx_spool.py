"""The InfluxDB spool under damage: one flipped byte anywhere costs only the record it lands in, with one
log line naming the offset and a counter; the other records are delivered, in order."""

from __future__ import annotations

import logging
import pathlib
import struct
import zlib

import pytest

from strideguard.stream.influx import InfluxSink, V1Writer
from strideguard.stream.influx.spool import Spool
from tests.fixtures_services import InfluxDBService

BATCHES = [f"m,runner=r{i} v={i} {i}\n".encode() * (i + 1) for i in range(4)]


def fill(directory: pathlib.Path) -> list[tuple[int, int]]:
    """A spool holding BATCHES; returns each record's (start, end) byte offsets."""
    spool = Spool(directory)
    bounds = []
    for batch in BATCHES:
        start = spool.log_path.stat().st_size
        spool.append(batch)
        bounds.append((start, spool.log_path.stat().st_size))
    spool.close()
    return bounds


def drain(spool: Spool) -> list[bytes]:
    got = []
    while (body := spool.peek()) is not None:
        got.append(body)
        spool.commit()
    return got


def flip(path: pathlib.Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_flipped_byte_anywhere_loses_only_its_record_and_says_where(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every byte of a 4-record spool, one at a time, flipped on disk before the spool is opened (a
    restarted worker). Before: a flip in record k lost records k..3, without a log line."""
    caplog.set_level(logging.WARNING, logger="strideguard.stream.influx.spool")
    bounds = fill(tmp_path / "template")
    template = (tmp_path / "template" / "spool.log").read_bytes()
    for offset in range(len(template)):
        damaged = next(k for k, (start, end) in enumerate(bounds) if start <= offset < end)
        directory = tmp_path / f"flip-{offset}"
        directory.mkdir()
        (directory / "spool.log").write_bytes(template)
        flip(directory / "spool.log", offset)
        caplog.clear()
        spool = Spool(directory)
        got = drain(spool)
        spool.close()
        assert got == [b for k, b in enumerate(BATCHES) if k != damaged], f"flip at byte {offset}"
        assert spool.damaged_records == 1, f"flip at byte {offset}"
        lines = [r.getMessage() for r in caplog.records]
        start = bounds[damaged][0]
        assert len(lines) == 1 and f"offset {start}" in lines[0], (offset, lines)


def test_damage_while_the_spool_is_open_is_skipped_at_delivery(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="strideguard.stream.influx.spool")
    bounds = fill(tmp_path)
    spool = Spool(tmp_path)
    flip(spool.log_path, bounds[1][0] + 5)  # record 1's length field
    assert drain(spool) == [BATCHES[0], BATCHES[2], BATCHES[3]]
    assert (spool.damaged_records, spool.damaged_bytes) == (1, bounds[1][1] - bounds[1][0])
    assert [r.getMessage().split(": ", 1)[1] for r in caplog.records] == [
        f"damaged record at offset {bounds[1][0]} (length {len(BATCHES[1]) ^ 0x100} runs past the end): "
        f"{bounds[1][1] - bounds[1][0]} bytes skipped, delivery goes on at offset {bounds[2][0]} (1 damaged so far)"
    ]
    assert spool.empty and spool.log_path.stat().st_size == 0


def test_a_spool_of_the_older_format_is_upgraded_without_loss(tmp_path: pathlib.Path) -> None:
    legacy = b"".join(struct.pack("<II", len(b), zlib.crc32(b)) + b for b in BATCHES)
    (tmp_path / "spool.log").write_bytes(legacy)
    (tmp_path / "spool.offset").write_text(str(8 + len(BATCHES[0])))  # the first one was delivered
    spool = Spool(tmp_path)
    assert drain(spool) == BATCHES[1:] and spool.damaged_records == 0


@pytest.mark.services
async def test_the_sink_delivers_every_undamaged_spooled_batch(
    influxdb: InfluxDBService, tmp_path: pathlib.Path
) -> None:
    db = influxdb.create_database("spool_damage")
    bounds = fill(tmp_path)
    flip(tmp_path / "spool.log", bounds[2][1] - 3)  # inside record 2's last line
    sink = InfluxSink(writer=V1Writer(url=influxdb.url, database=db), spool_dir=tmp_path)
    await sink.start()
    await sink.close()
    assert sink.spool.damaged_records == 1 and sink.lines_written == 1 + 2 + 4
    rows = influxdb.series_rows("SELECT v FROM m GROUP BY runner", database=db)
    assert sorted(r["runner"] for r in rows) == ["r0", "r1", "r3"]
