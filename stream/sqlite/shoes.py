"""Shoes: a `shoes` table and the session each shoe was worn in, in the session store's SQLite file.

Like the pain log, kept in its own module and tables so the session store's generated schema is
untouched. A runner's shoes have unique names among the ones not retired; one of them may be the default
(worn when a run names no shoe). Every SQLite failure is a one-line `StoreError` naming the file.
"""

from __future__ import annotations

import dataclasses

from strideguard.stream.sqlite.side_tables import SideTables


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Shoe:
    shoe_id: int
    runner: str
    name: str
    added_t_ns: int
    retired_t_ns: int | None
    start_km: float  # already run in them before they were added
    remind_km: float  # from here on, a reminder to think about new shoes
    replace_km: float  # past this, replace them
    is_default: bool

    @property
    def active(self) -> bool:
        return self.retired_t_ns is None


class ShoeLog(SideTables):
    """Add, list, retire shoes; say which shoe a session was run in. `path` is the store's file;
    `readonly` for listings (a store without shoes reads as having none)."""

    TABLES = (
        (
            "shoes",
            "CREATE TABLE IF NOT EXISTS shoes (shoe_id INTEGER PRIMARY KEY AUTOINCREMENT, runner TEXT NOT NULL, "
            "name TEXT NOT NULL, added_t_ns INTEGER NOT NULL, retired_t_ns INTEGER, start_km REAL NOT NULL, "
            "remind_km REAL NOT NULL, replace_km REAL NOT NULL, is_default INTEGER NOT NULL DEFAULT 0)",
        ),
        (
            "session_shoes",
            "CREATE TABLE IF NOT EXISTS session_shoes (session_id TEXT PRIMARY KEY, shoe_id INTEGER NOT NULL)",
        ),
    )

    # -- writing ---------------------------------------------------------------------------------
    def add(
        self,
        runner: str,
        name: str,
        *,
        t_ns: int,
        start_km: float = 0.0,
        remind_km: float,
        replace_km: float,
        default: bool = False,
    ) -> Shoe:
        if self.find(runner, name) is not None:
            raise ValueError(f"{runner} already has shoes called {name!r} (retire them first)")
        with self._errors("cannot add the shoes"):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                first = not self.shoes(runner, active_only=True)
                if default or first:
                    self._db.execute("UPDATE shoes SET is_default=0 WHERE runner=?", (runner,))
                self._db.execute(
                    "INSERT INTO shoes (runner, name, added_t_ns, start_km, remind_km, replace_km, is_default) "
                    "VALUES (?,?,?,?,?,?,?)",
                    (runner, name, t_ns, start_km, remind_km, replace_km, int(default or first)),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        shoe = self.find(runner, name)
        assert shoe is not None
        return shoe

    def retire(self, runner: str, name: str, *, t_ns: int) -> Shoe:
        shoe = self._named(runner, name)
        with self._errors("cannot retire the shoes"):
            self._db.execute("UPDATE shoes SET retired_t_ns=?, is_default=0 WHERE shoe_id=?", (t_ns, shoe.shoe_id))
        return dataclasses.replace(shoe, retired_t_ns=t_ns, is_default=False)

    def set_default(self, runner: str, name: str) -> Shoe:
        shoe = self._named(runner, name)
        with self._errors("cannot set the default shoes"):
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("UPDATE shoes SET is_default=(shoe_id=?) WHERE runner=?", (shoe.shoe_id, runner))
            self._db.execute("COMMIT")
        return dataclasses.replace(shoe, is_default=True)

    def wear(self, session_id: str, shoe: Shoe) -> None:
        """Record that the session was run in `shoe` (a second call moves it to the other shoe)."""
        with self._errors("cannot record the shoes of a session"):
            self._db.execute(
                "INSERT INTO session_shoes (session_id, shoe_id) VALUES (?,?) "
                "ON CONFLICT(session_id) DO UPDATE SET shoe_id=excluded.shoe_id",
                (session_id, shoe.shoe_id),
            )

    # -- reading ---------------------------------------------------------------------------------
    def shoes(self, runner: str, *, active_only: bool = False) -> list[Shoe]:
        if not self.has_tables:
            return []
        sql = "SELECT * FROM shoes WHERE runner=?" + (" AND retired_t_ns IS NULL" if active_only else "")
        with self._errors("cannot read the shoes"):
            rows = self._db.execute(sql + " ORDER BY added_t_ns, shoe_id", (runner,)).fetchall()
        return [_shoe(r) for r in rows]

    def find(self, runner: str, name: str) -> Shoe | None:
        """The runner's active shoes of that name."""
        return next((s for s in self.shoes(runner, active_only=True) if s.name == name), None)

    def default(self, runner: str) -> Shoe | None:
        return next((s for s in self.shoes(runner, active_only=True) if s.is_default), None)

    def sessions_of(self, shoe: Shoe) -> list[str]:
        if not self.has_tables:
            return []
        with self._errors("cannot read the shoes"):
            rows = self._db.execute("SELECT session_id FROM session_shoes WHERE shoe_id=?", (shoe.shoe_id,))
            return [r[0] for r in rows.fetchall()]

    def shoe_of(self, session_id: str) -> Shoe | None:
        if not self.has_tables:
            return None
        with self._errors("cannot read the shoes"):
            row = self._db.execute(
                "SELECT shoes.* FROM session_shoes JOIN shoes USING (shoe_id) WHERE session_id=?", (session_id,)
            ).fetchone()
        return None if row is None else _shoe(row)

    def _named(self, runner: str, name: str) -> Shoe:
        shoe = self.find(runner, name)
        if shoe is None:
            have = ", ".join(s.name for s in self.shoes(runner, active_only=True)) or "none"
            raise ValueError(f"{runner} has no shoes called {name!r} (theirs: {have})")
        return shoe


def _shoe(row: tuple) -> Shoe:
    return Shoe(
        shoe_id=int(row[0]),
        runner=row[1],
        name=row[2],
        added_t_ns=int(row[3]),
        retired_t_ns=None if row[4] is None else int(row[4]),
        start_km=float(row[5]),
        remind_km=float(row[6]),
        replace_km=float(row[7]),
        is_default=bool(row[8]),
    )
