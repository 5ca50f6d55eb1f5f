"""Property-based tests of the BLE decoders (PMD data and control point, RSC, HRM, Movesense, Alert Level)
and of the stateful stream decoders built on them.

tests/sensors/protocols/test_fuzz.py already runs a seeded mutation loop over each decoder and
test_roundtrip.py checks build/parse round trips; this file adds what those do not: hypothesis-driven
arbitrary and structure-aware inputs (shrunk to a minimal failing payload), the stream decoders fed
whole sequences with arbitrary device and host clocks (output must stay valid and strictly time-ordered),
and memory bounds for large or hostile payloads.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strideguard.sensors import decoding
from strideguard.sensors.errors import DecodeError
from strideguard.sensors.protocols import alert_level, hrm, movesense, pmd_control, pmd_data, rsc, strideguard_imu
from strideguard.sensors.protocols.pmd_control import MAX_RESPONSE_BYTES, MeasurementType
from strideguard.sensors.types import HeartRateReading, Placement, SampleBatch, StreamMeta, StrideReading
from tests.fuzz import _oracles as oracles
from tests.fuzz._oracles import Refused, plain
from tests.fuzz._support import fuzz_settings, peak_bytes

_SUBS = {1: movesense.Subscription.from_path("/Meas/IMU6/104"), 2: movesense.Subscription.from_path("/Meas/Acc/52")}

PURE: dict[str, Callable[[bytes], object]] = {
    "pmd_frame": pmd_data.parse_frame,
    "pmd_control": lambda p: pmd_control.PmdControlDecoder().feed(p),
    "pmd_response": pmd_control.parse_response,
    "pmd_request": pmd_control.parse_request,
    "pmd_settings": pmd_control.parse_settings,
    "pmd_features": pmd_control.parse_features,
    "hrm": hrm.parse_hrm,
    "rsc": rsc.parse_rsc,
    "movesense_notification": lambda p: movesense.parse_notification(p, _SUBS),
    "movesense_request": movesense.parse_request,
    "alert_level": alert_level.parse_alert_level,
    "strideguard_imu": lambda p: strideguard_imu.decode_imu(p, runner="r"),
}


PROTOCOLS = {
    "pmd_frame": "pmd-data",
    "pmd_control": "pmd-control",
    "pmd_response": "pmd-control",
    "pmd_request": "pmd-control",
    "pmd_settings": "pmd-control",
    "pmd_features": "pmd-control",
    "hrm": "hrm",
    "rsc": "rsc",
    "movesense_notification": "movesense",
    "movesense_request": "movesense",
    "alert_level": "alert-level",
    "strideguard_imu": "strideguard-imu",
}


def _imu_plain(message: strideguard_imu.ImuMessage) -> tuple:
    b = message.batch
    codes = (strideguard_imu.PLACEMENT_CODES.index(b.placement), strideguard_imu.KIND_CODES.index(b.kind))
    return (
        message.session,
        message.seq,
        message.final,
        b.device,
        *codes,
        plain(b.rate_hz),
        tuple(int(t) for t in b.t_ns),
        plain(b.values),
    )


def outcome(name: str, payload: bytes) -> object:
    """What the decoder under test does with `payload`, in the oracle's terms (DecodeError -> Refused
    with its offset, after checking it names the protocol and carries the whole payload)."""
    try:
        value = PURE[name](payload)
    except DecodeError as exc:
        assert exc.protocol == PROTOCOLS[name], repr(exc)
        assert "\n" not in str(exc)
        return Refused(exc.offset, None if exc.payload == payload else exc.payload)
    return _imu_plain(value) if name == "strideguard_imu" else plain(value)


def _expect_exactly(name: str, payload: bytes) -> object:
    expected = getattr(oracles, name)(payload)
    got = outcome(name, payload)
    assert got == expected, f"{name}({payload.hex()}): got {got}, expected {expected}"
    return got


@fuzz_settings(400)
@given(name=st.sampled_from(sorted(PURE)), payload=st.binary(max_size=600))
def test_any_bytes_decode_or_are_refused_exactly_as_the_layout_says(name: str, payload: bytes) -> None:
    _expect_exactly(name, payload)


def _valid_payloads(vectors: dict) -> dict[str, list[bytes]]:
    acc = np.array([[10, -20, 1000], [12, -18, 990], [300, -400, 1200]] * 4, dtype=np.int64)
    return {
        "pmd_frame": [
            pmd_data.build_delta_frame(MeasurementType.ACC, 10**15, acc, frame_type=1),
            pmd_data.build_raw_frame(MeasurementType.ACC, 10**15, acc, frame_type=1),
            pmd_data.build_delta_frame(MeasurementType.GYRO, 10**15, acc, frame_type=0),
        ],
        "pmd_control": [bytes.fromhex(v["response"]) for v in vectors["polar_pmd_control"] if "response" in v],
        "hrm": [
            hrm.build_hrm(
                hrm.HeartRateMeasurement(
                    heart_rate_bpm=160, sensor_contact=True, energy_kj=12, rr_raw_1_1024s=(400, 410)
                )
            )
        ],
        "rsc": [
            rsc.build_rsc(
                rsc.RscMeasurement(
                    speed_mps=3.5, cadence_per_min=88, stride_length_m=1.2, total_distance_m=1000.0, running=True
                )
            )
        ],
        "movesense_notification": [
            movesense.build_data(1, 1234, [[0.1, 0.2, 9.8]] * 4, [[1.0, 2.0, 3.0]] * 4),
            movesense.build_data(2, 99, [[0.0, 0.0, 9.8]] * 8),
        ],
    }


@fuzz_settings(400)
@given(data=st.data())
def test_structured_mutations_of_valid_payloads_decode_or_are_refused_exactly(
    data: st.DataObject, ble_vectors: dict
) -> None:
    """Valid payloads with a few bytes overwritten, cut or extended: the decoders see headers they accept
    and bodies that lie, which random bytes rarely reach."""
    valid = _valid_payloads(ble_vectors)
    name = data.draw(st.sampled_from(sorted(valid)))
    payload = bytearray(data.draw(st.sampled_from(valid[name])))
    for _ in range(data.draw(st.integers(0, 4))):
        payload[data.draw(st.integers(0, len(payload) - 1))] = data.draw(st.integers(0, 255))
    payload = payload[: data.draw(st.integers(0, len(payload)))] + data.draw(st.binary(max_size=24))
    _expect_exactly(name, bytes(payload))


def test_valid_payloads_of_the_structured_strategy_decode(ble_vectors: dict) -> None:
    """The structure-aware strategy starts from payloads that do decode (else it would test nothing), to
    what the reference decoders say."""
    for name, payloads in _valid_payloads(ble_vectors).items():
        for payload in payloads:
            assert not isinstance(_expect_exactly(name, payload), Refused), (name, payload.hex())


@pytest.mark.parametrize("name", sorted(PURE))
def test_every_truncation_of_a_valid_payload_is_decoded_or_refused_exactly(name: str, ble_vectors: dict) -> None:
    """Every prefix of every valid payload, one byte at a time: the field a cut lands in is where the
    error points (or, where the layout allows a shorter message, the exact shorter value)."""
    payloads = _valid_payloads(ble_vectors).get(name, []) + _EXTRA_VALID.get(name, [])
    assert payloads
    refused = 0
    for payload in payloads:
        for cut in range(len(payload)):
            refused += isinstance(_expect_exactly(name, payload[:cut]), Refused)
    assert refused > 0


_SETTINGS = bytes.fromhex("00013400010110000203020004000800040103050100000080 3f".replace(" ", ""))
_EXTRA_VALID = {
    "pmd_response": [pmd_control.build_response(1, 2, 0, _SETTINGS), pmd_control.build_response(2, 2, 0, b"\x05")],
    "pmd_request": [bytes([2, 2]) + _SETTINGS, bytes([3, 5])],
    "pmd_settings": [_SETTINGS],
    "pmd_features": [bytes([0x0F, 0b0010_0101])],
    "movesense_request": [movesense.build_subscribe(3, movesense.Subscription.from_path("/Meas/IMU6/104"))],
    "alert_level": [b"\x02"],
    "strideguard_imu": [
        strideguard_imu.encode_imu(
            SampleBatch(
                runner="r",
                device="h10",
                placement=Placement.FOOT,
                kind="gyro",
                rate_hz=104.0,
                t_ns=[10**18, 10**18 + 9_615_385, 10**18 + 5 * 10**9],
                values=np.arange(9.0).reshape(3, 3),
            ),
            session="r-1",
            seq=3,
        )
    ],
}


@pytest.mark.parametrize("width", [0, 1, 16, 32, 33, 40, 64, 255])
def test_a_delta_block_is_read_up_to_32_bits_wide_and_refused_beyond_at_the_block(width: int) -> None:
    """One block of 2 samples after the reference: read (exactly as the reference decoder reads it) up
    to the widest delta a 16/24-bit sensor can need, refused at the block's first byte above it."""
    block = bytes([width, 2]) + bytes(range(1, 1 + -(-width * 6 // 8)))
    payload = struct.pack("<BQB", MeasurementType.ACC, 10**15, 0x81) + bytes(6) + block
    assert (_expect_exactly("pmd_frame", payload) == Refused(16)) == (width > 32)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_movesense_value_anywhere_is_refused_at_the_samples(bad: float) -> None:
    for reference, vectors in ((1, 2), (2, 1)):
        values = np.ones((2, 3 * vectors))
        for i in range(values.size):
            poisoned = values.copy()
            poisoned.flat[i] = bad
            acc, gyro = poisoned[:, :3], poisoned[:, 3:] if vectors == 2 else None
            payload = movesense.build_data(reference, 77, acc, gyro)
            assert _expect_exactly("movesense_notification", payload) == Refused(6)


@pytest.mark.parametrize("top_bits", [0x40, 0x80, 0xC0])
def test_the_top_two_bits_of_the_measurement_byte_are_not_the_measurement(ble_vectors: dict, top_bits: int) -> None:
    for payload in _valid_payloads(ble_vectors)["pmd_frame"]:
        flagged = bytes([payload[0] | top_bits]) + payload[1:]
        assert _expect_exactly("pmd_frame", flagged) == _expect_exactly("pmd_frame", payload)


@pytest.mark.parametrize("params", [MAX_RESPONSE_BYTES, MAX_RESPONSE_BYTES + 1])
def test_a_single_response_longer_than_the_bound_is_refused_at_its_end(params: int) -> None:
    payload = pmd_control.build_response(2, 2, 0, bytes(params))
    for name in ("pmd_control", "pmd_response"):
        outcome = _expect_exactly(name, payload)
        assert (outcome == Refused(len(payload))) == (params > MAX_RESPONSE_BYTES), (name, outcome)


# -- stream decoders: whole sequences, arbitrary clocks --------------------------------------------------


def _pmd_frames(draw: st.DrawFn) -> list[tuple[int, bytes]]:
    """A sequence of ACC delta frames whose device timestamps jump arbitrarily (resets, gaps, repeats) and
    whose host receive times wander (the radio delays, the host clock steps)."""
    frames = []
    device_ns = draw(st.integers(0, 2**62))
    host_ns = draw(st.integers(0, 2**62))
    for _ in range(draw(st.integers(1, 12))):
        n = draw(st.integers(1, 40))
        counts = np.random.default_rng(draw(st.integers(0, 2**32))).integers(-30000, 30000, (n, 3))
        device_ns = max(
            0,
            min(
                2**63 - 1,
                device_ns
                + draw(st.sampled_from([n * 5_000_000, n * 5_000_000, 0, -1, -(10**10), 10**12, n * 4_000_000])),
            ),
        )
        host_ns = max(0, host_ns + draw(st.integers(-(10**9), 10**10)))
        kind = draw(st.sampled_from([MeasurementType.ACC, MeasurementType.GYRO]))
        frames.append(
            (
                host_ns,
                pmd_data.build_delta_frame(kind, device_ns, counts, frame_type=1 if kind == MeasurementType.ACC else 0),
            )
        )
    return frames


@fuzz_settings(100)
@given(frames=st.composite(_pmd_frames)())
def test_pmd_stream_output_is_valid_and_strictly_time_ordered_for_any_clock(frames) -> None:
    decoder = decoding.make_decoder(
        "pmd_data",
        runner="r",
        device="d",
        placement=Placement.CHEST,
        rate_hz=200.0,
        meta=StreamMeta(gyro_rate_hz=200.0),
    )
    _check_stream(decoder, frames)


def _movesense_frames(draw: st.DrawFn) -> list[tuple[int, bytes]]:
    frames = []
    stamp_ms = draw(st.integers(0, 2**32 - 1))
    host_ns = draw(st.integers(0, 2**62))
    for _ in range(draw(st.integers(1, 12))):
        n = draw(st.integers(1, 8))
        stamp_ms = (stamp_ms + draw(st.sampled_from([77, 77, 0, -5, 10**6]))) % 2**32
        host_ns = max(0, host_ns + draw(st.integers(-(10**9), 10**10)))
        acc = [[0.1, 0.2, 9.8]] * n
        frames.append((host_ns, movesense.build_data(1, stamp_ms, acc, [[1.0, 2.0, 3.0]] * n)))
    return frames


@fuzz_settings(150)
@given(frames=st.composite(_movesense_frames)())
def test_movesense_stream_output_is_valid_and_strictly_time_ordered_for_any_clock(frames) -> None:
    decoder = decoding.make_decoder(
        "movesense",
        runner="r",
        device="d",
        placement=Placement.CHEST,
        rate_hz=104.0,
        meta=StreamMeta(movesense_path="/Meas/IMU6/104", movesense_reference=1),
    )
    _check_stream(decoder, frames)


def _check_stream(decoder, frames: list[tuple[int, bytes]]) -> None:
    last: dict[str, int] = {}
    for host_ns, payload in frames:
        try:
            items = decoder.feed(host_ns, payload)
        except DecodeError as exc:  # valid frames: only their times can be refused, which names no byte
            assert exc.offset is None and exc.payload == payload, repr(exc)
            continue
        for item in items:
            assert isinstance(item, SampleBatch) and len(item) > 0
            assert np.all(np.isfinite(item.values))
            kind = item.kind.value
            assert kind not in last or int(item.t_ns[0]) > last[kind], "samples went back in time"
            last[kind] = int(item.t_ns[-1])


@fuzz_settings(200)
@given(
    source=st.sampled_from(["hrm", "rsc", "pmd_control", "pmd_data", "movesense"]),
    feeds=st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), st.binary(max_size=64)), max_size=20),
)
def test_stream_decoders_take_any_sequence_of_receive_times_and_bytes(source: str, feeds) -> None:
    decoder = decoding.make_decoder(
        source,
        runner="r",
        device="d",
        placement=Placement.CHEST,
        rate_hz=200.0,
        meta=StreamMeta(gyro_rate_hz=52.0, movesense_path="/Meas/IMU6/104"),
    )
    for t_ns, payload in feeds:
        _check_feed(source, decoder, t_ns, payload)


