"""Gaps are data: where a stream's samples stop and start again, and how many the nominal rate expected.

A BLE link that drops for two minutes leaves a hole in the sample times, not a slower sensor. A hole
longer than `GAP_INTERVALS` nominal sample intervals is a gap; the samples the nominal rate expected in
it are "missing". The export says so everywhere a reader looks: `link_lost` rows in the BIDS events,
`n/a` rows in the BIDS motion file (on the nominal grid, so row counts and the LATENCY channel agree), a
`gaps` table in Parquet/CSV, per-stream missing counts in `devices`, and the manifest's verdict per
session. The effective sampling rate is measured over the stretches that have data, so a gap does not
disguise itself as a slow sensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from strideguard.sensors.capture import CaptureEvent
from strideguard.sensors.units import NS_PER_S

GAP_INTERVALS = 3.0  # a hole longer than this many nominal sample intervals is a gap (>= 2 samples missing)
LINK_EVENTS = frozenset({"link_lost", "gap", "link_restored"})  # recorder events that explain a gap


@dataclass(frozen=True, slots=True, kw_only=True)
class Gap:
    """A hole in one stream: `start_t_ns` is the last sample before it, `end_t_ns` the first after it."""

    start_t_ns: int
    end_t_ns: int
    n_missing: int  # samples the nominal rate expected strictly between the two
    link_lost: bool  # the recorder logged the link as lost within it

    @property
    def duration_s(self) -> float:
        return (self.end_t_ns - self.start_t_ns) / NS_PER_S


def find_gaps(t_ns: np.ndarray, rate_hz: float, events: Sequence[CaptureEvent] = ()) -> list[Gap]:
    """Every hole longer than GAP_INTERVALS nominal intervals in the sample times `t_ns`."""
    if len(t_ns) < 2 or not rate_hz > 0:
        return []
    period_ns = NS_PER_S / rate_hz
    diffs = np.diff(t_ns)
    where = np.flatnonzero(diffs > GAP_INTERVALS * period_ns)
    link_times = np.array(sorted(e.t_ns for e in events if e.kind in LINK_EVENTS), dtype=np.int64)
    gaps = []
    for i in where.tolist():
        start, end = int(t_ns[i]), int(t_ns[i + 1])
        lo, hi = np.searchsorted(link_times, [start, end + 1])
        gaps.append(
            Gap(
                start_t_ns=start,
                end_t_ns=end,
                n_missing=max(0, round((end - start) / period_ns) - 1),
                link_lost=bool(hi > lo),
            )
        )
    return gaps


def effective_rate_hz(t_ns: np.ndarray, gaps: Sequence[Gap]) -> float | None:
    """Samples per second over the stretches with data: (n - 1 - gaps) / (span - gap widths)."""
    n = len(t_ns)
    if n < 2:
        return None
    span_ns = int(t_ns[-1]) - int(t_ns[0]) - sum(g.end_t_ns - g.start_t_ns for g in gaps)
    intervals = n - 1 - len(gaps)
    return intervals / (span_ns / NS_PER_S) if span_ns > 0 and intervals > 0 else None


def on_grid(t_ns: np.ndarray, rate_hz: float, gaps: Sequence[Gap]) -> tuple[np.ndarray, np.ndarray]:
    """(times, present): the recorded times with each gap's missing samples inserted on the nominal grid
    after the gap's last sample; `present` is False for the inserted rows."""
    if not gaps:
        return t_ns, np.ones(len(t_ns), dtype=bool)
    period_ns = NS_PER_S / rate_hz
    index = np.searchsorted(t_ns, [g.start_t_ns for g in gaps], side="right")
    pieces_t, pieces_p, last = [], [], 0
    for g, i in zip(gaps, index.tolist()):
        pieces_t.append(t_ns[last:i])
        pieces_p.append(np.ones(i - last, dtype=bool))
        filler = g.start_t_ns + np.round(np.arange(1, g.n_missing + 1) * period_ns).astype(np.int64)
        pieces_t.append(filler)
        pieces_p.append(np.zeros(len(filler), dtype=bool))
        last = i
    pieces_t.append(t_ns[last:])
    pieces_p.append(np.ones(len(t_ns) - last, dtype=bool))
    return np.concatenate(pieces_t), np.concatenate(pieces_p)
