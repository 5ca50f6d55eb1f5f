"""Broken input through the real CLI: non-finite samples are dropped and counted, never printed as the
bare `NaN` tokens strict JSON readers refuse; a month-long gap is two sessions, not a month of windows."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from strideguard.sensors.capture import write_batches
from strideguard.sensors.synthetic import SyntheticConfig, SyntheticRunner
from strideguard.stream.cli import main
from tests.stream.engine_helpers import batch_like


def _strict(text: str) -> dict:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _analyze_json(path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(["analyze", str(path), "--json", "--no-store"]) == 0
    return _strict(capsys.readouterr().out)


def test_non_finite_samples_are_dropped_counted_and_never_printed(tmp_path, capsys) -> None:
    run = SyntheticRunner(SyntheticConfig()).generate(120.0, 100, seed=1, runner="nan")
    values = np.array(run.acc.values)
    values[::50, 0] = np.nan
    values[7::300, 2] = np.inf
    bad_rows = int((~np.isfinite(values)).any(axis=1).sum())
    write_batches(tmp_path / "nan.sgcap", [batch_like(run.acc, values=values)])
    report = _analyze_json(tmp_path / "nan.sgcap", capsys)
    summary = report["runners"]["nan"]["summary"]
    assert summary["dropped"] == {"samples not finite or out of range": bad_rows}
    assert summary["n_samples"] == len(values) - bad_rows and summary["n_steps"] > 250


def test_a_month_between_two_parts_of_a_csv_is_two_sessions(tmp_path, capsys) -> None:
    t_s = np.arange(0, 60, 0.01)
    rows = [f"{t:.2f},0,0,{1 + 0.8 * np.sin(2 * np.pi * 2.8 * t):.4f}" for t in np.r_[t_s, t_s + 30 * 86400]]
    path = tmp_path / "gap.csv"
    path.write_text("t_s,ax_g,ay_g,az_g\n" + "\n".join(rows) + "\n")
    runner = _analyze_json(path, capsys)["runners"]["gap"]
    assert [s["duration_s"] for s in runner["segments"]] == [60.0, 60.0]
    assert sum(s["n_windows"] for s in runner["segments"]) <= 2 * 11


def test_repeated_frames_in_a_capture_are_dropped_not_counted_as_steps(tmp_path, capsys) -> None:
    """A capture whose frames repeat (the time jumps back): it used to report 336 spm."""
    run = SyntheticRunner(SyntheticConfig(cadence_spm=170)).generate(120.0, 100, seed=2, runner="rep")
    pieces = [run.acc.slice(i, i + 100) for i in range(0, len(run.acc), 100)]
    repeated = [p for piece in pieces for p in (piece, piece)]  # every 1-s frame twice
    write_batches(tmp_path / "rep.sgcap", repeated)
    summary = _analyze_json(tmp_path / "rep.sgcap", capsys)["runners"]["rep"]["summary"]
    assert summary["dropped"] == {"samples not after the previous one (time went back)": len(run.acc)}
    assert summary["cadence_spm"] == pytest.approx(170, abs=3)
