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

Bound to 127.0.0.1 by default; `host="0.0.0.0"` lets a phone on the same network open the pages (there
is no authentication: do that only on a network you trust).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import pathlib
import re
from typing import Any

from aiohttp import web

from strideguard.analytics.risk import FATIGUE, METRIC_FIELDS
from strideguard.stream.errors import UsageError
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.runtime.engine import SNOOZE_MAX_MIN

log = logging.getLogger(__name__)

STATIC_DIR = pathlib.Path(__file__).resolve().parent
HEARTBEAT_S = 10.0  # an SSE comment this often so dead connections are noticed
RETRY_MS = 1000  # EventSource reconnect delay the server asks for
FEED_KINDS = ("alerts", "control", "status", "metrics")  # steps are too chatty for a phone
SNOOZE_METRICS = (*METRIC_FIELDS, FATIGUE)  # what a snooze may name (null: every metric)
NAME_RE = re.compile(r"^[^/+#]{1,100}$")
PAGE_FILES = {"runner.html", "team.html", "live.js", "style.css"}


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
    """`await start()` serves the pages at `url`; `await stop()` closes every feed and the socket."""

    def __init__(self, bus: busmod.Bus, *, host: str = "127.0.0.1", port: int = 8765) -> None:
        self.bus = bus
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._feeds: set[_Feed] = set()
        self._event_id = 0
        self._request_id = 0
        self.app = self._make_app()

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}/"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        try:
            await self._site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise UsageError(
                f"cannot serve the live pages on {self.host}:{self.port}: {exc.strerror or exc}; choose another --port"
            ) from exc
        if self.port == 0:  # the bound port when 0 asked the OS for a free one
            self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        for feed in list(self._feeds):
            feed.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> WebServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- routes ---------------------------------------------------------------------------------
    def _make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self._team_page)
        app.router.add_get("/runner/{name}", self._runner_page)
        app.router.add_get("/events", self._events)
        app.router.add_get("/api/latest", self._latest)
        app.router.add_post("/api/runner/{name}/snooze", self._snooze)
        app.router.add_get("/static/{file}", self._static)
        app.router.add_get("/healthz", self._health)
        return app

    async def _team_page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "team.html", headers={"Cache-Control": "no-cache"})

    async def _runner_page(self, request: web.Request) -> web.StreamResponse:
        if not NAME_RE.match(request.match_info["name"]):
            raise web.HTTPBadRequest(text="runner names contain no '/', '+' or '#'")
        return web.FileResponse(STATIC_DIR / "runner.html", headers={"Cache-Control": "no-cache"})

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["file"]
        if name not in PAGE_FILES:
            raise web.HTTPNotFound()
        return web.FileResponse(STATIC_DIR / name, headers={"Cache-Control": "no-cache"})

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "feeds": len(self._feeds)})

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
            body = await request.json()
        except ValueError:
            return _error(400, "the body is not valid JSON")
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

    def _live_teams(self, runner: str) -> list[str]:
        """Teams where the runner's latest status is a running session."""
        teams = set()
        for topic_name, message in list(self.bus.last.items()):
            parts = topic_name.split("/")
            if len(parts) == 5 and parts[3] == runner and parts[4] == "status" and message.get("state") == "running":
                teams.add(parts[2])
        return sorted(teams)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        prefix = self._prefix(request)
        pattern = prefix + "/#"
        feed = _Feed(self.bus, prefix, maxsize=500)
        self._feeds.add(feed)
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        try:
            await resp.prepare(request)
            await resp.write(f"retry: {RETRY_MS}\n\n".encode())
            for topic_name, message in list(self.bus.last.items()):
                if busmod.matches(pattern, topic_name) and _kind_of(topic_name) in FEED_KINDS:
                    await resp.write(self._encode(topic_name, message, replay=True))
            while not feed.closed:
                try:
                    items = await feed.get(HEARTBEAT_S)
                except StopAsyncIteration:
                    break
                if not items:
                    await resp.write(b": keep-alive\n\n")
                for topic_name, message in items:
                    await resp.write(self._encode(topic_name, message))
        except (ConnectionResetError, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError) and not feed.closed:
                raise
        finally:
            feed.close()
            self._feeds.discard(feed)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await resp.write_eof()
        return resp

    def _encode(self, topic_name: str, message: dict[str, Any], *, replay: bool = False) -> bytes:
        self._event_id += 1
        data = {"topic": topic_name, "message": _json_safe(message), "replay": replay}
        return sse_event(_kind_of(topic_name), data, self._event_id)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _json_safe(value: Any) -> Any:
    """NaN and infinities become null (JSON has no such numbers)."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value
