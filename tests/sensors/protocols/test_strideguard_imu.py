"""sensors.protocols.strideguard_imu: the MQTT IMU payload, literal bytes to full objects and back, every
malformation a DecodeError at the byte offset of the field at fault.

The seeded fuzz test at the end draws a random valid message, applies one known corruption and asserts
the specific outcome (the exact offset, or the exact decode); it prints its seed, and
STRIDEGUARD_FUZZ_SEED=<seed> replays it. tests/fuzz/test_strideguard_imu.py adds hypothesis-driven
arbitrary bytes and memory bounds.
"""

from __future__ import annotations

import math
import random
import struct

import numpy as np
import pytest

from strideguard.sensors.errors import DecodeError
from strideguard.sensors.protocols import strideguard_imu as imu
from strideguard.sensors.protocols.strideguard_imu import ImuMessage, decode_imu, encode_imu
from strideguard.sensors.types import Placement, SampleBatch, SampleKind
from tests.fuzz._support import fuzz_seed

T0_NS = 1_700_000_000_000_000_000
HEADER_BYTES = 34
INT64_MAX = 2**63 - 1

# 3 gyro samples from a sacrum sensor, int32 time deltas (every field spelled out, not encoded by the code
# under test)
THREE_GYRO_SAMPLES = b"".join(
    (
        bytes.fromhex("01"),  # version 1
        bytes.fromhex("01"),  # kind 1: gyro
        bytes.fromhex("01"),  # placement 1: sacrum
        bytes.fromhex("00"),  # flags: not final, int32 times
        bytes.fromhex("0000000000005940"),  # rate_hz 100.0 (f64)
        bytes.fromhex("03000000"),  # n = 3
        bytes.fromhex("0700000000000000"),  # seq = 7
        bytes.fromhex("00002a36fe9c9717"),  # t0_ns = 1_700_000_000_000_000_000
        bytes.fromhex("0300"),  # session_len = 3
        b"s-1",  # session id
        bytes.fromhex("03"),  # device_len = 3
        b"h10",  # device id
        bytes.fromhex("80969800"),  # delta 10_000_000 ns
        bytes.fromhex("fb969800"),  # delta 10_000_123 ns
        bytes.fromhex("0000803f000000c00000003f"),  # (1.0, -2.0, 0.5)
        bytes.fromhex("000000000000000000000000"),  # (0, 0, 0)
        bytes.fromhex("00007a43000080be00004040"),  # (250.0, -0.25, 3.0)
    )
)
THREE_GYRO_MESSAGE = ImuMessage(
    session="s-1",
    seq=7,
    final=False,
    batch=SampleBatch(
        runner="ana",
        device="h10",
        placement=Placement.SACRUM,
        kind=SampleKind.GYRO,
        rate_hz=100.0,
        t_ns=[T0_NS, T0_NS + 10_000_000, T0_NS + 20_000_123],
        values=[[1.0, -2.0, 0.5], [0.0, 0.0, 0.0], [250.0, -0.25, 3.0]],
    ),
)
# the last batch of a session, 2 chest acc samples 3 s apart: the gap needs int64 deltas
FINAL_WITH_A_GAP = b"".join(
    (
        bytes.fromhex("01000003"),  # version 1, acc, chest, flags final | int64 times
        bytes.fromhex("0000000000004a40"),  # rate_hz 52.0
        bytes.fromhex("02000000"),  # n = 2
        bytes.fromhex("0000000000000000"),  # seq = 0
        bytes.fromhex("00002a36fe9c9717"),  # t0_ns
        bytes.fromhex("0000"),  # session_len = 0
        bytes.fromhex("01") + b"d",  # device "d"
        bytes.fromhex("005ed0b200000000"),  # delta 3_000_000_000 ns (int64)
        bytes.fromhex("0000803f0000803f0000803f") * 2,  # (1, 1, 1) twice
    )
)
FINAL_WITH_A_GAP_MESSAGE = ImuMessage(
    session="",
    seq=0,
    final=True,
    batch=SampleBatch(
        runner="ana",
        device="d",
        placement=Placement.CHEST,
        kind=SampleKind.ACC,
        rate_hz=52.0,
        t_ns=[T0_NS, T0_NS + 3_000_000_000],
        values=np.ones((2, 3)),
    ),
)
# n = 0: an end-of-session marker (t0 is 0, no times, no values)
END_MARKER = bytes.fromhex("01000601" + "0000000000005940" + "00000000" + "0900000000000000" + "0000000000000000")
END_MARKER += bytes.fromhex("0100") + b"s" + bytes.fromhex("00")
END_MARKER_MESSAGE = ImuMessage(
    session="s",
    seq=9,
    final=True,
    batch=SampleBatch(
        runner="ana",
        device="",
        placement=Placement.UNKNOWN,
        kind=SampleKind.ACC,
        rate_hz=100.0,
        t_ns=np.zeros(0, np.int64),
        values=np.zeros((0, 3)),
    ),
)
LITERALS = [
    (THREE_GYRO_SAMPLES, THREE_GYRO_MESSAGE),
    (FINAL_WITH_A_GAP, FINAL_WITH_A_GAP_MESSAGE),
    (END_MARKER, END_MARKER_MESSAGE),
]


