"""sensors.decoding: notifications -> samples on the host clock, the same for live and replay."""

from __future__ import annotations

import random

import numpy as np
import pytest

from strideguard.sensors import decoding
from strideguard.sensors.errors import DecodeError
from strideguard.sensors.protocols import hrm, movesense, pmd_control, pmd_data, rsc
from strideguard.sensors.protocols.pmd_control import ControlOp, MeasurementType, PmdSettings
from strideguard.sensors.protocols.pmd_time import DeviceClockMapper
from strideguard.sensors.types import (
    NO_META,
    HeartRateReading,
    Placement,
    SampleBatch,
    SampleKind,
    StreamMeta,
    StrideReading,
)
from tests.fuzz._support import fuzz_seed

RATE_HZ = 200
PERIOD_NS = 5_000_000
HOST0_NS = 1_767_225_600_000_000_000
DEVICE0_NS = 800_000_000_000_000_000


def _frames(n_frames: int, *, per_frame: int = 36, start_sample: int = 0):
    """Raw H10 frames with device timestamps on an exact 200 Hz grid; counts = sample index."""
    for f in range(n_frames):
        idx = np.arange(start_sample + f * per_frame, start_sample + (f + 1) * per_frame)
        counts = np.stack([idx % 1000, -(idx % 500), np.full_like(idx, 1000)], axis=1)
        yield (
            int(DEVICE0_NS + idx[-1] * PERIOD_NS),
            pmd_data.build_raw_frame(MeasurementType.ACC, int(DEVICE0_NS + idx[-1] * PERIOD_NS), counts),
        )


def _pmd_decoder(**kw):
    return decoding.make_decoder(
        "pmd_data",
        runner="ann",
        device="h10",
        placement=Placement.CHEST,
        rate_hz=RATE_HZ,
        meta=kw.pop("meta", NO_META),
        **kw,
    )


def test_pmd_frames_become_continuous_acc_batches_in_g() -> None:
    decoder = _pmd_decoder()
    batches = []
    for device_ns, payload in _frames(50):
        host_rx = HOST0_NS + (device_ns - DEVICE0_NS) + 12_000_000  # 12 ms radio delay
        batches += decoder.feed(host_rx, payload)
    assert all(isinstance(b, SampleBatch) and b.kind is SampleKind.ACC and b.rate_hz == RATE_HZ for b in batches)
    t = np.concatenate([b.t_ns for b in batches])
    v = np.concatenate([b.values for b in batches])
    assert len(t) == 50 * 36
    np.testing.assert_array_equal(np.diff(t), PERIOD_NS)  # constant delay: exact grid
    assert t[-1] - (HOST0_NS + (50 * 36 - 1) * PERIOD_NS) == 12_000_000
    np.testing.assert_allclose(v[:, 2], 1.0)
    np.testing.assert_allclose(v[:40, 0], np.arange(40) / 1000, atol=1e-7)
    assert batches[0].runner == "ann" and batches[0].placement is Placement.CHEST


def test_a_timestamp_jump_restarts_the_sample_spreading_instead_of_stretching_it() -> None:
    decoder = _pmd_decoder()
    frames = list(_frames(10)) + list(_frames(5, start_sample=10 * 36 + 1000))  # 5 s later
    out = []
    for device_ns, payload in frames:
        out += decoder.feed(HOST0_NS + (device_ns - DEVICE0_NS), payload)
    t = np.concatenate([b.t_ns for b in out])
    steps = np.diff(t)
    assert sorted(set(steps.tolist()))[:1] == [PERIOD_NS]
    assert (steps > PERIOD_NS).sum() == 1  # exactly one gap, no stretched frame
    assert decoder.discontinuities_ == 1


