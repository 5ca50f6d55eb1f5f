"""The retraining page (issue 20): `/runner/<name>/retrain`, its SSE feed and the runner's start/stop taps.

`add_retrain_routes(app, bus, ...)` plugs into the live pages' aiohttp app (call it before the app
starts). Per runner who opened the page, one consumer task reads that runner's steps, windows, alerts and
status from the bus (bounded mailboxes, one per kind, as the live pages do: a flood of steps can never
push a fatigue alert out) and drives one `analytics.retraining.RetrainingSession` per session on data
time. Every page of that runner gets the state after each change as an SSE `state` event (with the step
that caused it), so two phones or a reconnecting page see the same numbers and nothing is counted twice
(steps are deduplicated by time in the session).

The mode never starts by itself: only `POST /api/runner/<name>/retrain {"action": "start"}` (the page
sends it on the runner's tap) starts it; sent before the session exists it arms the runner's next session.
When a session finishes, its `SessionProgress` goes to `on_progress` (the store) and to the pages.

Hostile or broken input gives a one-line JSON error (400/404/415/503) or a counted drop (`/api/retrain/
stats`), never a traceback: a bus message that is not a step is dropped and counted; a provider (the
store) that fails is logged and reported in the state, and a pain log that cannot be read refuses the
start (the red-flag check comes before any cue).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import pathlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from strideguard.analytics.errors import AnalyticsError
from strideguard.analytics.pain import PainEntry
from strideguard.analytics.retraining import (
    Reference,
    RetrainingConfig,
    RetrainingSession,
    SessionProgress,
    programme_step,
)
from strideguard.analytics.risk import Baseline
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.web.server import HEARTBEAT_S, NAME_RE, RETRY_MS, json_safe, sse_event

log = logging.getLogger(__name__)

STATIC_DIR = pathlib.Path(__file__).resolve().parent
RETRAIN_FILES = {"retrain.js", "retrain.css"}
KINDS = ("status", "alerts", "metrics", "steps")  # handled in this order within one wake-up
MAILBOX = {"status": 50, "alerts": 200, "metrics": 200, "steps": 2000}
PAGE_QUEUE = 256  # state events waiting for one slow page; the oldest is dropped (counted)
PAIN_POLL_S = 30.0  # the pain log is read again this often while the mode runs
MAX_RUNNERS = 200  # runners with a consumer at once; more is refused (503), not a task per URL guessed
MAX_PAGES = 100  # open retraining feeds at once (all runners); more is refused (503)
WRITE_TIMEOUT_S = 10.0  # a page that reads nothing this long is dropped rather than holding its buffers


@dataclass(slots=True)
class RetrainProviders:
    """What the routes read from and write to the store; the defaults keep nothing (tests, no store).

    `baseline(runner)`: the stored risk baseline (the prior of the runner's next session), if any.
    `history(runner)`: stored `SessionProgress.as_dict` records of earlier sessions.
    `pain(runner)`: the runner's pain-log entries. `on_progress(progress)`: store a finished session's.
    """

    baseline: Callable[[str], Baseline | None] = lambda runner: None
    history: Callable[[str], Sequence[Mapping[str, Any]]] = lambda runner: []
    pain: Callable[[str], Sequence[PainEntry]] = lambda runner: []
    on_progress: Callable[[SessionProgress], None] = lambda progress: None
    config: RetrainingConfig = field(default_factory=RetrainingConfig)


class _Runner:
    """One runner's consumer: bus mailboxes -> the session state machine -> every open page."""

    def __init__(self, hub: RetrainHub, runner: str) -> None:
        self.hub = hub
        self.runner = runner
        prefix = f"{busmod.TOPIC_ROOT}/+/{runner}"
        self.subs = {kind: hub.bus.subscribe(f"{prefix}/{kind}", maxsize=MAILBOX[kind]) for kind in KINDS}
        self.session: RetrainingSession | None = None
        self.finished_ids: set[str] = set()
        self.armed: dict[str, Any] | None = None  # the start options of a tap made before the session
        self.pages: set[asyncio.Queue[tuple[str, dict[str, Any]]]] = set()
        self.last_progress: dict[str, Any] | None = None
        self.errors: list[str] = []
        self._pain_read_t = -math.inf
        self._seed_from_last()
        self.task = asyncio.ensure_future(self._run())

    # -- bus -> session ---------------------------------------------------------------------------
    def _seed_from_last(self) -> None:
        """A page opened mid-session: the latest status and window say which session and what speed."""
        for kind in ("status", "metrics"):
            for topic_name, message in list(self.hub.bus.last.items()):
                if busmod.matches(f"{busmod.TOPIC_ROOT}/+/{self.runner}/{kind}", topic_name):
                    self._handle_safely(kind, message)

    async def _run(self) -> None:
        waits: dict[str, asyncio.Future[tuple[str, dict[str, Any]]]] = {}
        try:
            while True:
                for kind, sub in self.subs.items():
                    if kind not in waits:
                        waits[kind] = asyncio.ensure_future(sub.get())
                await asyncio.wait(waits.values(), timeout=PAIN_POLL_S, return_when=asyncio.FIRST_COMPLETED)
                batch: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
                for kind, sub in self.subs.items():
                    wait = waits.get(kind)
                    if wait is not None and wait.done():
                        del waits[kind]
                        batch[kind].append(wait.result()[1])  # StopAsyncIteration once the bus closed it
                    while (item := sub.get_nowait()) is not None:
                        batch[kind].append(item[1])
                for kind in KINDS[1:] + KINDS[:1]:  # a "finished" status after the session's last steps
                    for message in batch[kind]:
                        self._handle_safely(kind, message)
                self._poll_pain()
        except StopAsyncIteration:
            pass  # the bus closed the mailboxes: the app is stopping
        finally:
            for wait in waits.values():
                wait.cancel()

    def _handle_safely(self, kind: str, message: dict[str, Any]) -> None:
        """One message; whatever it breaks is logged and counted, and the consumer goes on."""
        try:
            self._handle(kind, message)
        except Exception as exc:
            log.exception("retraining: %s message of %s not handled", kind, self.runner)
            self.hub.drops[f"{kind}: {type(exc).__name__}"] += 1

    def _handle(self, kind: str, message: dict[str, Any]) -> None:
        if not isinstance(message, dict):
            self.hub.drops[f"{kind}: not an object"] += 1
            return
        session_id = message.get("session_id")
        if not isinstance(session_id, str) or not session_id:
            self.hub.drops[f"{kind}: no session_id"] += 1
            return
        if kind == "status":
            self._status(session_id, message)
            return
        session = self._session(session_id)
        if session is None:
            return
        if kind == "steps":
            t_ns, dt, impact = message.get("t_ns"), message.get("step_time_s"), message.get("impact_g")
            if isinstance(t_ns, bool) or not isinstance(t_ns, int) or not _opt_number(dt) or not _opt_number(impact):
                self.hub.drops["steps: malformed"] += 1
                return
            feedback = session.push_step(t_ns=t_ns, step_time_s=dt, impact_g=impact)
            if feedback is not None:
                step = {"t_ns": t_ns, "index": message.get("index"), "impact_g": impact, "step_time_s": dt}
                self.publish("state", {"state": session.snapshot(), "step": step})
        elif kind == "metrics":
            speed = message.get("speed_mps")
            if not _opt_number(speed):
                self.hub.drops["metrics: malformed speed"] += 1
                return
            session.push_window(running=bool(message.get("running")), speed_mps=speed)
        elif kind == "alerts":
            metric, what, onset = message.get("metric"), message.get("kind"), message.get("onset_t_ns")
            if not isinstance(metric, str) or not isinstance(what, str) or not isinstance(onset, int):
                self.hub.drops["alerts: malformed"] += 1
                return
            was = (session.mode, session.pause_count, session.pause_holds)
            session.push_risk_event(metric=metric, kind=what, onset_t_ns=onset)
            if (session.mode, session.pause_count, session.pause_holds) != was:
                self.publish("state", {"state": session.snapshot(), "step": None})

    def _status(self, session_id: str, message: dict[str, Any]) -> None:
        state = message.get("state")
        if state == "running":
            self._session(session_id)
        elif state == "finished":
            session = self.session
            if session is not None and session.session_id == session_id:
                self._finish(session)

    def _session(self, session_id: str) -> RetrainingSession | None:
        """The state machine of this session; a new session gets a new one, in mode off (or started, if
        the runner tapped start before it existed). Late messages of a finished session are ignored."""
        current = self.session
        if current is not None and current.session_id == session_id:
            return current
        if session_id in self.finished_ids:
            return None
        if current is not None:
            self._finish(current)  # a new session without the old one's "finished": close it now
        session = self.hub.new_session(self.runner, session_id, self.errors)
        self.session = session
        if self.armed is not None:
            options, self.armed = self.armed, None
            self.start(options)
        else:
            self.publish("state", {"state": session.snapshot(), "step": None})
        return session

    def _finish(self, session: RetrainingSession) -> None:
        self.finished_ids.add(session.session_id)
        self.session = None
        if not session.started:
            return
        session.stop()
        progress = session.progress()
        self.last_progress = progress.as_dict()
        try:
            self.hub.providers.on_progress(progress)
        except Exception as exc:  # the store is another side: report, never lose the page's feed
            log.warning("retraining progress of %s not stored: %s", session.session_id, exc)
            self.errors.append(f"progress not stored: {exc}")
            self.last_progress["stored"] = False
        else:
            self.last_progress["stored"] = True
        self.publish("progress", {"progress": self.last_progress})

    def _poll_pain(self, *, force: bool = False) -> bool:
        """Read the pain log again (every PAIN_POLL_S while the mode runs); False when it cannot be read."""
        session = self.session
        loop_t = asyncio.get_running_loop().time()
        if session is None or (not force and (session.mode == "off" or loop_t - self._pain_read_t < PAIN_POLL_S)):
            return True
        self._pain_read_t = loop_t
        try:
            entries = list(self.hub.providers.pain(self.runner))
        except Exception as exc:
            log.warning("pain log of %s unreadable: %s", self.runner, exc)
            self.errors.append(f"pain log unreadable: {exc}")
            return False
        was = (session.mode, session.pause_count, session.pause_holds)
        session.set_pain_entries(entries)
        if (session.mode, session.pause_count, session.pause_holds) != was:
            self.publish("state", {"state": session.snapshot(), "step": None})
        return True

    # -- the runner's taps ------------------------------------------------------------------------
    def start(self, options: dict[str, Any]) -> dict[str, Any]:
        session = self.session
        if session is None:
            self.armed = options
            return {"armed": True, "state": None}
        if options:
            session.config = session.config.replace(**options)
        if not self._poll_pain(force=True):
            raise _http_error(
                web.HTTPServiceUnavailable,
                "cannot read the pain log: retraining does not start without its red-flag check",
            )
        session.start()
        snapshot = session.snapshot()
        self.publish("state", {"state": snapshot, "step": None})
        return {"armed": False, "state": snapshot}

    def stop(self) -> dict[str, Any]:
        self.armed = None
        if self.session is None:
            return {"armed": False, "state": None}
        self.session.stop()
        snapshot = self.session.snapshot()
        self.publish("state", {"state": snapshot, "step": None})
        return {"armed": False, "state": snapshot}

    # -- session -> pages -------------------------------------------------------------------------
    def publish(self, kind: str, data: dict[str, Any]) -> None:
        for queue in list(self.pages):
            if queue.full():
                queue.get_nowait()
                self.hub.drops["page: slow, oldest state dropped"] += 1
            queue.put_nowait((kind, data))

    def hello(self) -> dict[str, Any]:
        return {
            "runner": self.runner,
            "armed": self.armed is not None,
            "state": self.session.snapshot() if self.session is not None else None,
            "progress": self.last_progress,
            "errors": self.errors[-3:],
        }

    def close(self) -> None:
        for sub in self.subs.values():
            sub.close()
        self.task.cancel()


class RetrainHub:
    """The routes' shared state: one `_Runner` per runner with a page open or a start armed."""

    def __init__(self, bus: busmod.Bus, providers: RetrainProviders) -> None:
        self.bus = bus
        self.providers = providers
        self.runners: dict[str, _Runner] = {}
        self.drops: Counter[str] = Counter()

    def runner(self, name: str) -> _Runner:
        found = self.runners.get(name)
        if found is None or found.task.done():
            if len(self.runners) >= MAX_RUNNERS:
                self._forget_idle()
            if len(self.runners) >= MAX_RUNNERS:
                raise _http_error(web.HTTPServiceUnavailable, f"more than {MAX_RUNNERS} runners in retraining")
            found = self.runners[name] = _Runner(self, name)
        return found

    def _forget_idle(self) -> None:
        for name, r in list(self.runners.items()):
            if not r.pages and r.armed is None and (r.session is None or r.session.mode == "off"):
                r.close()
                del self.runners[name]

    def new_session(self, runner: str, session_id: str, errors: list[str]) -> RetrainingSession:
        """A state machine for a new session: its programme step from the stored history, its references
        from the stored baseline (else it calibrates). A store that fails is reported, not fatal."""
        cfg = self.providers.config
        history: Sequence[Mapping[str, Any]] = []
        baseline: Baseline | None = None
        try:
            history = list(self.providers.history(runner))
        except Exception as exc:
            log.warning("retraining history of %s unreadable: %s", runner, exc)
            errors.append(f"programme history unreadable (starting as session 1): {exc}")
        try:
            baseline = self.providers.baseline(runner)
        except Exception as exc:
            log.warning("baseline of %s unreadable: %s", runner, exc)
            errors.append(f"stored baseline unreadable (calibrating instead): {exc}")
        step = programme_step(history, cfg)
        if step.skipped:
            errors.append(f"{step.skipped} stored progress record(s) unreadable, not counted")
        cadence = baseline.get("cadence") if baseline is not None else None
        impact = baseline.get("impact") if baseline is not None else None
        return RetrainingSession(
            runner=runner,
            session_id=session_id,
            config=cfg,
            programme=step,
            cadence_ref=Reference.from_metric(cadence, cfg.cadence_speed_slope_pct_per_mps) if cadence else None,
            impact_ref=Reference.from_metric(impact, cfg.impact_speed_slope_pct_per_mps) if impact else None,
        )

    def close(self) -> None:
        for r in self.runners.values():
            r.close()
            for queue in r.pages:
                queue.put_nowait(("close", {}))  # wakes each page's handler, which then ends its response
        self.runners.clear()


RETRAIN_HUB = web.AppKey("retrain_hub", RetrainHub)


def add_retrain_routes(app: web.Application, bus: busmod.Bus, providers: RetrainProviders | None = None) -> None:
    """Serve the retraining page, its static files, its feed and the start/stop taps on `app`."""
    hub = RetrainHub(bus, providers or RetrainProviders())
    app[RETRAIN_HUB] = hub

    async def close_hub(app: web.Application) -> None:
        hub.close()

    app.on_shutdown.append(close_hub)
    app.router.add_get("/runner/{name}/retrain", _page)
    app.router.add_get("/runner/{name}/retrain/events", _events)
    app.router.add_post("/api/runner/{name}/retrain", _tap)
    app.router.add_get("/api/retrain/stats", _stats)
    app.router.add_get("/retrain/{file}", _static)


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    if not NAME_RE.match(name):
        raise _http_error(web.HTTPBadRequest, "runner names contain no '/', '+' or '#'")
    return name


async def _page(request: web.Request) -> web.StreamResponse:
    _name(request)
    return web.FileResponse(STATIC_DIR / "retrain.html", headers={"Cache-Control": "no-cache"})


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["file"]
    if name not in RETRAIN_FILES:
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC_DIR / name, headers={"Cache-Control": "no-cache"})