def _same(got: ImuMessage, expected: ImuMessage) -> bool:
    """Equal field by field, the values bit for bit (so NaN payloads compare too)."""
    a, b = got.batch, expected.batch
    return (
        (got.session, got.seq, got.final) == (expected.session, expected.seq, expected.final)
        and (a.runner, a.device, a.placement, a.kind, a.rate_hz) == (b.runner, b.device, b.placement, b.kind, b.rate_hz)
        and a.t_ns.dtype == b.t_ns.dtype == np.int64
        and np.array_equal(a.t_ns, b.t_ns)
        and a.values.dtype == b.values.dtype == np.float32
        and a.values.shape == b.values.shape
        and a.values.tobytes() == b.values.tobytes()
    )


def _assert_same_message(got: ImuMessage, expected: ImuMessage) -> None:
    assert got == expected
    assert _same(got, expected)


@pytest.mark.parametrize(("payload", "expected"), LITERALS, ids=["three-gyro", "final-int64-gap", "end-marker"])
def test_literal_bytes_decode_to_the_full_message_and_encode_back(payload: bytes, expected: ImuMessage) -> None:
    _assert_same_message(decode_imu(payload, runner="ana"), expected)
    assert encode_imu(expected.batch, session=expected.session, seq=expected.seq, final=expected.final) == payload


def _batch(n: int, *, step_ns: int = 10_000_000, **kw) -> SampleBatch:
    rng = np.random.default_rng(n)
    fields = {
        "runner": "ana",
        "device": "H10-A1B2",
        "placement": Placement.CHEST,
        "kind": SampleKind.ACC,
        "rate_hz": 100.0,
        "t_ns": T0_NS + np.arange(n, dtype=np.int64) * step_ns + rng.integers(0, 1000, n),
        "values": rng.normal(size=(n, 3)).astype(np.float32),
    }
    fields.update(kw)
    return SampleBatch(**fields)


@pytest.mark.parametrize("n", [0, 1, 2, 50, 500])
def test_round_trip_is_exact(n: int) -> None:
    b = _batch(n)
    data = encode_imu(b, session="ana-1", seq=7, final=n == 0)
    _assert_same_message(decode_imu(data, runner="ana"), ImuMessage(session="ana-1", seq=7, final=n == 0, batch=b))


def test_size_is_header_ids_deltas_and_values() -> None:
    data = encode_imu(_batch(50), session="s", seq=0)
    assert len(data) == HEADER_BYTES + 1 + 1 + len("H10-A1B2") + 49 * 4 + 50 * 12


def test_gaps_over_two_seconds_use_int64_times() -> None:
    b = _batch(3, step_ns=5_000_000_000, kind=SampleKind.GYRO, placement=Placement.SACRUM)
    data = encode_imu(b, session="s", seq=1)
    assert data[3] & imu.FLAG_INT64_TIMES
    assert decode_imu(data, runner="ana").batch == b


def test_ids_too_long_for_their_length_fields_are_refused_by_the_encoder() -> None:
    with pytest.raises(ValueError, match="session id"):
        encode_imu(_batch(1), session="x" * 65536, seq=0)
    with pytest.raises(ValueError, match="device id"):
        encode_imu(_batch(1, device="d" * 256), session="s", seq=0)


