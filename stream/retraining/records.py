"""The retraining progress table's layout and its read-only readers: light (no web, no store imports), so
`sessions`, `report` and `export` can use it. Columns are generated from `SessionProgress`."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import sqlite3
from collections.abc import Mapping
from typing import Any

from strideguard.analytics.retraining import SessionProgress

PROGRESS_TABLE = "retraining_progress"
_SQL = {"str": "TEXT", "int": "INTEGER", "float": "REAL", "float | None": "REAL"}
COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (f.name, _SQL.get(str(f.type), "TEXT")) for f in dataclasses.fields(SessionProgress)
)

# for the export's data dictionary (`stream/export/dictionary.py` DESCRIPTIONS): what each column means
COLUMN_DOCS: dict[str, str] = {
    "started_t_ns": "retraining: data time of the first step after the runner started the mode (ns since the epoch)",
    "session_number": "retraining: the session's place in the faded programme (1-based; counted sessions only)",
    "phase": "retraining: programme phase (continuous, fading, maintenance)",
    "on_share": "retraining: share of each cycle with feedback on (0-1)",
    "active_s": "retraining: running time with the mode active (s, data time)",
    "feedback_on_s": "retraining: active time with the metronome and landing sound on (s)",
    "paused_s": "retraining: running time while paused by a red flag or a fatigue alert (s)",
    "baseline_cadence_spm": "retraining: the cadence the target was built on (steps/min)",
    "target_spm": "retraining: time-weighted target step rate (steps/min)",
    "cadence_spm": "retraining: mean step rate while active (steps/min)",
    "cadence_vs_target_pct": "retraining: cadence against the target (%)",
    "cadence_change_pct": "retraining: cadence against the baseline cadence (%)",
    "time_in_band_s": "retraining: time with the rolling cadence within the band around the target (s)",
    "time_below_s": "retraining: time below the band (s)",
    "time_above_s": "retraining: time above the band (s)",
    "time_in_band_share": "retraining: in-band share of the judged active time (0-1)",
    "time_in_band_share_feedback_off": "retraining: in-band share while the feedback was off (0-1, retention)",
    "baseline_impact_g": "retraining: the per-step impact the landing sound was judged against (g)",
    "impact_g": "retraining: mean per-step trunk impact while active (g)",
    "impact_change_pct": "retraining: impact against the programme's first session (%)",
    "pause_reasons": "retraining: why the mode paused (JSON list: red_flag, fatigue)",
}


def progress_line(record: Mapping[str, Any]) -> str:
    """One line for `strideguard sessions` and the report: programme place, cadence, band, impact."""

    def num(key: str, fmt: str) -> str:
        value = record.get(key)
        return format(value, fmt) if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"

    def text(value: Any) -> str:  # stored text shown on a terminal: no control characters
        return "".join(c if c.isprintable() else "?" for c in str(value))

    share = record.get("time_in_band_share")
    band = f"{round(100 * share)} %" if isinstance(share, (int, float)) else "-"
    line = (
        f"retraining session {num('session_number', 'd')} ({text(record.get('phase', '-'))}, cue on "
        f"{num('on_share', '.0%')}): cadence {num('cadence_spm', '.0f')} of {num('target_spm', '.0f')} spm, "
        f"in band {band}"
    )
    if isinstance(record.get("impact_change_pct"), (int, float)):
        line += f", impact {num('impact_change_pct', '+.0f')} % vs session 1"
    reasons = record.get("pause_reasons") or []
    if reasons:
        line += f", paused ({text(', '.join(map(str, reasons)))})"
    return line


def read_progress(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Every readable record by session id, strictly read-only (for `sessions`, `report` and `export`): a
    store without the table or the file gives {}; nothing is created or changed, and a read-only folder
    works (`immutable=1` there, as `SessionStore(readonly=True)` does)."""
    file = pathlib.Path(path)
    if not file.exists():
        return {}
    uri = f"{file.resolve().as_uri()}?mode=ro"
    db = sqlite3.connect(uri if os.access(file.parent, os.W_OK) else uri + "&immutable=1", uri=True)
    try:
        found = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (PROGRESS_TABLE,)).fetchone()
        if found is None:
            return {}
        return {r["session_id"]: r for r in records_of(db, None) if "session_id" in r}
    finally:
        db.close()


def records_of(db: sqlite3.Connection, runner: str | None) -> list[dict[str, Any]]:
    names = [name for name, _ in COLUMNS]
    sql = f"SELECT {','.join(names)} FROM {PROGRESS_TABLE}"
    args: list[str] = []
    if runner is not None:
        sql += " WHERE runner=?"
        args.append(runner)
    out: list[dict[str, Any]] = []
    for values in db.execute(sql + " ORDER BY started_t_ns, rowid", args).fetchall():
        record = dict(zip(names, values, strict=True))
        try:
            record["pause_reasons"] = json.loads(record["pause_reasons"] or "[]")
        except (TypeError, ValueError):
            record = {"unreadable": values}
        out.append(record)
    return out
