"""CSV import (sensors.imports) against random text, random cells and random truncation.

Property: `read_any` (format detection, unit inference, both CSV layouts) yields SampleBatches and then
either ends or raises `ImportFormatError`; every batch it yields is valid (finite values, strictly
increasing times). A large file of noise is refused in memory proportional to the file.
"""

from __future__ import annotations

import itertools
import pathlib
import random
import tempfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strideguard.sensors.errors import ImportFormatError
from strideguard.sensors.imports import read_any
from strideguard.sensors.types import SampleBatch
from tests.fuzz._support import fuzz_settings, mutation_fuzz, peak_bytes

_SCRATCH = pathlib.Path(tempfile.mkdtemp(prefix="sg-fuzz-csv-"))
HEADERS = [
    "t,ax,ay,az",
    "t,ax,ay,az,gx,gy,gz",
    "t_ms,ax_g,ay_g,az_g",
    "Time (s);acc_x [m/s^2];acc_y [m/s^2];acc_z [m/s^2]",
    "t_s\tT_xacc\tT_yacc\tT_zacc\tT_xgyro\tT_ygyro\tT_zgyro",
    "t_ns,ax,ay,az,gx,gy,gz,extra",
]


def _valid_csv(rows: int = 120, gyro: bool = True, seed: int = 1) -> str:
    rng = np.random.default_rng(seed)
    t_s = np.arange(rows) / 100.0
    acc = rng.normal([0.0, 0.0, 1.0], 0.5, size=(rows, 3))
    cols = [t_s, acc] + ([rng.normal(0.0, 90.0, size=(rows, 3))] if gyro else [])
    body = "\n".join(",".join(f"{v:.5f}" for v in row) for row in np.column_stack(cols))
    header = "t_s,ax_g,ay_g,az_g" + (",gx_deg_s,gy_deg_s,gz_deg_s" if gyro else "")
    return f"{header}\n{body}\n"


def _read(path: pathlib.Path, **kwargs) -> int:
    n = 0
    for batch in read_any(path, runner="ann", **kwargs):
        assert isinstance(batch, SampleBatch) and batch.runner == "ann"
        assert np.all(np.isfinite(batch.values))
        times = [int(t) for t in batch.t_ns]
        assert all(b > a for a, b in itertools.pairwise(times))
        n += len(batch)
    return n


def _data_lines(data: bytes) -> int:
    """Data lines of a file as the importer sees them: after the header, trailing empty lines dropped."""
    lines = data.decode("utf-8-sig", "replace").splitlines()[1:]
    while lines and not lines[-1].strip():
        lines.pop()
    return len(lines)


def _check(data: bytes, suffix: str = ".csv", **kwargs) -> ImportFormatError | None:
    """Import `data` and check the exact relation between what was yielded and how it ended: a clean
    import reads every data line; an error on line L comes after exactly the L-2 rows before it (or none,
    when fewer than 3 are left to infer a rate from); an error naming no line comes before any row."""
    path = _SCRATCH / f"f{suffix}"
    path.write_bytes(data)
    rows: dict[str, int] = {}
    try:
        for batch in read_any(path, runner="ann", **kwargs):
            assert batch.runner == "ann" and np.all(np.isfinite(batch.values))
            times = [int(t) for t in batch.t_ns]
            assert all(b > a for a, b in itertools.pairwise(times))
            rows[batch.kind.value] = rows.get(batch.kind.value, 0) + len(batch)
    except ImportFormatError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        assert len(set(rows.values())) <= 1, rows  # ACC and GYRO rows alike
        n = next(iter(rows.values()), 0)
        if exc.line is None:
            assert n == 0, f"{n} rows before an error that names no line: {exc}"
        else:
            assert n == exc.line - 2 or (n == 0 and exc.line - 2 < 3), f"{n} rows before {exc}"
        return exc
    assert len(set(rows.values())) <= 1, rows
    assert next(iter(rows.values()), 0) == _data_lines(data), f"{rows} rows of {_data_lines(data)} lines"
    return None


def test_the_valid_seed_files_import() -> None:
    for gyro in (False, True):
        path = _SCRATCH / "valid.csv"
        path.write_text(_valid_csv(gyro=gyro))
        assert _read(path) == 120 * (2 if gyro else 1)


