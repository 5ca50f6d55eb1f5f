"""The SQLite store: what goes in comes out as the same objects, and a crash keeps what was written."""

from __future__ import annotations

import sqlite3

from strideguard.analytics.results import (
    AnalyzerOutput,
    RiskEvent,
    RiskEventKind,
    Severity,
    Side,
    StepEvent,
    WindowMetrics,
)
from strideguard.stream.runtime.session import SessionInfo, new_session_id
from strideguard.stream.sqlite.store import SessionStore

T0 = 1_700_000_000_000_000_000


def sample_output(runner: str = "anna") -> AnalyzerOutput:
    steps = tuple(
        StepEvent(
            runner=runner,
            t_ns=T0 + i * 350_000_000,
            index=i,
            side=Side.LEFT if i % 2 else Side.RIGHT,
            impact_g=2.5 + 0.01 * i,
            step_time_s=None if i == 0 else 0.35,
        )
        for i in range(5)
    )
    window = WindowMetrics(
        runner=runner,
        t_start_ns=T0,
        t_end_ns=T0 + 10**10,
        n_steps=5,
        running=True,
        cadence_spm=171.4,
        impact_g=2.52,
        lean_deg=None,
    )
    alert = RiskEvent(
        runner=runner,
        t_ns=T0 + 10**10,
        kind=RiskEventKind.ONSET,
        metric="cadence",
        severity=Severity.WARNING,
        value=160.0,
        baseline=171.0,
        deviation=-6.4,
        deviation_unit="%",
        duration_s=120.0,
        message="Cadence 6 % below your baseline for 2 min",
        cue="shorter, quicker steps",
        onset_t_ns=T0,
    )
    return AnalyzerOutput(steps=steps, windows=(window,), risk_events=(alert,))


def test_results_round_trip_as_equal_objects(tmp_path):
    store = SessionStore(tmp_path / "s.db")
    info = SessionInfo(
        session_id=new_session_id("anna", T0), runner="anna", team="club", source="test", started_t_ns=T0
    )
    store.open_session(info)
    out = sample_output()
    store.write(info.session_id, out)
    store.close_session(info.session_id, ended_t_ns=T0 + 10**10, summary={"n_steps": 5})
    assert tuple(store.steps(info.session_id)) == out.steps
    assert tuple(store.windows(info.session_id)) == out.windows
    assert tuple(store.risk_events(info.session_id)) == out.risk_events
    [row] = store.sessions(runner="anna")
    assert row.status == "completed" and row.summary == {"n_steps": 5}
    assert store.session(info.session_id[:12]) == row


def test_rows_are_committed_as_they_are_written(tmp_path):
    """Another connection (or the next process after a crash) sees each output at once."""
    store = SessionStore(tmp_path / "s.db")
    info = SessionInfo(session_id="s1", runner="anna", team="club", source="test", started_t_ns=T0)
    store.open_session(info)
    store.write("s1", sample_output())
    other = sqlite3.connect(tmp_path / "s.db")
    assert other.execute("SELECT count(*) FROM steps WHERE session_id='s1'").fetchone() == (5,)
    assert other.execute("SELECT status FROM sessions").fetchone() == ("running",)


def test_a_store_from_an_older_version_gains_new_result_columns(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE windows (session_id TEXT NOT NULL, runner TEXT, t_start_ns INTEGER)")
    old.execute("INSERT INTO windows VALUES ('s0', 'anna', 1)")
    old.commit()
    old.close()
    store = SessionStore(path)
    store.open_session(SessionInfo(session_id="s1", runner="anna", team="club", source="test", started_t_ns=T0))
    store.write("s1", sample_output())
    assert store.windows("s1") == list(sample_output().windows)
    assert store.windows("s0")[0].cadence_spm is None  # old rows read back with the new fields empty
