"""The coach role of the team set-up: the workers' outputs on MQTT -> the in-process bus -> the live pages.

`strideguard coach` serves the same team and runner pages as the embedded pipeline (`stream.web`), with
no copy of the page code: this module subscribes to a team's `status`, `alerts`, `metrics` and `control`
topics and republishes every message that passes its checks on a local `Bus`, which the `WebServer`
serves. What the embedded pipeline adds in-process is added here the same way:

- delivered alerts: the worker publishes raw risk events; the runner page shows, buzzes and speaks only
  what the alert dispatcher delivered (`"delivered": true` with `spoken` and `after_run`), so the coach
  runs the embedded pipeline's `AlertDispatcher` with a `PageChannel` on its bus (same de-duplication
  and rate limit: an onset it holds back is shown as held back, as in the embedded set-up);
- snoozes: the page's snooze request (a `control` message with `action: snooze` on the bus) is forwarded
  to the runner's MQTT control topic, where the worker that owns the runner applies it, journals it and
  answers; the answer (`snoozed` / `refused`) comes back on that topic and is republished on the bus.
  Snooze requests seen on MQTT (a runner's phone, or our own forward) are not put on the bus, so a
  request is never forwarded twice. The broker user needs write access to `.../control`
  (`deploy/mosquitto/acl` grants it to `coach`);
- phone speeds: the page's speed (`action: speed`, stamped with the page server's wall clock) is
  forwarded the same way; the worker pushes it into the runner's session through the engine's edge and
  answers only a refusal (`speed_refused` with its reason), which comes back to the page like a snooze's
  answer (`stream.runtime.phone_speed`).

The broker is a boundary: whatever arrives there (a retained poison message, another client publishing
junk, a message bigger than any output) is dropped and counted per reason in `CoachStats.dropped`, with
a rate-limited log line; nothing raises out of the receive loop. A message whose row names another
runner than its topic is dropped (`foreign`), and at most `max_runners` runners are kept (a flood of
invented names cannot grow memory without bound).

The coach's MQTT session ends when it disconnects (session expiry 0): a live view needs no backlog, and a
restarted coach with a new client id must not leave a session behind that queues every output for days.
Retained status messages give a (re)started coach every runner's state at once.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import enum
import logging
import math
import time
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from strideguard.analytics.results import RiskEvent, WindowMetrics
from strideguard.sensors.errors import DecodeError
from strideguard.stream.alerts.dispatcher import AlertDispatcher
from strideguard.stream.alerts.page import PageChannel
from strideguard.stream.mqtt.connection import MqttConnection, MqttSettings, unique_client_id
from strideguard.stream.mqtt.payload import dumps, loads, risk_event_from_message
from strideguard.stream.mqtt.topics import SERVICES_TEAM, parse_topic
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.runtime.phone_speed import REFUSED_ACTION, SPEED_ACTION, refusal
from strideguard.stream.runtime.session import SessionInfo

log = logging.getLogger(__name__)

KINDS = ("status", "alerts", "metrics", "control")  # what the pages show (steps are not needed)
MAX_PAYLOAD_BYTES = 64 * 1024  # far above any output message (a status with its summary is ~2 KB)
DEFAULT_MAX_RUNNERS = 1000
LOG_EVERY_S = 10.0  # at most one log line per drop reason this often
STATES = ("running", "finished")
SENSOR_STATES = ("ok", "lost", "silent")
REPLIES = ("snoozed", "refused", REFUSED_ACTION)
SNOOZE_FIELDS = ("action", "metric", "minutes", "request_id")  # what the coach forwards of a page's control
SPEED_FIELDS = ("action", "runner", "speed_mps", "accuracy_m", "t_ns")
SERVICES_PREFIX = f"{busmod.TOPIC_ROOT}/{SERVICES_TEAM}/"


class Rejected(ValueError):
    """A message from the broker that is not put on the bus; `reason` is its counter's name."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(slots=True)
class CoachStats:
    received: int = 0
    republished: int = 0
    snoozes_forwarded: int = 0
    speeds_forwarded: int = 0
    speeds_refused: int = 0  # not forwarded (forwarding off, broker down), answered on the page
    dropped: collections.Counter[str] = field(default_factory=collections.Counter)  # reason -> messages

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "republished": self.republished,
            "snoozes_forwarded": self.snoozes_forwarded,
            "speeds_forwarded": self.speeds_forwarded,
            "speeds_refused": self.speeds_refused,
            "dropped": dict(self.dropped),
        }


def subscriptions(team: str) -> list[str]:
    """The topic filters of the coach: the pages' kinds of every runner of `team` (`+`: every team)."""
    return [f"{busmod.TOPIC_ROOT}/{team}/+/{kind}" for kind in KINDS]


