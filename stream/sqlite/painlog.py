"""The pain log's storage: a `pain_log` table in the same SQLite file as the session store.

Kept in its own module and table so the session store's schema (generated from the result types) is
untouched; one short transaction per entry, WAL mode like the store, so both can be open at once.
"""

from __future__ import annotations

import json
import os
import pathlib
import sqlite3

from strideguard.analytics.pain import PainEntry


class PainLog:
    """Add and read pain-log entries; `path` is the store's database file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS pain_log (id INTEGER PRIMARY KEY AUTOINCREMENT, runner TEXT NOT NULL, "
            "t_ns INTEGER NOT NULL, session_id TEXT, pain_before INTEGER, pain_after INTEGER, "
            "red_flags_json TEXT NOT NULL DEFAULT '{}', note TEXT NOT NULL DEFAULT '')"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS pain_log_runner ON pain_log (runner, t_ns)")

    def add(self, entry: PainEntry) -> int:
        cur = self._db.execute(
            "INSERT INTO pain_log (runner, t_ns, session_id, pain_before, pain_after, red_flags_json, note) "
            "VALUES (?,?,?,?,?,?,?)",
            (
                entry.runner,
                entry.t_ns,
                entry.session_id,
                entry.pain_before,
                entry.pain_after,
                json.dumps(dict(entry.red_flags), sort_keys=True),
                entry.note,
            ),
        )
        if cur.lastrowid is None:  # set by every successful INSERT
            raise sqlite3.Error("the pain log insert reported no row id")
        return cur.lastrowid

    def entries(self, *, runner: str | None = None, since_t_ns: int | None = None) -> list[PainEntry]:
        """Entries oldest first, optionally of one runner and from a time on."""
        sql = "SELECT runner, t_ns, session_id, pain_before, pain_after, red_flags_json, note FROM pain_log"
        where: list[str] = []
        args: list[str | int] = []
        if runner is not None:
            where.append("runner=?")
            args.append(runner)
        if since_t_ns is not None:
            where.append("t_ns>=?")
            args.append(since_t_ns)
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._db.execute(sql + " ORDER BY t_ns, id", args).fetchall()
        return [
            PainEntry(
                runner=r[0],
                t_ns=r[1],
                session_id=r[2],
                pain_before=r[3],
                pain_after=r[4],
                red_flags=json.loads(r[5] or "{}"),
                note=r[6],
            )
            for r in rows
        ]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> PainLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
