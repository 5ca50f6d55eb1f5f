"""The binary IMU payload round-trips exactly, and every malformed payload is a DecodeError."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest

from analytics.results import AnalyzerOutput, RiskEvent, RiskEventKind, Severity, Side, StepEvent, WindowMetrics
from sensors.errors import DecodeError
from sensors.types import Placement, SampleBatch, SampleKind
from stream.bus import matches
from stream.mqtt import payload as wire
from stream.mqtt.topics import imu_topic, parse_topic, partition_of, worker_partitions, worker_subscriptions


def batch(n: int = 50, *, t0_ns: int = 1_700_000_000_000_000_000, step_ns: int = 10_000_000, **kw) -> SampleBatch:
    rng = np.random.default_rng(n)
    fields = {
        "runner": "ana",
        "device": "H10-A1B2",
        "placement": Placement.CHEST,
        "kind": SampleKind.ACC,
        "rate_hz": 100.0,
        "t_ns": t0_ns + np.arange(n, dtype=np.int64) * step_ns + rng.integers(0, 1000, n),
        "values": rng.normal(size=(n, 3)).astype(np.float32),
    }
    fields.update(kw)
    return SampleBatch(**fields)


@pytest.mark.parametrize("n", [0, 1, 2, 50, 500])
def test_round_trip_is_exact(n: int) -> None:
    b = batch(n)
    data = wire.encode_imu(b, session="ana-1", seq=7, final=n == 0)
    msg = wire.decode_imu(data, runner="ana")
    assert msg == wire.ImuMessage(session="ana-1", seq=7, final=n == 0, batch=b)


def test_size_is_header_ids_deltas_and_values() -> None:
    data = wire.encode_imu(batch(50), session="s", seq=0)
    assert len(data) == 34 + 1 + 1 + len("H10-A1B2") + 49 * 4 + 50 * 12


def test_gaps_over_two_seconds_use_int64_times() -> None:
    b = batch(3, step_ns=5_000_000_000, kind=SampleKind.GYRO, placement=Placement.SACRUM)
    data = wire.encode_imu(b, session="s", seq=1)
    assert data[3] & wire.FLAG_INT64_TIMES
    assert wire.decode_imu(data, runner="ana").batch == b


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d[:10], "shorter than the 34-byte header"),
        (lambda d: bytes([2]) + d[1:], "unsupported IMU payload version 2"),
        (lambda d: d[:1] + bytes([9]) + d[2:], "unknown sample kind code 9"),
        (lambda d: d[:2] + bytes([99]) + d[3:], "unknown placement code 99"),
        (lambda d: d[:3] + bytes([0x80]) + d[4:], "unknown flag bits 0x80"),
        (lambda d: d[:-1], "samples need"),
        (lambda d: d + b"\0", "samples need"),
    ],
)
def test_malformed_payloads_raise_decode_error_with_offset(mutate, message: str) -> None:
    data = mutate(wire.encode_imu(batch(5), session="s", seq=0))
    with pytest.raises(DecodeError, match=message) as info:
        wire.decode_imu(data, runner="ana")
    assert info.value.protocol == "strideguard-imu"
    assert info.value.offset is not None


def test_times_past_the_int64_range_are_a_decode_error() -> None:
    data = bytearray(wire.encode_imu(batch(3, t0_ns=0, step_ns=2**31 - 1000), session="s", seq=0))
    data[24:32] = (2**63 - 2**31).to_bytes(8, "little", signed=True)  # t0 near the limit: the deltas would wrap
    with pytest.raises(DecodeError, match="int64"):
        wire.decode_imu(bytes(data), runner="ana")


def test_every_truncation_is_a_decode_error() -> None:
    data = wire.encode_imu(batch(4), session="sess", seq=3)
    for cut in range(len(data)):
        with pytest.raises(DecodeError):
            wire.decode_imu(data[:cut], runner="ana")


def test_fuzzed_payloads_decode_or_raise_decode_error_only() -> None:
    seed = int(os.environ.get("STRIDEGUARD_FUZZ_SEED", random.randrange(2**32)))
    print(f"fuzz seed {seed} (set STRIDEGUARD_FUZZ_SEED to replay)")
    rng = random.Random(seed)
    good = wire.encode_imu(batch(6), session="sess", seq=3)
    for _ in range(2000):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            msg = wire.decode_imu(bytes(data), runner="ana")
        except DecodeError:
            continue
        assert len(msg.batch) == 6 and np.all(np.diff(msg.batch.t_ns) > 0)


def test_output_messages_round_trip_through_json() -> None:
    step = StepEvent(runner="ana", t_ns=5, index=0, side=Side.LEFT, impact_g=2.5, step_time_s=None)
    window = WindowMetrics(
        runner="ana", t_start_ns=0, t_end_ns=10, n_steps=3, running=True, cadence_spm=np.float64(171.0)
    )
    event = RiskEvent(
        runner="ana",
        t_ns=9,
        kind=RiskEventKind.ONSET,
        metric="cadence_spm",
        severity=Severity.WARNING,
        value=160.0,
        baseline=170.0,
        deviation=-5.9,
        deviation_unit="%",
        duration_s=30.0,
        message="cadence dropped",
        cue="quicker steps",
        onset_t_ns=1,
    )
    out = wire.output_messages("ana-1", AnalyzerOutput(steps=(step,), windows=(window,), risk_events=(event,)))
    decoded = {kind: wire.loads(wire.dumps(m)) for kind, m in out}
    assert [k for k, _ in out] == ["steps", "metrics", "alerts"]
    assert all(m["session_id"] == "ana-1" for m in decoded.values())
    assert wire.steps_from_message(decoded["steps"]) == [step]
    assert wire.window_from_message(decoded["metrics"]) == window
    assert wire.risk_event_from_message(decoded["alerts"]) == event


@pytest.mark.parametrize("data", [b"\xff", b"[1,2]", b"{"])
def test_bad_json_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        wire.loads(data)


def test_partitions_are_stable_and_every_partition_has_exactly_one_worker() -> None:
    assert partition_of("club", "ana") == 7  # CRC-32 of b"club/ana" = 0xbfc2ef67: stable, unlike hash()
    for n in (1, 2, 3, 5, 16):
        owned = [p for i in range(n) for p in worker_partitions(i, n)]
        assert sorted(owned) == list(range(16))
    topic_name = imu_topic("club", "ana")
    owners = [i for i in range(3) if any(matches(f, topic_name) for f in worker_subscriptions("club", i, 3))]
    assert len(owners) == 1
    assert parse_topic(topic_name).partition == partition_of("club", "ana")
    with pytest.raises(ValueError):
        worker_partitions(0, 17)
    with pytest.raises(ValueError):
        parse_topic("strideguard/v1/club/ana/metrics/3")
