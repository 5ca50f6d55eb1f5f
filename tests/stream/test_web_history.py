"""Past sessions on the built-in pages: the real server over sockets, a real SQLite store written by the
real pipeline (`shared_world`), plus sessions left unfinished and incomplete as a crash or a full disk
leaves them.

Before: the built-in pages had no way to review a past session (`/sessions` was a 404); a coach needed
a terminal (`strideguard sessions`, `report`) or Grafana."""

from __future__ import annotations

import asyncio
import html
import pathlib
import re
import shutil
import time
import urllib.parse

import aiohttp
import pytest

from strideguard.stream.runtime import bus as busmod
from strideguard.stream.runtime.session import SessionInfo
from strideguard.stream.sqlite.store import SessionStore
from strideguard.stream.web import WebServer
from strideguard.stream.web.access import OPEN_PATHS
from strideguard.stream.web.reach import lan_addresses
from tests.stream.test_export_helpers import DAY_NS, T0_NS, shared_world
from tests.stream.web_raw import request

UNFINISHED = "carla-20260101T000000Z-aaaaaa"  # started ten minutes ago, never closed (live, or cut off)
INCOMPLETE = "dmitri-20251201T000000Z-bbbbbb"  # the store lost some of its rows (a full disk)
LONG_NAME = "Maximiliane-Alexandra von Hohenzollern-Sigmaringen-Wittelsbach.X"  # 64 characters
LONG_ID = f"{LONG_NAME}-20251202T000000Z-cccccc"
HREF = re.compile(r'href="(/sessions/[^"]+/report/)"')


def club_store(root: pathlib.Path) -> tuple[pathlib.Path, list[str]]:
    """A copy of the shared world's store plus three sessions; the ids newest first."""
    world = shared_world()
    db = root / "club.db"
    shutil.copy(world.db, db)
    store = SessionStore(db)
    now_ns = time.time_ns()
    for session_id, runner, start_ns in (
        (UNFINISHED, "carla", now_ns - 600 * 10**9),
        (INCOMPLETE, "dmitri", T0_NS + 10 * DAY_NS),
        (LONG_ID, LONG_NAME, T0_NS + 11 * DAY_NS),
    ):
        store.open_session(
            SessionInfo(session_id=session_id, runner=runner, team="riverside", source="test", started_t_ns=start_ns)
        )
    summary = {"n_steps": 1234, "cadence_spm": 171.4}
    store.close_session(INCOMPLETE, ended_t_ns=T0_NS + 10 * DAY_NS + 2520 * 10**9, summary=summary)
    store.mark_incomplete(INCOMPLETE, {"steps": 12, "windows": 1, "risk_events": 0})
    store.close_session(LONG_ID, ended_t_ns=T0_NS + 11 * DAY_NS + 60 * 10**9, summary={}, status="completed")
    newest_first = [r.session_id for r in sorted(store.sessions(), key=lambda r: -r.started_t_ns)]
    store.close()
    return db, newest_first


@pytest.fixture
def club(tmp_path: pathlib.Path) -> tuple[pathlib.Path, list[str]]:
    return club_store(tmp_path)


@pytest.fixture
async def history_server(club: tuple[pathlib.Path, list[str]]):
    async with WebServer(busmod.Bus(), host="127.0.0.1", port=0, store_path=club[0]) as server:
        yield server


def listed_ids(page: str) -> list[str]:
    return [urllib.parse.unquote(html.unescape(h).split("/")[2]) for h in HREF.findall(page)]


def one_line(body: bytes) -> bool:
    return body.count(b"\n") == 1 and b"Traceback" not in body


