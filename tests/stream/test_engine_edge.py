"""The session engine's trust boundary: what a broken or hostile source sends is dropped and counted by
reason, never raised inside the engine; good data around it is analysed as if the bad data had not come."""

from __future__ import annotations

import numpy as np
import pytest

from strideguard.sensors.types import HeartRateReading, SampleBatch, SampleKind, StrideReading
from strideguard.stream.runtime.engine import EdgeLimits, SessionEngine, SessionSummary
from strideguard.stream.runtime.session import SessionInfo
from tests.stream.engine_helpers import Recorder, batch_like
from tests.stream.snooze_helpers import RUNNER, analyzer, snooze_run

RUN = snooze_run(duration_s=120.0)
BATCHES = list(RUN.iter_batches(1.0))
ACC = [b for b in BATCHES if b.kind is SampleKind.ACC]
T0 = RUN.start_t_ns


async def run(items: list[object], limits: EdgeLimits | None = None) -> tuple[Recorder, SessionEngine]:
    recorder = Recorder()
    engine = SessionEngine(analyzer_factory=analyzer, sinks=[recorder], limits=limits)
    info = SessionInfo(session_id="s1", runner=RUNNER, team="t", source="test", started_t_ns=T0)
    await engine.open("k", info)
    for item in items:
        await engine.push("k", item)  # type: ignore[arg-type]
    await engine.finish("k")
    return recorder, engine


async def clean() -> Recorder:
    recorder, engine = await run(list(ACC))
    assert engine.dropped == {}
    return recorder


async def test_a_repeated_frame_is_dropped_and_counted_and_changes_nothing() -> None:
    expected = await clean()
    items = [*ACC[:30], ACC[28], ACC[29], *ACC[30:]]  # two frames again: time goes back 2 s
    got, engine = await run(items)
    assert got.outputs == expected.outputs
    assert engine.dropped == {"samples not after the previous one (time went back)": len(ACC[28]) + len(ACC[29])}
    assert got.summaries[0].dropped == engine.dropped


async def test_a_frame_overlapping_the_previous_keeps_only_its_new_samples() -> None:
    expected = await clean()
    overlap = SampleBatch(
        runner=RUNNER,
        device=ACC[30].device,
        placement=ACC[30].placement,
        kind=ACC[30].kind,
        rate_hz=ACC[30].rate_hz,
        t_ns=np.r_[ACC[29].t_ns[-5:], ACC[30].t_ns],
        values=np.r_[ACC[29].values[-5:], ACC[30].values],
    )
    got, engine = await run([*ACC[:30], overlap, *ACC[31:]])
    assert got.outputs == expected.outputs
    assert engine.dropped == {"samples not after the previous one (time went back)": 5}


async def test_non_finite_and_absurd_values_are_dropped_sample_by_sample() -> None:
    values = np.array(ACC[40].values)
    values[3, 1] = np.nan
    values[7, 0] = np.inf
    values[9, 2] = 5000.0  # g
    got, engine = await run([*ACC[:40], batch_like(ACC[40], values=values), *ACC[41:]])
    assert engine.dropped == {"samples not finite or out of range": 3}
    assert all(np.isfinite(w.cadence_spm) for w in got.outputs.windows if w.cadence_spm is not None)
    assert got.summaries[0].n_samples == sum(len(b) for b in ACC) - 3


async def test_a_changed_or_impossible_rate_and_another_runners_samples_are_refused() -> None:
    expected = await clean()
    changed = batch_like(ACC[50], rate_hz=ACC[50].rate_hz * 2)
    absurd = batch_like(ACC[50], rate_hz=1e6)
    other = batch_like(ACC[50], runner="ben")
    got, engine = await run([*ACC[:50], changed, absurd, other, *ACC[50:]])
    assert got.outputs == expected.outputs
    n = len(ACC[50])
    assert engine.dropped == {
        "samples after the device changed its rate": n,
        "samples at an impossible rate": n,
        "samples of another runner": n,
    }


