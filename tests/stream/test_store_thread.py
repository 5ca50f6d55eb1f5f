"""The SQLite sink writes on its own thread: a slow disk never stalls the event loop (pages, alerts)."""

from __future__ import annotations

import asyncio
import pathlib
import threading
import time
from typing import Any

from strideguard.analytics.results import AnalyzerOutput
from strideguard.stream.runtime.engine import SessionSummary
from strideguard.stream.runtime.pipeline import StoreSink
from strideguard.stream.runtime.session import SessionInfo, new_session_id
from strideguard.stream.sqlite.store import SessionStore
from tests.stream.test_store import T0, sample_output

SLOW_WRITE_S = 0.5


class SlowStore(SessionStore):
    """The real store on a disk that takes half a second per write; notes the thread of every call."""

    def __init__(self, path: pathlib.Path, *, delay_s: float = SLOW_WRITE_S) -> None:
        super().__init__(path)
        self.delay_s = delay_s
        self.writing = threading.Event()
        self.threads: list[tuple[str, int]] = []

    def open_session(self, session: SessionInfo) -> None:
        self.threads.append(("open_session", threading.get_ident()))
        super().open_session(session)

    def write(self, session_id: str, output: AnalyzerOutput) -> None:
        self.threads.append(("write", threading.get_ident()))
        self.writing.set()
        time.sleep(self.delay_s)  # a blocking call, as sqlite3's own are
        super().write(session_id, output)

    def close_session(self, session_id: str, **kwargs: Any) -> None:
        self.threads.append(("close_session", threading.get_ident()))
        super().close_session(session_id, **kwargs)


def info(runner: str = "anna") -> SessionInfo:
    return SessionInfo(
        session_id=new_session_id(runner, T0), runner=runner, team="club", source="test", started_t_ns=T0
    )


def summary(session: SessionInfo) -> SessionSummary:
    return SessionSummary(
        session_id=session.session_id, runner=session.runner, duration_s=1.0, n_samples=0, n_steps=5, n_windows=1
    )


async def test_a_slow_store_write_does_not_block_the_event_loop(tmp_path: pathlib.Path) -> None:
    """While the store spends 0.5 s in a write, a coroutine scheduled meanwhile runs within a few ms. With
    the store called on the loop (as before), the loop is stuck for the whole write and this fails."""
    store = SlowStore(tmp_path / "s.db")
    sink = StoreSink(store)
    session = info()
    await sink.open_session(session)

    write = asyncio.create_task(sink.write(session, sample_output()))
    started = time.monotonic()
    await asyncio.sleep(0.01)  # a concurrently scheduled coroutine: a page update, an alert
    lag_s = time.monotonic() - started - 0.01

    assert store.writing.is_set(), "the write was not under way meanwhile"
    assert lag_s < 0.1, f"the loop was blocked {lag_s * 1e3:.0f} ms by the store"
    assert not write.done()
    await write
    await sink.close_session(session, summary(session))
    await sink.close()

    loop_thread = threading.get_ident()
    assert [m for m, _ in store.threads] == ["open_session", "write", "close_session"]
    assert len({t for _, t in store.threads}) == 1 and store.threads[0][1] != loop_thread
    check = SessionStore(tmp_path / "s.db")
    try:
        (row,) = check.sessions()
        assert row.status == "completed" and row.ended_t_ns == T0 + 10**10
        assert len(check.steps(session.session_id)) == 5
    finally:
        check.close()


async def test_calls_keep_their_order_and_close_waits_for_them(tmp_path: pathlib.Path) -> None:
    """Calls made without awaiting each other (the engine awaits, but a buffer may not) land in order on
    the one thread, and close() closes the store only after the last of them."""
    store = SlowStore(tmp_path / "o.db", delay_s=0.05)
    sink = StoreSink(store)
    sessions = [info(r) for r in ("anna", "ben")]
    for s in sessions:
        await sink.open_session(s)
    writes = [asyncio.create_task(sink.write(s, sample_output(s.runner))) for s in sessions]
    await asyncio.sleep(0)
    closes = [asyncio.create_task(sink.close_session(s, summary(s))) for s in sessions]
    await asyncio.gather(*writes, *closes)
    await sink.close()
    assert [m for m, _ in store.threads] == ["open_session"] * 2 + ["write"] * 2 + ["close_session"] * 2
    check = SessionStore(tmp_path / "o.db")
    try:
        assert {r.runner: (r.status, r.ended_t_ns, len(check.steps(r.session_id))) for r in check.sessions()} == {
            "anna": ("completed", T0 + 10**10, 5),
            "ben": ("completed", T0 + 10**10, 5),
        }
    finally:
        check.close()
