"""Raw samples of a stored session, read back from the recording it was analysed from.

The store keeps results, not samples: a session's raw data lives in its source (a .sgcap capture or a
CSV). Reading goes through `stream.sources.read_file`, the same path analysis used, so the exported
arrays are exactly what the analyzer saw. A source that has gone missing or is damaged is reported,
not fatal: the session's results can still be exported.

Two things the source alone does not say are given by the caller from the store: where the session's
samples begin and end when a long pause split one recording into several sessions (`from_t_ns`,
`until_t_ns`: this and the next segment's start), and when a CSV with relative times was recorded
(`first_started_t_ns`: the start of the recording's first session, which `analyze --start` dated).
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, replace
from typing import TypedDict

import numpy as np

from strideguard.sensors.capture import CaptureEvent
from strideguard.sensors.errors import SensorError
from strideguard.sensors.imports.samples import EPOCH_MIN_NS
from strideguard.sensors.types import (
    NO_META,
    HeartRateReading,
    Placement,
    SampleBatch,
    SampleKind,
    StreamMeta,
    StrideReading,
)
from strideguard.stream.export.gaps import Gap, effective_rate_hz, find_gaps
from strideguard.stream.runtime import sources
from strideguard.stream.sqlite.store import SessionRow, SessionStore


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
    gaps: tuple[Gap, ...] = ()

    def __len__(self) -> int:
        return int(self.t_ns.shape[0])

    @property
    def effective_rate_hz(self) -> float | None:
        """Samples per second where there is data (gaps left out: they are missing data, not a slow sensor)."""
        return effective_rate_hz(self.t_ns, self.gaps)

    @property
    def n_missing(self) -> int:
        return sum(g.n_missing for g in self.gaps)

    @property
    def up_axis(self) -> str | None:
        """For acceleration: the device axis the mean acceleration lies along ("+z", "-y"), which is up at
        rest or on average while running (an accelerometer reads gravity's reaction, +1 g upward)."""
        if self.kind is not SampleKind.ACC or not len(self):
            return None
        mean = np.nanmean(self.values.astype(np.float64), axis=0)
        axis = int(np.argmax(np.abs(mean)))
        return ("+" if mean[axis] >= 0 else "-") + "xyz"[axis]

    @property
    def missing_s(self) -> float:
        return sum(g.duration_s for g in self.gaps) - len(self.gaps) / self.rate_hz if self.gaps else 0.0


class SegmentBounds(TypedDict):
    """The keywords `load_session_samples` takes from the store (see `segment_bounds`)."""

    from_t_ns: int | None
    until_t_ns: int | None
    first_started_t_ns: int | None


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

    @property
    def n_missing(self) -> int:
        return sum(s.n_missing for s in self.streams)


def load_session_samples(
    row: SessionRow,
    *,
    placement: Placement = Placement.CHEST,
    from_t_ns: int | None = None,
    until_t_ns: int | None = None,
    first_started_t_ns: int | None = None,
) -> SessionSamples:
    """Every sample of `row.runner` in the session's source within [from_t_ns, until_t_ns) (None: open);
    `placement` applies to CSV sources only."""
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
    streams = [_concat(group) for group in batches.values()]
    offset = _relative_offset(streams, first_started_t_ns if first_started_t_ns is not None else row.started_t_ns)
    lo = from_t_ns if from_t_ns is not None else -(2**63)
    hi = until_t_ns if until_t_ns is not None else 2**63 - 1
    streams = [_clipped(s, offset, lo, hi) for s in streams]
    events = [replace(e, t_ns=e.t_ns + offset) for e in events if lo <= e.t_ns + offset < hi]
    hr = [replace(r, t_ns=r.t_ns + offset) for r in hr if lo <= r.t_ns + offset < hi]
    strides = [replace(r, t_ns=r.t_ns + offset) for r in strides if lo <= r.t_ns + offset < hi]
    streams = [replace(s, gaps=tuple(find_gaps(s.t_ns, s.rate_hz, events))) for s in streams if len(s)]
    return SessionSamples(
        streams=tuple(streams), heart_rate=tuple(hr), strides=tuple(strides), events=tuple(events), problem=problem
    )


def segment_bounds(store: SessionStore, row: SessionRow) -> SegmentBounds:
    """Where this session's samples lie in its recording: a pause longer than the engine's limit splits a
    recording into sessions (segments) that share one source; each gets only its own stretch. The first
    segment's start also dates a CSV with relative times (see samples.load_session_samples)."""
    siblings = sorted(
        (r.started_t_ns for r in store.sessions(runner=row.runner) if r.source == row.source),
    )
    later = [t for t in siblings if t > row.started_t_ns]
    return {
        "from_t_ns": row.started_t_ns if siblings and siblings[0] < row.started_t_ns else None,
        "until_t_ns": later[0] if later else None,
        "first_started_t_ns": siblings[0] if siblings else row.started_t_ns,
    }


def _relative_offset(streams: list[SampleStream], started_t_ns: int) -> int:
    """0 for recordings on an absolute clock. A CSV with relative times (before 1973) reads back dated 1970;
    the analysis dated it from `--start`, so its first sample is the recording's first session's start."""
    firsts = [int(s.t_ns[0]) for s in streams if len(s)]
    if not firsts or min(firsts) >= EPOCH_MIN_NS:
        return 0
    return started_t_ns - min(firsts)


def _clipped(stream: SampleStream, offset: int, lo_t_ns: int, hi_t_ns: int) -> SampleStream:
    t_ns = stream.t_ns + np.int64(offset) if offset else stream.t_ns
    keep = (t_ns >= lo_t_ns) & (t_ns < hi_t_ns)
    if keep.all():
        return replace(stream, t_ns=t_ns)
    return replace(stream, t_ns=t_ns[keep], values=stream.values[keep])


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
