"""Every vector in data/ble_vectors.json decodes exactly as its independent decode says.

The expected values are read from the file, never copied here, so a vector added upstream is tested too.
"""

from __future__ import annotations

import pytest

from strideguard.sensors.errors import DecodeError
from strideguard.sensors.protocols import hrm, pmd_control, pmd_data, pmd_time, rsc, uuids


def _by_name(vectors: list[dict], name: str) -> dict:
    return next(v for v in vectors if v["name"] == name)


def test_every_pmd_data_vector_decodes_header_and_samples(ble_vectors: dict) -> None:
    assert ble_vectors["polar_pmd"], "no PMD data vectors found"
    for vec in ble_vectors["polar_pmd"]:
        exp = vec["expected"]
        frame = pmd_data.parse_frame(bytes.fromhex(vec["hex"]))
        assert frame.measurement_type == exp["measurement_type"], vec["name"]
        assert frame.frame_type == exp["frame_type"], vec["name"]
        assert frame.compressed == exp["compressed"], vec["name"]
        assert frame.timestamp_ns == exp["timestamp_ns"], vec["name"]
        if "n_samples" in exp:
            assert len(frame) == exp["n_samples"], vec["name"]
        if "raw_counts" in exp:
            assert frame.counts.tolist() == exp["raw_counts"], vec["name"]
        factor = vec.get("factor", 1.0)
        if "samples" in exp:
            assert exp["unit"] == "mG"
            assert pmd_data.milli_g_like_polar_sdk(frame, factor=factor).tolist() == exp["samples"], vec["name"]
        if "mG_truncated_toward_zero" in exp:
            got = pmd_data.milli_g_like_polar_sdk(frame, factor=factor).tolist()
            assert got == exp["mG_truncated_toward_zero"], vec["name"]


def test_pmd_vectors_convert_to_g_consistently_with_mg(ble_vectors: dict) -> None:
    """The pipeline's g values agree with the SDK's integer mG to within the truncation (< 1 mG)."""
    for vec in ble_vectors["polar_pmd"]:
        frame = pmd_data.parse_frame(bytes.fromhex(vec["hex"]))
        if frame.measurement_type != pmd_control.MeasurementType.ACC:
            continue
        g = pmd_data.counts_to_unit(frame, factor=vec.get("factor", 1.0))
        mg = pmd_data.milli_g_like_polar_sdk(frame, factor=vec.get("factor", 1.0))
        assert abs(g * 1000 - mg).max() < 1.0, vec["name"]


def test_pmd_sample_timestamps_follow_the_vectors(ble_vectors: dict) -> None:
    checked = 0
    for vec in ble_vectors["polar_pmd"]:
        exp = vec["expected"]
        frame = pmd_data.parse_frame(bytes.fromhex(vec["hex"]))
        previous = vec.get("previous_frame_timestamp_ns")
        if "sample_ts_ns" in exp:
            ts = pmd_time.sample_timestamps_ns(previous, frame.timestamp_ns, len(frame), None)
            assert ts.tolist() == exp["sample_ts_ns"], vec["name"]
            checked += 1
        if "first_sample_ts_ns" in exp:
            ts = pmd_time.sample_timestamps_ns(previous, frame.timestamp_ns, len(frame), None)
            assert ts[0] == exp["first_sample_ts_ns"], vec["name"]
            assert ts[-1] == frame.timestamp_ns
            checked += 1
        for key, value in exp.items():
            if key.startswith("first_sample_ts_ns_if_first_frame_at_") and key.endswith("hz"):
                rate_hz = float(key.removeprefix("first_sample_ts_ns_if_first_frame_at_").removesuffix("hz"))
                ts = pmd_time.sample_timestamps_ns(None, frame.timestamp_ns, len(frame), rate_hz)
                assert ts[0] == value, vec["name"]
                assert ts[-1] == frame.timestamp_ns
                checked += 1
    assert checked >= 3


