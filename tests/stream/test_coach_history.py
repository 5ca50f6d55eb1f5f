"""`strideguard coach --db PATH` (or $STRIDEGUARD_DB) gives the coach's pages the workers' store, read only:
the team page links to the past sessions and /sessions lists them. An unusable store stops the coach at
start with the store's one line (exit 2). The pages are served before the broker answers, so no broker
is needed here: each check is done within the coach's 10 s of trying to reach an unreachable one."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.fixtures_services import free_port
from tests.stream.test_web_history import club_store

pytestmark = pytest.mark.slow


def coach(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    unreachable = f"mqtt://127.0.0.1:{free_port()}"
    return subprocess.Popen(
        [sys.executable, "-m", "strideguard.stream.cli", "coach", "--broker", unreachable, "--team", "club", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def get(url: str, deadline_s: float = 9.0) -> str:
    """The page once the coach serves it (polled: the process takes a moment to start)."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.read().decode()
        except urllib.error.HTTPError:
            raise  # an answer: the coach is up
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


@pytest.mark.parametrize("via", ["--db", "STRIDEGUARD_DB"])
def test_the_coach_lists_past_sessions_from_its_store(tmp_path: pathlib.Path, via: str) -> None:
    db, newest_first = club_store(tmp_path)
    port = free_port()
    args, env = (["--db", str(db)], {}) if via == "--db" else ([], {"STRIDEGUARD_DB": str(db)})
    proc = coach(["--port", str(port), *args], env)
    try:
        base = f"http://127.0.0.1:{port}/"
        assert 'class="past-link" href="/sessions">' in get(base)
        page = get(base + "sessions")
        assert all(f"/sessions/{s.split('-')[0]}" in page for s in newest_first)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def test_without_a_store_the_coach_has_no_past_sessions(tmp_path: pathlib.Path) -> None:
    port = free_port()
    proc = coach(["--port", str(port)], {"STRIDEGUARD_DB": ""})
    try:
        assert 'class="past-link" href="/sessions" hidden>' in get(f"http://127.0.0.1:{port}/")
        with pytest.raises(urllib.error.HTTPError) as refused:
            get(f"http://127.0.0.1:{port}/sessions")
        assert refused.value.code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def test_an_unusable_store_stops_the_coach_with_one_line(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "club.db"
    bad.write_bytes(b"not a store " * 100)
    proc = coach(["--port", str(free_port()), "--db", str(bad)], {})
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    problem = "cannot open: not a StrideGuard store (damaged, or another kind of file)"
    assert err == f"strideguard coach: error: sqlite ({bad}): {problem}\n"
