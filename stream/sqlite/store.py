"""The embedded store: one SQLite file with sessions, steps, windows and risk events.

Written while the run goes on (one transaction per analyzer output, WAL mode), so a crash keeps what was
analysed. Table columns are generated from the result dataclasses, so the schema cannot drift from what
the analytics emit. A session whose process died stays `running` and is shown as `interrupted`.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import operator
import os
import pathlib
import sqlite3
import types
import typing
from collections.abc import Iterable
from typing import Any

from strideguard.analytics.results import AnalyzerOutput, RiskEvent, StepEvent, WindowMetrics
from strideguard.stream.runtime.session import SessionInfo

RESULT_TABLES: dict[str, type] = {"steps": StepEvent, "windows": WindowMetrics, "risk_events": RiskEvent}
_SQL_TYPES = {int: "INTEGER", float: "REAL", bool: "INTEGER", str: "TEXT"}


def default_db_path() -> pathlib.Path:
    """$STRIDEGUARD_DB, else $XDG_DATA_HOME/strideguard/strideguard.db (~/.local/share/...)."""
    if os.environ.get("STRIDEGUARD_DB"):
        return pathlib.Path(os.environ["STRIDEGUARD_DB"])
    base = pathlib.Path(os.environ.get("XDG_DATA_HOME") or pathlib.Path.home() / ".local" / "share")
    return base / "strideguard" / "strideguard.db"


def _sql_type(annotation: Any) -> str:
    hint = annotation
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "TEXT"
    return _SQL_TYPES.get(hint, "TEXT")


@functools.cache
def _columns(cls: type) -> list[tuple[str, str]]:
    hints = typing.get_type_hints(cls)
    return [(f.name, _sql_type(hints[f.name])) for f in dataclasses.fields(cls)]


@functools.cache
def _insert_plan(table: str) -> tuple[str, Any]:
    """The INSERT statement of a result table and a getter of an item's column values in order, built
    once, not per row (an hour has 10k steps). Enum values are stored as their value by the adapters
    registered below, inside sqlite3, without a Python loop over every cell."""
    cls = RESULT_TABLES[table]
    hints = typing.get_type_hints(cls)
    names = [name for name, _ in _columns(cls)]
    for name in names:
        hint = hints[name]
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            sqlite3.register_adapter(hint, _plain)
    sql = f"INSERT INTO {table} (session_id, {_quoted(names)}) VALUES ({', '.join('?' * (len(names) + 1))})"
    return sql, operator.attrgetter(*names)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SessionRow:
    session_id: str
    runner: str
    team: str
    source: str
    started_t_ns: int
    ended_t_ns: int | None
    status: str
    summary: dict[str, Any]


class SessionStore:
    """Synchronous SQLite access; calls are short (one transaction per analyzer output)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._create()

    def _create(self) -> None:
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS sessions (session_id TEXT PRIMARY KEY, runner TEXT NOT NULL, "
            "team TEXT NOT NULL, source TEXT NOT NULL, started_t_ns INTEGER NOT NULL, ended_t_ns INTEGER, "
            "status TEXT NOT NULL, summary_json TEXT NOT NULL DEFAULT '{}')"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS sessions_runner ON sessions (runner, started_t_ns)")
        for table, cls in RESULT_TABLES.items():
            cols = ", ".join(f'"{name}" {sql}' for name, sql in _columns(cls))
            self._db.execute(f"CREATE TABLE IF NOT EXISTS {table} (session_id TEXT NOT NULL, {cols})")
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for name, sql in _columns(cls):  # a store from an older version gains the newer result fields
                if name not in have:
                    self._db.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" {sql}')
            key = "t_start_ns" if cls is WindowMetrics else "t_ns"
            self._db.execute(f"CREATE INDEX IF NOT EXISTS {table}_session ON {table} (session_id, {key})")

    def close(self) -> None:
        self._db.close()

    def open_session(self, session: SessionInfo) -> None:
        self._db.execute(
            "INSERT INTO sessions (session_id, runner, team, source, started_t_ns, status) VALUES (?,?,?,?,?,?)",
            (session.session_id, session.runner, session.team, session.source, session.started_t_ns, "running"),
        )

    def write(self, session_id: str, output: AnalyzerOutput) -> None:
        """All rows of one analyzer output in one transaction."""
        groups = (("steps", output.steps), ("windows", output.windows), ("risk_events", output.risk_events))
        if not output:
            return
        with self._transaction():
            for table, items in groups:
                if items:
                    self._insert(table, session_id, items)

    def close_session(
        self, session_id: str, *, ended_t_ns: int | None, summary: dict[str, Any], status: str = "completed"
    ) -> None:
        self._db.execute(
            "UPDATE sessions SET ended_t_ns=?, status=?, summary_json=? WHERE session_id=?",
            (ended_t_ns, status, json.dumps(summary, sort_keys=True), session_id),
        )

    def _insert(self, table: str, session_id: str, items: Iterable[Any]) -> None:
        sql, values = _insert_plan(table)
        self._db.executemany(sql, [(session_id, *values(item)) for item in items])

    def _transaction(self) -> Any:
        db = self._db

        class _Tx:
            def __enter__(self) -> None:
                db.execute("BEGIN")

            def __exit__(self, exc_type: Any, *rest: Any) -> None:
                db.execute("ROLLBACK" if exc_type else "COMMIT")

        return _Tx()

    # ---- reading -------------------------------------------------------------------------------------
    def sessions(self, *, runner: str | None = None, team: str | None = None) -> list[SessionRow]:
        sql, args = "SELECT * FROM sessions", []
        where = [(c, v) for c, v in (("runner", runner), ("team", team)) if v is not None]
        if where:
            sql += " WHERE " + " AND ".join(f"{c}=?" for c, _ in where)
            args = [v for _, v in where]
        rows = self._db.execute(sql + " ORDER BY started_t_ns", args).fetchall()
        return [
            SessionRow(
                session_id=r[0],
                runner=r[1],
                team=r[2],
                source=r[3],
                started_t_ns=r[4],
                ended_t_ns=r[5],
                status=r[6],
                summary=json.loads(r[7] or "{}"),
            )
            for r in rows
        ]

    def session(self, session_id: str) -> SessionRow | None:
        """A session by id or by a unique id prefix."""
        rows = [s for s in self.sessions() if s.session_id == session_id]
        if not rows:
            rows = [s for s in self.sessions() if s.session_id.startswith(session_id)]
        return rows[0] if len(rows) == 1 else None

    def steps(self, session_id: str) -> list[StepEvent]:
        return self._read("steps", session_id, "t_ns")

    def windows(self, session_id: str) -> list[WindowMetrics]:
        return self._read("windows", session_id, "t_start_ns")

    def risk_events(self, session_id: str) -> list[RiskEvent]:
        return self._read("risk_events", session_id, "t_ns")

    def alert_counts(self) -> dict[str, int]:
        """Stored risk events (onsets and clearances, the export's `n_alerts`) per session id; a session
        without any is absent. Counted from the rows, so unfinished sessions and older stores are right too."""
        rows = self._db.execute("SELECT session_id, COUNT(*) FROM risk_events GROUP BY session_id").fetchall()
        return {session_id: int(n) for session_id, n in rows}

    def _read(self, table: str, session_id: str, order: str) -> list[Any]:
        cls = RESULT_TABLES[table]
        hints = typing.get_type_hints(cls)
        names = [n for n, _ in _columns(cls)]
        rows = self._db.execute(
            f"SELECT {_quoted(names)} FROM {table} WHERE session_id=? ORDER BY {order}, rowid", (session_id,)
        ).fetchall()
        return [cls(**{n: _typed(hints[n], v) for n, v in zip(names, row)}) for row in rows]


def _quoted(names: list[str]) -> str:
    """Column names quoted: result fields such as `index` are SQL keywords."""
    return ", ".join(f'"{n}"' for n in names)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _typed(annotation: Any, value: Any) -> Any:
    """Undo _plain: enums from their strings, bools from 0/1."""
    if value is None:
        return None
    hint = annotation
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if hint is bool:
        return bool(value)
    return value
