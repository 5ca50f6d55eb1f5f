"""The sample types every package shares.

This is the one module that `sensors`, `analytics` and `stream` all import: it holds what a sensor
produces (a batch of timestamped samples) and nothing else. Units are fixed by the kind of sample so no
consumer has to guess: acceleration in g (gravity included), angular rate in deg/s, time in integer
nanoseconds since the Unix epoch on the host clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from sensors.units import NS_PER_S as NS_PER_S  # re-exported: many modules take it from here


class Placement(str, enum.Enum):
    """Where a device is worn; the analytics choose algorithms by it."""

    CHEST = "chest"
    SACRUM = "sacrum"
    FOOT = "foot"
    SHANK = "shank"
    WRIST = "wrist"
    ARM = "arm"
    UNKNOWN = "unknown"

    @property
    def is_trunk(self) -> bool:
        """Chest and sacrum sensors move with the trunk: sway, lean and impact come from them."""
        return self in (Placement.CHEST, Placement.SACRUM)


class SampleKind(str, enum.Enum):
    """What a batch measures; the unit follows from the kind."""

    ACC = "acc"  # acceleration, g, gravity included
    GYRO = "gyro"  # angular rate, deg/s

    @property
    def unit(self) -> str:
        return {SampleKind.ACC: "g", SampleKind.GYRO: "deg/s"}[self]


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleBatch:
    """A run of consecutive 3-axis samples from one sensor of one device on one runner.

    `t_ns` is int64 host time per sample (strictly increasing), `values` float32 of shape (n, 3) in the
    kind's unit, `rate_hz` the nominal sampling rate the analytics filter at (BLE delivers samples at a
    nominal rate with jittered timestamps, so filters must not depend on the jitter).
    """

    runner: str
    device: str
    placement: Placement
    kind: SampleKind
    rate_hz: float
    t_ns: np.ndarray
    values: np.ndarray
    meta: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        t_ns = np.ascontiguousarray(self.t_ns, dtype=np.int64)
        values = np.ascontiguousarray(self.values, dtype=np.float32)
        if t_ns.ndim != 1:
            raise ValueError(f"t_ns must be 1-D, got shape {t_ns.shape}")
        if values.ndim != 2 or values.shape[1] != 3 or values.shape[0] != t_ns.shape[0]:
            raise ValueError(f"values must have shape ({t_ns.shape[0]}, 3), got {values.shape}")
        if not (np.isfinite(self.rate_hz) and self.rate_hz > 0):
            raise ValueError(f"rate_hz must be a positive number, got {self.rate_hz}")
        if t_ns.size > 1 and (t_ns[1:] <= t_ns[:-1]).any():  # one comparison, no np.diff temporary (3x cheaper)
            raise ValueError("t_ns must be strictly increasing")
        t_ns.flags.writeable = False
        values.flags.writeable = False
        object.__setattr__(self, "t_ns", t_ns)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "placement", Placement(self.placement))
        object.__setattr__(self, "kind", SampleKind(self.kind))

    def __len__(self) -> int:
        return int(self.t_ns.shape[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SampleBatch):
            return NotImplemented
        return (
            (self.runner, self.device, self.placement, self.kind, self.rate_hz)
            == (other.runner, other.device, other.placement, other.kind, other.rate_hz)
            and np.array_equal(self.t_ns, other.t_ns)
            and np.array_equal(self.values, other.values)
        )

    __hash__ = None  # type: ignore[assignment]  # None is how Python marks a class unhashable (arrays are not hashable)

    @property
    def stream_key(self) -> tuple[str, str, str]:
        """(runner, device, kind): the identity of a stream whose batches must stay in order."""
        return (self.runner, self.device, self.kind.value)

    def slice(self, start: int, stop: int) -> SampleBatch:
        """Samples [start, stop) as a new batch (for re-chunking in tests and replays)."""
        return SampleBatch(
            runner=self.runner,
            device=self.device,
            placement=self.placement,
            kind=self.kind,
            rate_hz=self.rate_hz,
            t_ns=self.t_ns[start:stop],
            values=self.values[start:stop],
            meta=self.meta,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartRateReading:
    """One Heart Rate Measurement (0x2A37) as received; RR intervals in ms, energy in kJ."""

    runner: str
    device: str
    t_ns: int
    heart_rate_bpm: int
    rr_intervals_ms: tuple[float, ...] = ()
    energy_expended_kj: int | None = None
    sensor_contact: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StrideReading:
    """One Running Speed and Cadence Measurement (0x2A53) from a footpod.

    `cadence_spm` is the footpod's instantaneous cadence in steps per minute as the SIG spec defines it
    (1/min); `stride_length_m` and `total_distance_m` are present only when the device sends them.
    """

    runner: str
    device: str
    t_ns: int
    speed_mps: float
    cadence_spm: int
    stride_length_m: float | None = None
    total_distance_m: float | None = None
    is_running: bool | None = None
