"""One entry point for the shell: any importable file as time-ordered SampleBatches.

Mirrors `sensors.capture.replay`: it yields what is readable, in time order (ACC and GYRO interleaved
in chunks, as a live source delivers them), and if the file is damaged raises the ImportFormatError
after the last readable batch, so a consumer has analysed everything before the damage when the
error arrives.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from strideguard.sensors.errors import ImportFormatError
from strideguard.sensors.imports.detect import detect_format
from strideguard.sensors.imports.generic_csv import read_generic_csv
from strideguard.sensors.imports.result import ImportResult
from strideguard.sensors.imports.uci_dsa import read_uci_dsa
from strideguard.sensors.types import Placement, SampleBatch

DEFAULT_BATCH_S = 10.0  # s of samples per yielded batch


def read_any(
    path: str | os.PathLike[str],
    *,
    runner: str | None = None,
    placement: Placement | str = Placement.CHEST,
    acc_unit: str | None = None,
    gyro_unit: str | None = None,
    time_unit: str | None = None,
    rate_hz: float | None = None,
    uci_unit: str = "T",
    start_t_ns: int = 0,
    batch_s: float = DEFAULT_BATCH_S,
) -> Iterator[SampleBatch]:
    """Batches of a generic CSV or a UCI DSA file (format detected). Generic-CSV units come from the
    arguments, else the header, else the data when unambiguous (see `sensors.imports.infer`). `runner`
    defaults to the file name (UCI: its first part); UCI placement follows `uci_unit`."""
    result = import_file(
        path,
        runner=runner,
        placement=placement,
        acc_unit=acc_unit,
        gyro_unit=gyro_unit,
        time_unit=time_unit,
        rate_hz=rate_hz,
        uci_unit=uci_unit,
        start_t_ns=start_t_ns,
    )
    yield from interleaved(result, batch_s)
    if result.error is not None:
        raise result.error


def import_file(
    path: str | os.PathLike[str],
    *,
    runner: str | None = None,
    placement: Placement | str = Placement.CHEST,
    acc_unit: str | None = None,
    gyro_unit: str | None = None,
    time_unit: str | None = None,
    rate_hz: float | None = None,
    uci_unit: str = "T",
    start_t_ns: int = 0,
) -> ImportResult:
    """The whole readable part of a CSV file as an ImportResult (never strict: the error is in it)."""
    path = os.fspath(path)
    fmt = detect_format(path)
    if fmt == "uci_dsa":
        return read_uci_dsa(path, unit=uci_unit, runner=runner, start_t_ns=start_t_ns, strict=False)
    if fmt == "generic_csv":
        return read_generic_csv(
            path,
            runner=runner or os.path.splitext(os.path.basename(path))[0],
            placement=placement,
            acc_unit=acc_unit,
            gyro_unit=gyro_unit,
            time_unit=time_unit,
            rate_hz=rate_hz,
            start_t_ns=start_t_ns,
            strict=False,
            infer_units=True,
        )
    raise ImportFormatError(f"a {fmt} file is not an import: replay it with sensors.capture.replay", path=path)


def interleaved(result: ImportResult, batch_s: float) -> Iterator[SampleBatch]:
    """ACC and GYRO of `result` in chunks of `batch_s`, acc then gyro for each span."""
    if result.acc is None:
        return
    n = len(result.acc)
    per_batch = max(1, round(batch_s * result.acc.rate_hz))
    for start in range(0, n, per_batch):
        for batch in result.batches:
            yield batch.slice(start, min(n, start + per_batch))
