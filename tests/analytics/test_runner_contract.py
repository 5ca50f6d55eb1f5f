"""RunnerAnalyzer's contract: which streams it uses, errors with data, the summary, configuration."""

from __future__ import annotations

import json

import numpy as np
import pytest

from strideguard.analytics.config import AnalyticsConfig
from strideguard.analytics.errors import AnalyticsError, ConfigError
from strideguard.analytics.results import AnalyzerOutput, RiskEvent, WindowMetrics
from strideguard.analytics.runner import RunnerAnalyzer
from strideguard.sensors.synthetic import NoiseBurst, SyntheticConfig, SyntheticRunner
from strideguard.sensors.types import Placement, SampleBatch, SampleKind


@pytest.fixture(scope="module")
def run():
    return SyntheticRunner(SyntheticConfig(standing_s=3.0)).generate(40.0, 50, seed=3, runner="ann")


def analyse(batches) -> tuple[AnalyzerOutput, RunnerAnalyzer]:
    analyzer = RunnerAnalyzer(runner="ann")
    out = AnalyzerOutput()
    for b in batches:
        out = out + analyzer.push(b)
    return out + analyzer.finish(), analyzer


def relabel(batch: SampleBatch, **changes) -> SampleBatch:
    fields = {
        "runner": batch.runner,
        "device": batch.device,
        "placement": batch.placement,
        "kind": batch.kind,
        "rate_hz": batch.rate_hz,
        "t_ns": batch.t_ns,
        "values": batch.values,
    }
    fields.update(changes)
    return SampleBatch(**fields)


def test_uses_the_first_trunk_acc_stream_and_ignores_the_rest(run) -> None:
    alone, _ = analyse([run.acc])
    noise = np.random.default_rng(0).normal(0, 1, run.acc.values.shape)
    other_device = relabel(run.acc, device="second-strap", values=noise)
    wrist = relabel(run.acc, device="watch", placement=Placement.WRIST, values=noise)
    mixed, analyzer = analyse([run.gyro, wrist, run.acc, other_device])
    assert mixed == alone and alone.steps
    assert analyzer.summary["device"] == run.acc.device


def test_errors_carry_what_went_wrong(run) -> None:
    analyzer = RunnerAnalyzer(runner="bob")
    with pytest.raises(AnalyticsError, match=r"'ann'.*'bob'"):
        analyzer.push(run.acc)
    analyzer = RunnerAnalyzer(runner="ann")
    analyzer.push(run.acc.slice(0, 100))
    with pytest.raises(AnalyticsError, match="not after"):
        analyzer.push(run.acc.slice(50, 150))
    with pytest.raises(AnalyticsError, match="changed rate"):
        analyzer.push(relabel(run.acc.slice(100, 200), rate_hz=100.0))
    analyzer.finish()
    with pytest.raises(AnalyticsError, match="after finish"):
        analyzer.push(run.acc.slice(200, 300))


def test_summary_is_json_and_matches_the_outputs(run) -> None:
    out, analyzer = analyse([run.acc])
    summary = json.loads(json.dumps(analyzer.summary))
    assert summary["n_steps"] == len(out.steps)
    assert summary["n_windows"] == len(out.windows) == 7  # complete 10-s windows every 5 s in 40 s
    assert summary["duration_s"] == pytest.approx(40.0)
    intervals = [s.step_time_s for s in out.steps if s.step_time_s is not None]
    assert summary["cadence_spm"] == pytest.approx(60 / np.mean(intervals), abs=0.01)


def test_empty_session_and_finish_twice() -> None:
    analyzer = RunnerAnalyzer(runner="ann")
    assert not analyzer.finish()
    assert not analyzer.finish()
    assert analyzer.summary["n_steps"] == 0 and analyzer.summary["duration_s"] == 0.0