@fuzz_settings(250)
@given(text=st.text(max_size=400), suffix=st.sampled_from([".csv", ".txt", ".dat"]))
def test_random_text_imports_or_raises_import_format_error(text: str, suffix: str) -> None:
    _check(text.encode("utf-8", "surrogatepass"), suffix)


@fuzz_settings(250)
@given(
    header=st.sampled_from(HEADERS),
    cells=st.lists(
        st.lists(
            st.sampled_from(
                [
                    "0",
                    "1",
                    "-1",
                    "0.01",
                    "1e308",
                    "-1e308",
                    "nan",
                    "inf",
                    "-inf",
                    "",
                    " ",
                    "x",
                    "1,5",
                    '"2"',
                    "1e-320",
                    "9223372036854775807",
                    "1.7e19",
                    "-0",
                    "0x10",
                    "1_000",
                    "١",
                ]
            )
            | st.floats(allow_nan=True, allow_infinity=True).map(repr)
            | st.integers().map(str),
            min_size=1,
            max_size=9,
        ),
        max_size=20,
    ),
    units=st.fixed_dictionaries(
        {},
        optional={
            "acc_unit": st.sampled_from(["g", "m/s2", "furlong"]),
            "time_unit": st.sampled_from(["s", "ms", "ns", "years"]),
            "rate_hz": st.sampled_from([100.0, 0.0, -1.0, 1e-9, 1e12]),
        },
    ),
)
def test_random_cells_under_a_real_header_import_or_raise_import_format_error(header, cells, units) -> None:
    delimiter = ";" if ";" in header else "\t" if "\t" in header else ","
    body = "\n".join(delimiter.join(row) for row in cells)
    _check(f"{header}\n{body}\n".encode(), **units)


def _calm_csv(rows: int, gyro: bool, seed: int) -> str:
    """A valid file whose units are in its header and whose values stay near 1 g (so any 3 rows of it
    pass the unit checks): what a cut leaves of it is decided by the cut alone."""
    rng = np.random.default_rng(seed)
    acc = rng.normal([0.0, 0.0, 1.0], 0.05, size=(rows, 3))
    cols = [np.arange(rows) / 100.0, acc] + ([rng.normal(0.0, 20.0, size=(rows, 3))] if gyro else [])
    body = "\n".join(",".join(f"{v:.5f}" for v in row) for row in np.column_stack(cols))
    return "t_s,ax_g,ay_g,az_g" + (",gx_deg_s,gy_deg_s,gz_deg_s" if gyro else "") + f"\n{body}\n"


def _expected_of_a_cut(text: str) -> tuple[list[list[float]], int | None]:
    """(the rows a file cut to `text` yields, the line of the error or None), from the layout: every
    complete line is a row; the cut line is a row when it still has every cell and they are numbers
    (a cut can only shorten its last cell), else the error is on it, after the rows before it."""
    header, *lines = text.split("\n")
    partial = lines.pop()
    rows = [[float(c) for c in line.split(",")] for line in lines]
    cells = partial.split(",")
    error_line = None
    if partial:
        try:
            values = [float(c) for c in cells]
        except ValueError:
            values = []
        if len(values) == len(header.split(",")):
            rows.append(values)
        else:
            error_line = len(rows) + 2
    if len(rows) < 3:  # too few rows to infer the rate from: nothing is yielded
        return [], error_line if error_line is not None else (2 if not rows else None)
    return rows, error_line


@fuzz_settings(150)
@given(cut=st.integers(0, 10_000), gyro=st.booleans(), seed=st.integers(0, 3))
def test_any_truncation_of_a_valid_file_yields_exactly_its_complete_rows(cut: int, gyro: bool, seed: int) -> None:
    text = _calm_csv(40, gyro, seed)
    header_end = text.index("\n") + 1
    text = text[: header_end + cut % (len(text) - header_end + 1)]
    expected_rows, expected_line = _expected_of_a_cut(text)
    path = _SCRATCH / "cut.csv"
    path.write_text(text)
    got: dict[str, list[SampleBatch]] = {}
    try:
        for batch in read_any(path, runner="ann"):
            got.setdefault(batch.kind.value, []).append(batch)
    except ImportFormatError as exc:
        assert expected_line is not None or not expected_rows, f"refused {exc}, expected {len(expected_rows)} rows"
        assert exc.line == expected_line, f"{exc} (expected line {expected_line})"
    else:
        assert expected_line is None, f"read cleanly, expected an error on line {expected_line}"
    if not expected_rows:
        assert got == {}
        return
    table = np.array(expected_rows)
    acc = got["acc"]
    assert [int(t) for b in acc for t in b.t_ns] == [round(t * 1e9) for t in table[:, 0]]
    assert np.array_equal(np.concatenate([b.values for b in acc]), table[:, 1:4].astype(np.float32))
    if gyro:
        assert np.array_equal(np.concatenate([b.values for b in got["gyro"]]), table[:, 4:7].astype(np.float32))


