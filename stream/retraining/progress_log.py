"""The retraining progress of each session: a `retraining_progress` table in the session store's file.

Kept in its own module and table, like the pain log, so the session store's generated schema is
untouched. Columns are generated from `SessionProgress` (so they cannot drift from what the mode
computes; `pause_reasons` as a JSON list); one row per session (a session finished again replaces its
row). `records` gives plain dicts, the form `analytics.retraining.programme_step` reads; a row that
cannot be read comes back as `{"unreadable": ...}`, which the programme counts as skipped.

`RetrainStore` opens what the retraining routes need from one database file (prior baseline, pain log,
progress) and gives them as `RetrainProviders`.
"""

from __future__ import annotations

import json
import os
import pathlib
import sqlite3
from typing import Any

from strideguard.analytics.retraining import RetrainingConfig, SessionProgress
from strideguard.analytics.risk import Baseline
from strideguard.stream.retraining.records import COLUMNS, PROGRESS_TABLE, records_of
from strideguard.stream.sqlite.painlog import PainLog
from strideguard.stream.sqlite.store import SessionStore
from strideguard.stream.web.retrain_routes import RetrainProviders


class ProgressLog:
    """Store and read per-session retraining progress; `path` is the store's database file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        cols = ", ".join(
            f"{name} {sql}" + (" NOT NULL UNIQUE" if name == "session_id" else "") for name, sql in COLUMNS
        )
        self._db.execute(f"CREATE TABLE IF NOT EXISTS {PROGRESS_TABLE} ({cols})")
        self._db.execute(
            f"CREATE INDEX IF NOT EXISTS {PROGRESS_TABLE}_runner ON {PROGRESS_TABLE} (runner, started_t_ns)"
        )

    def add(self, progress: SessionProgress) -> None:
        """Store one session's progress (replacing an earlier row of the same session)."""
        row = progress.as_dict()
        row["pause_reasons"] = json.dumps(row["pause_reasons"])
        names = [name for name, _ in COLUMNS]
        marks = ",".join("?" * len(names))
        self._db.execute(
            f"INSERT OR REPLACE INTO {PROGRESS_TABLE} ({','.join(names)}) VALUES ({marks})", [row[n] for n in names]
        )

    def by_session(self) -> dict[str, dict[str, Any]]:
        """Every readable record keyed by session id (for `sessions` and the report)."""
        return {r["session_id"]: r for r in self.records() if "session_id" in r}

    def records(self, runner: str | None = None) -> list[dict[str, Any]]:
        """Rows oldest first as `SessionProgress.as_dict` records (optionally of one runner)."""
        return records_of(self._db, runner)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ProgressLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RetrainStore:
    """The retraining routes' providers backed by one database file; `close()` closes its connections.

    Reads happen on the event loop (short indexed queries on WAL, like the prior baselines the analyzers
    read); the progress is written once per session."""

    def __init__(self, path: str | os.PathLike[str], config: RetrainingConfig | None = None) -> None:
        self.sessions = SessionStore(path)
        self.pain_log = PainLog(path)
        self.progress = ProgressLog(path)
        self.providers = RetrainProviders(
            baseline=self._baseline,
            history=lambda runner: self.progress.records(runner),
            pain=lambda runner: self.pain_log.entries(runner=runner),
            on_progress=self.progress.add,
            config=config or RetrainingConfig(),
        )

    def _baseline(self, runner: str) -> Baseline | None:
        # the same prior the risk engine gets; imported here: stream.runtime.app may import this module
        from strideguard.stream.runtime.app import prior_baseline

        return prior_baseline(self.sessions, runner)

    def close(self) -> None:
        for part in (self.progress, self.pain_log, self.sessions):
            part.close()
