"""Raw samples of a stored session, read back from the recording it was analysed from.

The store keeps results, not samples: a session's raw data lives in its source (a .sgcap capture or a
CSV). Reading goes through `stream.sources.read_file`, the same path analysis used, so the exported
arrays are exactly what the analyzer saw. A source that has gone missing or is damaged is reported,
not fatal: the session's results can still be exported.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass

import numpy as np

from strideguard.sensors.capture import CaptureEvent
from strideguard.sensors.errors import SensorError
from strideguard.sensors.types import (
    NO_META,
    HeartRateReading,
    Placement,
    SampleBatch,
    SampleKind,
    StreamMeta,
    StrideReading,
)
from strideguard.stream.runtime import sources
from strideguard.stream.sqlite.store import SessionRow


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleStream:
    """All samples of one (device, kind) of the session's runner, concatenated in recording order."""

    device: str
    placement: Placement
    kind: SampleKind
    rate_hz: float
    t_ns: np.ndarray
    values: np.ndarray
    meta: StreamMeta = NO_META

    def __len__(self) -> int:
        return int(self.t_ns.shape[0])

    @property
    def effective_rate_hz(self) -> float | None:
        if len(self) < 2 or self.t_ns[-1] == self.t_ns[0]:
            return None
        return (len(self) - 1) / ((int(self.t_ns[-1]) - int(self.t_ns[0])) / 1e9)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionSamples:
    streams: tuple[SampleStream, ...] = ()
    heart_rate: tuple[HeartRateReading, ...] = ()
    strides: tuple[StrideReading, ...] = ()
    events: tuple[CaptureEvent, ...] = ()
    problem: str | None = None  # why some or all samples could not be read

    @property
    def n_samples(self) -> int:
        return sum(len(s) for s in self.streams)


def load_session_samples(row: SessionRow, *, placement: Placement = Placement.CHEST) -> SessionSamples:
    """Every sample of `row.runner` in the session's source; `placement` applies to CSV sources only."""
    path = pathlib.Path(row.source)
    if not row.source or not path.is_file():
        return SessionSamples(problem=f"recording not found: {row.source or '(none recorded)'}")
    batches: dict[tuple[str, str], list[SampleBatch]] = {}
    hr: list[HeartRateReading] = []
    strides: list[StrideReading] = []
    events: list[CaptureEvent] = []
    problem = None
    try:
        for item in sources.read_file(path, runner=row.runner, placement=placement):
            if isinstance(item, SampleBatch):
                if item.runner == row.runner and len(item):
                    batches.setdefault((item.device, item.kind.value), []).append(item)
            elif isinstance(item, HeartRateReading) and item.runner == row.runner:
                hr.append(item)
            elif isinstance(item, StrideReading) and item.runner == row.runner:
                strides.append(item)
            elif isinstance(item, CaptureEvent):
                events.append(item)
    except (SensorError, OSError) as exc:
        problem = f"recording read only up to a problem: {' '.join(str(exc).split())}"
    streams = tuple(_concat(group) for group in batches.values())
    return SessionSamples(
        streams=streams, heart_rate=tuple(hr), strides=tuple(strides), events=tuple(events), problem=problem
    )


def _concat(group: list[SampleBatch]) -> SampleStream:
    first = group[0]
    meta = last = first.meta
    for b in group[1:]:  # a later batch's values win; a stream's batches share one meta, applied once
        if b.meta is not last:
            meta, last = meta.updated(b.meta), b.meta
    return SampleStream(
        device=first.device,
        placement=first.placement,
        kind=first.kind,
        rate_hz=first.rate_hz,
        t_ns=np.concatenate([b.t_ns for b in group]),
        values=np.concatenate([b.values for b in group]),
        meta=meta,
    )
