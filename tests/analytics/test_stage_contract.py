"""The streaming contract every stage keeps (DESIGN rule 6, per stage): fed the same input whole, one
sample at a time, or in random splits (printed seed; set STRIDEGUARD_SPLIT_SEED to replay), a stage's
concatenated outputs are identical, bit for bit. Only *when* an output comes out may depend on the split.

Each entry of STAGES builds one stage behind a small harness that is told which samples [a, b) of a shared
recording come next. A stage is fed its own real input: what its upstream stages make of the recording,
computed once on the whole of it (so a failure points at this stage, not at its upstream), sliced like
the raw samples. Inputs that are events (step peaks, steps, the forward direction, footpod and heart-rate
readings) are handed over once the stream has reached them, which is earlier than the analyzer does: the
outputs must not depend on that either. The analyzer itself is one entry, with and without a risk engine.

Outputs are compared as a whole: events with ==, per-sample arrays by their bits (NaN marks "none").
A new streaming stage gets an entry here.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pytest

from strideguard.analytics.config import AnalyticsConfig
from strideguard.analytics.consts import NS_PER_S
from strideguard.analytics.filters import RunningSum, SosFilter, butter_sos, one_pole_sos
from strideguard.analytics.impact import ImpactFilter, ImpactFilterParams
from strideguard.analytics.lean import StandingReference, StandingReferenceParams
from strideguard.analytics.orientation import OrientationParams, OrientationStage, OrientedChunk
from strideguard.analytics.oscillation import DisplacementFilter
from strideguard.analytics.results import StepEvent
from strideguard.analytics.risk import RiskEngine
from strideguard.analytics.risk.config import parse_risk_config
from strideguard.analytics.runner import RunnerAnalyzer
from strideguard.analytics.step_metrics import ForwardDirection, StepMetricsParams, StepMetricsStage
from strideguard.analytics.steps import StepDetector, StepDetectorParams, StepPeak
from strideguard.analytics.window_assembly import WindowAssembly, WindowAssemblyParams, WindowReadings
from strideguard.analytics.windows import BlockSums
from strideguard.sensors.synthetic import (
    NoiseBurst,
    Pause,
    SyntheticConfig,
    SyntheticRunner,
    WalkBreak,
    random_rotation,
)
from strideguard.sensors.types import HeartRateReading, Placement, SampleBatch, StrideReading
from tests.analytics.splits import fixed_cuts, random_cuts, split_seed

CONFIG = AnalyticsConfig()

Outputs = dict[str, Any]  # output kind -> list of events, or an (n, ...) array of per-sample values


@dataclass(frozen=True, eq=False)
class Recording:
    """One synthetic run and what the stages upstream of each stage make of it, computed whole."""

    batch: SampleBatch
    acc: np.ndarray  # (n, 3) float64, g
    oriented: OrientedChunk  # the orientation of the whole run
    axes: OrientationStage  # after the whole run: its AP axis at any sample (40 s: < AXIS_HISTORY updates)
    peaks: list[StepPeak]
    steps: list[StepEvent]
    forward: ForwardDirection | None
    readings: list[StrideReading | HeartRateReading]

    @property
    def rate_hz(self) -> float:
        return self.batch.rate_hz

    @property
    def t0_ns(self) -> int:
        return int(self.batch.t_ns[0])

    def oriented_slice(self, a: int, b: int) -> OrientedChunk:
        o = self.oriented
        return OrientedChunk(**{f.name: getattr(o, f.name)[a:b] for f in dataclasses.fields(o)})

    def reached(self, b: int) -> int:
        """Time of the last sample of [.., b): events up to it are known once it is pushed."""
        return int(self.batch.t_ns[b - 1])


def make_recording(rate_hz: int) -> Recording:
    cfg = SyntheticConfig(
        mount_rotation=random_rotation(11),
        standing_s=4.0,
        walk_breaks=(WalkBreak(at_s=20.0, duration_s=6.0),),
        # a stop with weight shifting: a bout ends and a new one is held until its rhythm is confirmed
        pauses=(Pause(at_s=26.0, duration_s=3.0, activity="fidget"),),
        noise_bursts=(NoiseBurst(at_s=32.0, duration_s=2.0, noise_g=0.6),),
    )
    batch = SyntheticRunner(cfg).generate(40.0, rate_hz, seed=5, placement=Placement.CHEST).acc
    acc = batch.values.astype(np.float64)
    orientation = OrientationStage(rate_hz=batch.rate_hz, params=OrientationParams.from_config(CONFIG))
    oriented = orientation.push(acc)
    detector = StepDetector(rate_hz=batch.rate_hz, params=StepDetectorParams.from_config(CONFIG))
    peaks = detector.push(oriented.dyn_vertical_g) + detector.flush()
    steps_stage = _step_metrics(batch, orientation)
    steps = steps_stage.push(batch.t_ns, oriented, peaks) + steps_stage.finish([])
    t0, t1 = int(batch.t_ns[0]), int(batch.t_ns[-1])
    readings: list[StrideReading | HeartRateReading] = []
    for k, t in enumerate(range(t0 + NS_PER_S // 3, t1, NS_PER_S)):
        length = 1.1 if k % 3 else None  # some footpod readings without a stride length
        pod = StrideReading(
            runner=batch.runner, device="pod", t_ns=t, speed_mps=3.0, cadence_spm=170, stride_length_m=length
        )
        readings.append(pod)
        readings.append(HeartRateReading(runner=batch.runner, device="hr", t_ns=t + 1, heart_rate_bpm=140 + k % 9))
    for array in (batch.t_ns, batch.values, acc, *(getattr(oriented, f.name) for f in dataclasses.fields(oriented))):
        array.setflags(write=False)  # shared by every stage under test: none may write into its input
    return Recording(
        batch=batch,
        acc=acc,
        oriented=oriented,
        axes=orientation,
        peaks=peaks,
        steps=steps,
        forward=steps_stage.forward,
        readings=readings,
    )


def _step_metrics(batch: SampleBatch, axes: OrientationStage) -> StepMetricsStage:
    return StepMetricsStage(
        runner=batch.runner,
        rate_hz=batch.rate_hz,
        t0_ns=int(batch.t_ns[0]),
        params=StepMetricsParams.from_config(CONFIG),
        axes=axes,
    )


class Harness(Protocol):
    """One stage, fed samples [a, b) of the recording at a time (each push continues the last)."""

    def push(self, a: int, b: int) -> Outputs: ...

    def finish(self) -> Outputs: ...


class AnalyzerHarness:
    def __init__(self, rec: Recording, *, risk: bool):
        runner = rec.batch.runner
        engine = RiskEngine(parse_risk_config("", runner=runner)) if risk else None
        self._analyzer = RunnerAnalyzer(runner=runner, config=CONFIG, risk=engine)
        self._rec = rec
        self._readings = iter(rec.readings)
        self._next: Any = next(self._readings, None)

    def push(self, a: int, b: int) -> Outputs:
        while self._next is not None and self._next.t_ns <= self._rec.reached(b):
            self._analyzer.push_reading(self._next)
            self._next = next(self._readings, None)
        return self._outputs(self._analyzer.push(self._rec.batch.slice(a, b)))

    def finish(self) -> Outputs:
        out = self._outputs(self._analyzer.finish())
        out["summary"] = [self._analyzer.summary]
        return out

    @staticmethod
    def _outputs(out: Any) -> Outputs:
        return {"steps": list(out.steps), "windows": list(out.windows), "risk_events": list(out.risk_events)}


class OrientationHarness:
    def __init__(self, rec: Recording):
        self._stage = OrientationStage(rate_hz=rec.rate_hz, params=OrientationParams.from_config(CONFIG))
        self._rec = rec

    def push(self, a: int, b: int) -> Outputs:
        o = self._stage.push(self._rec.acc[a:b])
        out: Outputs = {f.name: getattr(o, f.name) for f in dataclasses.fields(o)}
        # the AP axis in force at each sample, as later stages look it up once the sample is in
        axes = [self._stage.axis_at(i) for i in range(a, b)]
        out["axis"] = np.array([np.full(3, np.nan) if u is None else u for u in axes]).reshape(-1, 3)
        return out

    def finish(self) -> Outputs:
        return {}


class StepDetectorHarness:
    def __init__(self, rec: Recording):
        self._stage = StepDetector(rate_hz=rec.rate_hz, params=StepDetectorParams.from_config(CONFIG))
        self._rec = rec

    def push(self, a: int, b: int) -> Outputs:
        return {"peaks": self._stage.push(self._rec.oriented.dyn_vertical_g[a:b])}

    def finish(self) -> Outputs:
        return {"peaks": self._stage.flush()}


class StepMetricsHarness:
    def __init__(self, rec: Recording):
        self._stage = _step_metrics(rec.batch, rec.axes)
        self._rec = rec
        self._given = 0  # peaks handed over so far

    def push(self, a: int, b: int) -> Outputs:
        peaks = self._rec.peaks
        start = self._given
        while self._given < len(peaks) and peaks[self._given].index < b:
            self._given += 1
        steps = self._stage.push(self._rec.batch.t_ns[a:b], self._rec.oriented_slice(a, b), peaks[start : self._given])
        return {"steps": steps}

    def finish(self) -> Outputs:
        return {"steps": self._stage.finish(self._rec.peaks[self._given :]), "forward": [self._stage.forward]}


class WindowAssemblyHarness:
    def __init__(self, rec: Recording):
        self._rec = rec
        self._readings = WindowReadings()
        self._stage = WindowAssembly(
            runner=rec.batch.runner,
            rate_hz=rec.rate_hz,
            t0_ns=rec.t0_ns,
            params=WindowAssemblyParams.from_config(CONFIG),
            axes=rec.axes,
            readings=self._readings,
        )
        self._steps_given = self._readings_given = 0

    def push(self, a: int, b: int) -> Outputs:
        rec, reached = self._rec, self._rec.reached(b)
        while self._readings_given < len(rec.readings) and rec.readings[self._readings_given].t_ns <= reached:
            self._readings.add(rec.readings[self._readings_given])
            self._readings_given += 1
        start = self._steps_given
        while self._steps_given < len(rec.steps) and rec.steps[self._steps_given].t_ns <= reached:
            self._steps_given += 1
        forward = rec.forward if rec.forward is not None and rec.forward.decided_t_ns <= reached else None
        windows = self._stage.push(
            rec.batch.t_ns[a:b], rec.acc[a:b], rec.oriented_slice(a, b), rec.steps[start : self._steps_given], forward
        )
        return {"windows": windows}

    def finish(self) -> Outputs:
        rec = self._rec
        end_ns = int(rec.batch.t_ns[-1]) + round(NS_PER_S / rec.rate_hz)
        return {"windows": self._stage.finish(end_ns=end_ns, steps=rec.steps[self._steps_given :], forward=rec.forward)}


class ArrayHarness:
    """A per-sample stage: one array in, one array out (filters and running sums)."""

    def __init__(self, stage: Callable[[np.ndarray], np.ndarray], signal: np.ndarray):
        self._stage = stage
        self._signal = signal

    def push(self, a: int, b: int) -> Outputs:
        return {"out": self._stage(self._signal[a:b])}

    def finish(self) -> Outputs:
        return {}


class StandingReferenceHarness:
    def __init__(self, rec: Recording):
        self._stage = StandingReference(rate_hz=rec.rate_hz, params=StandingReferenceParams.from_config(CONFIG))
        self._rec = rec

    def push(self, a: int, b: int) -> Outputs:
        self._stage.push(self._rec.acc[a:b], self._rec.oriented.dyn_power_g2[a:b], a)
        return {}

    def finish(self) -> Outputs:
        up = self._stage.up
        return {"reference": [(self._stage.closed_at, None if up is None else up.tobytes())]}


class BlockSumsHarness:
    def __init__(self, rec: Recording):
        hop_ns = round(CONFIG.hop_s * NS_PER_S)
        self._stage = BlockSums(t0_ns=rec.t0_ns, hop_ns=hop_ns, channels=3)
        self._rec = rec

    def push(self, a: int, b: int) -> Outputs:
        o = self._rec.oriented
        values = np.stack([o.ml_g[a:b] ** 2, o.ap_g[a:b] ** 2, o.dyn_power_g2[a:b]], axis=1)
        return {"blocks": self._blocks(self._stage.push(self._rec.batch.t_ns[a:b], values, a))}

    def finish(self) -> Outputs:
        end_ns = int(self._rec.batch.t_ns[-1]) + round(NS_PER_S / self._rec.rate_hz)
        return {"blocks": self._blocks(self._stage.flush(end_ns=end_ns))}

    @staticmethod
    def _blocks(blocks: list) -> list:
        return [(b.index, b.sums.tobytes(), b.n_samples, b.last_sample) for b in blocks]


def _sos(sos: np.ndarray, *, steady_start: bool = False, rows: bool = False) -> Callable[[np.ndarray], np.ndarray]:
    """A SosFilter through `__call__` on (n,) / (n, k), or through `filter_rows` on the (k, n) transpose."""
    f = SosFilter(sos, steady_start=steady_start)
    if rows:
        return lambda x: f.filter_rows(np.array(x.T, order="C")).T  # a copy: it filters in place
    return f


STAGES: dict[str, Callable[[Recording], Harness]] = {
    "RunnerAnalyzer": lambda rec: AnalyzerHarness(rec, risk=False),
    "RunnerAnalyzer+RiskEngine": lambda rec: AnalyzerHarness(rec, risk=True),
    "OrientationStage": OrientationHarness,
    "StepDetector": StepDetectorHarness,
    "StepMetricsStage": StepMetricsHarness,
    "WindowAssembly": WindowAssemblyHarness,
    "StandingReference": StandingReferenceHarness,
    "BlockSums": BlockSumsHarness,
    "ImpactFilter": lambda rec: ArrayHarness(
        ImpactFilter(rate_hz=rec.rate_hz, params=ImpactFilterParams.from_config(CONFIG)).push, rec.oriented.vertical_g
    ),
    "DisplacementFilter": lambda rec: ArrayHarness(
        DisplacementFilter(rate_hz=rec.rate_hz, highpass_hz=CONFIG.oscillation_highpass_hz).push,
        rec.oriented.dyn_vertical_g,
    ),
    "SosFilter band-pass, 3 channels": lambda rec: ArrayHarness(
        _sos(butter_sos(2, CONFIG.step_band_hz, "bandpass", rec.rate_hz)), rec.acc
    ),
    "SosFilter steady start, filter_rows": lambda rec: ArrayHarness(
        _sos(butter_sos(2, CONFIG.contact_lowpass_hz, "lowpass", rec.rate_hz), steady_start=True, rows=True), rec.acc
    ),
    "SosFilter one-pole": lambda rec: ArrayHarness(
        _sos(one_pole_sos(CONFIG.still_time_constant_s, rec.rate_hz)), rec.oriented.dyn_power_g2
    ),
    "RunningSum": lambda rec: ArrayHarness(RunningSum(3).add, rec.acc),
}


@pytest.fixture(scope="module", params=[25, 100, 500], ids=lambda r: f"{r}Hz")
def recording(request: pytest.FixtureRequest) -> Recording:
    return make_recording(request.param)


def run(make: Callable[[Recording], Harness], rec: Recording, cuts: list[int]) -> Outputs:
    """Feed the stage the recording cut at `cuts`; its outputs concatenated per kind."""
    stage = make(rec)
    parts: list[Outputs] = []
    for a, b in itertools.pairwise([0, *cuts, len(rec.batch)]):
        parts.append(stage.push(a, b))
    parts.append(stage.finish())
    out: Outputs = {}
    for part in parts:
        for kind, value in part.items():
            out.setdefault(kind, []).append(value)
    return {k: np.concatenate(v) if isinstance(v[0], np.ndarray) else list(itertools.chain(*v)) for k, v in out.items()}


def assert_same(got: Outputs, want: Outputs, split: str) -> None:
    assert got.keys() == want.keys(), split
    for kind, value in want.items():
        if isinstance(value, np.ndarray):
            other = got[kind]
            assert other.shape == value.shape and other.dtype == value.dtype, f"{kind}, {split}"
            assert other.tobytes() == value.tobytes(), f"{kind} differs in its bits, {split}"
        else:
            assert got[kind] == value, f"{kind}, {split}"


@pytest.mark.parametrize("stage", list(STAGES), ids=list(STAGES))
def test_stage_outputs_do_not_depend_on_the_split(stage: str, recording: Recording) -> None:
    make = STAGES[stage]
    n = len(recording.batch)
    whole = run(make, recording, [])
    assert any(len(v) for v in whole.values()), "the stage must produce something to compare"
    seed = split_seed()
    splits = {"one sample at a time": fixed_cuts(n, 1), f"random split, seed {seed}": random_cuts(n, seed)}
    for split, cuts in splits.items():
        assert_same(run(make, recording, cuts), whole, split)


def test_the_recording_exercises_what_the_stages_decide(recording: Recording) -> None:
    """The input is rich enough for the contract to mean something: steps with sides and contacts, a
    forward direction, windows with lean, footpod and heart-rate values, a bout break."""
    out = run(STAGES["RunnerAnalyzer"], recording, [])
    steps, windows = out["steps"], out["windows"]
    assert len(steps) > 60 and len(windows) == 7
    assert recording.forward is not None
    assert any(s.side.value != "unknown" for s in steps) and any(s.contact_time_ms is not None for s in steps)
    assert sum(s.step_time_s is None for s in steps) >= 2  # the start and the stop after the walk break
    assert any(w.lean_deg is not None for w in windows)
    assert any(w.speed_mps is not None and w.heart_rate_bpm is not None for w in windows)