def test_factor_reaches_the_data_decoder_through_the_session_or_the_stream_meta() -> None:
    counts = np.array([[1000, -2000, 4096]] * 4)
    frame = pmd_data.build_delta_frame(MeasurementType.ACC, DEVICE0_NS, counts, frame_type=0)
    start = pmd_control.build_response(
        ControlOp.START, MeasurementType.ACC, 0, pmd_control.encode_settings(PmdSettings(factor=(0.000244,)))
    )
    context = decoding.DecoderContext()
    control = decoding.make_decoder(
        "pmd_control", runner="ann", device="vs", placement="chest", rate_hz=None, context=context
    )
    assert control.feed(HOST0_NS, start) == []
    live = decoding.make_decoder(
        "pmd_data", runner="ann", device="vs", placement="chest", rate_hz=52, context=context
    ).feed(HOST0_NS, frame)[0]
    replayed = decoding.make_decoder(
        "pmd_data",
        runner="ann",
        device="vs",
        placement="chest",
        rate_hz=52,
        meta=StreamMeta(acc_factor=float(np.float32(0.000244))),
    ).feed(HOST0_NS, frame)[0]
    assert live == replayed
    np.testing.assert_allclose(live.values[0], counts[0] * np.float32(0.000244), rtol=1e-6)
    assert context.session("ann", "vs").starts == 1


def test_gyro_frames_on_the_same_characteristic_become_gyro_batches() -> None:
    decoder = _pmd_decoder(meta=StreamMeta(gyro_rate_hz=52.0, gyro_factor=0.5))
    counts = np.array([[10, 20, 30], [12, 22, 32]])
    (batch,) = decoder.feed(HOST0_NS, pmd_data.build_delta_frame(MeasurementType.GYRO, DEVICE0_NS, counts))
    assert batch.kind is SampleKind.GYRO and batch.rate_hz == 52
    np.testing.assert_allclose(batch.values, counts * 0.5)


def test_hrm_and_rsc_become_readings() -> None:
    (hr,) = decoding.make_decoder("hrm", runner="ann", device="h10", placement="chest", rate_hz=None).feed(
        5,
        hrm.build_hrm(
            hrm.HeartRateMeasurement(heart_rate_bpm=150, sensor_contact=True, energy_kj=None, rr_raw_1_1024s=(410,))
        ),
    )
    assert hr == HeartRateReading(
        runner="ann",
        device="h10",
        t_ns=5,
        heart_rate_bpm=150,
        rr_intervals_ms=(410 * 1000 / 1024,),
        sensor_contact=True,
    )
    (stride,) = decoding.make_decoder("rsc", runner="ann", device="pod", placement="foot", rate_hz=None).feed(
        7,
        rsc.build_rsc(
            rsc.RscMeasurement(
                speed_mps=3.5, cadence_per_min=172, stride_length_m=1.2, total_distance_m=None, running=True
            )
        ),
    )
    assert stride == StrideReading(
        runner="ann", device="pod", t_ns=7, speed_mps=3.5, cadence_spm=172, stride_length_m=1.2, is_running=True
    )


def test_movesense_imu6_gives_acc_in_g_and_gyro() -> None:
    decoder = decoding.make_decoder(
        "movesense",
        runner="ann",
        device="ms",
        placement="sacrum",
        rate_hz=None,
        meta=StreamMeta(movesense_path="/Meas/IMU6/104", movesense_reference=3),
    )
    acc = np.tile([0.0, 0.0, 9.80665], (8, 1))
    out = decoder.feed(HOST0_NS, movesense.build_data(3, 1000, acc, np.ones((8, 3))))
    assert [b.kind for b in out] == [SampleKind.ACC, SampleKind.GYRO]
    np.testing.assert_allclose(out[0].values[:, 2], 1.0, rtol=1e-6)
    assert out[0].rate_hz == 104 and len(out[0]) == 8
    assert decoder.feed(HOST0_NS + 1, movesense.build_command_result(3, 200)) == []


