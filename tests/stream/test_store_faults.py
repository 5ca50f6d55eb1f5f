"""The store never lies, against real SQLite on real trouble: a full disk (a tiny tmpfs), a lock held by
another connection, a read-only mount, a damaged file, a directory. Each fault ends the command with one
line naming the file and the problem and a non-zero exit; what was lost is counted in the session's
summary (`store_lost`) and the session is `incomplete`; nothing already stored changes.

Before (measured on main at d2bf42c): on a full disk `demo` printed "stored in ...", exited 0 and kept a
fraction of the steps and none of the alerts under a `completed` session; a lock gave exit 0, rows of a
session with no session row; a read-only, damaged or directory `--db` was a sqlite3 traceback.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import re
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from strideguard.stream.cli import main
from strideguard.stream.runtime.app import RunOptions, open_pipeline
from strideguard.stream.runtime.backpressure import BufferedSink
from strideguard.stream.runtime.engine import SessionSummary
from strideguard.stream.runtime.pipeline import StoreSink
from strideguard.stream.sqlite import store as store_module
from strideguard.stream.sqlite.store import SessionStore, StoreError
from tests.stream.test_store import sample_output
from tests.stream.test_store_thread import info

DEMO_STEPS, DEMO_WINDOWS, DEMO_ALERTS = 4493, 323, 4  # the fatigue demo, stored whole on a roomy disk


# -- helpers ----------------------------------------------------------------------------------------------
@pytest.fixture
def tmpfs(tmp_path: pathlib.Path) -> Iterator[Callable[[str], pathlib.Path]]:
    """Mount a real tmpfs of a given size; unmounted after the test. Mounting needs root: a developer's
    own run without it skips these tests, but `scripts/test.sh` run as root (as CI runs it) sets
    STRIDEGUARD_REQUIRE_TMPFS=1, and there a tmpfs that cannot be mounted fails the test instead."""
    mounted: list[pathlib.Path] = []
    required = os.environ.get("STRIDEGUARD_REQUIRE_TMPFS") == "1"

    def unavailable(reason: str) -> None:
        if required:
            pytest.fail(f"{reason}, and STRIDEGUARD_REQUIRE_TMPFS=1 (the test script as root) needs it")
        pytest.skip(reason)

    def mount(size: str) -> pathlib.Path:
        if os.geteuid() != 0:
            unavailable("mounting a tmpfs needs root")
        where = tmp_path / f"disk{len(mounted)}"
        where.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=False)
        if done.returncode:
            unavailable("cannot mount a tmpfs here")
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], check=False)


def small_csv(tmp_path: pathlib.Path, name: str = "lab.csv") -> pathlib.Path:
    t_s = np.arange(0, 60, 0.01)
    rows = (f"{t:.2f},0,0,{1 + 0.8 * np.sin(2 * np.pi * 2.8 * t):.4f}" for t in t_s)
    path = tmp_path / name
    path.write_text("t_s,ax_g,ay_g,az_g\n" + "\n".join(rows) + "\n")
    return path


def store_with_one_session(path: pathlib.Path) -> str:
    store = SessionStore(path)
    session = info("anna")
    store.open_session(session)
    store.write(session.session_id, sample_output())
    store.close_session(session.session_id, ended_t_ns=None, summary={"n_steps": 5})
    store.close()
    return session.session_id


def digest(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err.strip().splitlines()[-1] if err.strip() else ""


def counts(db: pathlib.Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("steps", "windows", "risk_events")}


def orphans(db: pathlib.Path) -> int:
    with sqlite3.connect(db) as conn:
        return sum(
            conn.execute(
                f"SELECT count(*) FROM {t} WHERE session_id NOT IN (SELECT session_id FROM sessions)"
            ).fetchone()[0]
            for t in ("steps", "windows", "risk_events")
        )


@pytest.fixture
def short_locks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stores opened in this test wait 0.1 s per attempt, 2 attempts (the default is 5 s x 3)."""
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.1)
    monkeypatch.setattr(store_module, "BUSY_ATTEMPTS", 2)