def test_every_control_point_vector(ble_vectors: dict) -> None:
    for vec in ble_vectors["polar_pmd_control"]:
        exp = vec["expected"]
        if "settings_hex" in vec:
            settings = pmd_control.parse_settings(bytes.fromhex(vec["settings_hex"]))
        else:
            response = pmd_control.parse_response(bytes.fromhex(vec["response"]))
            assert isinstance(response, pmd_control.PmdControlResponse)
            assert response.status == exp["status"], vec["name"]
            op, measurement, _ = pmd_control.parse_request(bytes.fromhex(vec["write"]))
            assert (response.op, response.measurement_type) == (op, measurement), vec["name"]
            settings = response.settings
            if "factor_float32" in exp:
                assert response.factor == pytest.approx(exp["factor_float32"], rel=1e-6)
        for key, field in (
            ("sample_rate_hz", "sample_rate_hz"),
            ("resolution_bits", "resolution_bits"),
            ("range_g", "range"),
            ("range", "range"),
            ("channels", "channels"),
        ):
            if key in exp:
                assert list(getattr(settings, field)) == exp[key], (vec["name"], key)


def test_control_point_requests_are_built_byte_exact(ble_vectors: dict) -> None:
    """Our request builders produce the specification's write bytes (settings order as the example)."""
    for vec in ble_vectors["polar_pmd_control"]:
        if "write" not in vec:
            continue
        write = bytes.fromhex(vec["write"])
        op, measurement, selected = pmd_control.parse_request(write)
        if op == pmd_control.ControlOp.GET_SETTINGS:
            built = pmd_control.build_get_settings(measurement)
        elif op == pmd_control.ControlOp.STOP:
            built = pmd_control.build_stop(measurement)
        else:
            order = tuple(pmd_control.SettingType(write[i]) for i in _setting_offsets(write[2:], 2))
            built = pmd_control.build_start(
                measurement,
                sample_rate_hz=selected.sample_rate_hz[0],
                resolution_bits=selected.resolution_bits[0],
                range_=selected.range[0] if selected.range else None,
                channels=selected.channels[0] if selected.channels else None,
                order=order,
            )
        assert built == write, vec["name"]


def _setting_offsets(settings: bytes, base: int) -> list[int]:
    sizes = {0: 2, 1: 2, 2: 2, 3: 4, 4: 1, 5: 4}
    offsets, i = [], 0
    while i < len(settings):
        offsets.append(base + i)
        i += 2 + sizes[settings[i]] * settings[i + 1]
    return offsets


def test_rsc_vectors(ble_vectors: dict) -> None:
    vectors = [v for v in ble_vectors["sig"] if v.get("uuid") == uuids.RSC_MEASUREMENT]
    assert vectors
    for vec in vectors:
        m = rsc.parse_rsc(bytes.fromhex(vec["hex"]))
        exp = vec["expected"]
        assert m.running == exp["running"]
        assert m.speed_mps == pytest.approx(exp["speed_mps"])
        assert m.cadence_per_min == exp["cadence_per_min"]
        assert m.stride_length_m == pytest.approx(exp["stride_length_m"])
        assert m.total_distance_m == pytest.approx(exp["total_distance_m"])


def test_hrm_vectors_including_the_malformed_one(ble_vectors: dict) -> None:
    vectors = [v for v in ble_vectors["sig"] if v["name"].startswith("hrm")]
    assert len(vectors) >= 5
    for vec in vectors:
        exp = vec["expected"]
        payload = bytes.fromhex(vec["hex"])
        if "error" in exp:
            with pytest.raises(DecodeError) as info:
                hrm.parse_hrm(payload)
            assert exp["error"] in str(info.value)
            assert info.value.protocol == hrm.PROTOCOL
            continue
        m = hrm.parse_hrm(payload)
        assert m.heart_rate_bpm == exp["heart_rate_bpm"], vec["name"]
        if "sensor_contact" in exp:
            assert m.sensor_contact == exp["sensor_contact"], vec["name"]
        if "energy_kj" in exp:
            assert m.energy_kj == exp["energy_kj"], vec["name"]
        if "rr_raw_1_1024s" in exp:
            assert list(m.rr_raw_1_1024s) == exp["rr_raw_1_1024s"], vec["name"]
            assert m.rr_intervals_ms == tuple(r * 1000 / 1024 for r in exp["rr_raw_1_1024s"])
        assert hrm.parse_hrm(hrm.build_hrm(m)) == m, vec["name"]


def test_uuid_constants_match_the_vectors(ble_vectors: dict) -> None:
    for name, value in ble_vectors["uuids"].items():
        assert getattr(uuids, name.upper()) == value, name