def test_unknown_source_and_corrupt_payloads() -> None:
    with pytest.raises(KeyError):
        decoding.make_decoder("nope", runner="a", device="d", placement="chest", rate_hz=None)
    decoder = _pmd_decoder()
    with pytest.raises(DecodeError):
        decoder.feed(HOST0_NS, b"\x02\x00")
    with pytest.raises(DecodeError, match="measurement 0"):
        decoder.feed(HOST0_NS, bytes([0]) + bytes(8) + bytes([0]) + bytes(6))


def test_clock_mapper_tracks_drift_under_jittered_delays() -> None:
    seed = fuzz_seed()
    print(f"mapper seed {seed}")
    rng = random.Random(seed)
    drift = 80e-6  # host runs 80 ppm faster than the device
    mapper = DeviceClockMapper()
    errors = []
    for k in range(20 * 60 * 5):  # 20 minutes of 5 Hz frames
        device_ns = DEVICE0_NS + k * 200_000_000
        true_host = HOST0_NS + int((device_ns - DEVICE0_NS) * (1 + drift))
        mapper.observe(device_ns, true_host + int(rng.uniform(0.005, 0.040) * 1e9))
        if k > 60 * 5:
            errors.append(int(mapper.to_host(np.array([device_ns]))[0]) - true_host)
    errors_ms = np.array(errors) / 1e6
    assert mapper.drift_ppm == pytest.approx(80, abs=3), f"seed {seed}"
    assert errors_ms.min() > 0 and errors_ms.max() < 15, f"seed {seed}"  # bias = the fastest delivery seen
    assert mapper.resyncs_ == 0


def test_clock_mapper_resyncs_after_a_device_clock_jump() -> None:
    mapper = DeviceClockMapper()
    mapper.observe(DEVICE0_NS, HOST0_NS + 10_000_000)
    mapper.observe(DEVICE0_NS - 3600 * 10**9, HOST0_NS + 10**9)  # device clock reset by an hour
    assert mapper.resyncs_ == 1
    assert int(mapper.to_host(np.array([DEVICE0_NS - 3600 * 10**9]))[0]) == HOST0_NS + 10**9


def test_duplicate_or_overtaken_frames_are_errors_and_a_clock_reset_is_not() -> None:
    decoder = _pmd_decoder()
    frames = list(_frames(4))
    for device_ns, payload in frames[:2]:
        decoder.feed(HOST0_NS + device_ns - DEVICE0_NS, payload)
    with pytest.raises(DecodeError, match="out of order"):
        decoder.feed(HOST0_NS + 10**9, frames[0][1])
    last = decoder.feed(HOST0_NS + frames[2][0] - DEVICE0_NS, frames[2][1])[0]
    np.testing.assert_array_equal(np.diff(last.t_ns), PERIOD_NS)
    # the device rebooted: its clock starts again an hour earlier; decoding carries on
    counts = np.zeros((36, 3), dtype=np.int64)
    reboot = pmd_data.build_raw_frame(MeasurementType.ACC, DEVICE0_NS - 3600 * 10**9, counts)
    (batch,) = decoder.feed(HOST0_NS + 60 * 10**9, reboot)
    assert batch.t_ns[0] > last.t_ns[-1]


def test_map_frame_slews_towards_a_better_estimate_instead_of_jumping_back() -> None:
    mapper = DeviceClockMapper(max_slew=0.05)
    out = []
    for k in range(40):
        device = DEVICE0_NS + (np.arange(36) + 36 * k) * PERIOD_NS
        delay_ns = 200_000_000 if k == 0 else 10_000_000  # the first delivery was slow
        mapper.observe(int(device[-1]), HOST0_NS + int(device[-1] - DEVICE0_NS) + delay_ns)
        out.append(mapper.map_frame(device))
    t = np.concatenate(out)
    steps = np.diff(t)
    assert steps.min() >= PERIOD_NS * 0.95 - 1 and steps.max() <= PERIOD_NS * 1.05 + 1
    assert t[-1] - (HOST0_NS + 40 * 36 * PERIOD_NS - PERIOD_NS) == 10_000_000  # converged to the fast delay
