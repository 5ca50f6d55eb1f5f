"""A generic CSV: a header row naming t, ax, ay, az and optionally gx, gy, gz, then one row per sample.

Units are declared by the caller or by the header (`ax_g`, `acc_x [m/s^2]`, `t_ms`, `Time (s)`); a
declaration that contradicts the header is an error rather than a guess. Extra columns are ignored.
"""

from __future__ import annotations

import os

import numpy as np

from strideguard.sensors.errors import ImportFormatError
from strideguard.sensors.imports.infer import infer_acc_unit, infer_gyro_unit, infer_time_unit
from strideguard.sensors.imports.result import ImportResult
from strideguard.sensors.imports.samples import Source, build_result
from strideguard.sensors.imports.table import read_columns, read_text, split_header
from strideguard.sensors.imports.units import (
    ACC_UNITS_TO_G,
    GYRO_UNITS_TO_DPS,
    TIME_UNITS_TO_NS,
    normalise_unit,
    parse_column,
)
from strideguard.sensors.types import Placement, StreamMeta

FORMAT = "generic_csv"
ACC_COLUMNS = ("ax", "ay", "az")
GYRO_COLUMNS = ("gx", "gy", "gz")
EXPECTED = "t, ax, ay, az[, gx, gy, gz]"


def read_generic_csv(
    path: str | os.PathLike[str],
    *,
    runner: str,
    placement: Placement | str,
    acc_unit: str | None = None,
    gyro_unit: str | None = None,
    time_unit: str | None = None,
    rate_hz: float | None = None,
    device: str | None = None,
    start_t_ns: int = 0,
    strict: bool = True,
    infer_units: bool = False,
) -> ImportResult:
    """Read a generic CSV into ACC (g) and, when the columns are there, GYRO (deg/s) batches.

    acc_unit: "g" or "m/s2"; gyro_unit: "deg/s" or "rad/s"; time_unit: "s", "ms", "us" or "ns" (each
    may instead come from the header). `rate_hz` is inferred from the timestamps when not given, and
    checked against them (10 %) when given. Times before 1973 are relative: `start_t_ns` is added.
    With `strict` a damaged row raises ImportFormatError; without, the rows before it are returned with
    the error in `ImportResult.error`. A file-wide problem (missing column, impossible unit) always
    raises. With `infer_units`, a unit declared nowhere is inferred from the data when it is unambiguous
    (see `sensors.imports.infer`) and named in the batches' meta.inferred_units; otherwise it is an error.
    """
    path = os.fspath(path)
    text = read_text(path)
    _, header, _ = split_header(path, text)
    columns, header_units = _find_columns(path, header)
    has_gyro = all(c in columns for c in GYRO_COLUMNS)
    units = {
        "time": _declared(path, "time", time_unit, header_units.get("t"), TIME_UNITS_TO_NS, infer_units),
        "acceleration": _declared(
            path, "acceleration", acc_unit, _one_unit(path, header_units, ACC_COLUMNS), ACC_UNITS_TO_G, infer_units
        ),
    }
    if has_gyro:
        units["angular rate"] = _declared(
            path, "angular rate", gyro_unit, _one_unit(path, header_units, GYRO_COLUMNS), GYRO_UNITS_TO_DPS, infer_units
        )
    wanted = ("t", *ACC_COLUMNS, *(GYRO_COLUMNS if has_gyro else ()))
    table = read_columns(path, text, {name: columns[name] for name in wanted})
    try:
        found, inferred = _infer_missing(path, units, table.rows, has_gyro)
    except ImportFormatError:
        if table.error is None:
            raise
        # Too little before the damage to infer anything from: the damage is the news.
        if strict:
            raise table.error from None
        return ImportResult(path=path, format=FORMAT, acc=None, gyro=None, rows_read=0, error=table.error)
    source = Source(
        path=path,
        format=FORMAT,
        runner=runner,
        device=device or os.path.splitext(os.path.basename(path))[0],
        placement=Placement(placement),
        start_t_ns=start_t_ns,
        meta=StreamMeta(inferred_units=", ".join(inferred) if inferred else None),
    )
    return build_result(
        table,
        source,
        time_unit=found["time"],
        acc_unit=found["acceleration"],
        gyro_unit=found.get("angular rate"),
        rate_hz=rate_hz,
        has_gyro=has_gyro,
        strict=strict,
    )