_ORACLE_OF_SOURCE = {"hrm": "hrm", "rsc": "rsc", "pmd_data": "pmd_frame", "movesense": "movesense_notification"}


def _check_feed(source: str, decoder, t_ns: int, payload: bytes) -> None:
    """One notification into a stream decoder: a payload its parser refuses is refused at the same offset;
    one it parses becomes exactly the readings or batches the parsed value holds."""
    parsed = getattr(oracles, _ORACLE_OF_SOURCE[source])(payload) if source in _ORACLE_OF_SOURCE else None
    try:
        items = decoder.feed(t_ns, payload)
    except DecodeError as exc:
        where = f"{source} refused {payload.hex()} with {exc!r} at {exc.offset}, parser outcome {parsed}"
        if isinstance(parsed, Refused):
            assert exc.offset == parsed.offset and exc.payload == payload, where
        elif source == "pmd_data":  # a frame that parses: only its measurement or its time can be refused
            assert (exc.offset, parsed[1] in (2, 5)) in {(0, False), (None, True)}, where
        else:
            assert source == "pmd_control" and exc.protocol == "pmd-control", where
        return
    where = f"{source} decoded {payload.hex()} to {items}, parser outcome {parsed}"
    assert not isinstance(parsed, Refused), where
    if source in ("hrm", "rsc"):
        (item,) = items
        assert isinstance(item, HeartRateReading if source == "hrm" else StrideReading) and item.t_ns == t_ns, where
        fields = (item.heart_rate_bpm, item.sensor_contact, item.energy_expended_kj) if source == "hrm" else None
        assert fields is None or fields == parsed[1:4], where
    elif source == "pmd_data":
        (batch,) = items
        assert isinstance(batch, SampleBatch) and len(batch) == len(parsed[5]) and parsed[1] in (2, 5), where
    elif source == "movesense":
        data = parsed[0] == "GspData"
        assert len(items) == (1 + (parsed[4] is not None) if data else 0), where
        assert all(isinstance(b, SampleBatch) and len(b) == len(parsed[3]) for b in items), where
    else:
        assert items == [], where


