"""Encoders and decoders are inverses (hypothesis, derandomised so CI runs are reproducible)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from strideguard.sensors.errors import DecodeError
from strideguard.sensors.protocols import alert_level, hrm, movesense, pmd_control, pmd_data, pmd_time, rsc
from strideguard.sensors.protocols.pmd_control import MeasurementType

FAST = settings(max_examples=150, derandomize=True, deadline=None)


def _counts(bits: int, max_rows: int = 60):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return hnp.arrays(np.int64, st.tuples(st.integers(1, max_rows), st.just(3)), elements=st.integers(lo, hi))


@FAST
@given(counts=_counts(16), block=st.integers(1, 40))
def test_delta_frames_round_trip(counts: np.ndarray, block: int) -> None:
    for measurement, frame_type in ((MeasurementType.ACC, 0), (MeasurementType.ACC, 1), (MeasurementType.GYRO, 0)):
        payload = pmd_data.build_delta_frame(
            measurement, 123_456_789, counts, frame_type=frame_type, block_samples=block
        )
        frame = pmd_data.parse_frame(payload)
        assert frame.compressed and frame.frame_type == frame_type and frame.measurement_type == measurement
        np.testing.assert_array_equal(frame.counts, counts)


@FAST
@given(data=st.data(), frame_type=st.sampled_from([0, 1, 2]))
def test_raw_frames_round_trip(data, frame_type: int) -> None:
    counts = data.draw(_counts(8 * (frame_type + 1)))
    frame = pmd_data.parse_frame(pmd_data.build_raw_frame(MeasurementType.ACC, 7, counts, frame_type=frame_type))
    np.testing.assert_array_equal(frame.counts, counts)
    assert not frame.compressed and frame.frame_type == frame_type


def test_delta_frame_split_anywhere_is_an_error_never_a_shorter_frame() -> None:
    counts = np.cumsum(np.ones((40, 3), dtype=np.int64) * [3, -5, 7], axis=0)
    payload = pmd_data.build_delta_frame(MeasurementType.ACC, 10**9, counts, frame_type=1, block_samples=13)
    for cut in range(len(payload)):
        try:
            frame = pmd_data.parse_frame(payload[:cut])
        except DecodeError:
            continue
        # a cut exactly at a block boundary is a valid shorter frame; it must then be a prefix
        np.testing.assert_array_equal(frame.counts, counts[: len(frame)])


@FAST
@given(
    rates=st.lists(st.integers(1, 65535), min_size=1, max_size=5),
    ranges=st.lists(st.integers(0, 65535), max_size=4),
    channels=st.lists(st.integers(0, 255), max_size=2),
    factor=st.lists(st.floats(0.0009765625, 1024.0, width=32), max_size=1),
)
def test_settings_round_trip(rates, ranges, channels, factor) -> None:
    s = pmd_control.PmdSettings(
        sample_rate_hz=tuple(rates), range=tuple(ranges), channels=tuple(channels), factor=tuple(factor)
    )
    assert pmd_control.parse_settings(pmd_control.encode_settings(s)) == s


def test_multi_packet_response_fed_whole_or_split_gives_the_same_event() -> None:
    settings_bytes = pmd_control.encode_settings(
        pmd_control.PmdSettings(sample_rate_hz=(25, 50, 100, 200), resolution_bits=(16,), range=(2, 4, 8))
    )
    whole = pmd_control.build_response(pmd_control.ControlOp.GET_SETTINGS, 2, 0, settings_bytes)
    expected = pmd_control.PmdControlDecoder().feed(whole)
    for cut in range(1, len(settings_bytes)):
        decoder = pmd_control.PmdControlDecoder()
        first = pmd_control.build_response(pmd_control.ControlOp.GET_SETTINGS, 2, 0, settings_bytes[:cut], more=True)
        last = pmd_control.build_response(pmd_control.ControlOp.GET_SETTINGS, 2, 0, settings_bytes[cut:])
        assert decoder.feed(first) == []
        assert decoder.feed(last) == expected
    # a packet of another response while one is pending is an error, and the decoder starts clean after
    decoder = pmd_control.PmdControlDecoder()
    decoder.feed(pmd_control.build_response(pmd_control.ControlOp.GET_SETTINGS, 2, 0, settings_bytes[:3], more=True))
    with pytest.raises(DecodeError):
        decoder.feed(pmd_control.build_response(pmd_control.ControlOp.START, 2, 0, b""))
    assert decoder.feed(whole) == expected


def test_unsolicited_stop_and_error_status() -> None:
    decoder = pmd_control.PmdControlDecoder()
    assert decoder.feed(bytes([0x01, 2, 5])) == [pmd_control.MeasurementStopped(measurement_types=(2, 5))]
    (response,) = decoder.feed(
        pmd_control.build_response(pmd_control.ControlOp.START, 2, pmd_control.PmdStatus.INVALID_SAMPLE_RATE)
    )
    assert not response.ok and response.status_name == "invalid_sample_rate" and response.settings is None


@FAST
@given(
    speed=st.integers(0, 65535),
    cadence=st.integers(0, 255),
    stride=st.none() | st.integers(0, 65535),
    distance=st.none() | st.integers(0, 2**32 - 1),
    running=st.booleans(),
)
def test_rsc_round_trip(speed, cadence, stride, distance, running) -> None:
    m = rsc.RscMeasurement(
        speed_mps=speed / 256,
        cadence_per_min=cadence,
        stride_length_m=None if stride is None else stride / 100,
        total_distance_m=None if distance is None else distance / 10,
        running=running,
    )
    assert rsc.parse_rsc(rsc.build_rsc(m)) == m


@FAST
@given(
    hr=st.integers(0, 65535),
    contact=st.none() | st.booleans(),
    energy=st.none() | st.integers(0, 65535),
    rr=st.lists(st.integers(0, 65535), max_size=9),
)
def test_hrm_round_trip(hr, contact, energy, rr) -> None:
    m = hrm.HeartRateMeasurement(heart_rate_bpm=hr, sensor_contact=contact, energy_kj=energy, rr_raw_1_1024s=tuple(rr))
    assert hrm.parse_hrm(hrm.build_hrm(m)) == m


def test_hrm_odd_rr_bytes_and_trailing_bytes_are_errors() -> None:
    with pytest.raises(DecodeError, match="whole number"):
        hrm.parse_hrm(bytes([0x10, 60, 1, 2, 3]))
    with pytest.raises(DecodeError, match="trailing"):
        hrm.parse_hrm(bytes([0x00, 60, 1]))


def test_movesense_subscribe_and_data() -> None:
    sub = movesense.Subscription.from_path("/Meas/IMU6/104")
    assert movesense.build_subscribe(7, sub) == b"\x01\x07Meas/IMU6/104"
    assert movesense.parse_request(movesense.build_subscribe(7, sub)) == (
        movesense.GspCommand.SUBSCRIBE,
        7,
        "Meas/IMU6/104",
    )
    acc = np.arange(24, dtype=np.float32).reshape(8, 3)
    gyro = -acc
    event = movesense.parse_notification(movesense.build_data(7, 4242, acc, gyro), {7: sub})
    assert event.timestamp_ms == 4242
    np.testing.assert_array_equal(event.acc_mps2, acc)
    np.testing.assert_array_equal(event.gyro_dps, gyro)
    with pytest.raises(DecodeError, match="not subscribed"):
        movesense.parse_notification(movesense.build_data(8, 1, acc), {7: sub})
    with pytest.raises(ValueError):
        movesense.Subscription.from_path("/Meas/Gyro/104")
    assert movesense.parse_notification(movesense.build_command_result(7, 200), {7: sub}).ok


def test_alert_level_payloads() -> None:
    assert [alert_level.build_alert_level(level) for level in alert_level.AlertLevel] == [b"\x00", b"\x01", b"\x02"]
    with pytest.raises(DecodeError):
        alert_level.parse_alert_level(b"\x03")
    with pytest.raises(ValueError):
        alert_level.build_alert_level(3)


@FAST
@given(n=st.integers(1, 80), rate=st.sampled_from([25, 50, 52, 100, 104, 200, 416]), start=st.integers(10**15, 10**18))
def test_timestamps_first_and_later_frames(n: int, rate: int, start: int) -> None:
    first = pmd_time.sample_timestamps_ns(None, start, n, rate)
    assert first[-1] == start and np.all(np.diff(first) > 0)
    period = 1e9 / rate
    assert np.all(np.abs(np.diff(first) - period) <= 256)  # float64 rounding at 1e18 ns
    later = pmd_time.sample_timestamps_ns(start, start + round(n * period), n, rate)
    assert later[-1] == start + round(n * period) and later[0] > start
