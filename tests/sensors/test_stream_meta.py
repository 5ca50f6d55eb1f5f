"""StreamMeta: typed stream metadata, and its text form in capture files (old captures read, old readers
accept new ones).

The capture format stays version 1: a stream declaration's meta is a JSON object of strings under the keys
recorders have always written. These tests pin that text form with literal JSON, read files written the
old way, and check the bundled sample captures round-trip exactly.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import struct
import zlib

import numpy as np
import pytest

from strideguard.sensors import capture
from strideguard.sensors.capture import CaptureReader, CaptureWriter, StreamInfo, replay
from strideguard.sensors.errors import CaptureError
from strideguard.sensors.protocols import movesense, pmd_control, pmd_data
from strideguard.sensors.protocols.pmd_control import ControlOp, MeasurementType, PmdSettings
from strideguard.sensors.types import NO_META, Placement, SampleBatch, StreamMeta

SAMPLES = pathlib.Path(capture.__file__).parent / "samples"
T0_NS = 1_700_000_000_000_000_000
FACTOR = float(np.float32(0.000244))  # what a start response's f32 factor reads as

# What the BLE collector wrote for a Verity Sense with gyro (numbers as it formatted them: rates and ranges
# with str(int), factors with repr(float)), and what that is typed.
PMD_TEXT = {
    "acc_rate_hz": "52",
    "acc_range_g": "8",
    "acc_factor": repr(FACTOR),
    "gyro_rate_hz": "52",
    "gyro_range_dps": "2000",
    "gyro_factor": "0.06103515625",
}
PMD_META = StreamMeta(
    acc_rate_hz=52.0,
    acc_range_g=8,
    acc_factor=FACTOR,
    gyro_rate_hz=52.0,
    gyro_range_dps=2000,
    gyro_factor=0.06103515625,
)
MOVESENSE_TEXT = {"path": "/Meas/IMU6/104", "reference": "1"}
MOVESENSE_META = StreamMeta(movesense_path="/Meas/IMU6/104", movesense_reference=1)
IMPORT_TEXT = {"source": "uci_dsa", "path": "/data/p1.csv", "attribution": "UCI (CC BY 4.0)", "unit": "T"}
IMPORT_META = StreamMeta(origin="uci_dsa", import_path="/data/p1.csv", attribution="UCI (CC BY 4.0)", sensor_unit="T")
SYNTHETIC_TEXT = {"source": "synthetic", "seed": "20", "frame": "mount_rotation @ trunk(x fwd, y left, z up)"}
SYNTHETIC_META = StreamMeta(
    origin="synthetic", synthetic_seed=20, coordinate_frame="mount_rotation @ trunk(x fwd, y left, z up)"
)


@pytest.mark.parametrize(
    ("text", "meta", "movesense"),
    [
        (PMD_TEXT, PMD_META, False),
        (MOVESENSE_TEXT, MOVESENSE_META, True),
        (IMPORT_TEXT, IMPORT_META, False),
        (SYNTHETIC_TEXT, SYNTHETIC_META, False),
        ({"inferred_units": "time ms, acceleration g"}, StreamMeta(inferred_units="time ms, acceleration g"), False),
        (
            {"manufacturer": "Polar", "model": "H10", "firmware": "3.1.1"},
            StreamMeta(manufacturer="Polar", model="H10", firmware="3.1.1"),
            False,
        ),
        ({}, NO_META, False),
    ],
    ids=["pmd", "movesense", "import", "synthetic", "inferred", "device", "empty"],
)
def test_the_text_form_reads_to_typed_fields_and_writes_back_the_same_strings(
    text: dict[str, str], meta: StreamMeta, movesense: bool
) -> None:
    assert StreamMeta.from_strings(text, movesense=movesense) == meta
    assert meta.to_strings() == text


def test_path_is_the_movesense_resource_of_a_movesense_stream_and_the_imported_file_otherwise() -> None:
    assert StreamMeta.from_strings({"path": "/Meas/Acc/52"}, movesense=True).movesense_path == "/Meas/Acc/52"
    imported = StreamMeta.from_strings({"path": "/Meas/Acc/52"})
    assert imported.import_path == "/Meas/Acc/52" and imported.movesense_path is None


def test_what_recorders_wrote_for_unknown_values_reads_as_unknown() -> None:
    """The collector wrote str(None) for a range the device did not report; an empty rate or factor was
    always "not given" to the decoders."""
    meta = StreamMeta.from_strings(
        {"acc_range_g": "None", "acc_rate_hz": "", "acc_factor": "", "gyro_range_dps": "None"}
    )
    assert meta == NO_META and meta.to_strings() == {}


def test_keys_this_version_does_not_know_are_kept_and_written_back() -> None:
    text = {"acc_rate_hz": "200", "note": "strap was loose", "calibration": "2026-11-01"}
    meta = StreamMeta.from_strings(text)
    assert meta.acc_rate_hz == 200.0
    assert meta.extra == (("calibration", "2026-11-01"), ("note", "strap was loose"))
    assert meta.to_strings() == text


@pytest.mark.parametrize("text", [{"acc_rate_hz": "fast"}, {"acc_factor": "x"}, {"reference": ""}, {"seed": "abc"}])
def test_a_number_that_does_not_parse_is_an_error_or_with_lenient_kept_as_text(text: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="is not a number"):
        StreamMeta.from_strings(text, movesense=True)
    meta = StreamMeta.from_strings(text, movesense=True, lenient=True)
    assert meta.extra == tuple(text.items()) and meta.to_strings() == text


def test_updated_puts_the_other_metas_known_values_over_this_ones() -> None:
    base = StreamMeta(acc_rate_hz=52.0, origin="csv", extra=(("a", "1"), ("b", "2")))
    other = StreamMeta(acc_rate_hz=104.0, attribution="x", extra=(("b", "3"),))
    assert base.updated(other) == StreamMeta(
        acc_rate_hz=104.0, origin="csv", attribution="x", extra=(("a", "1"), ("b", "3"))
    )
    assert base.updated(NO_META) == base


def test_a_sample_batch_takes_only_a_stream_meta() -> None:
    fields = {"runner": "r", "device": "d", "placement": "chest", "kind": "acc", "rate_hz": 1.0, "t_ns": [1]}
    assert SampleBatch(**fields, values=[[0, 0, 1]]).meta is NO_META
    with pytest.raises(TypeError, match="StreamMeta"):
        SampleBatch(**fields, values=[[0, 0, 1]], meta={"acc_factor": "1.0"})


# -- the capture boundary -----------------------------------------------------------------------------------


def _raw_stream_declarations(path: pathlib.Path) -> list[dict]:
    """The STREAM records' JSON exactly as stored, parsed from the bytes (the layout in sensors.capture)."""
    data = path.read_bytes()
    (n,) = struct.unpack_from("<I", data, 8)
    pos, out = 12 + n + 4, []
    while pos < len(data):
        _, packed_len, _, _ = struct.unpack_from("<cIII", data, pos)
        raw = zlib.decompress(data[pos + 13 : pos + 13 + packed_len])
        pos += 13 + packed_len
        at = 0
        while at < len(raw):
            rtype, body_len = struct.unpack_from("<BI", raw, at)
            body = raw[at + 5 : at + 5 + body_len]
            at += 5 + body_len
            if rtype == capture.REC_STREAM:
                out.append(json.loads(body))
    return out


