"""Tables kept beside the session store in its SQLite file (shoes, runner profiles): opened the same way.

Writable: the folder is made, WAL mode, a busy timeout, the tables created. Read-only (listings, the
export): `mode=ro` (and `immutable=1` in a folder nobody may write, as `SessionStore` does), never
creating or changing anything; a store without these tables reads as empty (`has_tables` is False).
Every SQLite failure is a one-line `StoreError` naming the file.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Self

from strideguard.stream.sqlite.store import StoreError, describe


class SideTables:
    """Subclasses give `TABLES`: (name, CREATE TABLE statement) pairs."""

    TABLES: Sequence[tuple[str, str]] = ()

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        self.path = pathlib.Path(path)
        if self.path.is_dir():
            raise StoreError("cannot open: is a directory, not a store file", path=self.path)
        self.has_tables = True
        with self._errors("cannot open"):
            if readonly:
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                uri += "" if os.access(self.path.parent, os.W_OK) else "&immutable=1"
                self._db = sqlite3.connect(uri, uri=True, isolation_level=None)
                names = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                self.has_tables = {name for name, _ in self.TABLES} <= names
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.execute("PRAGMA journal_mode=WAL")
            for _, create in self.TABLES:
                self._db.execute(create)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            code, problem = describe(exc)
            raise StoreError(f"{doing}: {problem}", path=self.path, code=code, problem=problem) from exc
