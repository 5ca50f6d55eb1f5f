"""stream.mqtt.payload: the IMU payload it re-exports, the JSON messages, and the topics.

The IMU payload's own tests (literal bytes, every malformation at its offset, seeded fuzz) are in
tests/sensors/protocols/test_strideguard_imu.py, next to its decoder.
"""

from __future__ import annotations

import numpy as np
import pytest

from strideguard.analytics.results import (
    AnalyzerOutput,
    RiskEvent,
    RiskEventKind,
    Severity,
    Side,
    StepEvent,
    WindowMetrics,
)
from strideguard.sensors.errors import DecodeError
from strideguard.sensors.protocols import strideguard_imu
from strideguard.sensors.types import Placement, SampleBatch, SampleKind
from strideguard.stream.mqtt import payload as wire
from strideguard.stream.mqtt.topics import imu_topic, parse_topic, partition_of, worker_partitions, worker_subscriptions
from strideguard.stream.runtime.bus import matches

REEXPORTED = (
    "FLAG_FINAL",
    "FLAG_INT64_TIMES",
    "IMU_VERSION",
    "KIND_CODES",
    "MAX_SAMPLES",
    "PLACEMENT_CODES",
    "PROTOCOL",
    "ImuMessage",
    "decode_imu",
    "encode_imu",
)


def test_the_imu_payload_names_the_collector_and_worker_import_are_the_protocol_modules() -> None:
    for name in REEXPORTED:
        assert getattr(wire, name) is getattr(strideguard_imu, name), name
    assert set(REEXPORTED) <= set(wire.__all__)


def test_a_batch_round_trips_through_the_reexported_names() -> None:
    rng = np.random.default_rng(5)
    batch = SampleBatch(
        runner="ana",
        device="H10-A1B2",
        placement=Placement.CHEST,
        kind=SampleKind.ACC,
        rate_hz=100.0,
        t_ns=1_700_000_000_000_000_000 + np.arange(50, dtype=np.int64) * 10_000_000,
        values=rng.normal(size=(50, 3)),
    )
    data = wire.encode_imu(batch, session="ana-1", seq=7)
    assert wire.decode_imu(data, runner="ana") == wire.ImuMessage(session="ana-1", seq=7, final=False, batch=batch)
    with pytest.raises(DecodeError) as info:
        wire.decode_imu(data[:-1], runner="ana")
    assert info.value.protocol == wire.PROTOCOL == "strideguard-imu"


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
