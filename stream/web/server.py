"""The live pages: a runner page for the phone and a team page, fed from the in-process bus by SSE.

Server-Sent Events rather than WebSockets: one-way is all the pages need, the browser's EventSource
reconnects by itself (the page adds its own backoff when the browser gives up), and it passes proxies.
A page subscribes to the bus with a bounded mailbox, so a phone on a bad link can never hold back the
analytics (the bus drops that page's oldest messages instead). Late joiners first get the last message
of every topic they match, so a freshly opened page shows numbers at once.

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

from stream import bus as busmod
from stream.errors import UsageError

log = logging.getLogger(__name__)

STATIC_DIR = pathlib.Path(__file__).resolve().parent
HEARTBEAT_S = 10.0  # an SSE comment this often so dead connections are noticed
RETRY_MS = 1000  # EventSource reconnect delay the server asks for
FEED_KINDS = ("metrics", "alerts", "status")  # steps are too chatty for a phone
NAME_RE = re.compile(r"^[^/+#]{1,100}$")
PAGE_FILES = {"runner.html", "team.html", "live.js", "style.css"}


def sse_event(kind: str, data: dict[str, Any], event_id: int | None = None) -> bytes:
    """One Server-Sent Event; `data` as one line of JSON."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, separators=(',', ':'), allow_nan=False)}\n\n".encode()


def _kind_of(topic_name: str) -> str:
    return topic_name.rsplit("/", 1)[-1]


class WebServer:
    """`await start()` serves the pages at `url`; `await stop()` closes every feed and the socket."""

    def __init__(self, bus: busmod.Bus, *, host: str = "127.0.0.1", port: int = 8765) -> None:
        self.bus = bus
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._feeds: set[busmod.Subscription] = set()
        self._event_id = 0
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
            raise UsageError(f"cannot serve the live pages on {self.host}:{self.port}: {exc.strerror or exc}; "
                             "choose another --port") from exc
        if self.port == 0:
            server = self._site._server  # the bound port when 0 asked the OS for a free one
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for sub in list(self._feeds):
            sub.close()
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

    def _pattern(self, request: web.Request) -> str:
        runner = request.query.get("runner")
        team = request.query.get("team", "+")
        for value, what in ((runner, "runner"), (team, "team")):
            if value is not None and value != "+" and not NAME_RE.match(value):
                raise web.HTTPBadRequest(text=f"bad {what} name")
        return f"{busmod.TOPIC_ROOT}/{team}/{runner or '+'}/#"

    async def _latest(self, request: web.Request) -> web.Response:
        pattern = self._pattern(request)
        items = [{"topic": t, "kind": _kind_of(t), "message": m} for t, m in list(self.bus.last.items())
                 if busmod.matches(pattern, t) and _kind_of(t) in FEED_KINDS]
        return web.json_response(items)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        pattern = self._pattern(request)
        sub = self.bus.subscribe(pattern, maxsize=500)
        self._feeds.add(sub)
        resp = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        try:
            await resp.prepare(request)
            await resp.write(f"retry: {RETRY_MS}\n\n".encode())
            for topic_name, message in list(self.bus.last.items()):
                if busmod.matches(pattern, topic_name) and _kind_of(topic_name) in FEED_KINDS:
                    await resp.write(self._encode(topic_name, message, replay=True))
            while not sub.closed:
                try:
                    topic_name, message = await asyncio.wait_for(sub.get(), HEARTBEAT_S)
                except TimeoutError:
                    await resp.write(b": keep-alive\n\n")
                    continue
                except StopAsyncIteration:
                    break
                if _kind_of(topic_name) in FEED_KINDS:
                    await resp.write(self._encode(topic_name, message))
        except (ConnectionResetError, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError) and not sub.closed:
                raise
        finally:
            sub.close()
            self._feeds.discard(sub)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await resp.write_eof()
        return resp

    def _encode(self, topic_name: str, message: dict[str, Any], *, replay: bool = False) -> bytes:
        self._event_id += 1
        data = {"topic": topic_name, "message": _json_safe(message), "replay": replay}
        return sse_event(_kind_of(topic_name), data, self._event_id)


def _json_safe(value: Any) -> Any:
    """NaN and infinities become null (JSON has no such numbers)."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value
