"""Cadence: 60 / mean step interval, over the steps of a window or a whole session."""

from __future__ import annotations

from collections.abc import Iterable

from strideguard.analytics.results import StepEvent


def mean_step_interval_s(steps: Iterable[StepEvent]) -> tuple[float, int] | None:
    """Mean interval between consecutive steps that are both in `steps` (no gaps across bouts).

    A step's `step_time_s` counts only if the step before it is also in the collection, so a window
    never borrows an interval from outside itself. Returns (mean, number of intervals).
    """
    total, count, prev_index = 0.0, 0, None
    for step in steps:
        if step.step_time_s is not None and prev_index is not None and step.index == prev_index + 1:
            total += step.step_time_s
            count += 1
        prev_index = step.index
    return (total / count, count) if count else None


def cadence_spm(steps: Iterable[StepEvent]) -> float | None:
    """60 / mean step interval in steps per minute, None without at least one interval."""
    mean = mean_step_interval_s(steps)
    return None if mean is None else 60.0 / mean[0]
