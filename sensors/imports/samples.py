"""Turn parsed columns into SampleBatches: convert units, check that they are plausible, and cut the
readable part at the first row that breaks the physics (time not increasing, impossible acceleration).

Checks on the whole file (a unit that cannot be right) raise: nothing in such a file is usable as is.
Checks on single rows end the readable part at that row (see `ImportResult`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from strideguard.sensors.errors import ImportFormatError
from strideguard.sensors.imports.result import ImportResult
from strideguard.sensors.imports.table import Table
from strideguard.sensors.imports.units import ACC_UNITS_TO_G, GYRO_UNITS_TO_DPS, TIME_UNITS_TO_NS
from strideguard.sensors.types import NO_META, Placement, SampleBatch, SampleKind, StreamMeta
from strideguard.sensors.units import NS_PER_S

MAX_ACC_G = 50.0  # g: no running-trunk sensor reads more; a row above it is broken or mis-scaled
PLAUSIBLE_MEDIAN_ACC_G = (0.5, 3.0)  # g: a worn sensor with gravity has a median |acc| about 1 g
MAX_GYRO_DPS = 3000.0  # deg/s: above the range of body-worn gyroscopes (2000 deg/s is the usual max)
MIN_RATE_HZ, MAX_RATE_HZ = 1.0, 2000.0  # Hz: sample rates an import accepts
RATE_TOLERANCE = 0.10  # a declared rate may differ from the timestamps' rate by 10 %
EPOCH_MIN_NS = 100_000_000 * NS_PER_S  # ns: times after 1973 are taken as Unix epoch times
T_NS_LIMIT = 2**63 - 2**10  # ns: int64 nanoseconds end in the year 2262 (margin for rounding)


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """Who and what the samples belong to (the caller says; a CSV does not)."""

    path: str
    format: str
    runner: str
    device: str
    placement: Placement
    start_t_ns: int = 0
    meta: StreamMeta = NO_META  # what the format knows; the origin and path are added


def build_result(
    table: Table,
    source: Source,
    *,
    time_unit: str,
    acc_unit: str,
    gyro_unit: str | None,
    rate_hz: float | None,
    has_gyro: bool,
    strict: bool,
) -> ImportResult:
    """Columns of `table` are t, ax, ay, az[, gx, gy, gz] in the declared units."""
    path = source.path
    rows = table.rows
    error = table.error
    t_ns, bad_range = _time_ns(rows[:, 0], time_unit)
    acc_g = rows[:, 1:4] * ACC_UNITS_TO_G[acc_unit]
    gyro_dps = rows[:, 4:7] * GYRO_UNITS_TO_DPS[gyro_unit] if has_gyro and gyro_unit else None
    _check_acc_unit(path, acc_g, acc_unit)
    if gyro_dps is not None and gyro_unit is not None:  # both or neither
        _check_gyro_unit(path, acc_g, gyro_dps, gyro_unit)

    # Row checks: the first row that breaks physics ends the readable part (unless a parse error is earlier).
    n = rows.shape[0]
    bad_time = np.flatnonzero(np.diff(t_ns) <= 0) + 1
    bad_acc = np.flatnonzero(np.linalg.norm(acc_g, axis=1) > MAX_ACC_G)
    first_bad = min([n, *bad_time[:1], *bad_acc[:1], *bad_range[:1]])
    if first_bad < n:
        line = int(table.line_numbers[first_bad])
        if bad_range.size and bad_range[0] == first_bad:
            message = f"time {rows[first_bad, 0]:g} {time_unit} is beyond the year 2262 (int64 nanoseconds)"
        elif bad_time.size and bad_time[0] == first_bad:
            message = (
                f"time {rows[first_bad, 0]:g} {time_unit} does not increase "
                f"(previous row {rows[first_bad - 1, 0]:g} {time_unit})"
            )
        else:
            magnitude = float(np.linalg.norm(acc_g[first_bad]))
            message = f"acceleration of {magnitude:.1f} g is above {MAX_ACC_G:g} g: a broken row or a wrong unit"
        error = ImportFormatError(message, path=path, line=line)
        t_ns, acc_g = t_ns[:first_bad], acc_g[:first_bad]
        gyro_dps = gyro_dps[:first_bad] if gyro_dps is not None else None
    if error is not None:
        error = ImportFormatError(
            f"{error.args[0]}; the {t_ns.size} rows before it are readable", path=error.path, line=error.line
        )
        if strict:
            raise error
    try:
        rate = _rate_hz(path, t_ns, rate_hz, time_unit)
    except ImportFormatError:
        if error is None or t_ns.size >= 3:
            raise
        return ImportResult(path=path, format=source.format, acc=None, gyro=None, rows_read=0, error=error)
    if t_ns.size and t_ns[0] < EPOCH_MIN_NS:
        t_ns = t_ns + source.start_t_ns
    meta = replace(source.meta, origin=source.format, import_path=path)

    def batch(kind: SampleKind, values: np.ndarray | None) -> SampleBatch | None:
        if values is None or t_ns.size == 0:
            return None
        return SampleBatch(
            runner=source.runner,
            device=source.device,
            placement=source.placement,
            kind=kind,
            rate_hz=rate,
            t_ns=t_ns,
            values=values,
            meta=meta,
        )

    return ImportResult(
        path=path,
        format=source.format,
        acc=batch(SampleKind.ACC, acc_g),
        gyro=batch(SampleKind.GYRO, gyro_dps),
        rows_read=int(t_ns.size),
        error=error,
    )


def _time_ns(t: np.ndarray, time_unit: str) -> tuple[np.ndarray, np.ndarray]:
    """Times in int64 ns, and the indices of rows whose time does not fit (they are 0 in the result:
    a cast would silently wrap them to garbage)."""
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = t * TIME_UNITS_TO_NS[time_unit]
        out_of_range = ~(np.abs(scaled) < T_NS_LIMIT)  # also NaN
    return np.round(np.where(out_of_range, 0.0, scaled)).astype(np.int64), np.flatnonzero(out_of_range)


def _check_acc_unit(path: str, acc_g: np.ndarray, acc_unit: str) -> None:
    if acc_g.shape[0] == 0:
        return
    median_g = float(np.median(np.linalg.norm(acc_g, axis=1)))
    low, high = PLAUSIBLE_MEDIAN_ACC_G
    if low <= median_g <= high:
        return
    declared = "g" if acc_unit == "g" else "m/s^2"
    if acc_unit == "g" and 7.0 <= median_g <= 13.0:
        hint = "this looks like m/s^2: declare the acceleration unit m/s2"
    elif acc_unit == "m/s2" and 0.07 <= median_g <= 0.13:
        hint = "this looks like g: declare the acceleration unit g"
    elif acc_unit == "g" and 700 <= median_g <= 1300:
        hint = "this looks like milli-g: divide by 1000 first"
    else:
        hint = "a worn sensor reads about 1 g with gravity included: check the unit and that gravity was not removed"
    raise ImportFormatError(
        f"acceleration declared in {declared} has a median magnitude of {median_g:.3g} g; {hint}", path=path
    )


def _check_gyro_unit(path: str, acc_g: np.ndarray, gyro_dps: np.ndarray, gyro_unit: str) -> None:
    if gyro_dps.shape[0] == 0:
        return
    p99_dps = float(np.percentile(np.abs(gyro_dps), 99))
    if gyro_unit == "rad/s" and p99_dps > MAX_GYRO_DPS:
        raise ImportFormatError(
            f"angular rate declared in rad/s reaches {p99_dps:.0f} deg/s; this looks like deg/s: declare deg/s",
            path=path,
        )
    if p99_dps > MAX_GYRO_DPS:
        raise ImportFormatError(f"angular rate reaches {p99_dps:.0f} deg/s, beyond any body-worn gyroscope", path=path)
    moving = float(np.std(np.linalg.norm(acc_g, axis=1))) > 0.2  # g: clearly running or walking
    if gyro_unit == "deg/s" and moving and p99_dps < 3.0:
        raise ImportFormatError(
            f"angular rate declared in deg/s stays below {p99_dps:.2g} while the sensor moves; this looks like "
            "rad/s: declare rad/s",
            path=path,
        )


def _rate_hz(path: str, t_ns: np.ndarray, declared_hz: float | None, time_unit: str) -> float:
    """The declared rate (checked against the timestamps when there are enough) or the inferred one."""
    inferred_hz = 1e9 / float(np.median(np.diff(t_ns))) if t_ns.size >= 3 else None
    if declared_hz is None and inferred_hz is None:
        raise ImportFormatError("fewer than 3 rows: too few to infer the sample rate, declare it", path=path)
    rate = declared_hz if declared_hz is not None else inferred_hz
    assert rate is not None
    if inferred_hz is not None and not (MIN_RATE_HZ <= inferred_hz <= MAX_RATE_HZ):
        raise ImportFormatError(
            f"the timestamps say {inferred_hz:.4g} samples/s, outside {MIN_RATE_HZ:g}-{MAX_RATE_HZ:g} Hz: "
            f"is the time really in {time_unit}?",
            path=path,
        )
    if declared_hz is not None and inferred_hz is not None and abs(inferred_hz / declared_hz - 1) > RATE_TOLERANCE:
        raise ImportFormatError(
            f"declared rate {declared_hz:g} Hz but the timestamps say {inferred_hz:.4g} Hz", path=path
        )
    if not (MIN_RATE_HZ <= rate <= MAX_RATE_HZ):
        raise ImportFormatError(f"rate {rate:g} Hz is outside {MIN_RATE_HZ:g}-{MAX_RATE_HZ:g} Hz", path=path)
    return float(rate)