def _decode_error(payload: bytes) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode_imu(payload, runner="ana")
    assert info.value.protocol == "strideguard-imu" and info.value.payload == payload
    return info.value


def _set(payload: bytes, offset: int, layout: str, value: object) -> bytes:
    data = bytearray(payload)
    struct.pack_into(layout, data, offset, value)
    return bytes(data)


# session "s-1" and device "h10": the device length byte is at 37, the device id at 38, the times at 41
MALFORMED = [
    (THREE_GYRO_SAMPLES[:10], 0, "payload of 10 bytes is shorter than the 34-byte header"),
    (_set(THREE_GYRO_SAMPLES, 0, "<B", 2), 0, "unsupported IMU payload version 2"),
    (_set(THREE_GYRO_SAMPLES, 1, "<B", 9), 1, "unknown sample kind code 9"),
    (_set(THREE_GYRO_SAMPLES, 2, "<B", 99), 2, "unknown placement code 99"),
    (_set(THREE_GYRO_SAMPLES, 3, "<B", 0x80), 3, "unknown flag bits 0x80"),
    (_set(THREE_GYRO_SAMPLES, 4, "<d", 0.0), 4, "rate_hz must be positive"),
    (_set(THREE_GYRO_SAMPLES, 4, "<d", math.nan), 4, "rate_hz must be positive"),
    (_set(THREE_GYRO_SAMPLES, 12, "<I", imu.MAX_SAMPLES + 1), 12, "exceeds the limit of 1000000"),
    (_set(THREE_GYRO_SAMPLES, 32, "<H", 200), 34, "truncated in the session id"),
    (_set(THREE_GYRO_SAMPLES, 37, "<B", 200), 38, "truncated in the device id"),
    (_set(THREE_GYRO_SAMPLES, 34, "<B", 0xFF), 34, "not UTF-8"),
    (_set(THREE_GYRO_SAMPLES, 38, "<B", 0xFF), 38, "not UTF-8"),
    (THREE_GYRO_SAMPLES[:-1], 41, "payload is 84 bytes, 3 samples need 85"),
    (THREE_GYRO_SAMPLES + b"\0", 41, "payload is 86 bytes, 3 samples need 85"),
    (_set(THREE_GYRO_SAMPLES, 12, "<I", 2), 41, "2 samples need 69"),
    (_set(THREE_GYRO_SAMPLES, 3, "<B", imu.FLAG_INT64_TIMES), 41, "3 samples need 93"),
    (_set(THREE_GYRO_SAMPLES, 45, "<i", 0), 41, "strictly increasing"),
    (_set(THREE_GYRO_SAMPLES, 41, "<i", -5), 41, "strictly increasing"),
    (_set(THREE_GYRO_SAMPLES, 24, "<q", INT64_MAX - 20_000_000), 24, "past the int64 nanosecond range"),
]


@pytest.mark.parametrize(("payload", "offset", "message"), MALFORMED, ids=[m for _, _, m in MALFORMED])
def test_malformed_payloads_raise_decode_error_at_the_field(payload: bytes, offset: int, message: str) -> None:
    error = _decode_error(payload)
    assert error.offset == offset
    assert message in str(error)


def _expected_offset_of_a_cut(cut: int, session_len: int, device_len: int) -> int:
    """Where a payload cut after `cut` bytes is refused: the header, the session id (with the device
    length byte after it), the device id, or the length check at the start of the times."""
    if cut < HEADER_BYTES:
        return 0
    if cut < HEADER_BYTES + session_len + 1:
        return HEADER_BYTES
    if cut < HEADER_BYTES + session_len + 1 + device_len:
        return HEADER_BYTES + session_len + 1
    return HEADER_BYTES + session_len + 1 + device_len


