"""The store keeps each result row once, whatever is written twice: a worker SIGKILLed mid-session rebuilds
it from its journal and writes outputs again that the store may already hold (tests/soak/test_soak.py
checks the same under real kills); a store written before the unique indexes gains them on open."""

from __future__ import annotations

import dataclasses
import pathlib
import sqlite3

from strideguard.analytics.results import AnalyzerOutput
from strideguard.stream.runtime.session import SessionInfo
from strideguard.stream.sqlite.store import RESULT_KEYS, SessionStore
from tests.stream.test_store import T0, sample_output


def _open_with_session(path: pathlib.Path) -> SessionStore:
    store = SessionStore(path)
    store.open_session(SessionInfo(session_id="s1", runner="anna", team="t", source="mqtt", started_t_ns=T0))
    return store


def _rows(path: pathlib.Path, table: str) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_the_same_output_written_twice_is_stored_once(tmp_path: pathlib.Path) -> None:
    out = sample_output()
    store = _open_with_session(tmp_path / "s.db")
    store.write("s1", out)
    store.write("s1", out)  # what a rebuilt worker does
    # a rebuild also re-emits in other chunks: a later output overlapping the first
    store.write("s1", AnalyzerOutput(steps=out.steps[3:], windows=out.windows, risk_events=out.risk_events))
    assert store.steps("s1") == list(out.steps)
    assert store.windows("s1") == list(out.windows)
    assert store.risk_events("s1") == list(out.risk_events)
    store.close()
    assert [_rows(tmp_path / "s.db", t) for t in ("steps", "windows", "risk_events")] == [5, 1, 1]


def test_rows_that_differ_in_their_key_are_all_kept(tmp_path: pathlib.Path) -> None:
    """The key is not too coarse: an onset and a clearance at one instant, or two metrics, are two rows."""
    out = sample_output()
    event = out.risk_events[0]
    others = (
        dataclasses.replace(event, metric="impact"),
        dataclasses.replace(event, kind=type(event.kind)("cleared")),
    )
    store = _open_with_session(tmp_path / "s.db")
    store.write("s1", out)
    store.write("s1", AnalyzerOutput(risk_events=others))
    assert sorted(map(repr, store.risk_events("s1"))) == sorted(map(repr, (event, *others)))
    store.close()


def test_an_older_store_with_repeated_rows_gains_the_unique_indexes(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "old.db"
    store = _open_with_session(path)
    out = sample_output()
    store.write("s1", out)
    store.close()
    with sqlite3.connect(path) as db:  # as a store of the older version: plain indexes, rows twice
        for table in RESULT_KEYS:
            db.execute(f"DROP INDEX {table}_once")
            db.execute(f"INSERT INTO {table} SELECT * FROM {table}")
    assert _rows(path, "steps") == 10
    store = SessionStore(path)  # must not fail on the duplicates
    assert store.steps("s1") == list(out.steps)
    assert store.windows("s1") == list(out.windows)
    assert store.risk_events("s1") == list(out.risk_events)
    store.write("s1", out)
    store.close()
    assert [_rows(path, t) for t in ("steps", "windows", "risk_events")] == [5, 1, 1]
    with sqlite3.connect(path) as db:
        unique = {r[1] for r in db.execute("SELECT * FROM sqlite_master WHERE type='index' AND sql LIKE '%UNIQUE%'")}
    assert unique == {f"{t}_once" for t in RESULT_KEYS}
