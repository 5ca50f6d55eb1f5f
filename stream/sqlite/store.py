"""The embedded store: one SQLite file with sessions, steps, windows and risk events.

Written while the run goes on (one transaction per analyzer output, WAL mode), so a crash keeps what was
analysed. Table columns are generated from the result dataclasses, so the schema cannot drift from what
the analytics emit. A session whose process died stays `running` and is shown as `unfinished`.

The store never lies about what it holds: every SQLite failure (a full disk, a read-only or damaged file,
a directory, a lock held beyond the busy timeout, an I/O error) leaves here as one `StoreError` that names
the file and the problem in words, never as a bare `sqlite3` traceback. Opening for writing proves the
file is writable (a write probe, rolled back), so a read-only store fails at open, not at the first
result. A lock is waited for (`busy_timeout_s`) and the whole transaction retried (`busy_attempts`);
other failures are not retried here (a full disk stays full): the caller (`StoreSink`) counts what
was lost and marks the session `incomplete` (`mark_incomplete`, summary key `store_lost`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import json
import logging
import operator
import os
import pathlib
import sqlite3
import time
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from strideguard.analytics.results import AnalyzerOutput, RiskEvent, StepEvent, WindowMetrics
from strideguard.stream.errors import SinkError
from strideguard.stream.runtime.session import SessionInfo

_T = TypeVar("_T")
log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 5.0  # how long one attempt waits for another process's lock
BUSY_ATTEMPTS = 3  # attempts of a transaction that found the store locked (so up to 15 s in all)
INCOMPLETE = "incomplete"  # status of a session the store could not keep whole (read by `export`)
STORE_LOST = "store_lost"  # summary key: {"steps": n, "windows": n, "risk_events": n} not stored

RESULT_TABLES: dict[str, type] = {"steps": StepEvent, "windows": WindowMetrics, "risk_events": RiskEvent}
# What makes a result row the same row (with session_id): a worker rebuilt from its journal after a
# SIGKILL writes outputs again that may already be stored; a unique index on these columns and
# INSERT OR IGNORE keep each exactly once. One step per instant, one window per start, one event of a
# kind per metric per instant: the analytics never emit two of them.
RESULT_KEYS: dict[str, tuple[str, ...]] = {
    "steps": ("t_ns",),
    "windows": ("t_start_ns",),
    "risk_events": ("t_ns", "metric", "kind"),
}
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
    sql = f"INSERT OR IGNORE INTO {table} (session_id, {_quoted(names)}) VALUES ({', '.join('?' * (len(names) + 1))})"
    return sql, operator.attrgetter(*names)


class StoreError(SinkError):
    """The store could not be opened, read or written; `str()` is one line: `sqlite (PATH): problem`.
    `code` is SQLite's primary error name (`SQLITE_FULL`, ...), `retryable` says whether waiting may help."""

    def __init__(
        self, message: str, *, path: str | os.PathLike[str], code: str | None = None, problem: str | None = None
    ) -> None:
        super().__init__(message, sink="sqlite", endpoint=str(path))
        self.code = code
        self.problem = problem or message  # the cause alone, without what was being done

    @property
    def retryable(self) -> bool:
        return self.code in ("SQLITE_BUSY", "SQLITE_LOCKED")


# SQLite's primary result codes (extended codes keep them in the low byte) -> the problem in words
_PROBLEMS = {
    5: ("SQLITE_BUSY", "the store is locked by another process"),
    6: ("SQLITE_LOCKED", "the store is locked by another process"),
    8: ("SQLITE_READONLY", "the store is read-only"),
    10: ("SQLITE_IOERR", "disk I/O error"),
    11: ("SQLITE_CORRUPT", "the store is damaged (corrupt database)"),
    13: ("SQLITE_FULL", "the disk is full"),
    14: ("SQLITE_CANTOPEN", "no access (a read-only file or folder, or a missing folder)"),
    26: ("SQLITE_NOTADB", "not a StrideGuard store (damaged, or another kind of file)"),
}