@pytest.mark.parametrize(("payload", "expected"), LITERALS, ids=["three-gyro", "final-int64-gap", "end-marker"])
def test_the_whole_payload_decodes_and_every_shorter_one_byte_at_a_time_is_refused(
    payload: bytes, expected: ImuMessage
) -> None:
    """A message arrives whole (MQTT frames it), so there is no incremental decoder: instead every prefix,
    one byte at a time, must be refused at the field it cuts, never decoded as a shorter batch."""
    _assert_same_message(decode_imu(payload, runner="ana"), expected)
    session_len, device_len = len(expected.session.encode()), len(expected.batch.device.encode())
    for cut in range(len(payload)):
        assert _decode_error(payload[:cut]).offset == _expected_offset_of_a_cut(cut, session_len, device_len), cut


# -- seeded fuzz: one known corruption of a random valid message, the exact outcome asserted ---------------


def _random_message(rng: random.Random) -> ImuMessage:
    n = rng.choice([0, 1, 2, 3, 7, 40])
    wide = rng.random() < 0.3
    steps = [rng.randint(1, 3 * 10**9 if wide else 2**31 - 1) for _ in range(max(n - 1, 0))]
    t0 = rng.randint(0, 2 * T0_NS) if n else 0
    batch = SampleBatch(
        runner="ana",
        device=rng.choice(["", "h10", "polar-h10-ABCD", "é" * rng.randint(1, 40)]),
        placement=rng.choice(list(Placement)),
        kind=rng.choice(list(SampleKind)),
        rate_hz=rng.choice([12.5, 52.0, 100.0, 104.0, 1666.0]),
        t_ns=np.cumsum([t0, *steps], dtype=np.int64)[:n],
        values=np.frombuffer(rng.randbytes(12 * n), "<f4").reshape(n, 3),
    )
    session = rng.choice(["", "s", "ana-20261121-abc", "ü" * rng.randint(1, 300)])
    return ImuMessage(session=session, seq=rng.randrange(2**64), final=rng.random() < 0.2, batch=batch)


def _replaced(message: ImuMessage, **kw) -> ImuMessage:
    fields = {"session": message.session, "seq": message.seq, "final": message.final}
    batch_fields = {
        "runner": message.batch.runner,
        "device": message.batch.device,
        "placement": message.batch.placement,
        "kind": message.batch.kind,
        "rate_hz": message.batch.rate_hz,
        "t_ns": message.batch.t_ns,
        "values": message.batch.values,
    }
    for key, value in kw.items():
        (fields if key in fields else batch_fields)[key] = value
    return ImuMessage(**fields, batch=SampleBatch(**batch_fields))


