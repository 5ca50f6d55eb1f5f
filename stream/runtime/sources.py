"""Where a run's items come from in the shell: a file (capture or CSV), paced in time or not.

Pacing is the shell's concern (asyncio sleeps); reading and decoding stay in `sensors`.
"""

from __future__ import annotations

import asyncio
import pathlib
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from strideguard.sensors import capture
from strideguard.sensors.errors import ImportFormatError
from strideguard.sensors.types import Placement, SampleBatch

YIELD_EVERY = 50  # as fast as possible still lets the event loop serve pages and alerts


@dataclass(slots=True)
class Progress:
    """How far a replay has got on the recording's clock."""

    start_t_ns: int | None = None
    end_t_ns: int | None = None
    now_t_ns: int | None = None

    @property
    def fraction(self) -> float | None:
        start, end, now = self.start_t_ns, self.end_t_ns, self.now_t_ns
        if start is None or end is None or now is None or end == start:
            return None
        return min(1.0, max(0.0, (now - start) / (end - start)))

    @property
    def elapsed_s(self) -> float:
        return 0.0 if self.now_t_ns is None or self.start_t_ns is None else (self.now_t_ns - self.start_t_ns) / 1e9


def read_file(
    path: str | pathlib.Path,
    *,
    runner: str | None = None,
    placement: Placement = Placement.CHEST,
    stats: capture.ReplayStats | None = None,
    start_t_ns: int = 0,
) -> Iterator:
    """Items from a capture (.sgcap) or a CSV file, by content and suffix; `runner` renames CSV runners,
    `start_t_ns` is when a CSV with relative times started (captures carry their own clock)."""
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(2, "no such file", str(path))
    with open(path, "rb") as f:
        head = f.read(len(capture.MAGIC))
    if head == capture.MAGIC:
        return capture.replay(path, stats)
    if path.suffix.lower() in (".csv", ".txt", ".tsv"):
        from strideguard.sensors import imports

        return iter(imports.read_any(path, runner=runner, placement=placement, start_t_ns=start_t_ns))
    raise ImportFormatError(
        "unknown file type: expected a StrideGuard capture (.sgcap) or a CSV with t, ax, ay, az columns", path=str(path)
    )


def source_of(path: str | pathlib.Path) -> str:
    """How a session names its recording in the store: the absolute path, so the recording is found again
    from any folder (`strideguard export` reads the samples back from it)."""
    return str(pathlib.Path(path).absolute())


def rechunked(items: Iterable, chunk_s: float) -> Iterator:
    """Re-cut sample batches into chunks of about `chunk_s`: big whole-file imports are split into
    live-sized chunks, and small notification-sized batches are merged for offline speed (results do not
    depend on chunking). Batches of one stream stay in order; other items pass through at once, and
    every pending batch is released before them so nothing overtakes an event."""
    pending: dict[tuple[str, str, str], list[SampleBatch]] = {}

    def release(key: tuple[str, str, str]) -> Iterator[SampleBatch]:
        parts = pending.pop(key)
        yield parts[0] if len(parts) == 1 else merge(parts)

    for item in items:
        if not isinstance(item, SampleBatch) or not len(item):
            for key in list(pending):
                yield from release(key)
            yield item
            continue
        if (item.t_ns[-1] - item.t_ns[0]) / 1e9 > chunk_s:
            if item.stream_key in pending:
                yield from release(item.stream_key)
            step = max(1, round(float(chunk_s * item.rate_hz)))  # float(): an int under numpy 1.x too
            for i in range(0, len(item), step):
                yield item.slice(i, i + step)
            continue
        parts = pending.setdefault(item.stream_key, [])
        if parts and item.t_ns[0] <= parts[-1].t_ns[-1]:  # time went back: not mergeable, the engine judges it
            yield from release(item.stream_key)
            parts = pending.setdefault(item.stream_key, [])
        parts.append(item)
        if (item.t_ns[-1] - parts[0].t_ns[0]) / 1e9 >= chunk_s:
            yield from release(item.stream_key)
    for key in list(pending):
        yield from release(key)


def merge(parts: list[SampleBatch]) -> SampleBatch:
    """Consecutive batches of one stream as one batch."""
    first = parts[0]
    return SampleBatch(
        runner=first.runner,
        device=first.device,
        placement=first.placement,
        kind=first.kind,
        rate_hz=first.rate_hz,
        t_ns=np.concatenate([p.t_ns for p in parts]),
        values=np.concatenate([p.values for p in parts]),
        meta=first.meta,
    )


def time_span(items: list) -> tuple[int | None, int | None]:
    ts = [(int(i.t_ns[0]), int(i.t_ns[-1])) for i in items if isinstance(i, SampleBatch) and len(i)]
    return (min(a for a, _ in ts), max(b for _, b in ts)) if ts else (None, None)


async def paced(
    items: Iterable, *, speed: float | None, progress: Progress | None = None, start_t_ns: int | None = None
) -> AsyncIterator:
    """Yield items at `speed` x real time on their own clock (None or 0: as fast as possible).

    `start_t_ns` is the record time that maps to now (default: the first item's); several streams
    paced with one value keep their offsets to each other instead of all starting at once."""
    wall0 = time.monotonic()
    rec0: int | None = start_t_ns
    for n, item in enumerate(items):
        t_ns = _t_ns(item)
        if t_ns is not None:
            rec0 = t_ns if rec0 is None else rec0
            if progress is not None:
                progress.now_t_ns = t_ns
            if speed:
                delay = (t_ns - rec0) / 1e9 / speed - (time.monotonic() - wall0)
                if delay > 0:
                    await asyncio.sleep(delay)
        if not speed and n % YIELD_EVERY == 0:
            await asyncio.sleep(0)
        yield item


def _t_ns(item: object) -> int | None:
    if isinstance(item, SampleBatch):
        return int(item.t_ns[-1]) if len(item) else None
    return getattr(item, "t_ns", None)