async def _stats(request: web.Request) -> web.Response:
    hub = request.app[RETRAIN_HUB]
    return web.json_response({"runners": sorted(hub.runners), "drops": dict(hub.drops)})


async def _tap(request: web.Request) -> web.Response:
    """`{"action": "start", "cadence_increase_pct": 0-10, "fixed_target_spm": n | null}` or `{"action": "stop"}`."""
    name = _name(request)
    if request.content_type != "application/json":
        return _error(415, 'send JSON: {"action": "start" | "stop"}')
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "the body is not valid JSON")
    if not isinstance(body, dict) or body.get("action") not in ("start", "stop"):
        return _error(400, 'send a JSON object with "action": "start" or "stop"')
    hub = request.app[RETRAIN_HUB]
    runner = hub.runner(name)
    if body["action"] == "stop":
        return web.json_response(runner.stop())
    options = {k: v for k, v in body.items() if k != "action"}
    allowed = {"cadence_increase_pct", "fixed_target_spm"}
    if set(options) - allowed:
        return _error(400, f"start takes only {', '.join(sorted(allowed))}")
    try:
        hub.providers.config.replace(**options)  # checked here: a bad value is a 400, not a broken session
    except AnalyticsError as exc:
        return _error(400, str(exc))
    return web.json_response(runner.start(options))