# -- memory bounds ---------------------------------------------------------------------------------------

LARGE_PAYLOAD_BYTES = 64 * 1024  # far above any BLE MTU (512)
LARGE_PAYLOAD_PEAK_BYTES = 16 * 1024 * 1024  # peak while decoding one such payload, whatever it holds


@pytest.mark.parametrize("name", sorted(PURE))
def test_a_large_random_payload_decodes_in_bounded_memory(name: str) -> None:
    payload = np.random.default_rng(8).integers(0, 256, LARGE_PAYLOAD_BYTES, dtype=np.uint8).tobytes()
    assert peak_bytes(lambda: PURE[name](payload)) < LARGE_PAYLOAD_PEAK_BYTES


def test_a_large_delta_frame_of_widest_blocks_decodes_in_bounded_memory() -> None:
    """The densest expansion a PMD frame allows: 32-bit deltas, 255 samples per block, blocks to 64 KiB."""
    block = bytes([32, 255]) + bytes(range(256)) * ((32 * 255 * 3 // 8) // 256) + bytes((32 * 255 * 3 // 8) % 256)
    payload = (
        struct.pack("<BQB", MeasurementType.ACC, 10**15, 0x81) + bytes(6) + block * (LARGE_PAYLOAD_BYTES // len(block))
    )
    frame = pmd_data.parse_frame(payload)
    assert len(frame) == 1 + 255 * (LARGE_PAYLOAD_BYTES // len(block))
    assert peak_bytes(lambda: pmd_data.parse_frame(payload)) < LARGE_PAYLOAD_PEAK_BYTES


def test_endless_control_point_continuations_stay_bounded() -> None:
    """A device (or attacker) that keeps sending 'more follows' cannot grow the pending response."""
    decoder = pmd_control.PmdControlDecoder()
    packet = bytes([0xF0, 0x01, 0x02, 0x00, 0x01]) + bytes(200)
    refused = 0

    def feed_many() -> None:
        nonlocal refused
        for _ in range(5000):
            try:
                decoder.feed(packet)
            except DecodeError:
                refused += 1

    assert peak_bytes(feed_many) < 4 * MAX_RESPONSE_BYTES + 256 * 1024
    assert refused == 5000 // (MAX_RESPONSE_BYTES // 200 + 1)