async def test_the_list_shows_every_session_newest_first_by_day(history_server: WebServer, club) -> None:
    reply = await request(history_server.port, "/sessions")
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/html")
    page = reply.body.decode()
    assert listed_ids(page) == club[1]  # newest first, each linking to its report
    headings = re.findall(r'<th colspan="7" scope="rowgroup">([^<]+)</th>', page)
    assert headings[0] == "Today" and len(headings) == len(club[1])  # every other session on a day of its own
    rows = {listed_ids(r)[0]: r for r in re.findall(r"<tr data-status.*?</tr>", page)}
    assert "unfinished" in rows[UNFINISHED]
    assert "incomplete (12 steps lost, 1 windows lost)" in rows[INCOMPLETE]
    assert ">1,234<" in rows[INCOMPLETE] and ">171<" in rows[INCOMPLETE] and ">42:00<" in rows[INCOMPLETE]
    world = shared_world()
    cells = re.findall(r"<td[^>]*>(.*?)</td>", rows[world.sessions[0]])
    assert cells[1:] and cells[5] == "1" and cells[6] == "completed"  # one alert (its onset; the clearance is not one)
    assert html.escape(LONG_NAME) in page


async def test_the_team_and_runner_pages_link_to_past_sessions_only_with_a_store(
    history_server: WebServer, server
) -> None:
    for page_path in ("/", "/runner/anna"):
        page = (await request(history_server.port, page_path)).body.decode()
        assert '<a id="past-sessions" class="past-link" href="/sessions">' in page, page_path
        page = (await request(server.port, page_path)).body.decode()  # the default server: no store
        assert '<a id="past-sessions" class="past-link" href="/sessions" hidden>' in page, page_path
    for path in ("/sessions", "/sessions/anna-20250101T000000Z-abcdef/report/"):
        reply = await request(server.port, path)
        assert reply.status == 404 and b"--db" in reply.body and one_line(reply.body), path


@pytest.mark.parametrize(
    "path",
    [
        "/sessions/..%2F..%2Fetc%2Fpasswd/report/",  # encoded slashes in the id
        "/sessions/%2E%2E/report/",  # an encoded ..
        "/sessions/..%5Cclub.db/report/",  # a backslash
        "/sessions/.hidden/report/index.html",
        "/sessions/nobody-20250101T000000Z-abcdef/report/",  # well formed, not stored
        "/sessions/bartholomew/report/",  # a unique prefix of an id: an address names exactly one session
        "/sessions/..%2F..%2Fetc%2Fpasswd/report",
    ],
)
async def test_bad_and_unknown_session_ids_are_one_line_404s(history_server: WebServer, path: str) -> None:
    reply = await request(history_server.port, path)
    assert reply.status == 404, reply.body
    assert one_line(reply.body)
    assert history_server.history is not None and history_server.history.cache_dir is None  # nothing drawn