def test_new_captures_store_meta_as_the_strings_old_readers_know(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "new.sgcap"
    with CaptureWriter(path) as writer:
        writer.add_stream(runner="ann", device="vs", placement="chest", source="pmd_data", rate_hz=52.0, meta=PMD_META)
        writer.add_stream(runner="ann", device="ms", placement="shank", source="movesense", meta=MOVESENSE_META)
        writer.add_stream(
            runner="ann", device="t", placement="chest", source="samples", rate_hz=25.0, kind="acc", meta=IMPORT_META
        )
    assert [d["meta"] for d in _raw_stream_declarations(path)] == [PMD_TEXT, MOVESENSE_TEXT, IMPORT_TEXT]
    assert [s.meta for s in CaptureReader(path) if isinstance(s, StreamInfo)] == [PMD_META, MOVESENSE_META, IMPORT_META]


def _old_capture(path: pathlib.Path, declarations: list[dict], notifications: list[tuple[int, int, bytes]]) -> None:
    """A capture byte for byte as the version-1 writer made it before StreamMeta (meta as JSON strings)."""
    header = json.dumps({"created_t_ns": T0_NS}, sort_keys=True).encode()
    raw = b""
    for d in declarations:
        body = json.dumps(d, sort_keys=True).encode()
        raw += struct.pack("<BI", capture.REC_STREAM, len(body)) + body
    for stream_id, t_ns, payload in notifications:
        body = struct.pack("<Hq", stream_id, t_ns) + payload
        raw += struct.pack("<BI", capture.REC_NOTIFY, len(body)) + body
    packed = zlib.compress(raw, 6)
    path.write_bytes(
        struct.pack("<6sHI", capture.MAGIC, 1, len(header))
        + header
        + struct.pack("<I", zlib.crc32(header))
        + struct.pack("<cIII", b"F", len(packed), len(raw), zlib.crc32(packed))
        + packed
    )


def _declaration(stream_id: int, source: str, meta: dict[str, str], **kw) -> dict:
    return {
        "stream_id": stream_id,
        "runner": "ann",
        "device": kw.pop("device", "vs"),
        "placement": "chest",
        "source": source,
        "characteristic": None,
        "rate_hz": kw.pop("rate_hz", None),
        "kind": None,
        "meta": meta,
    }


def test_an_old_capture_replays_with_its_string_meta_as_the_decoders_need_it(tmp_path: pathlib.Path) -> None:
    """The factor and rates of a PMD stream and the subscription of a Movesense stream come from the
    string meta (no control-point record here), as they did before the meta was typed."""
    counts = np.array([[1000, -2000, 4096]] * 4)
    acc_frame = pmd_data.build_delta_frame(MeasurementType.ACC, 10**15, counts, frame_type=0)
    gyro_frame = pmd_data.build_delta_frame(MeasurementType.GYRO, 10**15, counts, frame_type=0)
    ms_data = movesense.build_data(1, 1000, np.tile([0.0, 0.0, 9.80665], (4, 1)), np.ones((4, 3)))
    path = tmp_path / "old.sgcap"
    old_text = {**PMD_TEXT, "acc_range_g": "None"}  # as written for a device that reported no range
    _old_capture(
        path,
        [
            _declaration(0, "pmd_data", old_text, rate_hz=52.0),
            _declaration(1, "movesense", MOVESENSE_TEXT, device="ms"),
        ],
        [(0, T0_NS, acc_frame), (0, T0_NS + 1, gyro_frame), (1, T0_NS + 2, ms_data)],
    )
    streams = [s for s in CaptureReader(path) if isinstance(s, StreamInfo)]
    assert [s.meta for s in streams] == [dataclasses.replace(PMD_META, acc_range_g=None), MOVESENSE_META]
    acc, gyro, ms_acc, ms_gyro = list(replay(path))
    np.testing.assert_allclose(acc.values, counts * FACTOR)  # the meta's factor, no start response recorded
    np.testing.assert_allclose(gyro.values, counts * np.float32(0.06103515625))
    assert gyro.rate_hz == 52.0 and ms_acc.rate_hz == 104.0
    np.testing.assert_allclose(ms_acc.values[:, 2], 1.0, rtol=1e-6)
    assert acc.meta == streams[0].meta and ms_gyro.meta == MOVESENSE_META


def test_a_stream_declaration_whose_meta_number_does_not_parse_is_damage(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "bad.sgcap"
    _old_capture(path, [_declaration(0, "pmd_data", {"acc_factor": "x"}, rate_hz=52.0)], [])
    with pytest.raises(CaptureError, match="unreadable record") as info:
        list(CaptureReader(path))
    assert info.value.records_read == 0


@pytest.mark.parametrize("name", ["fatigue_run", "uci_treadmill_p1"])
def test_the_bundled_captures_meta_reads_typed_and_writes_back_byte_for_byte(name: str) -> None:
    path = SAMPLES / f"{name}.sgcap"
    raw = _raw_stream_declarations(path)
    streams = [s for s in CaptureReader(path) if isinstance(s, StreamInfo)]
    assert [s.to_json() for s in streams] == raw
    assert [json.dumps(s.to_json(), sort_keys=True) for s in streams] == [json.dumps(d, sort_keys=True) for d in raw]
    if name == "fatigue_run":
        assert streams[0].meta == SYNTHETIC_META
    else:
        assert {s.meta.origin for s in streams} == {"uci_dsa"} and {s.meta.sensor_unit for s in streams} == {"T"}
        assert all(s.meta.import_path and s.meta.import_path.endswith(".csv") for s in streams)


def test_a_pmd_session_factor_still_wins_over_the_meta(tmp_path: pathlib.Path) -> None:
    """With the control point recorded, the start response's factor is used (the meta is the fallback)."""
    counts = np.array([[1000, -2000, 4096]] * 4)
    start = pmd_control.build_response(
        ControlOp.START, MeasurementType.ACC, 0, pmd_control.encode_settings(PmdSettings(factor=(0.5,)))
    )
    path = tmp_path / "session.sgcap"
    _old_capture(
        path,
        [_declaration(0, "pmd_control", {}), _declaration(1, "pmd_data", {"acc_factor": repr(FACTOR)}, rate_hz=52.0)],
        [
            (0, T0_NS, start),
            (1, T0_NS + 1, pmd_data.build_delta_frame(MeasurementType.ACC, 10**15, counts, frame_type=0)),
        ],
    )
    (batch,) = list(replay(path))
    np.testing.assert_allclose(batch.values, counts * 0.5)
    assert batch.meta.acc_factor == FACTOR and batch.meta.to_strings() == {"acc_factor": repr(FACTOR)}
    assert Placement(batch.placement) is Placement.CHEST
