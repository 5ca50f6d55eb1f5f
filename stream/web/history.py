"""Past sessions in the built-in pages: the store's recent sessions, and each one's report.

The coach reviews yesterday's runs on the same pages (and behind the same key) as the live team page,
without a terminal: `GET /sessions` lists the newest sessions by day, each linking to its report.

Everything here is synchronous and may take seconds (a report draws five matplotlib figures; a store
read waits for another process's lock), so the server calls it in a thread, never on the event loop
that feeds the live pages. The store is opened read-only per call (a fresh connection per thread, and
a store that appears after the server started is found). Reports are drawn once per version of the
session's row (status, end, summary: an unfinished session that later completes is drawn again) into
a folder of the server's own, one at a time (matplotlib's pyplot is not thread-safe). Only the files
a report wrote are ever served: `Report.file` maps a name in that report's own list to its path.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import html
import json
import pathlib
import shutil
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

from strideguard.stream import names
from strideguard.stream.cli.commands.sessions import status as status_text
from strideguard.stream.sqlite.store import SessionRow, SessionStore
from strideguard.stream.terminal import format_clock

LIST_MAX_SESSIONS = 100  # newest sessions on the page: a club's week or two, a phone screen's worth of scrolling
INDEX = "index.html"


class UnknownSession(LookupError):
    """No session with exactly this id in the store (`str()` is one line)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PastSession:
    """One row of the list, in the units the page shows."""

    session_id: str
    runner: str
    team: str
    started_t_ns: int
    length_s: float | None  # None: not ended (unfinished)
    n_steps: int | None
    cadence_spm: float | None
    n_alerts: int  # WARNING and ALERT onsets (as `strideguard sessions` and the terminal count them)
    status: str  # as `strideguard sessions` shows it: completed, unfinished, incomplete (N steps lost)


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """A drawn report: its folder and the only files that may be served from it."""

    folder: pathlib.Path
    files: frozenset[str]

    def file(self, name: str) -> pathlib.Path | None:
        """The path of `name` if this report wrote it; None for anything else (`..`, another report's file)."""
        return self.folder / name if name in self.files else None


class SessionHistory:
    """Read-only access to one store for the pages. Reports are drawn into a temporary folder of its own,
    made at the first report and removed by `close()` (a report is quick to draw again; a stale copy of
    a runner's data left on disk is not wanted)."""

    def __init__(self, db_path: pathlib.Path) -> None:
        self.db_path = db_path
        self.cache_dir: pathlib.Path | None = None
        self._reports: dict[str, tuple[str, Report]] = {}  # session id -> (row version, report)
        self._drawn = 0  # reports drawn so far: a fresh folder name each time
        self._draw_lock = threading.Lock()  # one report drawn at a time (pyplot)
        self._cache_lock = threading.Lock()

    @contextlib.contextmanager
    def _store(self) -> Iterator[SessionStore]:
        store = SessionStore(self.db_path, readonly=True)
        try:
            yield store
        finally:
            store.close()

    def recent(self, limit: int = LIST_MAX_SESSIONS) -> list[PastSession]:
        """The newest `limit` sessions, newest first; [] while there is no store file yet. StoreError."""
        if not self.db_path.exists():
            return []
        with self._store() as store:
            rows = store.sessions()
            alerts = store.alert_counts()
        rows.sort(key=lambda r: r.started_t_ns, reverse=True)
        return [_past(r, alerts.get(r.session_id, 0)) for r in rows[:limit]]

    def report(self, session_id: str) -> Report:
        """The session's report, drawn now if this version of it has not been drawn yet.
        InvalidName (not a session id), UnknownSession, StoreError; anything the drawing raises."""
        session_id = names.check(session_id, "session")
        row = self._row(session_id)
        version = _version(row)
        cached = self._cached(session_id, version)
        if cached is not None:
            return cached
        with self._draw_lock:
            cached = self._cached(session_id, version)  # drawn meanwhile by another request
            if cached is not None:
                return cached
            report = self._draw(session_id)
            with self._cache_lock:
                old = self._reports.get(session_id)
                self._reports[session_id] = (version, report)
            if old is not None:
                shutil.rmtree(old[1].folder, ignore_errors=True)
            return report

    def _row(self, session_id: str) -> SessionRow:
        """The row with exactly this id (not a prefix: an address names one session)."""
        if self.db_path.exists():
            with self._store() as store:
                rows = store.sessions()
            for row in rows:
                if row.session_id == session_id:
                    return row
        raise UnknownSession(f"no session {names.printable(session_id)!r} in the store")

    def _cached(self, session_id: str, version: str) -> Report | None:
        with self._cache_lock:
            found = self._reports.get(session_id)
        return found[1] if found is not None and found[0] == version else None

    def _draw(self, session_id: str) -> Report:
        from strideguard.stream.report import write_report  # matplotlib loads only when a report is drawn

        self._drawn += 1
        digest = hashlib.sha256(session_id.encode()).hexdigest()[:16]  # ids may hold ':', '~' and spaces
        if self.cache_dir is None:
            self.cache_dir = pathlib.Path(tempfile.mkdtemp(prefix="strideguard-reports-"))
        folder = self.cache_dir / f"{digest}-{self._drawn}"
        with self._store() as store:
            result = write_report(store, session_id, folder)
        return Report(folder=folder, files=frozenset({result.index.name, *(p.name for p in result.images)}))

    def close(self) -> None:
        """Forget the drawn reports and remove their folder."""
        with self._draw_lock, self._cache_lock:
            self._reports.clear()
            if self.cache_dir is not None:
                shutil.rmtree(self.cache_dir, ignore_errors=True)
                self.cache_dir = None


