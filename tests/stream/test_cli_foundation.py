"""The foundation's commands as a user runs them: real processes, real files, one-line errors."""

from __future__ import annotations

import json
import os
import pathlib
import sqlite3
import subprocess
import sys

import pytest

from strideguard.sensors.capture import write_batches
from strideguard.sensors.synthetic.presets import fatigue_run

REPO = pathlib.Path(__file__).resolve().parents[2]


def strideguard(*args: str, env_db: pathlib.Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "STRIDEGUARD_CONFIG": str(REPO / "does-not-exist.toml")}
    env.pop("STRIDEGUARD_CONFIG")
    if env_db is not None:
        env["STRIDEGUARD_DB"] = str(env_db)
    env["XDG_CONFIG_HOME"] = str(env_db.parent if env_db else REPO / ".no-config")
    return subprocess.run(
        [sys.executable, "-m", "strideguard.stream.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env,
    )


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, pathlib.Path]:
    db = tmp_path_factory.mktemp("demo") / "store.db"
    return strideguard("demo", "--speed", "0", "--no-web", env_db=db), db


@pytest.mark.slow
def test_demo_shows_progress_alerts_and_stores_the_session(demo_run):
    proc, db = demo_run
    assert proc.returncode == 0, proc.stderr
    assert "%" in proc.stdout and "cadence" in proc.stdout  # live view with progress
    assert "Cadence" in proc.stdout and "below your baseline" in proc.stdout  # the alert, in words
    assert "shorter, quicker steps" in proc.stdout  # with its cue
    with sqlite3.connect(db) as con:
        (status,) = con.execute("SELECT status FROM sessions").fetchone()
        n_steps = con.execute("SELECT count(*) FROM steps").fetchone()[0]
        metrics = {m for (m,) in con.execute("SELECT DISTINCT metric FROM risk_events WHERE kind='onset'")}
    assert status == "completed" and n_steps > 4000
    assert {"cadence", "sway_ml", "lean"} <= metrics


def test_sessions_lists_the_stored_demo(demo_run):
    _, db = demo_run
    proc = strideguard("sessions", env_db=db)
    assert proc.returncode == 0 and "alex" in proc.stdout and "completed" in proc.stdout
    rows = json.loads(strideguard("sessions", "--json", env_db=db).stdout)
    assert rows[0]["runner"] == "alex" and rows[0]["summary"]["n_steps"] > 4000


@pytest.mark.slow
def test_analyze_json_gives_summary_and_step_times_on_the_recordings_clock(real_data, tmp_path):
    csv = real_data / "uci_dsa_treadmill_running" / "p1_a12_running_8kmh_25Hz.csv"
    proc = strideguard("analyze", str(csv), "--json", "--no-store", env_db=tmp_path / "s.db")
    assert proc.returncode == 0, proc.stderr
    [(_runner, result)] = json.loads(proc.stdout)["runners"].items()
    steps = result["step_times_s"]
    assert 0 <= steps[0] < 5 and 295 < steps[-1] <= 300  # the CSV's own t_s clock
    assert 150 < result["summary"]["cadence_spm"] < 180
    assert len(steps) > 700


@pytest.mark.slow
def test_start_dates_a_relative_csv_session_instead_of_1970(real_data, tmp_path):
    csv = real_data / "uci_dsa_treadmill_running" / "p1_a12_running_8kmh_25Hz.csv"
    db = tmp_path / "s.db"
    proc = strideguard("analyze", str(csv), "--json", "--start", "2026-11-20T07:30:00+00:00", env_db=db)
    assert proc.returncode == 0, proc.stderr
    [(_, result)] = json.loads(proc.stdout)["runners"].items()
    start_s = 1_795_159_800  # 2026-11-20T07:30:00Z
    assert start_s <= result["step_times_s"][0] < start_s + 5
    [row] = json.loads(strideguard("sessions", "--json", env_db=db).stdout)
    assert row["started_t_ns"] == start_s * 10**9 and "2026-11-20 07:30" in strideguard("sessions", env_db=db).stdout
    bad = strideguard("analyze", str(csv), "--start", "yesterday", env_db=db)
    assert bad.returncode == 2 and "not an ISO 8601 date-time" in bad.stderr


@pytest.mark.slow
def test_truncated_capture_is_one_line_exit_2_and_keeps_what_was_read(tmp_path):
    run = fatigue_run(duration_s=300, rate_hz=50.0, runner="kim")
    path = tmp_path / "kim.sgcap"
    write_batches(path, [run.acc])
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size * 2 // 3)
    db = tmp_path / "s.db"
    proc = strideguard("analyze", str(path), env_db=db)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "truncated" in proc.stderr and "at byte" in proc.stderr
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM steps").fetchone()[0] > 300  # the readable part is kept
        assert con.execute("SELECT status FROM sessions").fetchone() == ("running",)  # shown as unfinished


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("missing.csv", "t_s,ax_g,ay_g\n0,0,0\n0.01,0,0\n", "column"),
        ("units.csv", "t_s,ax_g,ay_g,az_g\n" + "".join(f"{i / 100},0.1,0.2,9.81\n" for i in range(200)), "m/s"),
        ("notes.docx", "PK\x03\x04 not a recording", "unknown file type"),
    ],
)
@pytest.mark.slow
def test_bad_input_files_end_in_one_clear_line(tmp_path, name, content, words):
    path = tmp_path / name
    path.write_text(content)
    proc = strideguard("analyze", str(path), "--no-store", env_db=tmp_path / "s.db")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert words in proc.stderr and name in proc.stderr


def test_every_command_has_help_with_examples():
    from strideguard.stream.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        text = p.format_help()
        assert p.description, name
        assert "example" in text.lower(), f"`strideguard {name} --help` shows no examples"


@pytest.mark.slow
def test_a_second_session_starts_from_the_previous_sessions_baseline(tmp_path):
    """Baselines come from the run and from the runner's previous sessions in the store."""
    db = tmp_path / "s.db"
    run = fatigue_run(duration_s=420, rate_hz=25.0, runner="kim")  # the baseline needs warm-up + 3 min
    sample = str(tmp_path / "kim.sgcap")
    write_batches(sample, [run.acc])
    for _ in range(2):
        assert strideguard("analyze", sample, env_db=db).returncode == 0
    rows = json.loads(strideguard("sessions", "--json", env_db=db).stdout)
    first, second = (r["summary"]["risk"]["baseline"] for r in rows)
    assert first["source"] == "run"
    assert second["source"] == "run+prior"
