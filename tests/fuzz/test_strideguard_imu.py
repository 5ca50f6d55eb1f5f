"""The MQTT IMU payload decoder (sensors.protocols.strideguard_imu) against arbitrary and hostile bytes.

tests/sensors/protocols/test_strideguard_imu.py checks literal payloads, every truncation and one known
corruption at a time with its exact outcome; this adds arbitrary bytes, a structure-aware header with any
field values (times near the int64 limit, sample counts that lie, ids of any length), the sample-limit
memory bound, and a seeded mutation loop over payloads of many shapes. The JSON messages of
stream.mqtt.payload are fuzzed in test_mqtt_payload.py.
"""

from __future__ import annotations

import itertools
import struct

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from strideguard.sensors.errors import DecodeError
from strideguard.sensors.protocols import strideguard_imu as imu
from strideguard.sensors.types import Placement, SampleBatch, SampleKind
from tests.fuzz import _oracles as oracles
from tests.fuzz._oracles import Refused
from tests.fuzz._support import fuzz_settings, mutation_fuzz, peak_bytes
from tests.fuzz.test_protocols import _imu_plain

_HEADER = struct.Struct("<BBBBdIQqH")  # spelled out here, not taken from the code under test


def _decode(data: bytes) -> object:
    """Decode `data` and assert the exact outcome the reference decoder (tests/fuzz/_oracles.py) gives:
    the offset of the DecodeError, or every field of the message. Returns that outcome."""
    expected = oracles.strideguard_imu(data)
    try:
        message = imu.decode_imu(data, runner="ana")
    except DecodeError as exc:
        assert (exc.protocol, exc.payload) == (imu.PROTOCOL, data)
        assert Refused(exc.offset) == expected, f"refused at {exc.offset} ({exc}), expected {expected}"
        return expected
    got = _imu_plain(message)
    assert got == expected, f"decoded {got}, expected {expected}"
    times = [int(t) for t in message.batch.t_ns]  # Python ints: np.diff would wrap around as the decoder did
    assert all(b > a for a, b in itertools.pairwise(times)), "decoded times are not strictly increasing"
    return got


@fuzz_settings(400)
@given(data=st.binary(max_size=400))
def test_any_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    _decode(data)


@fuzz_settings(500)
@given(
    version=st.sampled_from([1, 1, 1, 0, 2]),
    kind=st.integers(0, 3),
    placement=st.integers(0, 8),
    flags=st.sampled_from([0, 1, 2, 3, 4, 0x80]),
    rate_hz=st.sampled_from([100.0, 0.0, -1.0, float("nan"), float("inf"), 1e-300, 1e300]),
    n=st.integers(0, 6) | st.sampled_from([2**32 - 1, imu.MAX_SAMPLES, imu.MAX_SAMPLES + 1]),
    seq=st.integers(0, 2**64 - 1),
    t0_ns=st.integers(-(2**63), 2**63 - 1) | st.sampled_from([2**63 - 1, -(2**63)]),
    session=st.binary(max_size=20),
    session_len_delta=st.sampled_from([0, 0, 0, 1, -1, 65535]),
    device=st.binary(max_size=20),
    body=st.binary(max_size=120),
    delta=st.sampled_from([None, 1, 2**31 - 1, 2**62, -1, 0]),
)
def test_any_header_field_values_decode_or_raise_decode_error(
    version, kind, placement, flags, rate_hz, n, seq, t0_ns, session, session_len_delta, device, body, delta
) -> None:
    """Body sized to what the header claims (so the decoder gets past the length check) or not."""
    session_len = max(0, min(65535, len(session) + session_len_delta))
    head = _HEADER.pack(version, kind, placement, flags, rate_hz, n, seq, t0_ns, session_len)
    ids = session + bytes([len(device)]) + device
    if delta is not None and n < 10:
        width = "<i8" if flags & imu.FLAG_INT64_TIMES else "<i4"
        info = np.iinfo(width[1:].replace("i", "int").replace("int4", "int32").replace("int8", "int64"))
        deltas = np.full(max(n - 1, 0), np.clip(delta, info.min, info.max), dtype=width).tobytes()
        body = deltas + np.ones((n, 3), dtype="<f4").tobytes()
    _decode(head + ids + body)


def test_times_that_overflow_int64_are_a_decode_error() -> None:
    """A first time near the int64 limit plus positive deltas would wrap around to negative times."""
    batch = SampleBatch(
        runner="ana",
        device="h10",
        placement=Placement.CHEST,
        kind=SampleKind.ACC,
        rate_hz=100.0,
        t_ns=np.array([0, 2**31 - 1, 2 * (2**31 - 1)]),
        values=np.zeros((3, 3)),
    )
    data = bytearray(imu.encode_imu(batch, session="s", seq=0))
    struct.pack_into("<q", data, 24, 2**63 - 2**31)
    assert _decode(bytes(data)) == Refused(24)


def test_seeded_mutation_fuzz_of_payloads_of_many_shapes() -> None:
    rng = np.random.default_rng(3)
    seeds = []
    for n, gap_ns in ((0, 10**7), (1, 10**7), (7, 10**7), (40, 10**7), (5, 3 * 10**9)):
        t_ns = 1_700_000_000 * 10**9 + np.arange(n, dtype=np.int64) * gap_ns
        batch = SampleBatch(
            runner="ana",
            device="polar-h10-ABCD",
            placement=Placement.FOOT,
            kind=SampleKind.GYRO,
            rate_hz=104.0,
            t_ns=t_ns,
            values=rng.normal(size=(n, 3)),
        )
        seeds.append(imu.encode_imu(batch, session="ana-20261121-abc", seq=n, final=n == 0))
    outcomes: list[object] = []
    parsed, _ = mutation_fuzz("mqtt-imu", seeds, lambda d: outcomes.append(_decode(d)), (), cases=3000)
    refused = {o.offset for o in outcomes if isinstance(o, Refused)}
    assert parsed == len(outcomes) and len(outcomes) - sum(isinstance(o, Refused) for o in outcomes) > 100
    assert {0, 12, 34} <= refused, refused  # the header, the sample count, the session id


def test_a_sample_count_at_the_limit_is_refused_before_allocating() -> None:
    head = _HEADER.pack(1, 0, 0, 0, 100.0, imu.MAX_SAMPLES + 1, 0, 0, 1) + b"s" + b"\x01d"
    assert peak_bytes(lambda: imu.decode_imu(head + bytes(64), runner="ana")) < 64 * 1024
    head = _HEADER.pack(1, 0, 0, 0, 100.0, imu.MAX_SAMPLES, 0, 0, 1) + b"s" + b"\x01d"
    assert peak_bytes(lambda: imu.decode_imu(head + bytes(64), runner="ana")) < 64 * 1024
