"""The live pages: a runner page for the phone and a team page, fed from the in-process bus by SSE.

Server-Sent Events rather than WebSockets: one-way is all the pages need, the browser's EventSource
reconnects by itself (the page adds its own backoff when the browser gives up), and it passes proxies.
A page subscribes to the bus with bounded mailboxes, one per kind it shows, so a phone on a bad link can
never hold back the analytics (the bus drops that page's oldest messages instead) and a flood of metrics
(or of steps, which a page never subscribes to) can never push an alert out of its mailbox. Late joiners
first get the last message of every topic they match, so a freshly opened page shows numbers at once.

The runner page can snooze alerts: `POST /api/runner/<name>/snooze` with JSON `{"metric": name | null,
"minutes": m}` publishes a control message on the bus for every team where that runner has a live
session; the pipeline applies it on data time and answers on the same `control` topic, which the
page's feed carries (so the page shows what was snoozed and for how long). JSON only: a plain
cross-site form cannot send it.

The runner page can also share the phone's GPS speed (after the runner taps "share speed" and the
browser asks for permission): `POST /api/runner/<name>/speed` with JSON `{"speed_mps": v, "accuracy_m":
a}`, behind the same key, Host and Origin checks. The body is at most `SPEED_MAX_BODY_BYTES`, a runner
at most one speed per `SPEED_MIN_INTERVAL_S`; the speed must be a finite number of 0-12 m/s measured
with an accuracy of at most `SPEED_MAX_ACCURACY_M` (a rougher fix says nothing about speed). The server
stamps it with its own wall clock (the phone's clock is not trusted) and publishes it on the runner's
`control` topic; the pipeline pushes it into the live session through the engine's edge, which refuses
it when the session's data time is not the wall clock (a replay). Every refusal is one line of JSON
(`error`) and counted by reason in `speed_refused` (see /healthz).

Bound to 127.0.0.1 by default, where no key is needed (but the Host header must be this machine, so a
DNS-rebinding page cannot read or snooze). `host="0.0.0.0"` (or a LAN address) lets a phone on the same
network in with a key printed in the address and its QR code: see `access` for the model, `guard` for
the connection bounds, `reach` for the printed addresses. A runner page opened for a name with no
session says so at once (an `unknown` event listing who is running), instead of waiting with dashes.

Given a session store (`store_path`, read-only), the pages also show past sessions: `GET /sessions`
lists the newest by day and `GET /sessions/<id>/report/` serves each one's report, drawn in a thread so
the live feeds never wait for it (see `history`); the team page then links to the list. Same key, Host
and Origin checks as every other page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import pathlib
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeGuard

from aiohttp import web

from strideguard.analytics.risk import FATIGUE, METRIC_FIELDS
from strideguard.stream import names
from strideguard.stream.errors import UsageError
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.runtime.engine import PHONE_SPEED_MPS, SNOOZE_MAX_MIN
from strideguard.stream.sqlite.store import StoreError
from strideguard.stream.web import reach
from strideguard.stream.web.access import OPEN_PATHS, AccessPolicy, refuse
from strideguard.stream.web.guard import ConnectionGuard, Limits, listen
from strideguard.stream.web.history import SessionHistory, UnknownSession, list_page, report_href

log = logging.getLogger(__name__)

STATIC_DIR = pathlib.Path(__file__).resolve().parent
HEARTBEAT_S = 10.0  # an SSE comment this often so dead connections are noticed
RETRY_MS = 1000  # EventSource reconnect delay the server asks for
FEED_KINDS = ("alerts", "control", "status", "metrics")  # steps are too chatty for a phone
SNOOZE_METRICS = (*METRIC_FIELDS, FATIGUE)  # what a snooze may name (null: every metric)
NAME_RE = re.compile(r"^[^/+#]{1,100}$")
NEEDS_KEY = "403: these pages need their key: open the whole address strideguard printed, or scan its QR code"
SPEED_MAX_BODY_BYTES = 256  # a speed is ~40 bytes of JSON
SPEED_MIN_INTERVAL_S = 0.5  # s: a runner's phone may send at most one speed this often (GPS gives ~1 Hz)
SPEED_MAX_ACCURACY_M = 50.0  # m: a position fix rougher than this says nothing about speed
PAGE_FILES = {"runner.html", "team.html", "live.js", "style.css"}
PAST_LINK_HIDDEN = '<a id="past-sessions" class="past-link" href="/sessions" hidden>'  # team and runner pages
NO_STORE = "404: no session store: start the coach with --db PATH (or $STRIDEGUARD_DB) to review past sessions"


def sse_event(kind: str, data: dict[str, Any], event_id: int | None = None) -> bytes:
    """One Server-Sent Event; `data` as one line of JSON."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, separators=(',', ':'), allow_nan=False)}\n\n".encode()