def _corrupt(rng: random.Random, message: ImuMessage) -> tuple[str, bytes, int | ImuMessage]:
    """(what was done, the payload, the expected DecodeError offset or the expected message), worked out
    from the layout alone."""
    data = bytearray(encode_imu(message.batch, session=message.session, seq=message.seq, final=message.final))
    session_len, device_len = len(message.session.encode()), len(message.batch.device.encode())
    device_at = HEADER_BYTES + session_len + 1
    times_at = device_at + device_len
    n = len(message.batch)
    deltas = np.diff(message.batch.t_ns)
    op = rng.randrange(17)
    if op == 0:
        return "none", bytes(data), message
    if op == 1:  # anywhere, or (half the time) at a field boundary, where a bounds check is decided
        edges = [HEADER_BYTES - 1, HEADER_BYTES, device_at - 2, device_at - 1, device_at, times_at - 1, times_at]
        cut = rng.choice([c for c in edges if 0 <= c < len(data)]) if rng.random() < 0.5 else rng.randrange(len(data))
        return f"cut at {cut}", bytes(data[:cut]), _expected_offset_of_a_cut(cut, session_len, device_len)
    if op == 2:
        return "trailing bytes", bytes(data) + rng.randbytes(rng.randint(1, 16)), times_at
    if op == 3:
        data[0] = rng.choice([0, 2, 255])
        return "version", bytes(data), 0
    if op == 4:
        data[1] = rng.randint(2, 255)
        return "kind code", bytes(data), 1
    if op == 5:
        data[2] = rng.randint(len(Placement), 255)
        return "placement code", bytes(data), 2
    if op == 6:
        data[3] |= 1 << rng.randint(2, 7)
        return "unknown flag", bytes(data), 3
    if op == 7:
        struct.pack_into("<d", data, 4, rng.choice([0.0, -1.0, -math.inf, math.inf, math.nan, -1e-300]))
        return "rate", bytes(data), 4
    if op == 8:
        struct.pack_into("<I", data, 12, rng.randint(imu.MAX_SAMPLES + 1, 2**32 - 1))
        return "sample count over the limit", bytes(data), 12
    if op == 9:
        claimed = rng.choice([c for c in (0, 1, 2, n - 1, n + 1, 3 * n, imu.MAX_SAMPLES) if c >= 0 and c != n])
        struct.pack_into("<I", data, 12, claimed)
        return f"sample count {claimed} instead of {n}", bytes(data), times_at
    if op == 10:
        data[3] ^= imu.FLAG_INT64_TIMES
        return "time width flag flipped", bytes(data), times_at if n >= 2 else message
    if op == 11:
        past = len(data) - HEADER_BYTES  # the session would end exactly where the device length byte is missing
        struct.pack_into("<H", data, 32, rng.choice([past, past + 1, rng.randint(past, 65535)]))
        return "session length past the end", bytes(data), HEADER_BYTES
    if op == 12 and len(data) - device_at < 255:
        past = len(data) - device_at + 1  # one byte more than there is
        data[device_at - 1] = rng.choice([past, rng.randint(past, 255)])
        return "device length past the end", bytes(data), device_at
    if op == 13 and session_len:
        data[HEADER_BYTES + rng.randrange(session_len)] = rng.choice([0xC0, 0xFF])  # never valid in UTF-8
        return "session id not UTF-8", bytes(data), HEADER_BYTES
    if op == 13 and device_len:
        data[device_at + rng.randrange(device_len)] = rng.choice([0xC0, 0xFF])
        return "device id not UTF-8", bytes(data), device_at
    if op == 14 and n >= 2:
        width = 8 if data[3] & imu.FLAG_INT64_TIMES else 4
        j = rng.randrange(n - 1)
        struct.pack_into("<q" if width == 8 else "<i", data, times_at + j * width, rng.choice([0, -1, -(2**31)]))
        return f"delta {j} not positive", bytes(data), times_at
    if op == 15 and n >= 2:
        total = int(deltas.sum())
        struct.pack_into("<q", data, 24, rng.randint(INT64_MAX - total + 1, INT64_MAX))
        return "times past the int64 range", bytes(data), 24
    if op == 15 or op == 16:
        seq = rng.randrange(2**64)
        struct.pack_into("<Q", data, 16, seq)
        if n:
            t0 = rng.randint(-(2**63), INT64_MAX - int(deltas.sum()))
            struct.pack_into("<q", data, 24, t0)
            values_at = len(data) - 12 * n
            data[values_at:] = rng.randbytes(12 * n)
            values = np.frombuffer(bytes(data[values_at:]), "<f4").reshape(n, 3)
            t_ns = t0 + np.concatenate([np.zeros(1, np.int64), np.cumsum(deltas)])
            return "seq, t0 and values rewritten", bytes(data), _replaced(message, seq=seq, t_ns=t_ns, values=values)
        return "seq rewritten", bytes(data), _replaced(message, seq=seq)
    return "none (the corruption did not apply)", bytes(data), message


def test_seeded_fuzz_of_one_corruption_gives_the_exact_outcome() -> None:
    seed = fuzz_seed()
    print(f"fuzz strideguard-imu: STRIDEGUARD_FUZZ_SEED={seed}")
    rng = random.Random(seed)
    outcomes = {"decoded": 0, "refused": 0}
    for case in range(3000):
        what, payload, expected = _corrupt(rng, _random_message(rng))
        where = f"case {case} ({what}), payload {payload[:80].hex()}... (replay: STRIDEGUARD_FUZZ_SEED={seed})"
        try:
            got = decode_imu(payload, runner="ana")
        except DecodeError as exc:
            assert isinstance(expected, int), f"refused at {exc.offset} ({exc}), expected a decode: {where}"
            assert (exc.protocol, exc.offset, exc.payload) == ("strideguard-imu", expected, payload), where
            outcomes["refused"] += 1
            continue
        assert isinstance(expected, ImuMessage), f"decoded, expected DecodeError at byte {expected}: {where}"
        assert _same(got, expected), where
        outcomes["decoded"] += 1
    assert min(outcomes.values()) > 300, outcomes  # both paths exercised
