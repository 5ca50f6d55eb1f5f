"""Broken input through the real CLI: non-finite samples are dropped and counted, never printed as the
bare `NaN` tokens strict JSON readers refuse; a month-long gap is two sessions, not a month of windows."""

from __future__ import annotations

import json
import pathlib
import re

import numpy as np
import pytest

from strideguard.sensors.capture import write_batches
from strideguard.sensors.synthetic import SyntheticConfig, SyntheticRunner
from strideguard.stream.cli import main
from strideguard.stream.sqlite.store import SessionStore
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


def _flip_a_byte_in_the_middle_frame(path: pathlib.Path) -> int:
    """Damage the payload of the capture's middle frame; returns the frame's offset."""
    data = bytearray(path.read_bytes())
    frames, pos = [], data.index(b"F", 12)
    while pos < len(data):
        frames.append(pos)
        pos += 13 + int.from_bytes(data[pos + 1 : pos + 5], "little")  # b"F" | u32 compressed_len | ...
    middle = frames[len(frames) // 2]
    data[middle + 20] ^= 0xFF
    path.write_bytes(bytes(data))
    return middle


@pytest.mark.slow
def test_replay_of_a_damaged_capture_stores_its_good_part_and_says_where_it_stopped(tmp_path, capsys) -> None:
    """Before: `replay` read the whole file before the first item (for its progress bar), so the damage
    ended it with nothing analysed or stored. Now the part before the damage goes through as `analyze`
    does, and the one-line error follows, with a non-zero exit."""
    run = SyntheticRunner(SyntheticConfig()).generate(300.0, 100, seed=4, runner="dmg")
    path = tmp_path / "dmg.sgcap"
    write_batches(path, [run.acc])
    intact = _analyze_json(path, capsys)["runners"]["dmg"]["step_times_s"]
    offset = _flip_a_byte_in_the_middle_frame(path)
    db = tmp_path / "s.db"
    assert main(["replay", str(path), "--speed", "0", "--no-web", "--db", str(db)]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.fullmatch(
        rf"strideguard replay: error: {re.escape(str(path))} at byte {offset}: frame checksum mismatch "
        r"\(corrupted recording\); replayed \d+ records before it \(what was read before it is kept in the store\)",
        last,
    ), last
    store = SessionStore(db, readonly=True)
    (row,) = store.sessions()
    stored = [s.t_ns / 1e9 for s in store.steps(row.session_id)]
    store.close()
    assert row.status == "running"  # listed as unfinished: the run was cut off by the damage
    assert len(stored) > 0.4 * len(intact)  # the frames before the middle one: about half of the run
    assert stored == intact[: len(stored)]  # exactly the intact run's steps, up to where the damage began