class Coach:
    """`await Coach(settings=..., team=..., bus=bus).run(stop)`: MQTT outputs of a team onto `bus`."""

    def __init__(
        self,
        *,
        settings: MqttSettings,
        team: str,
        bus: busmod.Bus,
        max_runners: int = DEFAULT_MAX_RUNNERS,
        forward_snoozes: bool = True,
    ) -> None:
        self.settings = dataclasses.replace(settings, session_expiry_s=0)  # see the module docstring
        self.team = team
        self.bus = bus
        self.max_runners = max_runners
        self.forward_snoozes = forward_snoozes
        self.stats = CoachStats()
        self.dispatcher = AlertDispatcher([PageChannel(bus)])
        self.ready = asyncio.Event()  # set once subscribed
        self._runners: set[tuple[str, str]] = set()
        self._logged_at: dict[str, float] = {}
        self._conn: MqttConnection | None = None

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        conn = MqttConnection(
            settings=self.settings, client_id=unique_client_id("coach"), subscriptions=subscriptions(self.team)
        )
        requests = self.bus.subscribe(f"{busmod.TOPIC_ROOT}/{self.team}/+/control", maxsize=100)
        async with conn:
            self._conn = conn
            self.ready.set()
            forwarder = asyncio.create_task(self._forward_controls(conn, requests), name="coach-controls")
            stop_wait = asyncio.ensure_future(stop.wait())
            stop_wait.add_done_callback(lambda _: conn.wake())
            try:
                while not stop.is_set():
                    for message in conn.drain(512):
                        self.take(message.topic, message.payload)
                    await conn.wait_arrival(1.0)
            finally:
                stop_wait.cancel()
                requests.close()
                forwarder.cancel()
                await asyncio.gather(forwarder, return_exceptions=True)
                await self.dispatcher.close()
                self._conn = None

    # -- MQTT -> bus -----------------------------------------------------------------------------
    def take(self, topic_name: str, payload: bytes) -> bool:
        """Check one message from the broker and put it on the bus; False when it was dropped (counted)."""
        self.stats.received += 1
        if topic_name.startswith(SERVICES_PREFIX):  # `--team +` also matches the services' status: not runners
            return False
        try:
            kind, team, runner, message = self._checked(topic_name, payload)
        except Rejected as exc:
            self._drop(exc.reason, f"{exc} (on {topic_name[:120]!r})")
            return False
        if kind == "control" and message.get("action") not in REPLIES:
            return False  # a snooze or speed (a phone's, or ours forwarded): for the worker, not the page
        self.bus.publish(busmod.topic(team, runner, kind), message)
        self.stats.republished += 1
        if kind == "alerts":
            session = SessionInfo(
                session_id=message["session_id"], runner=runner, team=team, source="mqtt", started_t_ns=0
            )
            self.dispatcher.dispatch(session, risk_event_from_message(message))
        return True

    def _checked(self, topic_name: str, payload: bytes) -> tuple[str, str, str, dict[str, Any]]:
        try:
            parts = parse_topic(topic_name)
        except ValueError as exc:
            raise Rejected("bad_topic", str(exc)) from None
        if parts.kind not in KINDS or parts.partition is not None:
            raise Rejected("bad_topic", f"not a topic the coach shows: {parts.kind}")
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise Rejected("too_big", f"{len(payload)} bytes")
        try:
            message = loads(payload)
        except (DecodeError, RecursionError) as exc:  # RecursionError: JSON nested deeper than Python goes
            raise Rejected("not_json", str(exc).split("\n")[0][:200]) from None
        session_id = message.get("session_id")
        if parts.kind != "control" and not (isinstance(session_id, str) and 0 < len(session_id) <= 200):
            raise Rejected("bad_message", "no session_id")
        if parts.kind == "status":
            _check_status(message)
        elif parts.kind == "metrics":
            _check_row(WindowMetrics, message)
        elif parts.kind == "alerts":
            _check_row(RiskEvent, message)
        elif message.get("action") in REPLIES:
            _check_reply(message)
        row_runner = message.get("runner")
        if row_runner is not None and row_runner != parts.runner:
            raise Rejected("foreign", f"the message names runner {str(row_runner)[:60]!r}")
        key = (parts.team, parts.runner)
        if key not in self._runners:
            if len(self._runners) >= self.max_runners:
                raise Rejected("too_many_runners", f"already {self.max_runners} runners")
            self._runners.add(key)
        return parts.kind, parts.team, parts.runner, {**message, "runner": parts.runner}

    def _drop(self, reason: str, detail: str) -> None:
        self.stats.dropped[reason] += 1
        now = time.monotonic()
        if now - self._logged_at.get(reason, -math.inf) >= LOG_EVERY_S:
            self._logged_at[reason] = now
            log.warning("coach: dropped a message (%s, %d so far): %s", reason, self.stats.dropped[reason], detail)

    # -- bus -> MQTT: the pages' snoozes and phone speeds -------------------------------------------
    async def _forward_controls(self, conn: MqttConnection, requests: busmod.Subscription) -> None:
        async for topic_name, message in requests:
            action = message.get("action")
            if action == "snooze" and self.forward_snoozes:
                await self._forward(conn, topic_name, _fields(message, SNOOZE_FIELDS))
            elif action == SPEED_ACTION:
                await self._forward_speed(conn, topic_name, message)
            # else: a reply we republished ourselves, or snoozes are not forwarded

    async def _forward_speed(self, conn: MqttConnection, topic_name: str, message: dict[str, Any]) -> None:
        """The page server checked the speed's shape and stamped it with its wall clock (`t_ns`): that
        stamp goes on as it is, the worker compares it with the session's data time."""
        runner = topic_name.split("/")[-2]
        if not self.forward_snoozes:  # a broker user without control access: say so, do not just drop it
            self.stats.speeds_refused += 1
            self.bus.publish(topic_name, refusal(runner, "this coach does not forward controls to the workers"))
            return
        await self._forward(conn, topic_name, _fields(message, SPEED_FIELDS))

    async def _forward(self, conn: MqttConnection, topic_name: str, control: dict[str, Any]) -> None:
        try:
            await conn.publish(topic_name, dumps(control), qos=1)
        except Exception as exc:  # the link broke and stayed down: say so on the page's feed
            log.warning("coach: could not forward a %s to %s: %s", control["action"], topic_name, exc)
            reason = "the broker is not reachable"
            runner = topic_name.split("/")[-2]
            if control["action"] == SPEED_ACTION:
                self.stats.speeds_refused += 1
                self.bus.publish(topic_name, refusal(runner, reason))
            else:
                self.bus.publish(topic_name, {**control, "action": "refused", "reason": reason})
            return
        if control["action"] == SPEED_ACTION:
            self.stats.speeds_forwarded += 1
        else:
            self.stats.snoozes_forwarded += 1