async def _events(request: web.Request) -> web.StreamResponse:
    name = _name(request)
    hub = request.app[RETRAIN_HUB]
    if sum(len(r.pages) for r in hub.runners.values()) >= MAX_PAGES:
        hub.drops["page: refused, too many open"] += 1
        raise _http_error(web.HTTPServiceUnavailable, f"{MAX_PAGES} retraining pages are open already; try later")
    runner = hub.runner(name)
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(maxsize=PAGE_QUEUE)
    runner.pages.add(queue)
    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    event_id = 0

    async def send(data: bytes) -> None:
        async with asyncio.timeout(WRITE_TIMEOUT_S):
            await resp.write(data)

    try:
        await resp.prepare(request)
        await send(f"retry: {RETRY_MS}\n\n".encode())
        await send(sse_event("hello", json_safe(runner.hello())))
        while True:
            try:
                kind, data = await asyncio.wait_for(queue.get(), timeout=HEARTBEAT_S)
            except TimeoutError:
                await send(b": keep-alive\n\n")
                continue
            if kind == "close":
                break
            event_id += 1
            await send(sse_event(kind, json_safe(data), event_id))
    except TimeoutError:
        hub.drops["page: stalled, dropped"] += 1  # reads nothing: drop it rather than hold its buffers
        if request.transport is not None:
            request.transport.abort()
    except ConnectionResetError:
        pass  # the page went away
    finally:
        runner.pages.discard(queue)
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await resp.write_eof()
    return resp


def _http_error(cls: type[web.HTTPException], message: str) -> web.HTTPException:
    return cls(text=json.dumps({"error": message}), content_type="application/json")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _opt_number(value: Any) -> bool:
    return value is None or (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value))