def describe(exc: sqlite3.Error) -> tuple[str | None, str]:
    """SQLite's primary error name and the problem in words (sqlite3's own text for anything else)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _PROBLEMS:
        return _PROBLEMS[code & 0xFF]
    return (getattr(exc, "sqlite_errorname", None), " ".join(str(exc).split()) or type(exc).__name__)


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
    """Synchronous SQLite access; calls are short (one transaction per analyzer output).

    Every method raises `StoreError` (never `sqlite3.Error`). `readonly=True` opens an existing store
    for reading only (listings): it works on a read-only file and never creates or changes one."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        readonly: bool = False,
        busy_timeout_s: float | None = None,
        busy_attempts: int | None = None,
    ) -> None:
        self.path = pathlib.Path(path)
        self.busy_timeout_s = BUSY_TIMEOUT_S if busy_timeout_s is None else busy_timeout_s
        self.busy_attempts = max(1, BUSY_ATTEMPTS if busy_attempts is None else busy_attempts)
        if self.path.is_dir():
            raise StoreError("cannot open: is a directory, not a store file", path=self.path)
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._errors("cannot open"):
            self._db = sqlite3.connect(
                self._read_only_uri() if readonly else str(self.path),
                uri=readonly,
                isolation_level=None,
                check_same_thread=False,
            )
        try:
            with self._errors("cannot open"):
                self._db.execute(f"PRAGMA busy_timeout={max(0, round(self.busy_timeout_s * 1000))}")
                self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a damaged file fails here
                if not readonly:
                    self._retrying(self._prepare)
        except BaseException:
            self._db.close()
            raise

    def _read_only_uri(self) -> str:
        """`mode=ro`; in a folder nobody may write (a read-only mount), also `immutable=1`: SQLite then
        reads a WAL store without creating its shared-memory file, which it could not do there."""
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        return uri if os.access(self.path.parent, os.W_OK) else uri + "&immutable=1"

    def _prepare(self) -> None:
        """WAL, the schema, and a write probe (rolled back): a read-only store fails here, at open."""
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._transaction():
            self._create()
        with contextlib.suppress(_Probed), self._transaction():
            self._db.execute("CREATE TABLE _strideguard_write_probe (x)")
            raise _Probed

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """sqlite3's errors as a StoreError: `<doing>: <problem>`, naming the file."""
        try:
            yield
        except sqlite3.Error as exc:
            code, problem = describe(exc)
            raise StoreError(f"{doing}: {problem}", path=self.path, code=code, problem=problem) from exc

    def _retrying(self, call: Callable[[], _T], doing: str = "cannot open") -> _T:
        """`call` (one whole transaction), tried again while the store is locked by another process."""
        for attempt in range(1, self.busy_attempts + 1):
            try:
                with self._errors(doing):
                    return call()
            except StoreError as exc:
                if not exc.retryable:
                    raise
                if attempt == self.busy_attempts:
                    waited = f"{exc.problem} (waited {self.busy_attempts * self.busy_timeout_s:g} s)"
                    raise StoreError(f"{doing}: {waited}", path=self.path, code=exc.code, problem=waited) from exc
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

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
            self._create_unique_index(table)

    def _create_unique_index(self, table: str) -> None:
        """The index that makes a rewrite of the same output a no-op (see RESULT_KEYS). A store written
        before it existed may hold a row twice (a rebuilt worker's second copy, identical by construction):
        those copies are removed first, keeping the first written, so the index can be created; how many
        were removed is logged. Done once: later opens find the index."""
        index = f"{table}_once"
        found = self._db.execute("SELECT 1 FROM sqlite_master WHERE type='index' AND name=?", (index,)).fetchone()
        if found:
            return
        key = _quoted(["session_id", *RESULT_KEYS[table]])
        removed = self._db.execute(
            f"DELETE FROM {table} WHERE rowid NOT IN (SELECT min(rowid) FROM {table} GROUP BY {key})"
        ).rowcount
        if removed:
            log.warning("sqlite (%s): %d repeated %s rows removed before indexing them", self.path, removed, table)
        self._db.execute(f"CREATE UNIQUE INDEX {index} ON {table} ({key})")

    def close(self) -> None:
        with self._errors("cannot close"):
            self._db.close()

    def open_session(self, session: SessionInfo) -> None:
        """The session's row, `running`; a second call for the same session changes nothing."""
        row = (session.session_id, session.runner, session.team, session.source, session.started_t_ns, "running")
        self._write_tx(
            lambda: self._db.execute(
                "INSERT OR IGNORE INTO sessions (session_id, runner, team, source, started_t_ns, status) "
                "VALUES (?,?,?,?,?,?)",
                row,
            )
        )

    def write(self, session_id: str, output: AnalyzerOutput) -> None:
        """All rows of one analyzer output in one transaction: all stored, or none (and StoreError).
        Idempotent: a row already stored (same session and RESULT_KEYS) is left as it is, not doubled."""
        groups = (("steps", output.steps), ("windows", output.windows), ("risk_events", output.risk_events))
        if not output:
            return

        def insert() -> None:
            for table, items in groups:
                if items:
                    self._insert(table, session_id, items)

        self._write_tx(insert)

    def close_session(
        self, session_id: str, *, ended_t_ns: int | None, summary: dict[str, Any], status: str = "completed"
    ) -> None:
        text = json.dumps(summary, sort_keys=True)
        self._write_tx(
            lambda: self._db.execute(
                "UPDATE sessions SET ended_t_ns=?, status=?, summary_json=? WHERE session_id=?",
                (ended_t_ns, status, text, session_id),
            )
        )

    def mark_incomplete(self, session_id: str, lost: dict[str, int]) -> None:
        """Mark a session `incomplete`, with `lost` (rows per table that could not be stored) under
        STORE_LOST in its summary; a small write that may still fit where a batch of results did not."""

        def mark() -> None:
            row = self._db.execute("SELECT summary_json FROM sessions WHERE session_id=?", (session_id,)).fetchone()
            if row is None:
                return
            summary = {**json.loads(row[0] or "{}"), STORE_LOST: dict(lost)}
            self._db.execute(
                "UPDATE sessions SET status=?, summary_json=? WHERE session_id=?",
                (INCOMPLETE, json.dumps(summary, sort_keys=True), session_id),
            )

        self._write_tx(mark)

    def _write_tx(self, body: Callable[[], object]) -> None:
        """`body` in one write transaction, retried while another process holds the lock."""

        def tx() -> None:
            with self._transaction():
                body()

        self._retrying(tx, "not stored")

    def _insert(self, table: str, session_id: str, items: Iterable[Any]) -> None:
        sql, values = _insert_plan(table)
        self._db.executemany(sql, [(session_id, *values(item)) for item in items])

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE (the write lock is taken, or waited for, up front) ... COMMIT; on any error a
        ROLLBACK if SQLite has not already rolled back (it does on a full disk), and the error goes on."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # the first error is the one to report
                    self._db.execute("ROLLBACK")
            raise

    # ---- reading -------------------------------------------------------------------------------------
    def sessions(self, *, runner: str | None = None, team: str | None = None) -> list[SessionRow]:
        sql, args = "SELECT * FROM sessions", []
        where = [(c, v) for c, v in (("runner", runner), ("team", team)) if v is not None]
        if where:
            sql += " WHERE " + " AND ".join(f"{c}=?" for c, _ in where)
            args = [v for _, v in where]
        with self._errors("cannot read"):
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
        """Alerts per session id: onsets of a WARNING or an ALERT, as the terminal's finished line counts
        them (a clearance or an info note is not an alert; one alert that cleared counted 2 before). A
        session without any is absent. Counted from the rows, so unfinished sessions and older stores are
        right too."""
        with self._errors("cannot read"):
            rows = self._db.execute(
                "SELECT session_id, COUNT(*) FROM risk_events "
                "WHERE kind = 'onset' AND severity IN ('warning', 'alert') GROUP BY session_id"
            ).fetchall()
        return {session_id: int(n) for session_id, n in rows}

    def _read(self, table: str, session_id: str, order: str) -> list[Any]:
        cls = RESULT_TABLES[table]
        hints = typing.get_type_hints(cls)
        names = [n for n, _ in _columns(cls)]
        with self._errors("cannot read"):
            rows = self._db.execute(
                f"SELECT {_quoted(names)} FROM {table} WHERE session_id=? ORDER BY {order}, rowid", (session_id,)
            ).fetchall()
        return [cls(**{n: _typed(hints[n], v) for n, v in zip(names, row)}) for row in rows]


class _Probed(Exception):
    """Raised inside the write probe's transaction to roll it back."""


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
