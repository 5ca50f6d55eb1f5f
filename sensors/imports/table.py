"""Read the numeric body of a CSV, keeping every row before the first damaged one.

The fast path hands the lines to numpy's C parser; if that fails, a line-by-line pass finds the first
line that cannot be read, so the error names it and the rows before it are kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from strideguard.sensors.errors import ImportFormatError

DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True, slots=True, kw_only=True)
class Table:
    """Header cells, the readable rows of the wanted columns (float64), and what stopped the reading."""

    header: tuple[str, ...]
    rows: np.ndarray  # (n, len(columns)) float64
    line_numbers: np.ndarray  # int64, the 1-based file line of each row
    error: ImportFormatError | None


def read_text(path: str) -> str:
    """The file as text; binary or empty files are an ImportFormatError, not a UnicodeDecodeError."""
    with open(path, "rb") as handle:
        raw = handle.read()
    if not raw.strip():
        raise ImportFormatError("the file is empty", path=path)
    if b"\x00" in raw[:4096]:
        raise ImportFormatError("this is a binary file, not a CSV", path=path, line=1)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ImportFormatError("the file is not UTF-8 text (not a CSV?)", path=path, line=line) from exc


def split_header(path: str, text: str) -> tuple[str, list[str], list[str]]:
    """(delimiter, header cells, remaining lines). The delimiter is the first of , ; TAB in the header."""
    lines = text.splitlines()
    header_line = lines[0]
    delimiter = next((d for d in DELIMITERS if d in header_line), None)
    if delimiter is None:
        raise ImportFormatError(
            f"the first line {_short(header_line)!r} is not a CSV header (no , ; or TAB)", path=path, line=1
        )
    return delimiter, [c.strip().strip('"') for c in header_line.split(delimiter)], lines[1:]


def read_columns(path: str, text: str, columns: dict[str, int]) -> Table:
    """Parse the columns at `columns` (name -> index) of every data line into floats."""
    delimiter, header, lines = split_header(path, text)
    names, indices = list(columns), list(columns.values())
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ImportFormatError("the file has a header but no data rows", path=path, line=2)
    if all(line.strip() for line in lines):
        try:
            rows = np.loadtxt(lines, delimiter=delimiter, usecols=indices, ndmin=2, dtype=np.float64)
        except ValueError:
            rows = None
        if rows is not None and rows.shape[0] == len(lines) and _widths_ok(lines, delimiter, len(header)):
            bad = ~np.all(np.isfinite(rows), axis=1)
            if not bad.any():
                return Table(header=tuple(header), rows=rows, line_numbers=np.arange(2, len(lines) + 2), error=None)
    return _read_slowly(path, header, lines, delimiter, names, indices)


def _widths_ok(lines: list[str], delimiter: str, width: int) -> bool:
    """Every line has as many cells as the header (numpy would accept longer rows silently)."""
    return all(line.count(delimiter) == width - 1 for line in lines)


def _read_slowly(
    path: str, header: list[str], lines: list[str], delimiter: str, names: list[str], indices: list[int]
) -> Table:
    values: list[list[float]] = []
    error: ImportFormatError | None = None
    for offset, line in enumerate(lines):
        line_number = offset + 2
        cells = line.split(delimiter)
        if not line.strip():
            error = ImportFormatError("empty line inside the data", path=path, line=line_number)
            break
        if len(cells) != len(header):
            error = ImportFormatError(
                f"{len(cells)} cells where the header has {len(header)} (truncated or damaged row)",
                path=path,
                line=line_number,
            )
            break
        row = []
        for index in indices:  # as long as `names`: both come from one mapping
            cell = cells[index].strip().strip('"')
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                error = ImportFormatError(
                    f"column {header[index]} holds {_short(cell)!r}, not a number", path=path, line=line_number
                )
                break
            row.append(value)
        if error is not None:
            break
        values.append(row)
    rows = np.asarray(values, dtype=np.float64).reshape(len(values), len(names))
    return Table(header=tuple(header), rows=rows, line_numbers=np.arange(2, len(values) + 2), error=error)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