async def test_readings_out_of_range_or_of_another_runner_are_dropped() -> None:
    t_ns = int(ACC[10].t_ns[-1])
    readings = [
        HeartRateReading(runner=RUNNER, device="h", t_ns=t_ns, heart_rate_bpm=0),
        StrideReading(runner=RUNNER, device="p", t_ns=t_ns, speed_mps=float("nan"), cadence_spm=170),
        StrideReading(runner=RUNNER, device="p", t_ns=t_ns, speed_mps=90.0, cadence_spm=170),
        HeartRateReading(runner="ben", device="h", t_ns=t_ns, heart_rate_bpm=150),
        HeartRateReading(runner=RUNNER, device="h", t_ns=t_ns, heart_rate_bpm=150),  # fine
    ]
    got, engine = await run([*ACC[:11], *readings, *ACC[11:]])
    assert engine.dropped == {"readings out of range": 3, "readings of another runner": 1}
    assert any(w.heart_rate_bpm == 150 for w in got.outputs.windows)


async def test_a_gap_beyond_the_limit_ends_the_session_and_opens_the_next_segment() -> None:
    month_ns = 30 * 24 * 3600 * 10**9
    later = [batch_like(b, t_ns=b.t_ns + month_ns) for b in ACC[60:]]
    got, engine = await run([*ACC[:60], *later], limits=EdgeLimits(max_gap_s=600.0))
    assert [s.session_id for s in got.sessions] == ["s1", "s1~2"]
    assert [s.session_id for s in got.summaries] == ["s1", "s1~2"]
    assert got.sessions[1].started_t_ns == int(later[0].t_ns[0])
    assert sum(s.n_samples for s in got.summaries) == sum(len(b) for b in ACC)
    # no windows across the gap: each segment has about its own duration's worth
    assert len(got.outputs.windows) < 2 * len(ACC) / 5
    assert engine.dropped == {}


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"action": "snooze", "metric": None, "minutes": 0}, "minutes must be a number"),
        ({"action": "snooze", "metric": None, "minutes": float("nan")}, "minutes must be a number"),
        ({"action": "snooze", "metric": None, "minutes": True}, "minutes must be a number"),
        ({"action": "snooze", "metric": 3, "minutes": 5}, "metric must be a name or null"),
        ({"action": "reboot"}, "unknown action"),
    ],
)
async def test_bad_controls_are_refused_with_a_reason(message: dict, reason: str) -> None:
    engine = SessionEngine(analyzer_factory=analyzer, sinks=[])
    await engine.open("k", SessionInfo(session_id="s", runner=RUNNER, team="t", source="x", started_t_ns=T0))
    await engine.push("k", ACC[0])
    reply = engine.control("k", message)
    assert reply.action == "refused" and reply.reason is not None and reason in reply.reason


async def test_the_summary_round_trips_through_its_stored_form() -> None:
    got, _ = await run(list(ACC[:60]))
    (summary,) = got.summaries
    assert SessionSummary.from_dict(summary.as_dict()) == summary
    assert summary.baseline is None or "metrics" in summary.baseline


async def test_a_gap_inside_one_batch_splits_it_too() -> None:
    """A CSV read in one piece: the month between two rows must not become a month of empty windows."""
    month_ns = 30 * 24 * 3600 * 10**9
    first, later = ACC[:60], ACC[60:]
    whole = batch_like(
        first[0],
        t_ns=np.concatenate([b.t_ns for b in first] + [b.t_ns + month_ns for b in later]),
        values=np.concatenate([b.values for b in ACC]),
    )
    got, engine = await run([whole])
    assert engine.dropped == {}
    assert [s.session_id for s in got.sessions] == ["s1", "s1~2"]
    assert sum(s.n_samples for s in got.summaries) == len(whole)
    assert sum(s.n_windows for s in got.summaries) < 2 * len(ACC) / 5