async def test_a_store_that_cannot_be_read_is_a_503_line(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "club.db"
    db.write_bytes(b"this is no SQLite file, " * 100)
    async with WebServer(busmod.Bus(), host="127.0.0.1", port=0, store_path=db) as server:
        for path in ("/sessions", "/sessions/anna-20250101T000000Z-abcdef/report/"):
            reply = await request(server.port, path)
            assert reply.status == 503, (path, reply.body)
            assert one_line(reply.body) and b"not a StrideGuard store" in reply.body


async def test_a_store_not_written_yet_lists_no_sessions(tmp_path: pathlib.Path) -> None:
    async with WebServer(busmod.Bus(), host="127.0.0.1", port=0, store_path=tmp_path / "later.db") as server:
        reply = await request(server.port, "/sessions")
        assert reply.status == 200 and b"No sessions yet" in reply.body and b"later.db" in reply.body
        assert (await request(server.port, "/sessions/anna-20250101T000000Z-abcdef/report/")).status == 404


async def test_beyond_loopback_the_past_sessions_need_the_key(club) -> None:
    if not lan_addresses():
        pytest.fail("this machine has no LAN address: the test needs one (any non-loopback IPv4 interface)")
    assert not any(p.startswith("/sessions") for p in OPEN_PATHS)
    report = urllib.parse.quote(club[1][1], safe="")
    paths = (
        "/sessions",
        f"/sessions/{report}/report",
        f"/sessions/{report}/report/",
        f"/sessions/{report}/report/metrics.png",
    )
    async with WebServer(busmod.Bus(), host="0.0.0.0", port=0, store_path=club[0]) as server:
        address = server.url.split("//")[1].split(":")[0]
        for path in paths:
            for query in ("", "?key=wrong"):
                reply = await request(server.port, path + query, address=address)
                assert reply.status == 403 and b"key" in reply.body and one_line(reply.body), (path, query)
        assert server.history is not None and server.history.cache_dir is None  # refused before any drawing
        reply = await request(server.port, f"/sessions?key={server.key}", address=address)
        assert reply.status == 200 and listed_ids(reply.body.decode()) == club[1]
        assert f"strideguard_key_{server.port}=" in reply.headers["set-cookie"]


@pytest.mark.slow
async def test_a_report_is_served_with_its_images_and_nothing_else(history_server: WebServer, club) -> None:
    """Drawn in a thread (the live pages answer meanwhile), once; only the files it wrote are served."""
    base = f"http://127.0.0.1:{history_server.port}"
    first, other = club[1][-1], club[1][-2]  # the world's two oldest sessions, both with data
    page = (await request(history_server.port, "/sessions")).body.decode()
    href = next(h for h in HREF.findall(page) if urllib.parse.unquote(h.split("/")[2]) == first)
    async with aiohttp.ClientSession() as http:
        history = history_server.history
        assert history is not None
        drawing = asyncio.ensure_future(http.get(base + href))
        healthy_while_drawing = 0
        while not drawing.done():  # the draw takes seconds: the event loop must keep serving the live pages
            if (await request(history_server.port, "/healthz")).status == 200 and history._draw_lock.locked():
                healthy_while_drawing += 1  # answered while the report was being drawn (in its thread)
        assert healthy_while_drawing > 0
        async with await drawing as resp:
            assert resp.status == 200
            report = await resp.text()
        assert "annabelle" in report
        images = re.findall(r"<img src='([^']+)'", report)
        assert len(images) == 5
        for name in images:
            async with http.get(base + href + name) as resp:
                assert resp.status == 200 and resp.content_type == "image/png"
                assert (await resp.read()).startswith(b"\x89PNG")
        async with http.get(base + href.rstrip("/"), allow_redirects=False) as resp:  # the link without "/"
            assert resp.status == 302 and resp.headers["Location"] == href
    assert history.cache_dir is not None
    drawn = sorted(p.name for p in history.cache_dir.iterdir())
    assert len(drawn) == 1  # the images did not draw the report again
    other_href = f"/sessions/{urllib.parse.quote(other, safe='')}/report/"
    assert (await request(history_server.port, other_href)).status == 200
    first_folder, other_folder = (history._reports[s][1].folder.name for s in (first, other))
    for attempt in (
        f"{href}..%2F{other_folder}%2Fmetrics.png",  # another session's file, by its folder
        f"{href}..%2F..%2F{first_folder}%2Findex.html",
        f"{href}%2E%2E%2Fclub.db",
        f"{href}..%5C{other_folder}%5Cindex.html",
        f"{href}club.db",
        f"{href}.",
        f"{href}%2Fetc%2Fpasswd",
    ):
        reply = await request(history_server.port, attempt)
        assert reply.status == 404 and one_line(reply.body), (attempt, reply.status, reply.body[:80])
    assert sorted(p.name for p in history.cache_dir.iterdir()) == sorted([*drawn, other_folder])
    cache = history.cache_dir
    await history_server.stop()
    assert not cache.exists()  # the server's own folder goes with it


async def test_the_embedded_pages_list_the_runners_past_sessions_from_the_runs_store(tmp_path: pathlib.Path) -> None:
    """`record --web` / `demo --web`: the runner's own store is the pages' history too (before: only the
    coach had a past-sessions page)."""
    from strideguard.stream.runtime.app import RunOptions, open_pipeline

    db = tmp_path / "s.db"
    store = SessionStore(db)
    store.open_session(SessionInfo(session_id="anna-1", runner="anna", team="t", source="x.sgcap", started_t_ns=T0_NS))
    store.close()
    opts = RunOptions(db_path=db, live_view=False, web=True, port=0)
    async with open_pipeline(opts, source="test") as parts:
        assert parts.web is not None
        page = await request(parts.web.port, "/sessions")
    assert page.status == 200 and b"anna-1" in page.body
