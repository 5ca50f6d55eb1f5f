"""A small progress bar on stderr for long exports (redrawn at most ten times a second)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

REDRAW_INTERVAL_S = 0.1  # s between redraws
BAR_WIDTH = 28  # characters


class ProgressBar:
    """`advance(n)` units of `total`; `label` says what is being done. Silent when disabled."""

    def __init__(self, total: int, *, unit: str, enabled: bool, stream: TextIO | None = None) -> None:
        self.total = max(1, total)
        self.unit = unit
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.label = ""
        self._started = time.monotonic()
        self._last_draw = 0.0

    def advance(self, n: int = 1, *, label: str | None = None) -> None:
        self.done = min(self.total, self.done + n)
        if label is not None:
            self.label = label
        self._draw()

    def set_label(self, label: str) -> None:
        self.label = label
        self._draw()

    def close(self) -> None:
        if self.enabled:
            self._draw(force=True)
            self.stream.write("\n")
            self.stream.flush()

    def render(self) -> str:
        frac = self.done / self.total
        filled = round(frac * BAR_WIDTH)
        elapsed = time.monotonic() - self._started
        return (
            f"\rexport [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {frac * 100:3.0f}% "
            f"{self.done}/{self.total} {self.unit} {elapsed:5.1f} s  {self.label[:40]:<40}"
        )

    def _draw(self, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if force or now - self._last_draw >= REDRAW_INTERVAL_S or self.done == self.total:
            self._last_draw = now
            self.stream.write(self.render())
            self.stream.flush()