def _version(row: SessionRow) -> str:
    return json.dumps([row.status, row.ended_t_ns, row.summary], sort_keys=True, default=str)


def _past(row: SessionRow, n_alerts: int) -> PastSession:
    summary = row.summary
    steps, cadence = summary.get("n_steps"), summary.get("cadence_spm")
    return PastSession(
        session_id=row.session_id,
        runner=row.runner,
        team=row.team,
        started_t_ns=row.started_t_ns,
        length_s=(row.ended_t_ns - row.started_t_ns) / 1e9 if row.ended_t_ns else None,
        n_steps=steps if isinstance(steps, int) and not isinstance(steps, bool) else None,
        cadence_spm=float(cadence) if isinstance(cadence, int | float) and not isinstance(cadence, bool) else None,
        n_alerts=n_alerts,
        status=status_text(row.status, summary),
    )


def report_href(session_id: str) -> str:
    """The report's address: a folder (trailing slash), so the page's relative image names resolve in it."""
    return f"/sessions/{urllib.parse.quote(session_id, safe='')}/report/"


# ---- the list page ---------------------------------------------------------------------------------


def _local(t_ns: int) -> dt.datetime:
    """This server's local time: the club machine's clock is the coach's clock."""
    return dt.datetime.fromtimestamp(t_ns / 1e9, tz=dt.UTC).astimezone()


def _day_heading(day: dt.date, today: dt.date) -> str:
    if day == today:
        return "Today"
    if day == today - dt.timedelta(days=1):
        return "Yesterday"
    return f"{day:%A} {day.day} {day:%B %Y}"


def _row_html(s: PastSession) -> str:
    e = html.escape
    length = format_clock(s.length_s) if s.length_s is not None else "–"
    steps = f"{s.n_steps:,}" if s.n_steps is not None else "–"
    cadence = f"{s.cadence_spm:.0f}" if s.cadence_spm is not None else "–"
    kind = s.status.split(" ")[0]
    # on a phone the status column is hidden: a status other than completed shows under the name instead
    under = "" if kind == "completed" else f'<span class="state">{e(s.status)}</span>'
    return (
        f'<tr data-status="{e(kind)}">'
        f'<td class="who"><a href="{e(report_href(s.session_id))}">{e(s.runner)}</a>{under}</td>'
        f"<td>{_local(s.started_t_ns):%H:%M}</td><td>{e(length)}</td>"
        f'<td class="wide">{e(steps)}</td><td>{e(cadence)}</td><td>{s.n_alerts}</td>'
        f'<td class="status wide">{e(s.status)}</td></tr>'
    )


def list_page(sessions: list[PastSession], *, note: str | None = None, now_t_ns: int | None = None) -> str:
    """The page: the sessions by day (newest first), a row per session linking to its report."""
    today = (_local(now_t_ns) if now_t_ns is not None else dt.datetime.now().astimezone()).date()
    days: dict[dt.date, list[PastSession]] = {}
    for s in sessions:
        days.setdefault(_local(s.started_t_ns).date(), []).append(s)
    head = (
        '<thead><tr><th>runner</th><th>start</th><th>length</th><th class="wide">steps</th>'
        '<th>cadence <small>spm</small></th><th>alerts</th><th class="wide">status</th></tr></thead>'
    )
    by_day = "".join(  # one table, a body per day: the columns line up from day to day
        f'<tbody><tr class="day"><th colspan="7" scope="rowgroup">{html.escape(_day_heading(day, today))}</th></tr>'
        f"{''.join(_row_html(s) for s in rows)}</tbody>"
        for day, rows in days.items()
    )
    body = f'<table class="sessions">{head}{by_day}</table>'
    if not sessions:
        body = f'<p class="empty">{html.escape(note or "No sessions stored yet.")}</p>'
    zone = dt.datetime.now().astimezone().tzname() or "local time"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>StrideGuard — past sessions</title>
<link rel="stylesheet" href="/static/style.css">
</head>
<body class="team history">
<header>
  <h1>Past sessions</h1>
  <a class="back" href="/">live team page</a>
</header>
{body}
<p class="hint">The newest {LIST_MAX_SESSIONS} sessions, newest first; times in {html.escape(zone)} (this \
server's clock). Tap a runner for the session's report (drawing it takes a few seconds the first time). \
Alerts: warnings and alerts raised (not notes, not clearances). Unfinished: still running, or cut off; \
incomplete: the store could not keep all of it.</p>
<footer>Heuristic: gait changes <em>associated with</em> low-back-pain risk, not a diagnosis.</footer>
</body>
</html>
"""
