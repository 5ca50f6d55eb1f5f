"""`sources.paced`: items at `speed` x real time, each stream from its own first item or, with one
`start_t_ns` for several streams, on one clock that keeps their offsets (Collector.replay(common_clock=True)).

What is checked is the schedule `paced` asks for (the delays it sleeps), recorded by a stand-in for
`asyncio.sleep` that returns at once: no wall-clock timing in a unit test."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from strideguard.sensors.types import Placement, SampleBatch, SampleKind
from strideguard.stream.runtime import sources

T0_NS = 1_767_250_000_000_000_000
SLACK_S = 0.04  # a delay is the schedule minus the wall time already spent in this test (microseconds)


def batches(start_s: float, n: int, *, runner: str) -> list[SampleBatch]:
    """n 0.5-s batches at 100 Hz starting `start_s` after T0."""
    out = []
    for i in range(n):
        t_ns = T0_NS + int((start_s + 0.5 * i) * 1e9) + np.arange(50, dtype=np.int64) * 10_000_000
        out.append(
            SampleBatch(
                runner=runner,
                device="d",
                placement=Placement.CHEST,
                kind=SampleKind.ACC,
                rate_hz=100.0,
                t_ns=t_ns,
                values=np.zeros((50, 3), np.float32),
            )
        )
    return out


@pytest.fixture
def requested_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    asked: list[float] = []
    real_sleep = asyncio.sleep

    async def record(delay: float) -> None:
        asked.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(sources.asyncio, "sleep", record)
    return asked


async def test_each_stream_starts_at_once_on_its_own_clock(requested_sleeps: list[float]) -> None:
    late = batches(5.0, 2, runner="b")
    items = [item async for item in sources.paced(late, speed=10.0)]
    assert items == late
    assert len(requested_sleeps) == 1, "the first item goes at once; only the second waits"
    assert 0.05 - SLACK_S < requested_sleeps[0] <= 0.05  # 0.5 s of data at 10x, less the time already spent


async def test_a_common_start_keeps_a_later_stream_behind_by_its_offset(requested_sleeps: list[float]) -> None:
    late = batches(5.0, 2, runner="b")
    start_t_ns = int(batches(0.0, 1, runner="a")[0].t_ns[-1])  # the earliest stream's first item
    items = [item async for item in sources.paced(late, speed=10.0, start_t_ns=start_t_ns)]
    assert items == late
    # 5 s later than the earliest stream at 10x: its first item waits 0.5 s, the next 0.55 s
    assert 0.5 - SLACK_S < requested_sleeps[0] <= 0.5
    assert 0.55 - SLACK_S < requested_sleeps[1] <= 0.55
