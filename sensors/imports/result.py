"""What an import returns: the samples it could read and, when the file is damaged, why it stopped."""

from __future__ import annotations

from dataclasses import dataclass

from strideguard.sensors.errors import ImportFormatError
from strideguard.sensors.types import SampleBatch


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ImportResult:
    """Samples read from `path` in format `format`.

    A damaged row (a cell that is not a number, a short row, time going backwards, an impossible
    acceleration) ends the readable part: `rows_read` rows before it are kept in `acc` / `gyro` and
    `error` says where and why. Rows after the damage are not used, because nothing guarantees their
    time base continues the rows before. `error` is None when the whole file was read.
    """

    path: str
    format: str
    acc: SampleBatch | None
    gyro: SampleBatch | None
    rows_read: int
    error: ImportFormatError | None = None

    @property
    def batches(self) -> tuple[SampleBatch, ...]:
        """ACC then GYRO, whichever are present."""
        return tuple(b for b in (self.acc, self.gyro) if b is not None)

    @property
    def complete(self) -> bool:
        return self.error is None