def test_windows_wait_for_the_declared_latency(run) -> None:
    analyzer = RunnerAnalyzer(runner="ann")
    rate = run.acc.rate_hz
    first_window_at = None
    for i in range(0, len(run.acc), 5):
        if analyzer.push(run.acc.slice(i, i + 5)).windows:
            first_window_at = (i + 5) / rate
            break
    assert first_window_at == pytest.approx(10.0 + analyzer.config.latency_s, abs=5 / rate)


class RecordingRisk:
    """A minimal RiskStage of our own: numbers the windows it sees as their risk score."""

    def __init__(self) -> None:
        self.seen: list[WindowMetrics] = []

    def push_window(self, window: WindowMetrics) -> tuple[WindowMetrics, tuple[RiskEvent, ...]]:
        self.seen.append(window)
        from dataclasses import replace

        return replace(window, risk_score=float(len(self.seen))), ()


def test_risk_stage_gets_every_window_and_its_score_is_kept(run) -> None:
    risk = RecordingRisk()
    analyzer = RunnerAnalyzer(runner="ann", risk=risk)
    out = analyzer.push(run.acc) + analyzer.finish()
    assert [w.risk_score for w in out.windows] == [float(k + 1) for k in range(len(out.windows))]
    assert [w.t_start_ns for w in risk.seen] == [w.t_start_ns for w in out.windows]


def test_loose_strap_while_running_adds_no_steps() -> None:
    burst = SyntheticConfig(standing_s=3.0, noise_bursts=(NoiseBurst(at_s=15.0, duration_s=4.0, noise_g=0.5),))
    run = SyntheticRunner(burst).generate(35.0, 100, seed=7)
    out, _ = analyse([relabel(run.acc, runner="ann")])
    true_steps = sum(1 for s in run.steps if s.impact_t_ns < run.end_t_ns)
    assert true_steps - 3 <= len(out.steps) <= true_steps


def test_config_validates_with_the_key_named() -> None:
    with pytest.raises(ConfigError, match="hop_s"):
        AnalyticsConfig(hop_s=-1.0)
    with pytest.raises(ConfigError, match=r"window_s.*multiple"):
        AnalyticsConfig(window_s=10.0, hop_s=3.0)
    with pytest.raises(ConfigError, match="latency_s"):
        AnalyticsConfig(latency_s=0.2)
    with pytest.raises(ConfigError, match="step_band_hz"):
        AnalyticsConfig(step_band_hz=(4.0, 1.0))
    with pytest.raises(ConfigError, match="unknown setting"):
        AnalyticsConfig.from_mapping({"windw_s": 10})
    cfg = AnalyticsConfig.from_mapping({"window_s": 20, "hop_s": 10, "step_band_hz": [0.5, 3.5]})
    assert cfg.window_s == 20 and cfg.step_band_hz == (0.5, 3.5)


def test_other_window_grids_work(run) -> None:
    analyzer = RunnerAnalyzer(runner="ann", config=AnalyticsConfig(window_s=6.0, hop_s=2.0))
    out = analyzer.push(run.acc) + analyzer.finish()
    starts = [w.t_start_ns - run.start_t_ns for w in out.windows]
    assert starts == [k * 2_000_000_000 for k in range(len(starts))] and len(starts) == 18
    assert all(w.t_end_ns - w.t_start_ns == 6_000_000_000 for w in out.windows)


def test_gyro_only_input_produces_nothing(run) -> None:
    analyzer = RunnerAnalyzer(runner="ann")
    assert not analyzer.push(run.gyro) and not analyzer.finish()
    assert run.gyro.kind is SampleKind.GYRO


def test_a_dropout_breaks_the_bout_instead_of_making_a_long_step(run) -> None:
    n = len(run.acc)
    gap_ns = 3_000_000_000
    later = relabel(run.acc.slice(n // 2, n), t_ns=run.acc.t_ns[n // 2 :] + gap_ns)
    out, _ = analyse([run.acc.slice(0, n // 2), later])
    times = [s.step_time_s for s in out.steps if s.step_time_s is not None]
    assert times and max(times) < 0.6
    assert sum(1 for s in out.steps if s.step_time_s is None) >= 2
