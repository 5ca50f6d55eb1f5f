"""The sample types every package shares.

With `sensors.units` (the unit constants), this is what `sensors`, `analytics` and `stream` all
import: it holds what a sensor produces (a batch of timestamped samples, what is known about its
stream) and nothing else. Units are fixed by the kind of sample so no consumer has to guess: acceleration
in g (gravity included), angular rate in deg/s, time in integer nanoseconds since the Unix epoch on the
host clock.
"""

from __future__ import annotations

import builtins
import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from strideguard.sensors.units import NS_PER_S as NS_PER_S  # re-exported: many modules take it from here


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
class StreamMeta:
    """What is known about a stream besides its samples: how the device was set up (a replay decodes
    with the same rates and factors) and where the samples came from. None = not known; units are in
    the names.

    Files hold it as a JSON object of strings (a capture's stream declarations, an export's devices
    table): `to_strings` and `from_strings` convert at those boundaries, under the keys `TEXT_KEYS` names,
    which are the ones recorders have always written, so files old and new read both ways.
    """

    # a Polar PMD stream as its start request set it up
    acc_rate_hz: float | None = None
    acc_range_g: int | None = None
    acc_factor: float | None = None  # counts -> g (or mG) factor from the start response
    gyro_rate_hz: float | None = None
    gyro_range_dps: int | None = None
    gyro_factor: float | None = None  # counts -> deg/s factor from the start response
    # a Movesense subscription
    movesense_path: str | None = None  # the GSP resource, e.g. "/Meas/IMU6/104"
    movesense_reference: int | None = None  # the GSP reference byte that tags its notifications
    # provenance
    origin: str | None = None  # "synthetic", or the import format ("uci_dsa", "csv", ...)
    import_path: str | None = None  # the file the samples were imported from
    sensor_unit: str | None = None  # the data set's name for the sensor unit (UCI: "T" torso, "RA", ...)
    attribution: str | None = None
    inferred_units: str | None = None  # units an import inferred from the data, e.g. "time ms, acceleration g"
    synthetic_seed: int | None = None
    coordinate_frame: str | None = None  # how the axes relate to the body, in words
    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    extra: tuple[tuple[str, str], ...] = ()  # (key, text) this version does not know, kept as text, by key

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", tuple(sorted(dict(self.extra).items())))

    def to_strings(self) -> dict[str, str]:
        """The text form: known values under their keys, then `extra` (a movesense_path wins "path")."""
        out = dict(self.extra)
        for name, key in TEXT_KEYS.items():
            value = getattr(self, name)
            if value is not None:
                out[key] = _TO_TEXT[name](value)
        return out

    @classmethod
    def from_strings(cls, strings: Mapping[str, str], *, movesense: bool = False, lenient: bool = False) -> StreamMeta:
        """Read the text form. "path" is the Movesense resource of a `movesense` stream, else the imported
        file. A number that does not parse raises ValueError, or with `lenient` is kept as text in
        `extra` (for tables whose values a pseudonymiser may have rewritten). An empty rate or factor,
        and a range of "None", mean not known (what recorders wrote for them)."""
        values: dict[str, Any] = {}
        extra: dict[str, str] = {}
        for key, text in strings.items():
            name = ("movesense_path" if movesense else "import_path") if key == "path" else _FIELD_OF_KEY.get(key)
            if name is None:
                extra[key] = text
                continue
            try:
                values[name] = _FROM_TEXT[name](text)
            except ValueError:
                if not lenient:
                    raise ValueError(f"stream meta {key}={text!r} is not a number") from None
                extra[key] = text
        return cls(**values, extra=tuple(extra.items()))

    def updated(self, other: StreamMeta) -> StreamMeta:
        """This meta with every value `other` knows put over it (as dict.update on the text form)."""
        known = {f.name: getattr(other, f.name) for f in dataclasses.fields(other) if f.name != "extra"}
        return dataclasses.replace(
            self,
            **{name: value for name, value in known.items() if value is not None},
            extra=tuple((dict(self.extra) | dict(other.extra)).items()),
        )


def _float_or_none(text: str) -> float | None:
    return None if text == "" else float(text)


def _int_or_none(text: str) -> int | None:
    return None if text == "None" else int(text)


def _number_text(value: float) -> str:
    """A rate as recorders wrote it: "200" for 200.0, the shortest exact repr otherwise."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


# field -> key of the text form ("path" is two fields: which one depends on the stream, see from_strings)
TEXT_KEYS: dict[str, str] = {
    "acc_rate_hz": "acc_rate_hz",
    "acc_range_g": "acc_range_g",
    "acc_factor": "acc_factor",
    "gyro_rate_hz": "gyro_rate_hz",
    "gyro_range_dps": "gyro_range_dps",
    "gyro_factor": "gyro_factor",
    "import_path": "path",
    "movesense_path": "path",
    "movesense_reference": "reference",
    "origin": "source",
    "sensor_unit": "unit",
    "attribution": "attribution",
    "inferred_units": "inferred_units",
    "synthetic_seed": "seed",
    "coordinate_frame": "frame",
    "manufacturer": "manufacturer",
    "model": "model",
    "firmware": "firmware",
}
_FIELD_OF_KEY = {key: name for name, key in TEXT_KEYS.items() if key != "path"}
_NUMBERS: dict[str, tuple[Callable[[str], Any], Callable[[Any], str]]] = {
    "acc_rate_hz": (_float_or_none, _number_text),
    "gyro_rate_hz": (_float_or_none, _number_text),
    "acc_factor": (_float_or_none, lambda v: repr(float(v))),
    "gyro_factor": (_float_or_none, lambda v: repr(float(v))),
    "acc_range_g": (_int_or_none, lambda v: str(int(v))),
    "gyro_range_dps": (_int_or_none, lambda v: str(int(v))),
    "movesense_reference": (int, lambda v: str(int(v))),
    "synthetic_seed": (int, lambda v: str(int(v))),
}
_FROM_TEXT: dict[str, Callable[[str], Any]] = {name: _NUMBERS.get(name, (str, str))[0] for name in TEXT_KEYS}
_TO_TEXT: dict[str, Callable[[Any], str]] = {name: _NUMBERS.get(name, (str, str))[1] for name in TEXT_KEYS}
NO_META = StreamMeta()


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
    meta: StreamMeta = field(default=NO_META, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.meta, StreamMeta):
            raise TypeError(f"meta must be a StreamMeta, got {type(self.meta).__name__}")
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
        return self._rows(builtins.slice(start, stop))

    def select(self, keep: np.ndarray) -> SampleBatch:
        """The samples where the boolean mask `keep` is true, as a new batch (the rest dropped)."""
        return self._rows(keep)

    def _rows(self, rows: builtins.slice | np.ndarray) -> SampleBatch:  # (the method `slice` shadows it here)
        return SampleBatch(
            runner=self.runner,
            device=self.device,
            placement=self.placement,
            kind=self.kind,
            rate_hz=self.rate_hz,
            t_ns=self.t_ns[rows],
            values=self.values[rows],
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
