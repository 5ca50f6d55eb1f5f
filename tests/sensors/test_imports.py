"""CSV imports: units converted once, damage reported on one line with file and line, readable rows kept."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from strideguard.sensors import capture
from strideguard.sensors.errors import ImportFormatError, SensorError
from strideguard.sensors.imports import ImportResult, detect_format, read_generic_csv, read_uci_dsa
from strideguard.sensors.synthetic import SyntheticConfig, SyntheticRunner
from strideguard.sensors.types import NS_PER_S, Placement, SampleKind

G_MPS2 = 9.80665
UCI_DIR = "uci_dsa_treadmill_running"


@pytest.fixture(scope="module")
def run():
    """Ten seconds of a synthetic runner: realistic values for the files these tests write."""
    return SyntheticRunner(SyntheticConfig(standing_s=2.0)).generate(10.0, 50.0, seed=3)


def write_csv(path: pathlib.Path, header: str, rows: np.ndarray, fmt: str = "%.6f") -> pathlib.Path:
    body = "\n".join(",".join(fmt % v for v in row) for row in rows)
    path.write_text(f"{header}\n{body}\n")
    return path


def relative_s(run) -> np.ndarray:
    return (run.acc.t_ns - run.acc.t_ns[0]) / NS_PER_S


def read(path: pathlib.Path, **kwargs) -> ImportResult:
    return read_generic_csv(path, runner="ann", placement="sacrum", **kwargs)


def test_generic_csv_in_si_units_and_ms_comes_back_in_g_and_deg_s(tmp_path: pathlib.Path, run) -> None:
    rows = np.column_stack((relative_s(run) * 1e3, run.acc.values * G_MPS2, np.radians(run.gyro.values)))
    path = write_csv(tmp_path / "si.csv", "t,ax,ay,az,gx,gy,gz", rows)
    result = read(path, acc_unit="m/s2", gyro_unit="rad/s", time_unit="ms")
    assert result.complete and result.rows_read == len(run.acc) and result.format == "generic_csv"
    assert result.acc.kind is SampleKind.ACC and result.gyro.kind is SampleKind.GYRO
    assert (result.acc.runner, result.acc.placement, result.acc.device) == ("ann", Placement.SACRUM, "si")
    assert result.acc.rate_hz == pytest.approx(50.0)
    assert np.allclose(result.acc.values, run.acc.values, atol=1e-5)
    assert np.allclose(result.gyro.values, run.gyro.values, atol=1e-3)
    assert np.array_equal(result.acc.t_ns, run.acc.t_ns - run.acc.t_ns[0])
    assert result.batches == (result.acc, result.gyro)


def test_units_from_header_aliases_and_extra_columns(tmp_path: pathlib.Path, run) -> None:
    rows = np.column_stack((relative_s(run), np.arange(len(run.acc)), run.acc.values))
    path = write_csv(tmp_path / "aliases.csv", "Time (s),frame,acc_x [g],acc_y [g],acc_z [g]", rows)
    result = read(path, start_t_ns=5 * NS_PER_S)
    assert result.gyro is None and result.batches == (result.acc,)
    assert np.allclose(result.acc.values, run.acc.values, atol=1e-5)
    assert result.acc.t_ns[0] == 5 * NS_PER_S


def test_epoch_timestamps_in_ns_are_kept_and_a_declared_rate_is_used(tmp_path: pathlib.Path, run) -> None:
    rows = np.column_stack((run.acc.t_ns.astype(np.float64), run.acc.values))
    path = write_csv(tmp_path / "epoch.csv", "t_ns,ax_g,ay_g,az_g", rows, fmt="%.17g")
    result = read(path, rate_hz=52.0, start_t_ns=123)
    assert np.array_equal(result.acc.t_ns, run.acc.t_ns) and result.acc.rate_hz == 52.0


def test_semicolon_delimited_files_are_read(tmp_path: pathlib.Path, run) -> None:
    rows = np.column_stack((relative_s(run), run.acc.values))
    path = tmp_path / "semi.csv"
    path.write_text("t;ax;ay;az\n" + "\n".join(";".join(f"{v:.6f}" for v in row) for row in rows) + "\n")
    assert read(path, acc_unit="g", time_unit="s").rows_read == len(run.acc)


def one_line_error(excinfo: pytest.ExceptionInfo, path: pathlib.Path, line: int | None) -> str:
    text = str(excinfo.value)
    assert "\n" not in text and text.startswith(str(path))
    assert excinfo.value.line == line and isinstance(excinfo.value, SensorError)
    return text


def test_missing_columns_are_named(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "missing.csv"
    path.write_text("t,ax,ay\n0,0,0\n")
    with pytest.raises(ImportFormatError) as info:
        read(path, acc_unit="g", time_unit="s")
    text = one_line_error(info, path, 1)
    assert "missing column(s) az" in text and "t, ax, ay, az" in text


def test_incomplete_gyro_columns_are_named(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "gyro.csv"
    path.write_text("t,ax,ay,az,gx,gy\n0,0,0,1,0,0\n")
    with pytest.raises(ImportFormatError, match=r"missing column.*gz"):
        read(path, acc_unit="g", time_unit="s", gyro_unit="deg/s")


def test_g_declared_for_a_file_in_m_s2_says_what_it_looks_like(tmp_path: pathlib.Path, run) -> None:
    rows = np.column_stack((relative_s(run), run.acc.values * G_MPS2))
    path = write_csv(tmp_path / "wrong_unit.csv", "t,ax,ay,az", rows)
    with pytest.raises(ImportFormatError) as info:
        read(path, acc_unit="g", time_unit="s")
    assert "looks like m/s^2" in one_line_error(info, path, None)


def test_m_s2_declared_for_a_file_in_g_says_it_looks_like_g(tmp_path: pathlib.Path, run) -> None:
    rows = np.column_stack((relative_s(run), run.acc.values))
    path = write_csv(tmp_path / "g.csv", "t,ax,ay,az", rows)
    with pytest.raises(ImportFormatError, match="looks like g"):
        read(path, acc_unit="m/s2", time_unit="s")


def test_gyro_declared_in_rad_s_for_deg_s_data_is_refused(tmp_path: pathlib.Path, run) -> None:
    rows = np.column_stack((relative_s(run), run.acc.values, run.gyro.values * 20))
    path = write_csv(tmp_path / "gyro_unit.csv", "t,ax,ay,az,gx,gy,gz", rows)
    with pytest.raises(ImportFormatError, match="looks like deg/s"):
        read(path, acc_unit="g", time_unit="s", gyro_unit="rad/s")


def test_gyro_declared_in_deg_s_for_rad_s_data_is_refused(tmp_path: pathlib.Path, run) -> None:
    rows = np.column_stack((relative_s(run), run.acc.values, np.radians(run.gyro.values)))
    path = write_csv(tmp_path / "gyro_rad.csv", "t,ax,ay,az,gx,gy,gz", rows)
    with pytest.raises(ImportFormatError, match="looks like rad/s"):
        read(path, acc_unit="g", time_unit="s", gyro_unit="deg/s")


def test_time_in_ms_declared_as_s_is_refused(tmp_path: pathlib.Path, run) -> None:
    rows = np.column_stack((relative_s(run) * 1e3, run.acc.values))
    path = write_csv(tmp_path / "ms.csv", "t,ax,ay,az", rows)
    with pytest.raises(ImportFormatError, match=r"0\.05 samples/s.*really in s"):
        read(path, acc_unit="g", time_unit="s")


def test_declared_rate_that_the_timestamps_contradict_is_refused(tmp_path: pathlib.Path, run) -> None:
    rows = np.column_stack((relative_s(run), run.acc.values))
    path = write_csv(tmp_path / "rate.csv", "t,ax,ay,az", rows)
    with pytest.raises(ImportFormatError, match="declared rate 100 Hz but the timestamps say 50 Hz"):
        read(path, acc_unit="g", time_unit="s", rate_hz=100.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"time_unit": "s"}, "acceleration unit is not declared"),
        ({"time_unit": "s", "acc_unit": "furlongs"}, "unknown acceleration unit 'furlongs'"),
        ({"time_unit": "ms", "acc_unit": "m/s2"}, "acceleration declared in m/s2 but the header says g"),
    ],
)
def test_undeclared_unknown_or_contradicting_units(tmp_path: pathlib.Path, kwargs: dict, message: str) -> None:
    path = tmp_path / "units.csv"
    header = "t,ax,ay,az" if "m/s2" not in kwargs.values() else "t,ax_g,ay_g,az_g"
    path.write_text(f"{header}\n0,0,0,1\n0.02,0,0,1\n0.04,0,0,1\n")
    with pytest.raises(ImportFormatError, match=message):
        read(path, **kwargs)


def damaged_file(tmp_path: pathlib.Path, run, bad_row: int, bad_line: str) -> pathlib.Path:
    rows = np.column_stack((relative_s(run), run.acc.values))
    lines = [",".join(f"{v:.6f}" for v in row) for row in rows]
    lines[bad_row] = bad_line
    path = tmp_path / "damaged.csv"
    path.write_text("t,ax,ay,az\n" + "\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("1.0,0.1,abc,1.0", "column ay holds 'abc', not a number"),
        ("1.0,0.1,,1.0", "column ay holds '', not a number"),
        ("1.0,0.1,nan,1.0", "column ay holds 'nan', not a number"),
        ("1.0,0.1", "2 cells where the header has 4"),
        ("1.0,0.1,0.2,1.0,7", "5 cells where the header has 4"),
        ("0.5,0.1,0.2,1.0", "time 0.5 s does not increase (previous row 1.18 s)"),
        ("1.2,0.1,70,1.0", "acceleration of 70.0 g is above 50 g"),
        ("", "empty line inside the data"),
    ],
)
def test_a_damaged_row_names_its_line_and_keeps_the_rows_before(
    tmp_path: pathlib.Path, run, bad_line: str, message: str
) -> None:
    bad_row = 60  # file line 62: header + 60 good rows before it
    path = damaged_file(tmp_path, run, bad_row, bad_line)
    with pytest.raises(ImportFormatError) as info:
        read(path, acc_unit="g", time_unit="s")
    text = one_line_error(info, path, bad_row + 2)
    assert message in text and "the 60 rows before it are readable" in text

    result = read(path, acc_unit="g", time_unit="s", strict=False)
    assert not result.complete and result.error.line == bad_row + 2 and message in str(result.error)
    assert result.rows_read == bad_row == len(result.acc)
    assert np.allclose(result.acc.values, run.acc.values[:bad_row], atol=1e-5)


def test_damage_in_the_first_rows_keeps_nothing_but_says_where(tmp_path: pathlib.Path, run) -> None:
    path = damaged_file(tmp_path, run, 1, "x,y,z,w")
    result = read(path, acc_unit="g", time_unit="s", strict=False)
    assert result.rows_read == 0 and result.acc is None and result.error.line == 3


def test_a_truncated_last_line_is_damage_at_that_line(tmp_path: pathlib.Path, run) -> None:
    rows = np.column_stack((relative_s(run), run.acc.values))
    path = write_csv(tmp_path / "cut.csv", "t,ax,ay,az", rows)
    path.write_text(path.read_text()[:-12])  # the recorder died mid-row
    result = read(path, acc_unit="g", time_unit="s", strict=False)
    assert result.error.line == len(rows) + 1 and result.rows_read == len(rows) - 1


@pytest.mark.parametrize(
    "content, message, line",
    [
        (b"", "the file is empty", None),
        (b"  \n\n", "the file is empty", None),
        (b"t,ax,ay,az\n", "header but no data rows", 2),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file", 1),
        (b"hello world\nsecond line\n", "is not a CSV header", 1),
    ],
)
def test_files_that_are_not_csv_data(tmp_path: pathlib.Path, content: bytes, message: str, line: int | None) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(content)
    with pytest.raises(ImportFormatError) as info:
        read(path, acc_unit="g", time_unit="s")
    assert message in one_line_error(info, path, line)


def test_detect_format(tmp_path: pathlib.Path, real_data: pathlib.Path) -> None:
    generic = tmp_path / "a.txt"
    generic.write_text("timestamp_ms,accX,accY,accZ\n0,0,0,1\n")
    no_suffix = tmp_path / "recording"
    no_suffix.write_text("t,ax,ay,az\n0,0,0,1\n")
    incomplete = tmp_path / "b.csv"
    incomplete.write_text("t,ax\n0,0\n")
    assert detect_format(tmp_path / "run.sgcap") == "sgcap"
    renamed = tmp_path / "capture.bin"
    capture.write_batches(renamed, [SyntheticRunner().generate(2.0, 25.0, seed=1).acc])
    assert detect_format(renamed) == "sgcap"
    assert detect_format(real_data / UCI_DIR / "p1_a12_running_8kmh_25Hz.csv") == "uci_dsa"
    assert detect_format(generic) == "generic_csv"
    assert detect_format(no_suffix) == "generic_csv"
    assert detect_format(incomplete) == "generic_csv"  # the reader then names the missing column


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "unknown file type (binary)"),
        ("notes", b"just some words\n", "unknown file type; expected a .sgcap capture or a CSV"),
        ("empty.csv", b"", "the file is empty"),
    ],
)
def test_detect_format_refuses_unknown_files_in_one_line(
    tmp_path: pathlib.Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportFormatError) as info:
        detect_format(path)
    assert message in one_line_error(info, path, None)


def test_missing_file_is_an_os_error_naming_it(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        detect_format(tmp_path / "nope.csv")
    assert info.value.filename == str(tmp_path / "nope.csv")


def test_uci_torso_unit_from_the_real_recording(real_data: pathlib.Path) -> None:
    path = real_data / UCI_DIR / "p1_a12_running_8kmh_25Hz.csv"
    result = read_uci_dsa(path)
    acc, gyro = result.acc, result.gyro
    assert result.complete and result.rows_read == 7500 == len(acc) == len(gyro)  # 60 x 5 s at 25 Hz
    assert (acc.runner, acc.device, acc.placement, acc.rate_hz) == ("p1", "xsens-mtx-T", Placement.CHEST, 25.0)
    assert "Altun" in acc.meta.attribution
    assert np.diff(acc.t_ns).min() == np.diff(acc.t_ns).max() == 40_000_000
    first = np.loadtxt(path, delimiter=",", skiprows=1, max_rows=1)
    assert np.allclose(acc.values[0], first[1:4] / G_MPS2, rtol=1e-6)
    assert np.allclose(gyro.values[0], np.degrees(first[4:7]), rtol=1e-6)
    mean_g = acc.values.mean(axis=0)
    assert mean_g[0] == pytest.approx(0.97, abs=0.05) and abs(mean_g[1]) < 0.3  # torso x is vertical


def test_uci_leg_unit_and_unknown_unit(real_data: pathlib.Path) -> None:
    path = real_data / UCI_DIR / "p2_a12_running_8kmh_25Hz.csv"
    leg = read_uci_dsa(path, unit="RL", runner="runner-2", start_t_ns=NS_PER_S)
    assert (leg.acc.placement, leg.acc.runner, leg.acc.t_ns[0]) == (Placement.SHANK, "runner-2", NS_PER_S)
    with pytest.raises(ImportFormatError, match="unknown sensor unit 'X'"):
        read_uci_dsa(path, unit="X")


def test_uci_file_missing_a_column(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "p9_cut.csv"
    path.write_text("t_s,T_xacc,T_yacc,T_zacc,T_xgyro,T_ygyro\n0,9.8,0,0,0,0\n")
    with pytest.raises(ImportFormatError, match=r"missing column.*T_zgyro"):
        read_uci_dsa(path)


def test_units_declared_nowhere_are_inferred_when_the_data_is_clear(tmp_path: pathlib.Path, run) -> None:
    rows = np.column_stack((relative_s(run) * 1e3, run.acc.values * G_MPS2, np.radians(run.gyro.values)))
    path = write_csv(tmp_path / "plain.csv", "t,ax,ay,az,gx,gy,gz", rows)
    with pytest.raises(ImportFormatError, match="time unit is not declared"):
        read(path)
    result = read(path, infer_units=True)
    assert result.acc.meta.inferred_units == "time ms, acceleration m/s2, angular rate rad/s"
    assert np.allclose(result.acc.values, run.acc.values, atol=1e-5)
    assert np.allclose(result.gyro.values, run.gyro.values, atol=1e-3)
    assert result.acc.rate_hz == pytest.approx(50.0)


def test_inferred_deg_s_and_declared_units_are_not_overridden(tmp_path: pathlib.Path, run) -> None:
    rows = np.column_stack((relative_s(run), run.acc.values, run.gyro.values))
    path = write_csv(tmp_path / "degs.csv", "t_s,ax,ay,az,gx,gy,gz", rows)
    result = read(path, infer_units=True)
    assert result.gyro.meta.inferred_units == "acceleration g, angular rate deg/s"
    assert np.allclose(result.gyro.values, run.gyro.values, atol=1e-3)


def test_ambiguous_data_is_not_guessed(tmp_path: pathlib.Path, run) -> None:
    scaled = run.acc.values * 0.2  # a median of ~0.2: neither ~1 g nor ~9.8 m/s^2
    rows = np.column_stack((relative_s(run), scaled))
    path = write_csv(tmp_path / "linear.csv", "t,ax,ay,az", rows)
    with pytest.raises(ImportFormatError, match="cannot tell the acceleration unit"):
        read(path, time_unit="s", infer_units=True)


def test_read_any_yields_time_ordered_chunks_then_raises_the_damage(tmp_path: pathlib.Path, run) -> None:
    from strideguard.sensors.imports import read_any

    path = damaged_file(tmp_path, run, 260, "5.2,0.1,oops,1.0")
    batches = []
    with pytest.raises(ImportFormatError) as info:
        for batch in read_any(path, runner="bob", batch_s=2.0):
            batches.append(batch)
    assert info.value.line == 262 and "the 260 rows before it are readable" in str(info.value)
    assert [len(b) for b in batches] == [100, 100, 60]  # everything before the damage was delivered first
    assert {b.runner for b in batches} == {"bob"} and batches[0].meta.inferred_units == "time s, acceleration g"


def test_read_any_interleaves_acc_and_gyro_of_a_uci_file(real_data: pathlib.Path) -> None:
    from strideguard.sensors.imports import read_any

    batches = list(read_any(real_data / UCI_DIR / "p3_a12_running_8kmh_25Hz.csv", batch_s=10.0))
    assert [b.kind for b in batches[:4]] == [SampleKind.ACC, SampleKind.GYRO] * 2
    assert len(batches) == 2 * 30 and {b.runner for b in batches} == {"p3"}
    starts = [int(b.t_ns[0]) for b in batches[::2]]
    assert starts == sorted(starts) and all(len(b) == 250 for b in batches)


def test_read_any_refuses_a_capture(tmp_path: pathlib.Path) -> None:
    from strideguard.sensors.imports import read_any

    with pytest.raises(ImportFormatError, match="not an import"):
        list(read_any(tmp_path / "run.sgcap"))


def test_a_header_unit_of_the_wrong_kind_is_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "kind.csv"
    path.write_text("t_g,ax,ay,az\n0,0,0,1\n1,0,0,1\n2,0,0,1\n")
    with pytest.raises(ImportFormatError, match="the header gives time the unit g"):
        read(path, acc_unit="g")


def test_axes_in_different_units_are_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text("t_s,ax_g,ay_g,az_mps2\n0,0,0,1\n")
    with pytest.raises(ImportFormatError, match="name different units"):
        read(path)
