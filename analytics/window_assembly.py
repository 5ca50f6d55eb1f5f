"""Window assembly: per-sample block sums, steps and readings -> one `WindowMetrics` per window of the grid.

`WindowAssembly` sums the per-sample channels of each hop block (`windows.BlockSums`: sway energies and
gravity), keeps the finished steps and the footpod / heart-rate readings (`WindowReadings`) until every
window they may fall in is out, and keeps the dynamic vertical acceleration a window's regularity needs.
A window is emitted once the stream has passed its end by `latency_s` (the analyzer's declared fixed
look-ahead, within which every step of the window has been decided); `finish` emits every complete
window still held back. Every decision a window uses was made by data before the window's end, so the
windows are the same for any chunking of the input; only *when* one comes out depends on it.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter

import numpy as np

from strideguard.analytics.cadence import cadence_spm
from strideguard.analytics.config import AnalyticsConfig
from strideguard.analytics.consts import NS_PER_S
from strideguard.analytics.filters import History
from strideguard.analytics.footpod import overstriding_ratio, window_speed_and_stride
from strideguard.analytics.lean import StandingReference, StandingReferenceParams, lean_deg, unit
from strideguard.analytics.orientation import AxisLookup, OrientedChunk
from strideguard.analytics.regularity import regularity
from strideguard.analytics.results import Side, StepEvent, WindowMetrics
from strideguard.analytics.step_metrics import ForwardDirection
from strideguard.analytics.sway import sway_ratios
from strideguard.analytics.symmetry import contact_step_times_s, symmetry_index_pct
from strideguard.analytics.windows import Block, BlockSums, combine
from strideguard.sensors.types import HeartRateReading, StrideReading

READINGS_KEPT = 512  # footpod / heart-rate readings buffered for windows not yet emitted


class BlockChannel(enum.IntEnum):
    """The per-sample channels summed per hop block, in the order they are written."""

    ML2_G2 = 0  # squared ML dynamic acceleration
    AP2_G2 = 1  # squared AP dynamic acceleration
    RESULTANT2_G2 = 2  # squared resultant dynamic acceleration
    GRAVITY_X_G = 3  # gravity estimate, sensor x
    GRAVITY_Y_G = 4  # sensor y
    GRAVITY_Z_G = 5  # sensor z


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowAssemblyParams:
    """What `WindowAssembly` needs of the configuration (see `AnalyticsConfig` for the meanings)."""

    window_s: float  # s, window length (a whole multiple of hop_s)
    hop_s: float  # s, window start spacing
    latency_s: float  # s, how far the stream must be past a window's end before it is emitted
    min_steps_per_window: int  # fewer steps: the window's cadence and step metrics are None
    running_min_cadence_spm: float  # steps/min, a window below this is not `running`
    overstride_reference_windows: int  # running windows whose median cadence is the overstriding reference
    standing: StandingReferenceParams  # the standing posture that is the lean reference

    @classmethod
    def from_config(cls, config: AnalyticsConfig) -> WindowAssemblyParams:
        return cls(
            window_s=config.window_s,
            hop_s=config.hop_s,
            latency_s=config.latency_s,
            min_steps_per_window=config.min_steps_per_window,
            running_min_cadence_spm=config.running_min_cadence_spm,
            overstride_reference_windows=config.overstride_reference_windows,
            standing=StandingReferenceParams.from_config(config),
        )


class WindowReadings:
    """Footpod and heart-rate readings kept for the windows not yet emitted (the last `READINGS_KEPT` of
    each kind). It exists before the first sample does, so readings that come first are kept."""

    def __init__(self) -> None:
        self._heart: deque[tuple[int, float]] = deque(maxlen=READINGS_KEPT)  # (t_ns, bpm)
        self._strides: deque[StrideReading] = deque(maxlen=READINGS_KEPT)

    def add(self, reading: StrideReading | HeartRateReading) -> None:
        if isinstance(reading, HeartRateReading):
            self._heart.append((reading.t_ns, float(reading.heart_rate_bpm)))
        elif isinstance(reading, StrideReading):
            self._strides.append(reading)

    def strides_in(self, start_ns: int, end_ns: int) -> list[StrideReading]:
        return [r for r in self._strides if start_ns <= r.t_ns < end_ns]

    def heart_rates_in(self, start_ns: int, end_ns: int) -> list[float]:
        return [bpm for t, bpm in self._heart if start_ns <= t < end_ns]

    def drop_before(self, t_ns: int) -> None:
        """Forget the readings before `t_ns` (no window still to come starts before it)."""
        while self._heart and self._heart[0][0] < t_ns:
            self._heart.popleft()
        while self._strides and self._strides[0].t_ns < t_ns:
            self._strides.popleft()


class WindowLean:
    """Lean of each window against the reference posture: standing still at the start of the session
    when there is enough of it (`StandingReference`), else the mean gravity of the first running window
    whose gravity has a direction. Every decision it uses was made by data before the window's end, so
    the answer does not depend on how far the stream had got when the window was emitted."""

    def __init__(self, *, rate_hz: float, params: StandingReferenceParams):
        self._standing = StandingReference(rate_hz=rate_hz, params=params)
        self._up: np.ndarray | None = None  # the reference gravity direction, once known

    def push(self, acc_g: np.ndarray, dyn_power_g2: np.ndarray, first_index: int) -> None:
        self._standing.push(acc_g, dyn_power_g2, first_index)

    def lean_deg(
        self,
        gravity: np.ndarray | None,
        *,
        last_sample: int,
        end_ns: int,
        running: bool,
        axis: np.ndarray | None,
        forward: ForwardDirection | None,
    ) -> float | None:
        """Lean of the window ending at `end_ns` (last sample `last_sample`) with mean gravity `gravity`
        and the AP axis `axis` in force at its last sample; None while a reference or the forward
        direction is missing, and for a window whose mean gravity is zero (it has no direction)."""
        standing_end = self._standing.closed_at
        if gravity is None or standing_end is None or standing_end > last_sample:
            return None
        direction = unit(gravity)
        if direction is None:
            return None  # a zero mean gravity has no direction: no lean, and no reference from it
        if self._up is None:
            if self._standing.up is not None:
                self._up = self._standing.up
            elif running:
                self._up = direction
            else:
                return None
        if axis is None or forward is None or forward.decided_t_ns >= end_ns:
            return None
        return lean_deg(gravity=gravity, up=self._up, forward_axis=forward.sign * axis)


class WindowAssembly:
    """Blocks, steps and readings -> `WindowMetrics` on the fixed window grid (see the module docstring)."""

    def __init__(
        self,
        *,
        runner: str,
        rate_hz: float,
        t0_ns: int,
        params: WindowAssemblyParams,
        axes: AxisLookup,
        readings: WindowReadings | None = None,
    ):
        self._runner = runner
        self._rate_hz = rate_hz
        self._params = params
        self._axes = axes
        self._readings = readings if readings is not None else WindowReadings()
        self._n_samples = 0
        self._block_sums = BlockSums(t0_ns=t0_ns, hop_ns=round(params.hop_s * NS_PER_S), channels=len(BlockChannel))
        self._blocks: dict[int, Block] = {}
        self._blocks_per_window = round(params.window_s / params.hop_s)
        self._latency_ns = round(params.latency_s * NS_PER_S)
        self._next_window = 0
        self._steps: deque[StepEvent] = deque()  # finished steps not yet behind every pending window
        self._vertical = History(1, round((params.window_s + params.latency_s + 1.0) * rate_hz))
        self._lean = WindowLean(rate_hz=rate_hz, params=params.standing)
        self._reference_cadences: list[float] = []  # early running windows' cadence (overstriding reference)

    @property
    def readings(self) -> WindowReadings:
        return self._readings

    def push(
        self,
        t_ns: np.ndarray,
        acc_g: np.ndarray,
        oriented: OrientedChunk,
        steps: Iterable[StepEvent],
        forward: ForwardDirection | None,
    ) -> list[WindowMetrics]:
        """Add one chunk (sample times, float64 acceleration and its orientation) with the steps that were
        finished with it and the forward direction as it stands after them; return the windows the
        stream has now passed by the latency."""
        first_index = self._n_samples
        self._n_samples += t_ns.shape[0]
        self._vertical.extend_columns(oriented.dyn_vertical_g)
        self._lean.push(acc_g, oriented.dyn_power_g2, first_index)
        ml, ap, g = oriented.ml_g, oriented.ap_g, oriented.gravity
        sums = _columns(ml * ml, ap * ap, oriented.dyn_power_g2, g[:, 0], g[:, 1], g[:, 2])  # BlockChannel order
        for block in self._block_sums.push(t_ns, sums, first_index):
            self._blocks[block.index] = block
        self._steps.extend(steps)
        windows = self._emit_windows(stream_t_ns=int(t_ns[-1]), forward=forward)
        self._vertical.trim()
        return windows

    def finish(
        self, *, end_ns: int, steps: Iterable[StepEvent], forward: ForwardDirection | None
    ) -> list[WindowMetrics]:
        """End of stream at `end_ns` (one sample period after the last sample): the last steps, then every
        complete window still held back."""
        self._steps.extend(steps)
        for block in self._block_sums.flush(end_ns=end_ns):
            self._blocks[block.index] = block
        return self._emit_windows(stream_t_ns=None, forward=forward)

    def _emit_windows(self, *, stream_t_ns: int | None, forward: ForwardDirection | None) -> list[WindowMetrics]:
        k = self._blocks_per_window
        windows: list[WindowMetrics] = []
        if self._next_window + k - 1 not in self._blocks:
            return windows  # the common case on a push: the next window's last block is still open
        while all(b in self._blocks for b in range(self._next_window, self._next_window + k)):
            w = self._next_window
            start_ns = self._block_sums.start_ns(w)
            end_ns = self._block_sums.start_ns(w + k)
            if stream_t_ns is not None and stream_t_ns < end_ns + self._latency_ns:
                break
            windows.append(self._window(start_ns, end_ns, [self._blocks[b] for b in range(w, w + k)], forward))
            self._blocks.pop(w, None)
            self._next_window = w + 1
            next_start = self._block_sums.start_ns(self._next_window)
            while self._steps and self._steps[0].t_ns < next_start:
                self._steps.popleft()
            self._readings.drop_before(next_start)
        return windows

    def _window(
        self, start_ns: int, end_ns: int, blocks: list[Block], forward: ForwardDirection | None
    ) -> WindowMetrics:
        p = self._params
        sums, n_samples, last_sample = combine(blocks)
        steps = [s for s in self._steps if start_ns <= s.t_ns < end_ns]
        enough = len(steps) >= p.min_steps_per_window
        cadence = cadence_spm(steps) if enough else None
        impact = _mean(steps, "impact_g") if enough else None
        running = cadence is not None and cadence >= p.running_min_cadence_spm
        sway_ml, sway_ap = sway_ratios(
            sum_ml_g2=float(sums[BlockChannel.ML2_G2]),
            sum_ap_g2=float(sums[BlockChannel.AP2_G2]),
            sum_resultant_g2=float(sums[BlockChannel.RESULTANT2_G2]),
            n_samples=n_samples,
        )
        axis = self._axes.axis_at(last_sample)
        if axis is None:
            sway_ml = sway_ap = None
        gravity = sums[BlockChannel.GRAVITY_X_G : BlockChannel.GRAVITY_Z_G + 1] / n_samples if n_samples else None
        lean = self._lean.lean_deg(
            gravity, last_sample=last_sample, end_ns=end_ns, running=running, axis=axis, forward=forward
        )
        step_reg = stride_reg = None
        if cadence is not None:
            first = last_sample - n_samples + 1
            vertical = self._vertical.get(first, last_sample + 1, 0)
            if vertical.shape[0] == n_samples:
                step_reg, stride_reg = regularity(vertical, step_interval_s=60.0 / cadence, rate_hz=self._rate_hz)
        speed, stride_length = window_speed_and_stride(self._readings.strides_in(start_ns, end_ns), cadence)
        overstride = self._overstriding(cadence, running, speed, stride_length)
        heart = self._readings.heart_rates_in(start_ns, end_ns)
        by_side = _SideValues(steps) if enough else None
        return WindowMetrics(
            runner=self._runner,
            t_start_ns=start_ns,
            t_end_ns=end_ns,
            n_steps=len(steps),
            running=running,
            cadence_spm=cadence,
            impact_g=impact,
            sway_ml_ratio=sway_ml,
            sway_ap_ratio=sway_ap,
            lean_deg=lean,
            step_time_asymmetry_pct=by_side.asymmetry_of(contact_step_times_s(steps)) if by_side else None,
            impact_asymmetry_pct=by_side.asymmetry("impact_g") if by_side else None,
            contact_time_ms=_mean(steps, "contact_time_ms") if enough else None,
            contact_time_asymmetry_pct=by_side.asymmetry("contact_time_ms") if by_side else None,
            vertical_oscillation_cm=_mean(steps, "vertical_oscillation_cm") if enough else None,
            step_regularity=step_reg,
            stride_regularity=stride_reg,
            braking_g=_mean(steps, "braking_g") if enough else None,
            speed_mps=speed,
            stride_length_m=stride_length,
            overstriding_ratio=overstride,
            heart_rate_bpm=sum(heart) / len(heart) if heart else None,
        )

    def _overstriding(
        self, cadence: float | None, running: bool, speed: float | None, stride_length: float | None
    ) -> float | None:
        """Stride length against the stride at the early-run cadence for the same speed; the reference is
        the median cadence of the first `overstride_reference_windows` running windows."""
        refs = self._reference_cadences
        needed = self._params.overstride_reference_windows
        if running and cadence is not None and len(refs) < needed:
            refs.append(cadence)
            return None
        if speed is None or stride_length is None or not refs or len(refs) < needed:
            return None
        return overstriding_ratio(
            stride_length_m=stride_length, speed_mps=speed, reference_cadence_spm=float(np.median(refs))
        )


def _mean(steps: list[StepEvent], name: str) -> float | None:
    """Mean of a per-step metric over the steps that have it (None when none has)."""
    values = [v for v in map(attrgetter(name), steps) if v is not None]
    return sum(values) / len(values) if values else None


class _SideValues:
    """A window's steps split by side, for the symmetry indices."""

    def __init__(self, steps: list[StepEvent]):
        self._steps = steps

    def asymmetry(self, name: str) -> float | None:
        return self.asymmetry_of(list(map(attrgetter(name), self._steps)))

    def asymmetry_of(self, values: Sequence[float | None]) -> float | None:
        """Symmetry index of one value per step (None = no value)."""
        left = [v for s, v in zip(self._steps, values) if v is not None and s.side is Side.LEFT]
        right = [v for s, v in zip(self._steps, values) if v is not None and s.side is Side.RIGHT]
        return symmetry_index_pct(left, right)


def _columns(*columns: np.ndarray) -> np.ndarray:
    """(n, k) array of k equal-length 1-D arrays; `np.stack(..., axis=1)` without its per-call overhead."""
    out = np.empty((columns[0].shape[0], len(columns)))
    for j, column in enumerate(columns):
        out[:, j] = column
    return out


__all__ = ["BlockChannel", "WindowAssembly", "WindowAssemblyParams", "WindowLean", "WindowReadings"]
