"""Risk events, sessions and a real local HTTP receiver for the alert tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from strideguard.analytics.results import RiskEvent, RiskEventKind, Severity
from strideguard.stream.runtime.session import SessionInfo

NS = 1_000_000_000
T0_NS = 1_700_000_000 * NS
SESSION = SessionInfo(session_id="anna-1", runner="anna", team="club", source="test", started_t_ns=T0_NS)


def event(
    metric: str = "cadence",
    *,
    at_s: float = 600.0,
    kind: RiskEventKind = RiskEventKind.ONSET,
    severity: Severity = Severity.WARNING,
    onset_s: float | None = None,
    runner: str = "anna",
) -> RiskEvent:
    onset = at_s - 60.0 if onset_s is None else onset_s
    return RiskEvent(
        runner=runner,
        t_ns=T0_NS + int(at_s * NS),
        kind=kind,
        metric=metric,
        severity=severity,
        value=160.0,
        baseline=171.0,
        deviation=-6.4,
        deviation_unit="%",
        duration_s=at_s - onset,
        message=f"{metric.capitalize()} 6 % below your baseline for 1 min",
        cue="shorter, quicker steps",
        onset_t_ns=T0_NS + int(onset * NS),
    )


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records POSTs; `fail_first` answers 503 that many times,
    `hang` never answers."""

    url: str = ""
    posts: list[dict[str, Any]] = field(default_factory=list)
    fail_first: int = 0
    hang: bool = False
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.hang:
            await asyncio.sleep(3600)
        if self.fail_first > 0:
            self.fail_first -= 1
            self.posts.append({"status": 503, "headers": dict(request.headers), "body": body})
            return web.Response(status=503)
        self.posts.append({"status": 200, "headers": dict(request.headers), "body": body})
        self.arrived.set()
        return web.Response(status=200, text="ok")

    def delivered(self) -> list[dict[str, Any]]:
        return [p for p in self.posts if p["status"] == 200]

    def json(self, i: int = 0) -> dict[str, Any]:
        return json.loads(self.delivered()[i]["body"])


@contextlib.asynccontextmanager
async def receiver(**kwargs: Any) -> AsyncIterator[Receiver]:
    rec = Receiver(**kwargs)
    app = web.Application()
    app.router.add_post("/{tail:.*}", rec.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    rec.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield rec
    finally:
        await runner.cleanup()