@pytest.mark.parametrize("cell", ["inf", "-inf", "nan", "1e999", "Infinity"])
@pytest.mark.parametrize("column", range(7))
def test_a_non_finite_cell_in_any_column_ends_the_readable_part_on_its_line(column: int, cell: str) -> None:
    """Not a number is not a number in every column (the time, acceleration and gyroscope ones each
    have later checks that would catch it differently, or refuse the whole file)."""
    lines = _calm_csv(40, gyro=True, seed=1).splitlines()
    cells = lines[21].split(",")
    cells[column] = cell
    lines[21] = ",".join(cells)
    path = _SCRATCH / "nonfinite.csv"
    path.write_text("\n".join(lines) + "\n")
    rows = []
    with pytest.raises(ImportFormatError, match=f"holds '{cell}', not a number; the 20 rows before") as info:
        rows.extend(read_any(path, runner="ann"))
    assert info.value.line == 22 and [len(b) for b in rows] == [20, 20]


def test_seeded_mutation_fuzz_of_valid_files() -> None:
    seeds = [_valid_csv(rows=40, gyro=g, seed=s).encode() for g in (False, True) for s in (1, 2)]
    seeds.append(_valid_csv(rows=40).replace(",", ";").encode())

    outcomes = []
    mutation_fuzz("csv", seeds, lambda data: outcomes.append(_check(data)), (), cases=400)
    lines = {e.line for e in outcomes if e is not None}
    assert outcomes.count(None) > 5 and len(lines) > 10, (outcomes.count(None), lines)


LARGE_FILE_BYTES = 8 * 1024 * 1024
PEAK_PER_FILE_BYTE = 16  # the whole text, its lines and numpy's parse of them: measured about 10x for noise


@pytest.mark.parametrize("kind", ["noise", "numbers"])
def test_a_large_random_file_imports_or_is_refused_in_bounded_memory(kind: str) -> None:
    rng = random.Random(8)
    if kind == "noise":
        alphabet = "0123456789.,-e\n "
        table = bytes(ord(alphabet[i % len(alphabet)]) for i in range(256))
        text = "t,ax,ay,az\n" + rng.randbytes(LARGE_FILE_BYTES).translate(table).decode()
    else:
        line = ",".join(str(rng.random()) for _ in range(4)) + "\n"
        text = "t,ax,ay,az\n" + line * (LARGE_FILE_BYTES // len(line))
    path = _SCRATCH / f"large-{kind}.csv"
    path.write_text(text)
    peak = peak_bytes(lambda: _read(path, acc_unit="g", time_unit="s"))
    print(f"{kind}: peak {peak / 1e6:.1f} MB for {len(text) / 1e6:.1f} MB")
    assert peak < PEAK_PER_FILE_BYTE * len(text)


@pytest.mark.parametrize(
    "times", [("1e300", "2e300", "3e300"), ("9.3e9", "9.4e9", "9.5e9"), ("1", "2", "9.3e9"), ("-9.3e9", "1", "2")]
)
def test_times_beyond_int64_nanoseconds_are_named_not_wrapped(times: tuple[str, ...]) -> None:
    """A cast of 9.3e9 s to int64 ns wraps silently (found by the long fuzz run): the error names it."""
    path = _SCRATCH / "far.csv"
    path.write_text("t_s,ax_g,ay_g,az_g\n" + "".join(f"{t},0,0,1\n" for t in times))
    with pytest.raises(ImportFormatError, match="beyond the year 2262"):
        _read(path)
