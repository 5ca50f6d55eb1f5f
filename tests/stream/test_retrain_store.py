"""The retraining mode on a real SQLite store: the prior baseline of the last completed session gives the
target, the pain log's red flag refuses the start, each finished session's progress is stored, and the
next session's place in the programme (and its impact change) comes from those rows."""

from __future__ import annotations

import sqlite3

from strideguard.analytics.pain import PainEntry
from strideguard.analytics.retraining import RetrainingConfig, SessionProgress, programme_step
from strideguard.stream.retraining.progress_log import ProgressLog, RetrainStore
from strideguard.stream.retraining.records import COLUMN_DOCS, COLUMNS, PROGRESS_TABLE, progress_line, read_progress
from strideguard.stream.runtime.session import SessionInfo
from strideguard.stream.web.retrain_routes import RETRAIN_HUB
from tests.analytics.test_retraining import _record, responsive_runner
from tests.stream.retrain_helpers import BASELINE, RUNNER, retrain_server, status, step
from tests.stream.test_retrain_routes import post, settle

NS = 1_000_000_000


def completed_session_with_baseline(store: RetrainStore) -> None:
    info = SessionInfo(session_id="risk-1", runner=RUNNER, team="t", source="test", started_t_ns=0)
    store.sessions.open_session(info)
    store.sessions.close_session("risk-1", ended_t_ns=NS, summary={"risk": {"baseline": BASELINE.as_dict()}})


async def run_session(server, session_id: str, steps) -> None:
    bus = server.bus
    status(bus, "running", session_id=session_id)
    await settle(server)
    code, reply = await post(server, {"action": "start"})
    assert code == 200, reply
    for k, (t_ns, dt, impact) in enumerate(steps):
        step(bus, t_ns, dt, impact, k, session_id=session_id)
        if k % 500 == 499:
            await settle(server)
    status(bus, "finished", session_id=session_id)
    await settle(server)


async def test_progress_is_stored_and_drives_the_next_session(tmp_path) -> None:
    db = tmp_path / "strideguard.db"
    store = RetrainStore(db, RetrainingConfig(min_session_s=300.0))
    try:
        completed_session_with_baseline(store)
        assert store.providers.baseline(RUNNER) is not None
        async with retrain_server(store.providers) as server:
            first = responsive_runner(c0_spm=170.0, target=178.5, tau_s=60.0, duration_s=400.0)
            await run_session(server, "s1", first)
            later = responsive_runner(c0_spm=176.0, target=178.5, tau_s=30.0, duration_s=400.0, impact0_g=2.0)
            later = [(t + 2 * 86_400 * NS, dt, i) for t, dt, i in later]
            await run_session(server, "s2", later)
            r = server.app[RETRAIN_HUB].runners[RUNNER]
            assert r.errors == []
        rows = ProgressLog(db).records(RUNNER)
        assert [row["session_id"] for row in rows] == ["s1", "s2"]
        assert [row["session_number"] for row in rows] == [1, 2]
        assert rows[0]["target_spm"] == 178.5 and rows[0]["baseline_cadence_spm"] == 170.0
        assert rows[0]["impact_change_pct"] is None
        change = 100 * (rows[1]["impact_g"] / rows[0]["impact_g"] - 1)
        assert abs(rows[1]["impact_change_pct"] - change) < 0.05  # (the stored means are rounded to 1 mg)
        assert rows[1]["impact_change_pct"] < -5
        assert rows[1]["time_in_band_share"] > rows[0]["time_in_band_share"]
        assert programme_step(rows, RetrainingConfig(min_session_s=300.0)).session_number == 3

        # a red flag in the pain log refuses the next start, with the reason
        store.pain_log.add(PainEntry(runner=RUNNER, t_ns=5, red_flags={"bladder_bowel": True}))
        async with retrain_server(store.providers) as server:
            status(server.bus, "running", session_id="s3")
            await settle(server)
            code, reply = await post(server, {"action": "start"})
            assert code == 200 and reply["state"]["mode"] == "paused"
            assert reply["state"]["pause"]["reason"] == "red_flag"
            assert "bladder or bowel" in reply["state"]["pause"]["spoken"]
    finally:
        store.close()


def test_an_unreadable_row_is_counted_not_guessed(tmp_path) -> None:
    db = tmp_path / "s.db"
    with ProgressLog(db) as log:
        assert log.records() == []
    with sqlite3.connect(db) as raw:
        raw.execute(f"INSERT INTO {PROGRESS_TABLE} (runner, session_id, pause_reasons) VALUES ('anna', 'x', '{{bad')")
        raw.execute(f"INSERT INTO {PROGRESS_TABLE} (runner, session_id, active_s) VALUES ('anna', 'y', 'lots')")
    with ProgressLog(db) as log:
        records = log.records("anna")
    assert len(records) == 2 and "unreadable" in records[0]
    step = programme_step(records, RetrainingConfig())
    assert (step.session_number, step.skipped) == (1, 2)


def test_the_line_for_sessions_and_report_and_the_dictionary_cover_every_column(tmp_path) -> None:

    assert set(COLUMN_DOCS) == {name for name, _ in COLUMNS} - {"runner", "session_id"}
    rec = {**_record(active_s=900.0, t=3), "session_number": 6, "phase": "fading", "on_share": 0.6}
    rec |= {"impact_change_pct": -12.4, "pause_reasons": ["fatigue"], "time_in_band_share": 0.734}
    assert progress_line(rec) == (
        "retraining session 6 (fading, cue on 60%): cadence 176 of 178 spm, in band 73 %, "
        "impact -12 % vs session 1, paused (fatigue)"
    )
    assert progress_line({"unreadable": (1,)}) == "retraining session - (-, cue on -): cadence - of - spm, in band -"
    with ProgressLog(tmp_path / "p.db") as log:
        log.add(SessionProgress.from_dict(rec))
        log.add(SessionProgress.from_dict({**rec, "cadence_spm": 177.0}))  # the same session again: replaced
        assert list(log.by_session()) == ["s3"] and log.by_session()["s3"]["cadence_spm"] == 177.0


def test_read_progress_leaves_a_store_without_the_table_untouched(tmp_path) -> None:
    db = tmp_path / "s.db"
    assert read_progress(db) == {} and not db.exists()
    with sqlite3.connect(db) as raw:
        raw.execute("CREATE TABLE other (x)")
    assert read_progress(db) == {}
    with sqlite3.connect(db) as raw:
        assert [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["other"]
    with ProgressLog(db) as log:
        log.add(SessionProgress.from_dict(_record(active_s=900.0, t=1)))
    before = db.read_bytes()
    assert list(read_progress(db)) == ["s1"]
    assert db.read_bytes() == before  # read, nothing written
    rec = {**_record(active_s=900.0, t=2), "phase": "fading\x1b[2J", "pause_reasons": ["a\nb"]}
    assert "\x1b" not in progress_line(rec) and "\n" not in progress_line(rec)
