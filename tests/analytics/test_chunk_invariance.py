"""DESIGN rule 6: the same recording in any chunking gives identical steps, windows and summary.

Chunks of 1, 7 and 100 samples, the whole recording, and random splits with a printed, pinnable seed
(set STRIDEGUARD_SPLIT_SEED to replay a failure). Whole objects are compared, not selected fields.
The same contract for every streaming stage on its own: test_stage_contract.py.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from strideguard.analytics.config import AnalyticsConfig
from strideguard.analytics.results import AnalyzerOutput
from strideguard.analytics.runner import RunnerAnalyzer
from strideguard.sensors.synthetic import (
    NoiseBurst,
    Pause,
    SyntheticConfig,
    SyntheticRunner,
    WalkBreak,
    random_rotation,
)
from strideguard.sensors.types import Placement, SampleBatch
from tests.analytics.splits import fixed_cuts, random_cuts, split_seed


def analyse(batch: SampleBatch, cuts: list[int]) -> tuple[AnalyzerOutput, dict]:
    analyzer = RunnerAnalyzer(runner=batch.runner)
    out = AnalyzerOutput()
    bounds = [0, *cuts, len(batch)]
    for a, b in itertools.pairwise(bounds):
        if b > a:
            out = out + analyzer.push(batch.slice(a, b))
    return out + analyzer.finish(), analyzer.summary


def assert_same(batch: SampleBatch, sizes: tuple[int, ...]) -> AnalyzerOutput:
    whole, whole_summary = analyse(batch, [])
    assert whole.steps and whole.windows, "the recording must produce steps and windows to compare"
    splits = {f"chunks of {s}": fixed_cuts(len(batch), s) for s in sizes}
    seed = split_seed()
    splits[f"random split seed {seed}"] = random_cuts(len(batch), seed)
    for name, cuts in splits.items():
        out, summary = analyse(batch, cuts)
        assert out.steps == whole.steps, name
        assert out.windows == whole.windows, name
        assert summary == whole_summary, name
    return whole


def test_uci_chest_recording_is_chunk_invariant(uci_runs) -> None:
    run = uci_runs[0]
    assert_same(run.batch.slice(0, 25 * 60), (1, 7, 100))


@pytest.mark.parametrize("rate_hz", [25, 100, 500])
def test_synthetic_run_with_breaks_and_noise_is_chunk_invariant(rate_hz: int) -> None:
    cfg = SyntheticConfig(
        mount_rotation=random_rotation(11),
        standing_s=4.0,
        walk_breaks=(WalkBreak(at_s=20.0, duration_s=6.0),),
        noise_bursts=(NoiseBurst(at_s=32.0, duration_s=2.0, noise_g=0.6),),
    )
    run = SyntheticRunner(cfg).generate(40.0, rate_hz, seed=5, placement=Placement.CHEST)
    sizes = (1, 7, 100) if rate_hz <= 100 else (7, 100)
    whole = assert_same(run.acc, sizes)
    assert any(s.side.value != "unknown" for s in whole.steps)
    assert any(w.lean_deg is not None for w in whole.windows)


@pytest.mark.parametrize("rate_hz", [25, 100])
def test_stops_and_held_bout_starts_are_chunk_invariant(rate_hz: int) -> None:
    """A bout's first steps are held until its rhythm is confirmed and released together, or dropped when
    that comes later than the declared latency allows (a slow walk from standing at 62 steps/min is past
    that edge): the decision must not depend on where the chunks end."""
    cfg = SyntheticConfig(
        standing_s=3.0,
        walk_cadence_spm=62.0,
        walk_breaks=(WalkBreak(at_s=0.0, duration_s=10.0), WalkBreak(at_s=36.0, duration_s=20.0)),
        pauses=(
            Pause(at_s=10.0, duration_s=4.0, activity="fidget"),
            Pause(at_s=30.0, duration_s=6.0, activity="tie_shoe"),
        ),
    )
    run = SyntheticRunner(cfg).generate(45.0, rate_hz, seed=8, placement=Placement.SACRUM)
    whole = assert_same(run.acc, (1, 7, 100))
    assert sum(s.step_time_s is None for s in whole.steps) >= 3  # three bouts


@pytest.mark.parametrize("latency_s", [1.5, 2.5])
def test_no_step_comes_out_later_than_the_declared_latency(latency_s: float) -> None:
    """What makes the windows chunk-invariant: every step is out before the stream is `latency_s` past it,
    also a held bout start (walks from standing at 80 steps/min need about 1.9 s to show their rhythm;
    with a 1.5-s latency their first step is dropped, not sent late)."""
    cfg = SyntheticConfig(
        standing_s=3.0,
        walk_cadence_spm=80.0,
        walk_breaks=(WalkBreak(at_s=0.0, duration_s=10.0), WalkBreak(at_s=36.0, duration_s=20.0)),
        pauses=(Pause(at_s=10.0, duration_s=4.0, activity="fidget"), Pause(at_s=30.0, duration_s=6.0)),
    )
    batch = SyntheticRunner(cfg).generate(45.0, 50, seed=8, placement=Placement.SACRUM).acc
    analyzer = RunnerAnalyzer(runner=batch.runner, config=AnalyticsConfig(latency_s=latency_s))
    late_s = []
    for i in range(len(batch)):
        late_s += [(int(batch.t_ns[i]) - s.t_ns) / 1e9 for s in analyzer.push(batch.slice(i, i + 1)).steps]
    assert len(late_s) > 40
    assert max(late_s) <= latency_s, f"a step came out {max(late_s):.2f} s after its time"


def test_batch_larger_than_internal_piece_gives_the_same_result() -> None:
    run = SyntheticRunner(SyntheticConfig(standing_s=3.0)).generate(95.0, 100, seed=2)
    whole, _ = analyse(run.acc, [])
    halves, _ = analyse(run.acc, [len(run.acc) // 2])
    assert whole == halves
    assert len(whole.windows) == 18


def test_one_sample_batches_at_500_hz_match_whole(alcantara_trials) -> None:
    batch = alcantara_trials[2].batch
    whole, _ = analyse(batch, [])
    single, _ = analyse(batch, fixed_cuts(len(batch), 1))
    assert single.steps == whole.steps and len(whole.steps) >= 8
    np.testing.assert_array_equal([s.t_ns for s in single.steps], [s.t_ns for s in whole.steps])