def _kind_of(topic_name: str) -> str:
    return topic_name.rsplit("/", 1)[-1]


class _Feed:
    """One page's mailboxes, one per feed kind; `get` returns what arrived, alerts first."""

    def __init__(self, bus: busmod.Bus, prefix: str, maxsize: int) -> None:
        self.subs = [bus.subscribe(f"{prefix}/{kind}", maxsize=maxsize) for kind in FEED_KINDS]
        self._waits: dict[busmod.Subscription, asyncio.Future[tuple[str, dict[str, Any]]]] = {}

    @property
    def closed(self) -> bool:
        return any(sub.closed for sub in self.subs)

    async def get(self, timeout_s: float) -> list[tuple[str, dict[str, Any]]]:
        """Messages that are waiting (at least one, or none after `timeout_s`); StopAsyncIteration once closed."""
        for sub in self.subs:
            if sub not in self._waits:
                self._waits[sub] = asyncio.ensure_future(sub.get())
        await asyncio.wait(self._waits.values(), timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        out = []
        for sub in self.subs:  # FEED_KINDS order: alerts before metrics
            wait = self._waits.get(sub)
            if wait is not None and wait.done():
                del self._waits[sub]
                if wait.cancelled():
                    raise StopAsyncIteration
                out.append(wait.result())  # StopAsyncIteration when the bus or the server closed it
        return out

    def close(self) -> None:
        for wait in self._waits.values():
            if wait.done() and not wait.cancelled():
                wait.exception()  # retrieved: a closed mailbox ends with StopAsyncIteration, nothing to log
            wait.cancel()
        for sub in self.subs:
            sub.close()


class WebServer:
    """`await start()` serves the pages at `url`; `await stop()` closes every feed and the socket.

    `limits`: the resource bounds (`guard.Limits`); `extra_hosts`: Host names to accept besides this
    machine's own (a reverse proxy's name). `key` is None on loopback, else the key the pages need.
    `store_path`: a session store to list and report past sessions from (read only), or None."""

    def __init__(
        self,
        bus: busmod.Bus,
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        limits: Limits | None = None,
        extra_hosts: Iterable[str] = (),
        store_path: pathlib.Path | None = None,
    ) -> None:
        self.bus = bus
        self.history = SessionHistory(store_path) if store_path is not None else None
        self.host = host
        self.port = port
        self.limits = limits or Limits()
        self.loopback = reach.is_loopback_host(host)
        self.key = None if self.loopback else secrets.token_urlsafe(16)
        self.access = AccessPolicy(key=self.key, extra_hosts=extra_hosts)
        self.links = reach.PageLinks(bases=(self._base(host),), key=self.key)
        self.guard: ConnectionGuard | None = None
        self._runner: web.AppRunner | None = None
        self._feeds: set[_Feed] = set()
        self.feeds_refused = 0  # over max_feeds
        self.feeds_stalled = 0  # a write did not get through within write_timeout_s
        self._event_id = 0
        self._request_id = 0
        self.speeds_accepted = 0
        self.speed_refused: dict[str, int] = {}  # reason -> count
        self._last_speed_s: dict[str, float] = {}  # runner -> monotonic time of its last accepted speed
        self.app = self._make_app()

    def _base(self, address: str) -> str:
        if reach.is_wildcard_host(address):
            address = "127.0.0.1"
        if ":" in address:  # IPv6 literal
            address = f"[{address}]"
        return f"http://{address}:{self.port}/"

    @property
    def url(self) -> str:
        """The first address to open the pages at (a LAN address when bound to every interface), no key."""
        return self.links.bases[0]

    @property
    def team_url(self) -> str:
        return self.links.team()

    def runner_url(self, name: str) -> str:
        return self.links.runner(name)

    def announcement(self, runners: Iterable[str] = ()) -> str:
        """What to print before a run: the addresses (with the key and the runners' names) and a QR code."""
        return reach.announcement(self.links, reachable=not self.loopback, runners=runners)

    async def start(self) -> None:
        # aiohttp's own idle timer is only the backstop: the guard closes idle connections first and counts them.
        # handler_cancellation: a page that goes away ends its feed at once, freeing its place under max_feeds
        # (otherwise only the next heartbeat write would notice, up to HEARTBEAT_S later).
        self._runner = web.AppRunner(
            self.app,
            access_log=None,
            shutdown_timeout=1.0,
            keepalive_timeout=2 * self.limits.idle_timeout_s,
            handler_cancellation=True,
        )
        await self._runner.setup()
        protocols = self._runner.server  # aiohttp's protocol factory, put behind the connection bounds
        assert protocols is not None  # set up just above
        self.guard = ConnectionGuard(
            protocols,
            max_connections=self.limits.max_connections,
            idle_timeout_s=self.limits.idle_timeout_s,
        )
        try:
            listening = listen(self.host, self.port)
        except OSError as exc:
            await self._runner.cleanup()
            raise UsageError(
                f"cannot serve the live pages on {self.host}:{self.port}: {exc.strerror or exc}; choose another --port"
            ) from exc
        self.guard.start(listening)
        if self.port == 0:  # the bound port when 0 asked the OS for a free one
            self.port = listening[0].getsockname()[1]
        self.access.port = self.port
        if reach.is_wildcard_host(self.host):
            found = reach.lan_addresses()
            bases = tuple(self._base(a) for a in found) or (self._base("127.0.0.1"),)
        else:
            bases = (self._base(self.host),)
        self.links = reach.PageLinks(bases=bases, key=self.key)

    async def stop(self) -> None:
        for feed in list(self._feeds):
            feed.close()
        if self.guard is not None:
            await self.guard.stop()  # no new connections
        if self._runner is not None:
            await self._runner.cleanup()  # closes the open connections
            self._runner = None
        if self.history is not None:
            await asyncio.to_thread(self.history.close)  # waits for a report being drawn, then removes them

    async def __aenter__(self) -> WebServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- routes ---------------------------------------------------------------------------------
    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=self.limits.max_body_bytes, middlewares=[self._gate])
        app.router.add_get("/", self._team_page)
        app.router.add_get("/runner/{name}", self._runner_page)
        app.router.add_get("/events", self._events)
        app.router.add_get("/api/latest", self._latest)
        app.router.add_post("/api/runner/{name}/snooze", self._snooze)
        app.router.add_post("/api/runner/{name}/speed", self._speed)
        app.router.add_get("/static/{file}", self._static)
        app.router.add_get("/qr.svg", self._qr)
        app.router.add_get("/healthz", self._health)
        app.router.add_get("/sessions", self._sessions_page)
        app.router.add_get("/sessions/{session_id}/report", self._report_folder)
        app.router.add_get("/sessions/{session_id}/report/", self._report_file)
        app.router.add_get("/sessions/{session_id}/report/{file}", self._report_file)
        return app

    @web.middleware
    async def _gate(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """The access checks (`access`), and the guard told that this connection is busy, not idle."""
        transport = request.transport
        if self.guard is not None:
            self.guard.begin(transport)
        try:
            access = self.access
            if not access.host_ok(request.headers.get("Host")):
                access.rejected["host"] += 1
                return refuse(421, "421: this server does not answer to that host name; open the address it printed")
            if request.path in OPEN_PATHS:
                return await handler(request)
            via = None
            if access.key is not None:
                via = access.key_in(request)
                if via is None:
                    access.rejected["key"] += 1
                    return refuse(403, NEEDS_KEY)
            if request.method not in ("GET", "HEAD") and not access.origin_ok(request):
                access.rejected["origin"] += 1
                return refuse(403, "403: refused a request sent from another site's page")
            response = await handler(request)
            if via == "query" and not response.prepared:
                access.remember(response)  # the page's feed, snoozes and files then carry it
            return response
        finally:
            if self.guard is not None:
                self.guard.end(transport)

    async def _team_page(self, request: web.Request) -> web.StreamResponse:
        return self._page("team.html")

    def _page(self, name: str) -> web.StreamResponse:
        """A page of STATIC_DIR, its link to past sessions shown when there is a store to list."""
        if self.history is None:
            return web.FileResponse(STATIC_DIR / name, headers={"Cache-Control": "no-cache"})
        text = (STATIC_DIR / name).read_text(encoding="utf-8")  # a few kB
        shown = text.replace(PAST_LINK_HIDDEN, PAST_LINK_HIDDEN.replace(" hidden>", ">"))
        return web.Response(text=shown, content_type="text/html", headers={"Cache-Control": "no-cache"})

    async def _sessions_page(self, request: web.Request) -> web.StreamResponse:
        """The newest sessions by day (see `history`); the store read runs in a thread."""
        if self.history is None:
            return refuse(404, NO_STORE)
        try:
            sessions = await asyncio.to_thread(self.history.recent)
        except StoreError as exc:
            return refuse(503, f"503: the session store cannot be read: {exc}")
        note = None if self.history.db_path.exists() else f"No sessions yet: {self.history.db_path} does not exist."
        return web.Response(
            text=list_page(sessions, note=note), content_type="text/html", headers={"Cache-Control": "no-cache"}
        )

    async def _report_folder(self, request: web.Request) -> web.StreamResponse:
        """`.../report` -> `.../report/`: the report's images are named relative to its folder."""
        if self.history is None:
            return refuse(404, NO_STORE)
        session_id = request.match_info["session_id"]
        if not names.is_valid(session_id, "session"):
            return refuse(404, "404: no such session")
        location = report_href(session_id) + (f"?{request.query_string}" if request.query_string else "")
        return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})

    async def _report_file(self, request: web.Request) -> web.StreamResponse:
        """A past session's report page or one of its images: drawn (once per version) in a thread; only
        the files that report wrote are served."""
        if self.history is None:
            return refuse(404, NO_STORE)
        session_id, name = request.match_info["session_id"], request.match_info.get("file", "index.html")
        if not names.is_valid(session_id, "session"):
            return refuse(404, "404: no such session")
        try:
            report = await asyncio.to_thread(self.history.report, session_id)
        except (UnknownSession, names.InvalidName) as exc:
            return refuse(404, f"404: {exc}")
        except StoreError as exc:
            return refuse(503, f"503: the session store cannot be read: {exc}")
        except Exception as exc:  # a report that cannot be drawn: one line here, the traceback in the log
            log.exception("report of %s failed", names.printable(session_id))
            return refuse(500, f"500: the report could not be drawn: {' '.join(str(exc).split())[:200]}")
        path = report.file(name)
        if path is None:
            return refuse(404, "404: this report has no such file")
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})

    async def _runner_page(self, request: web.Request) -> web.StreamResponse:
        if not NAME_RE.match(request.match_info["name"]):
            raise web.HTTPBadRequest(text="runner names contain no '/', '+' or '#'")
        return self._page("runner.html")

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["file"]
        if name not in PAGE_FILES:
            raise web.HTTPNotFound()
        return web.FileResponse(STATIC_DIR / name, headers={"Cache-Control": "no-cache"})

    async def _health(self, request: web.Request) -> web.Response:
        """Counts only (no runner names): open to monitors without the key."""
        return web.json_response(
            {
                "ok": True,
                "feeds": len(self._feeds),
                "max_feeds": self.limits.max_feeds,
                "feeds_refused": self.feeds_refused,
                "feeds_stalled": self.feeds_stalled,
                "connections": self.guard.counts() if self.guard is not None else {},
                "rejected": dict(self.access.rejected),
                "speeds_accepted": self.speeds_accepted,
                "speed_refused": dict(self.speed_refused),
            }
        )

    async def _qr(self, request: web.Request) -> web.Response:
        """A QR code of the team page's address, or of one runner's (`?runner=`), with the key."""
        if self.loopback:
            return refuse(404, "404: no QR code: these pages serve this computer only (start with --host 0.0.0.0)")
        runner = request.query.get("runner")
        if runner is not None and not NAME_RE.match(runner):
            return refuse(400, "400: runner names contain no '/', '+' or '#'")
        url = self.links.runner(runner) if runner else self.links.team()
        return web.Response(body=reach.qr_svg(url), content_type="image/svg+xml", headers={"Cache-Control": "no-store"})

    def _prefix(self, request: web.Request) -> str:
        """`strideguard/v1/<team or +>/<runner or +>`: the topics a page asks for, without the kind."""
        runner = request.query.get("runner")
        team = request.query.get("team", "+")
        for value, what in ((runner, "runner"), (team, "team")):
            if value is not None and value != "+" and not NAME_RE.match(value):
                raise web.HTTPBadRequest(text=f"bad {what} name")
        return f"{busmod.TOPIC_ROOT}/{team}/{runner or '+'}"

    async def _latest(self, request: web.Request) -> web.Response:
        pattern = self._prefix(request) + "/#"
        items = [
            {"topic": t, "kind": _kind_of(t), "message": m}
            for t, m in list(self.bus.last.items())
            if busmod.matches(pattern, t) and _kind_of(t) in FEED_KINDS
        ]
        return web.json_response(items)

    async def _snooze(self, request: web.Request) -> web.Response:
        """Ask the pipeline to snooze one metric (or all) of a runner for some minutes of data time."""
        name = request.match_info["name"]
        if not NAME_RE.match(name):
            return _error(400, "runner names contain no '/', '+' or '#'")
        if request.content_type != "application/json":
            return _error(415, 'send JSON: {"metric": name or null, "minutes": number}')
        try:
            async with asyncio.timeout(self.limits.body_timeout_s):
                body = await request.json()
        except ValueError:
            return _error(400, "the body is not valid JSON")
        except TimeoutError:
            return _error(408, f"the body did not arrive within {self.limits.body_timeout_s:g} s")
        if not isinstance(body, dict):
            return _error(400, 'send a JSON object: {"metric": name or null, "minutes": number}')
        metric, minutes = body.get("metric"), body.get("minutes")
        if metric is not None and metric not in SNOOZE_METRICS:
            return _error(400, f"metric must be null or one of {', '.join(SNOOZE_METRICS)}")
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not (0 < minutes <= SNOOZE_MAX_MIN):
            return _error(400, f"minutes must be a number above 0 and at most {SNOOZE_MAX_MIN:g}")
        teams = self._live_teams(name)
        if not teams:
            return _error(404, f"no live session for runner {name!r}")
        self._request_id += 1
        message = {
            "action": "snooze",
            "runner": name,
            "metric": metric,
            "minutes": float(minutes),
            "request_id": self._request_id,
        }
        for team in teams:
            self.bus.publish(busmod.topic(team, name, "control"), message)
        return web.json_response({**message, "teams": teams}, status=202)

    async def _speed(self, request: web.Request) -> web.Response:
        """A speed from the runner's phone, for the runner's live session (see the module doc)."""
        name = request.match_info["name"]

        def refused(status: int, reason: str, message: str) -> web.Response:
            self.speed_refused[reason] = self.speed_refused.get(reason, 0) + 1
            return _error(status, message)

        if not NAME_RE.match(name):
            return refused(400, "name", "runner names contain no '/', '+' or '#'")
        if request.content_type != "application/json":
            return refused(415, "type", 'send JSON: {"speed_mps": number, "accuracy_m": number}')
        if request.content_length is None or request.content_length > SPEED_MAX_BODY_BYTES:
            return refused(413, "size", f"a speed is a JSON body of at most {SPEED_MAX_BODY_BYTES} bytes")
        try:
            async with asyncio.timeout(self.limits.body_timeout_s):
                body = await request.json()
        except ValueError:
            return refused(400, "json", "the body is not valid JSON")
        except TimeoutError:
            return refused(408, "slow", f"the body did not arrive within {self.limits.body_timeout_s:g} s")
        if not isinstance(body, dict):
            return refused(400, "json", 'send a JSON object: {"speed_mps": number, "accuracy_m": number}')
        speed, accuracy = body.get("speed_mps"), body.get("accuracy_m")
        lo, hi = PHONE_SPEED_MPS
        if not _finite_number(speed) or not (lo <= speed <= hi):
            return refused(400, "speed", f"speed_mps must be a finite number of {lo:g} to {hi:g} m/s")
        if not _finite_number(accuracy) or accuracy < 0:
            return refused(400, "accuracy", "accuracy_m must be a finite number of metres, 0 or more")
        if accuracy > SPEED_MAX_ACCURACY_M:
            return refused(
                422,
                "rough",
                f"the position is only good to {accuracy:.0f} m (at most {SPEED_MAX_ACCURACY_M:g}): not used",
            )
        if "runner" in body and body["runner"] != name:
            return refused(400, "runner", "the body names another runner than the address")
        teams = self._live_teams(name)
        if not teams:
            return refused(404, "no session", f"no live session for runner {name!r}")
        now_s = time.monotonic()
        last_s = self._last_speed_s.get(name)
        if last_s is not None and now_s - last_s < SPEED_MIN_INTERVAL_S:
            return refused(429, "rate", f"at most one speed every {SPEED_MIN_INTERVAL_S:g} s")
        self._last_speed_s[name] = now_s
        self.speeds_accepted += 1
        message = {
            "action": "speed",
            "runner": name,
            "speed_mps": float(speed),
            "accuracy_m": float(accuracy),
            "t_ns": time.time_ns(),
        }
        for team in teams:
            self.bus.publish(busmod.topic(team, name, "control"), message)
        return web.json_response({**message, "teams": teams}, status=202)

    def _live_teams(self, runner: str) -> list[str]:
        """Teams where the runner's latest status is a running session."""
        teams = set()
        for topic_name, message in list(self.bus.last.items()):
            parts = topic_name.split("/")
            if len(parts) == 5 and parts[3] == runner and parts[4] == "status" and message.get("state") == "running":
                teams.add(parts[2])
        return sorted(teams)

    def _runners(self) -> tuple[set[str], list[str]]:
        """The runners with anything on the bus (any team), and those whose session is running now."""
        known, running = set(), set()
        for topic_name, message in list(self.bus.last.items()):
            parts = topic_name.split("/")
            if len(parts) == 5:
                known.add(parts[3])
                if parts[4] == "status" and message.get("state") == "running":
                    running.add(parts[3])
        return known, sorted(running)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        prefix = self._prefix(request)
        if len(self._feeds) >= self.limits.max_feeds:
            self.feeds_refused += 1
            response = refuse(503, f"503: {self.limits.max_feeds} pages are open already; try again later")
            response.headers["Retry-After"] = "10"
            return response
        runner = request.query.get("runner")
        pattern = prefix + "/#"
        feed = _Feed(self.bus, prefix, maxsize=500)
        self._feeds.add(feed)
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

        async def send(data: bytes) -> None:
            async with asyncio.timeout(self.limits.write_timeout_s):
                await resp.write(data)

        try:
            await resp.prepare(request)
            await send(f"retry: {RETRY_MS}\n\n".encode())
            for topic_name, message in list(self.bus.last.items()):
                if busmod.matches(pattern, topic_name) and _kind_of(topic_name) in FEED_KINDS:
                    await send(self._encode(topic_name, message, replay=True))
            known, running = self._runners()
            if runner is not None and runner not in known:  # a typo, or a run not started yet: say so now
                await send(self._event("unknown", {"runner": runner, "running": running}))
            while not feed.closed:
                try:
                    items = await feed.get(HEARTBEAT_S)
                except StopAsyncIteration:
                    break
                if not items:
                    await send(b": keep-alive\n\n")
                for topic_name, message in items:
                    await send(self._encode(topic_name, message))
        except TimeoutError:
            self.feeds_stalled += 1  # the page reads nothing: drop it rather than hold its buffers
            if request.transport is not None:
                request.transport.abort()
        except (ConnectionResetError, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError) and not feed.closed:
                raise
        finally:
            feed.close()
            self._feeds.discard(feed)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await resp.write_eof()
        return resp

    def _event(self, kind: str, message: dict[str, Any]) -> bytes:
        self._event_id += 1
        return sse_event(kind, {"topic": None, "message": message, "replay": False}, self._event_id)

    def _encode(self, topic_name: str, message: dict[str, Any], *, replay: bool = False) -> bytes:
        self._event_id += 1
        data = {"topic": topic_name, "message": json_safe(message), "replay": replay}
        return sse_event(_kind_of(topic_name), data, self._event_id)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _finite_number(value: Any) -> TypeGuard[float]:
    """A JSON number that is finite (Python's json reads NaN and Infinity; a bool is no number)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def json_safe(value: Any) -> Any:
    """NaN and infinities become null (JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