def _fields(message: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Only the fields the worker reads: nothing else the page server might add goes to the broker."""
    return {name: message.get(name) for name in names}


# -- the checks: types as the result dataclasses declare them -------------------------------------------
def _check_row(cls: type, message: dict[str, Any]) -> None:
    """Every field of `cls` present where it has no default, each of its declared type (bool is not a
    number, a float is finite), enums as one of their values: what the page and the dispatcher rely on."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name not in message:
            if f.default is dataclasses.MISSING:
                raise Rejected("bad_message", f"{cls.__name__} without {f.name}")
            continue
        if not _is_a(message[f.name], hints[f.name]):
            raise Rejected("bad_message", f"{cls.__name__}.{f.name} is {type(message[f.name]).__name__}")


def _is_a(value: Any, hint: Any) -> bool:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return any(_is_a(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str) and len(value) <= 2000
    if isinstance(hint, type) and issubclass(hint, enum.Enum):  # the str enums (kind, severity, side)
        return isinstance(value, str) and value in {m.value for m in hint}
    return False


def _check_status(message: dict[str, Any]) -> None:
    if message.get("state") not in STATES:
        raise Rejected("bad_message", "status state is not running/finished")
    if "sensor" in message and message["sensor"] not in SENSOR_STATES:
        raise Rejected("bad_message", "status sensor is not ok/lost/silent")
    for name in ("sensor_t_ns", "started_t_ns", "baseline_ready_t_ns"):
        if message.get(name) is not None and not _is_a(message[name], int):
            raise Rejected("bad_message", f"status {name} is not an integer")
    if message.get("gap_s") is not None and not _is_a(message["gap_s"], float):
        raise Rejected("bad_message", "status gap_s is not a number")
    if message.get("summary") is not None and not isinstance(message["summary"], dict):
        raise Rejected("bad_message", "status summary is not an object")


def _check_reply(message: dict[str, Any]) -> None:
    if message.get("metric") is not None and not _is_a(message["metric"], str):
        raise Rejected("bad_message", "reply metric is not a name")
    for name in ("from_t_ns", "until_t_ns"):
        if message.get(name) is not None and not _is_a(message[name], int):
            raise Rejected("bad_message", f"reply {name} is not an integer")
    if message.get("reason") is not None and not _is_a(message["reason"], str):
        raise Rejected("bad_message", "reply reason is not text")