def _infer_missing(
    path: str, units: dict[str, str | None], rows: np.ndarray, has_gyro: bool
) -> tuple[dict[str, str], list[str]]:
    """Every unit, those declared nowhere inferred from the data; the list says which were inferred."""
    inferred = []
    time_unit = units["time"]
    if time_unit is None:
        time_unit = infer_time_unit(path, rows[:, 0])
        inferred.append(f"time {time_unit}")
    acc_unit = units["acceleration"]
    if acc_unit is None:
        acc_unit = infer_acc_unit(path, rows[:, 1:4])
        inferred.append(f"acceleration {acc_unit}")
    found = {"time": time_unit, "acceleration": acc_unit}
    if has_gyro:
        gyro_unit = units["angular rate"]
        if gyro_unit is None:
            acc_g = rows[:, 1:4] * ACC_UNITS_TO_G[acc_unit]
            gyro_unit = infer_gyro_unit(path, rows[:, 4:7], acc_g)
            inferred.append(f"angular rate {gyro_unit}")
        found["angular rate"] = gyro_unit
    return found, inferred


def looks_like_generic_csv(header: list[str]) -> bool:
    """True when the header names a time column and the three acceleration columns."""
    names = {parse_column(cell)[0] for cell in header}
    return {"t", *ACC_COLUMNS} <= names


def _find_columns(path: str, header: list[str]) -> tuple[dict[str, int], dict[str, str]]:
    columns: dict[str, int] = {}
    units: dict[str, str] = {}
    for index, cell in enumerate(header):
        name, unit = parse_column(cell)
        if name is None:
            continue
        if name in columns:
            raise ImportFormatError(
                f"columns {header[columns[name]]!r} and {cell!r} both look like {name}", path=path, line=1
            )
        columns[name] = index
        if unit is not None:
            units[name] = unit
    missing = [c for c in ("t", *ACC_COLUMNS) if c not in columns]
    gyro_found = [c for c in GYRO_COLUMNS if c in columns]
    if gyro_found and len(gyro_found) < 3:
        missing += [c for c in GYRO_COLUMNS if c not in columns]
    if missing:
        shown = ", ".join(header) if len(header) <= 12 else ", ".join(header[:12]) + ", ..."
        raise ImportFormatError(
            f"missing column(s) {', '.join(missing)}: the header has {shown}; expected {EXPECTED}",
            path=path,
            line=1,
        )
    return columns, units


def _one_unit(path: str, header_units: dict[str, str], names: tuple[str, ...]) -> str | None:
    found = {header_units[n] for n in names if n in header_units}
    if len(found) > 1:
        raise ImportFormatError(
            f"columns {', '.join(names)} name different units: {', '.join(sorted(found))}", path=path, line=1
        )
    return found.pop() if found else None


def _declared(
    path: str, what: str, declared: str | None, from_header: str | None, allowed: dict[str, float], infer: bool
) -> str | None:
    """The unit to use: the caller's or the header's, which must agree; None (infer it) only if allowed."""
    try:
        unit = normalise_unit(declared, allowed=allowed, what=what)
    except ValueError as exc:
        raise ImportFormatError(str(exc), path=path) from exc
    if from_header is not None and from_header not in allowed:
        raise ImportFormatError(
            f"the header gives {what} the unit {from_header}, which is not a {what} unit", path=path, line=1
        )
    if unit and from_header and unit != from_header:
        raise ImportFormatError(f"{what} declared in {unit} but the header says {from_header}", path=path, line=1)
    if unit is None and from_header is None and not infer:
        raise ImportFormatError(
            f"the {what} unit is not declared and the header does not say it: declare one of {', '.join(allowed)}",
            path=path,
        )
    return unit or from_header
