"""A live-page server that cannot start (its port taken) stops the command in one line, exit 2, before
any session is made, and leaves nothing of the run open: the store's connections are closed at once, not
when the garbage collector gets round to them (which a long-lived process, or a test, may never do)."""

from __future__ import annotations

import contextlib
import gc
import os
import pathlib
import socket
import sqlite3
from collections.abc import Iterator

import pytest

from strideguard.stream.errors import UsageError
from strideguard.stream.runtime.app import RunOptions, open_pipeline
from tests.stream.cli_run import strideguard

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another socket is listening on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def open_files_under(folder: pathlib.Path) -> list[str]:
    """The files under `folder` this process holds open (Linux: /proc/self/fd)."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone by now
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(str(folder)):
                held.append(target)
    return sorted(held)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to see open files")
async def test_a_busy_port_leaves_the_store_closed(tmp_path: pathlib.Path, taken_port: int) -> None:
    """Before: the history store, the store sink's and the retraining store's connections (5 files of
    store.db, -wal and -shm) stayed open after the error until a garbage collection."""
    db = tmp_path / "store.db"
    opts = RunOptions(db_path=db, web=True, port=taken_port, live_view=False, config_path=tmp_path / "none.toml")
    (tmp_path / "none.toml").write_text("")
    gc.disable()  # what is left open must be closed by the code, not found by the collector
    try:
        with pytest.raises(
            UsageError, match=f"cannot serve the live pages on 127.0.0.1:{taken_port}: .*another --port"
        ):
            async with open_pipeline(opts, source="test"):
                pytest.fail("the run started without its pages")
        assert open_files_under(tmp_path) == []
    finally:
        gc.enable()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["none.toml", "store.db"]  # no -wal/-shm left
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM sessions").fetchone() == (0,)


RECORD = ("record", "--simulate", "--fast", "--duration", "30", "--runner", "ann")


@pytest.mark.parametrize(
    "command",
    [("demo", "--speed", "0"), (*RECORD, "--device", "A0:9E:1A:00:00:01:chest", "--out", "ann.sgcap")],
    ids=["demo", "record"],
)
def test_a_busy_port_is_one_line_exit_2_and_no_session(
    tmp_path: pathlib.Path, taken_port: int, command: tuple[str, ...]
) -> None:
    db = tmp_path / "store.db"
    proc = strideguard(*command, "--web", "--port", str(taken_port), "--db", str(db), home=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        f"strideguard {command[0]}: error: cannot serve the live pages on 127.0.0.1:{taken_port}: "
        "Address already in use; choose another --port"
    ]
    assert not (tmp_path / "ann.sgcap").exists()  # the recording did not start without its pages
    assert not list(tmp_path.glob("store.db-*"))  # no -wal/-shm left behind (`sessions` reads, it leaves them)
    listed = strideguard("sessions", "--db", str(db), home=tmp_path)
    assert listed.returncode == 0 and listed.stdout.strip() == "no sessions match", listed