def lock(db: pathlib.Path) -> sqlite3.Connection:
    """Another process's writer: a connection holding the write lock until rolled back."""
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    return conn


# -- a full disk -------------------------------------------------------------------------------------------
LOST = re.compile(
    r"strideguard demo: error: sqlite \((?P<path>.+)\): (?P<steps>\d+) steps, (?P<windows>\d+) windows, "
    r"(?P<risk_events>\d+) risk events of 1 session not stored \(the disk is full\); (?P<marked>.+)"
)


@pytest.mark.slow
def test_demo_on_a_full_disk_exits_2_and_marks_the_session_incomplete_with_what_was_lost(
    tmpfs: Callable[[str], pathlib.Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmpfs("1m") / "s.db"
    rc, out, last = cli(["demo", "--speed", "0", "--no-web", "--db", str(db)], capsys)
    assert rc == 2 and "stored in" not in out
    m = LOST.fullmatch(last)
    assert m, last
    assert m["path"] == str(db) and m["marked"] == "marked incomplete (see `strideguard sessions`)"
    lost = {k: int(m[k]) for k in ("steps", "windows", "risk_events")}
    assert lost["steps"] > 0
    stored = counts(db)
    assert {k: stored[k] + lost[k] for k in lost} == {
        "steps": DEMO_STEPS,
        "windows": DEMO_WINDOWS,
        "risk_events": DEMO_ALERTS,
    }
    store = SessionStore(db, readonly=True)
    (row,) = store.sessions()
    store.close()
    assert row.status == "incomplete" and row.summary["store_lost"] == lost
    assert row.summary["n_steps"] == DEMO_STEPS  # the analysis itself was whole
    assert orphans(db) == 0
    rc, out, _ = cli(["sessions", "--db", str(db)], capsys)
    assert rc == 0 and f"incomplete ({lost['steps']} steps lost, {lost['windows']} windows lost" in out


@pytest.mark.slow
def test_a_disk_too_full_for_the_whole_mark_never_leaves_the_session_looking_complete(
    tmpfs: Callable[[str], pathlib.Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """When the data fills the disk to its last pages, the small writes that mark the session may fail
    too: none fitted (the session stays `running`, shown unfinished), an earlier mark fitted and a later
    count did not (`incomplete`, with a stored count short of the loss), or the last count fitted and the
    end with the summary did not (`incomplete`, the stored count whole). The line says which, with the
    whole count, and the session never reads `completed`. Which sizes give which moves with the schema,
    and how the buffered writes happen to group (a CI run met the third path where this machine met the
    second, and the line then said "short" for a whole count), so a few sizes are tried; at least one
    must reach one of these paths."""
    unmarked = "1 of them could not be marked incomplete either (shown as unfinished)"
    short = (
        "marked incomplete, but the stored count of what was lost is short for 1 of them (the counts here are whole)"
    )
    unended = "marked incomplete, but the end and summary of 1 of them could not be written"
    seen = []
    for size in ("256k", "288k", "320k", "352k", "384k", "416k"):
        db = tmpfs(size) / "s.db"
        rc, out, last = cli(["demo", "--speed", "0", "--no-web", "--db", str(db)], capsys)
        assert rc == 2 and "stored in" not in out
        m = LOST.fullmatch(last)
        assert m, last
        seen.append((size, m["marked"]))
        if m["marked"] in (unmarked, short, unended):
            break
    else:
        pytest.fail(f"no disk size reached the last pages: {seen}")
    print(f"disk sizes tried: {seen}")
    assert counts(db)["steps"] + int(m["steps"]) == DEMO_STEPS  # the line's count is whole
    store = SessionStore(db, readonly=True)
    (row,) = store.sessions()
    store.close()
    rc, out, _ = cli(["sessions", "--db", str(db)], capsys)
    if m["marked"] == unmarked:
        assert row.status == "running" and out.rstrip().endswith("unfinished")
    elif m["marked"] == short:
        assert row.status == "incomplete" and 0 < row.summary["store_lost"]["steps"] < int(m["steps"])
        assert rc == 0 and "incomplete (" in out.rstrip().splitlines()[-1]
    else:
        assert row.status == "incomplete" and row.summary["store_lost"]["steps"] == int(m["steps"])
        assert row.ended_t_ns is None  # the end was not written
        assert rc == 0 and "incomplete (" in out.rstrip().splitlines()[-1]


# -- a lock held by another process -------------------------------------------------------------------------
@pytest.mark.usefixtures("short_locks")
def test_a_store_locked_at_open_beyond_the_retries_is_one_line_and_changes_nothing(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.db"
    store_with_one_session(db)
    holder = lock(db)
    try:
        rc, out, last = cli(["analyze", str(small_csv(tmp_path)), "--db", str(db)], capsys)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert rc == 2 and out == ""
    assert last == (
        f"strideguard analyze: error: sqlite ({db}): cannot open: the store is locked by another process (waited 0.2 s)"
    )
    assert counts(db) == {"steps": 5, "windows": 1, "risk_events": 1}


@pytest.mark.usefixtures("short_locks")
async def test_a_lock_held_through_part_of_a_run_loses_that_part_only_and_marks_the_session(
    tmp_path: pathlib.Path,
) -> None:
    """Writes made while another process holds the lock beyond the retries are counted as lost, the ones
    after it are stored, the session ends `incomplete` with the counts, and closing the pipeline raises."""
    from strideguard.sensors.synthetic import SyntheticConfig, SyntheticRunner
    from strideguard.stream.runtime.sources import rechunked

    db = tmp_path / "s.db"
    run = SyntheticRunner(SyntheticConfig()).generate(180.0, 100, seed=3, runner="lena")
    items = list(rechunked([run.acc], 1.0))
    thirds = [items[: len(items) // 3], items[len(items) // 3 : 2 * len(items) // 3], items[2 * len(items) // 3 :]]
    opts = RunOptions(db_path=db, live_view=False, keep_outputs=True)
    with pytest.raises(StoreError) as raised:
        async with open_pipeline(opts, source="test") as parts:
            (sink,) = [s for s in parts.pipeline.sinks if isinstance(s, BufferedSink)]
            for n, part in enumerate(thirds):
                holder = lock(db) if n == 1 else None
                for item in part:
                    await parts.pipeline.push(item)
                await sink.flush()
                if holder is not None:
                    holder.execute("ROLLBACK")
                    holder.close()
            await parts.pipeline.finish()
            produced = parts.pipeline.outputs("lena")
    lost = {
        "steps": int(re.search(r"(\d+) steps", str(raised.value))[1]),  # type: ignore[index]
        "windows": int(re.search(r"(\d+) windows", str(raised.value))[1]),  # type: ignore[index]
        "risk_events": 0,
    }
    assert str(raised.value) == (
        f"sqlite ({db}): {lost['steps']} steps, {lost['windows']} windows, 0 risk events of 1 session not stored "
        "(the store is locked by another process (waited 0.2 s)); marked incomplete (see `strideguard sessions`)"
    )
    assert lost["steps"] > 50
    store = SessionStore(db, readonly=True)
    (row,) = store.sessions()
    stored_steps = store.steps(row.session_id)
    store.close()
    assert row.status == "incomplete" and row.summary["store_lost"] == lost
    assert len(stored_steps) + lost["steps"] == len(produced.steps)
    assert stored_steps[-1].t_ns == produced.steps[-1].t_ns  # the part after the lock is stored
    assert orphans(db) == 0


@pytest.mark.usefixtures("short_locks")
def test_a_lock_released_within_the_retries_loses_nothing(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "s.db"
    store = SessionStore(db, busy_timeout_s=0.1, busy_attempts=20)
    session = info("anna")
    store.open_session(session)
    holder = lock(db)
    release = threading.Timer(0.4, lambda: (holder.execute("ROLLBACK"), holder.close()))
    release.start()
    store.write(session.session_id, sample_output())  # waits out the lock (about 4 attempts), then stores
    release.join()
    assert len(store.steps(session.session_id)) == 5
    store.close()


@pytest.mark.usefixtures("short_locks")
async def test_a_session_row_refused_at_open_is_written_before_its_results(tmp_path: pathlib.Path) -> None:
    """Before: the session row was lost to the lock and its results were stored without it (orphans)."""
    db = tmp_path / "s.db"
    sink = StoreSink(SessionStore(db))
    session = info("anna")
    holder = lock(db)
    await sink.open_session(session)  # refused: the lock outlasts the retries
    holder.execute("ROLLBACK")
    holder.close()
    await sink.write(session, sample_output())
    assert orphans(db) == 0  # the row went in first, not only at the session's end
    summary = SessionSummary(
        session_id=session.session_id, runner="anna", duration_s=10.0, n_samples=0, n_steps=5, n_windows=1
    )
    await sink.close_session(session, summary)
    await sink.close()
    assert sink.failure() is None  # nothing was lost: the row came late, before its results
    store = SessionStore(db, readonly=True)
    (row,) = store.sessions()
    assert row.status == "completed" and len(store.steps(session.session_id)) == 5
    store.close()
    assert orphans(db) == 0


# -- files that are not a writable store ---------------------------------------------------------------------
def read_only(tmp_path: pathlib.Path, tmpfs: Callable[[str], pathlib.Path], *, folder: bool) -> pathlib.Path:
    """A store with one session that may not be written: on a read-only mount (`folder`) or as a read-only
    file in a writable folder (a read-only bind mount of the file). As root, permission bits do not stop
    writes, so mounts are used; other users get the same with chmod."""
    where = tmpfs("4m") if os.geteuid() == 0 else tmp_path / "ro"
    where.mkdir(exist_ok=True)
    db = where / "s.db"
    store_with_one_session(db)
    if os.geteuid() == 0:
        if folder:
            subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
        else:
            subprocess.run(["mount", "--bind", str(db), str(db)], check=True)
            subprocess.run(["mount", "-o", "remount,bind,ro", str(db)], check=True)
    else:
        db.chmod(0o444)
        if folder:
            where.chmod(0o555)
    return db


@pytest.mark.parametrize(
    ("folder", "problem"),
    [
        (True, "no access (a read-only file or folder, or a missing folder)"),
        (False, "the store is read-only"),  # found by the write probe at open
    ],
    ids=["read-only-folder", "read-only-file"],
)
def test_a_read_only_store_is_refused_at_open_in_one_line_and_still_listed(
    tmp_path: pathlib.Path,
    tmpfs: Callable[[str], pathlib.Path],
    capsys: pytest.CaptureFixture[str],
    folder: bool,
    problem: str,
) -> None:
    db = read_only(tmp_path, tmpfs, folder=folder)
    try:
        before = digest(db)
        rc, out, last = cli(["analyze", str(small_csv(tmp_path)), "--db", str(db)], capsys)
        assert rc == 2 and out == ""
        assert last == f"strideguard analyze: error: sqlite ({db}): cannot open: {problem}"
        rc, out, _ = cli(["sessions", "--db", str(db)], capsys)
        assert rc == 0 and " anna " in out and out.rstrip().endswith("completed")
        assert digest(db) == before
    finally:
        if os.geteuid() == 0 and not folder:
            subprocess.run(["umount", str(db)], check=False)


@pytest.mark.parametrize("command", ["analyze", "demo", "sessions"])
def test_a_damaged_store_is_refused_at_open_in_one_line_and_left_as_it_was(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    db = tmp_path / "s.db"
    db.write_bytes(b"not a database, just some bytes\n" * 200)
    before = digest(db)
    argv = {"analyze": ["analyze", str(small_csv(tmp_path))], "demo": ["demo", "--no-web"], "sessions": ["sessions"]}
    rc, _, last = cli([*argv[command], "--db", str(db)], capsys)
    assert rc == 2
    assert last == (
        f"strideguard {command}: error: sqlite ({db}): cannot open: not a StrideGuard store (damaged, or another "
        "kind of file)"
    )
    assert digest(db) == before


@pytest.mark.parametrize("command", ["analyze", "replay", "sessions"])
def test_a_directory_as_the_store_is_one_line(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    db = tmp_path / "store.db"
    db.mkdir()
    files = [str(small_csv(tmp_path))] if command != "sessions" else []
    extra = ["--speed", "0", "--no-web"] if command == "replay" else []
    rc, _, last = cli([command, *files, *extra, "--db", str(db)], capsys)
    assert rc == 2
    assert last == f"strideguard {command}: error: sqlite ({db}): cannot open: is a directory, not a store file"


@pytest.mark.slow
def test_record_refuses_a_damaged_store_before_it_records(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.db"
    db.write_bytes(b"garbage" * 100)
    out_file = tmp_path / "ann.sgcap"
    argv = ["record", "--simulate", "--fast", "--duration", "5", "--runner", "ann"]
    argv += ["--device", "A0:9E:1A:00:00:01:chest", "--out", str(out_file), "--db", str(db), "--no-web"]
    rc, _, last = cli(argv, capsys)
    assert rc == 2
    assert last == (
        f"strideguard record: error: sqlite ({db}): cannot open: not a StrideGuard store (damaged, or another "
        "kind of file)"
    )
    assert not out_file.exists()


class RefusingStore(SessionStore):
    """A real store that refuses the writes named in `refuse` as a full disk would (which of a run's writes
    a real full disk refuses depends on how the buffered writes group: this picks each path on purpose)."""

    refuse: frozenset[str] = frozenset()
    marks_allowed = 10**9  # mark_incomplete writes that fit before the disk is full for them too

    def _full(self, what: str) -> None:
        if what in self.refuse:
            raise StoreError(
                "not stored: the disk is full", path=self.path, code="SQLITE_FULL", problem="the disk is full"
            )

    def write(self, session_id: str, output):  # type: ignore[no-untyped-def]
        self._full("write")
        return super().write(session_id, output)

    def mark_incomplete(self, session_id: str, lost: dict[str, int]) -> None:
        if self.marks_allowed <= 0:
            self._full("mark_incomplete")
        self.marks_allowed -= 1
        super().mark_incomplete(session_id, lost)

    def close_session(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self._full("close_session")
        return super().close_session(*args, **kwargs)


@pytest.mark.parametrize(
    ("marks_allowed", "said", "stored_steps"),
    [
        (10**9, "marked incomplete, but the end and summary of 1 of them could not be written", 10),
        (1, "the stored count of what was lost is short for 1 of them (the counts here are whole)", 5),
        (0, "1 of them could not be marked incomplete either (shown as unfinished)", None),
    ],
)
async def test_the_line_says_exactly_what_the_store_holds_when_the_end_does_not_fit(
    tmp_path: pathlib.Path, marks_allowed: int, said: str, stored_steps: int | None
) -> None:
    """Two writes refused (5 steps each), then the session's end. A CI run met the first case: the last
    count fitted, the end did not, and the line said the stored count was short when it was whole."""
    store = RefusingStore(tmp_path / "s.db")
    store.refuse = frozenset({"write", "mark_incomplete", "close_session"})
    store.marks_allowed = marks_allowed
    sink = StoreSink(store)
    session = info("anna")
    await sink.open_session(session)
    for _ in range(2):
        await sink.write(session, sample_output())
    summary = SessionSummary(
        session_id=session.session_id, runner="anna", duration_s=10.0, n_samples=0, n_steps=10, n_windows=2
    )
    await sink.close_session(session, summary)
    await sink.close()
    failure = sink.failure()
    assert failure is not None and str(failure).endswith(said), str(failure)
    assert "10 steps" in str(failure)
    reader = SessionStore(tmp_path / "s.db", readonly=True)
    (row,) = reader.sessions()
    reader.close()
    assert row.ended_t_ns is None
    if stored_steps is None:
        assert row.status == "running"
    else:
        assert row.status == "incomplete" and row.summary["store_lost"]["steps"] == stored_steps
