"""One supervised MQTT connection: reconnects with jittered backoff, resumes its persistent session,
retries QoS 1 publishes until the broker acknowledges them, and hands received messages on in order.

Persistence is chosen so nothing is lost across reconnects: MQTT v5, `clean_start=False` and a session
expiry of days, so the broker keeps subscriptions and queues QoS 1 messages while a client is away.

Client ids are recognisable and secret: the role (a worker's names its team and partitions) followed by
a random token (`unique_client_id`; a worker keeps its token in its state directory, `stored_client_id`,
so a restarted worker finds its session). A broker replaces a connection when another client connects
with the same id, whoever logs in (Mosquitto 2.0 does so across user names): a runner's login that could
name a worker's id could knock the worker off the broker, and nothing a runner may read carries it.

Topics are checked before anything is sent (`topic_problem`): a topic the broker would refuse (a control
character, a non-character, a wildcard in a published name) makes Mosquitto drop the connection, and a
publish retried across reconnects would do so for ever; it is refused here with one line instead.
With `manual_ack=True` a received message is acknowledged only when the receiver calls `ack()` (after it
has made the message durable), so a process killed in between gets it again from the broker.

Transport: paho-mqtt 2.x through its public API only, driven by this asyncio loop the way paho documents
for an external event loop (its examples/loop_asyncio.py): `loop_read()` when the socket is readable,
`loop_write()` when paho has queued bytes (it says so through `on_socket_register_write`), `loop_misc()`
every second for keepalive. The blocking TCP connect runs on a thread. Every connection is a new paho
client (`_Link`), so paho never re-sends anything on its own: which message is issued again after a
reconnect is decided here, from the PUBACKs seen (`on_publish`, by message id).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import functools
import logging
import os
import pathlib
import random
import secrets
import socket
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from strideguard.stream.errors import SinkError

log = logging.getLogger(__name__)

DEFAULT_SESSION_EXPIRY_S = 7 * 24 * 3600  # broker keeps an absent client's queue for a week
MISC_INTERVAL_S = 1.0  # how often paho's keepalive bookkeeping (PINGREQ, a missing PINGRESP) runs
READS_PER_EVENT = 64  # packets taken per readable event at most (paho's loop_read takes about one)
CLOSE_GRACE_S = 2.0  # how long a clean close waits for the DISCONNECT to go out
FLAPPING_LOSSES = 5  # this many dropped connections within FLAPPING_WINDOW_S is worth a warning
FLAPPING_WINDOW_S = 30.0

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttSettings:
    """Where the broker is and how to talk to it (keyword-only, immutable)."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    session_expiry_s: int = DEFAULT_SESSION_EXPIRY_S
    keepalive_s: int = 10
    connect_timeout_s: float = 10.0  # first connection; later ones retry forever
    publish_timeout_s: float = 5.0  # wait for PUBACK before treating the link as lost
    reconnect_initial_s: float = 0.1
    reconnect_max_s: float = 3.0

    @classmethod
    def from_url(cls, url: str, **overrides: Any) -> MqttSettings:
        """`mqtt://[user:password@]host[:port]` (credentials URL-encoded); keyword `overrides` replace
        what the URL says (`--username`/`--password` win over credentials in the URL)."""
        parsed = urllib.parse.urlsplit(url if "://" in url else f"mqtt://{url}")
        if parsed.scheme != "mqtt" or not parsed.hostname:
            raise ValueError(f"broker URL must look like mqtt://host:1883, got {url!r}")
        settings = cls(
            host=parsed.hostname,
            port=parsed.port or 1883,
            username=urllib.parse.unquote(parsed.username) if parsed.username else None,
            password=urllib.parse.unquote(parsed.password) if parsed.password else None,
        )
        return dataclasses.replace(settings, **overrides)

    @property
    def endpoint(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def backoff_delays_s(initial_s: float, max_s: float) -> Iterator[float]:
    """Jittered exponential backoff: full jitter over a doubling ceiling (AWS architecture blog)."""
    ceiling = initial_s
    while True:
        yield random.uniform(initial_s / 2, ceiling)
        ceiling = min(max_s, ceiling * 2)


MAX_TOPIC_BYTES = 65535  # an MQTT string's length is a u16
CLIENT_TOKEN_BYTES = 16  # random bytes of a client id's token (hex): not guessable


def text_problem(text: str) -> str | None:
    """Why a broker would refuse `text` as an MQTT string (a topic, a client id), or None."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        return f"not UTF-8 (U+{ord(text[exc.start]):04X} at character {exc.start})"
    if size > MAX_TOPIC_BYTES:
        return f"{size} bytes, more than {MAX_TOPIC_BYTES}"
    for i, char in enumerate(text):
        cp = ord(char)
        if cp <= 0x1F or 0x7F <= cp <= 0x9F:
            return f"control character U+{cp:04X} at character {i}"
        if 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFF) >= 0xFFFE:
            return f"non-character U+{cp:04X} at character {i}"
    return None


def topic_problem(topic: str, *, is_filter: bool = False) -> str | None:
    """Why a broker would refuse `topic` as a topic name (`is_filter`: as a subscription filter), or None.

    MQTT 5 §1.5.4 and §4.7: well-formed UTF-8 without U+0000; Mosquitto also drops a client that sends the
    control characters U+0001-U+001F and U+007F-U+009F or a non-character (U+FDD0-U+FDEF, U+xFFFE,
    U+xFFFF), each measured in tests/stream/test_mqtt_hostile.py. Names hold no wildcard; in a filter `#` is
    the last level and `+` a whole level."""
    if not topic:
        return "empty topic"
    problem = text_problem(topic)
    if problem is not None:
        return problem
    levels = topic.split("/")
    if not is_filter:
        if "+" in topic or "#" in topic:
            return "a wildcard (+ or #) in a topic name"
    elif any(("#" in level and (level != "#" or i != len(levels) - 1)) for i, level in enumerate(levels)):
        return "# must be the whole last level"
    elif any("+" in level and level != "+" for level in levels):
        return "+ must be a whole level"
    return None


class InvalidTopicError(SinkError):
    """A topic (or client id) the broker would refuse: nothing was sent."""

    def __init__(self, topic: str, problem: str, *, endpoint: str | None = None, what: str = "topic") -> None:
        super().__init__(f"{what} {topic!r} cannot go to the broker: {problem}", sink="mqtt", endpoint=endpoint)
        self.topic = topic


def unique_client_id(role: str) -> str:
    """`<role>-<random token>`: recognisable in the broker's log, unknown to every other client."""
    return f"{role}-{secrets.token_hex(CLIENT_TOKEN_BYTES)}"


def stored_client_id(role: str, path: str | os.PathLike[str]) -> str:
    """The client id kept in `path` if it is one of `role`'s, else a new `unique_client_id(role)` written
    there (atomically): a process that keeps its broker session across restarts (a worker, whose queued
    messages wait under its id) gets the same secret id each time."""
    path = pathlib.Path(path)
    try:
        kept = path.read_text().strip()
    except (FileNotFoundError, UnicodeDecodeError):
        kept = ""
    prefix = f"{role}-"
    token = kept.removeprefix(prefix)
    if kept.startswith(prefix) and len(token) == 2 * CLIENT_TOKEN_BYTES and all(c in "0123456789abcdef" for c in token):
        return kept
    client_id = unique_client_id(role)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        f.write(client_id + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return client_id


class LinkLost(Exception):
    """The connection went (or never came up) before an operation on it completed."""


class ConnectRefused(LinkLost):
    """The broker answered CONNECT with a refusal (bad user name or password, not authorised)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    """A received message and the connection it came on (it is acknowledged through that one)."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    client: _Link


class MqttConnection:
    """`async with MqttConnection(settings=..., client_id=...) as conn:` then `await conn.publish(...)`
    and `async for message in conn.messages(): ...; conn.ack(message)`.

    `will` (topic, payload) is published by the broker, retained at QoS 1, if this process dies without
    disconnecting; `online` is published on every (re)connection and `offline` on a clean close, so a
    retained status topic always tells the truth.
    """

    def __init__(
        self,
        *,
        settings: MqttSettings,
        client_id: str,
        subscriptions: Sequence[str] = (),
        will: tuple[str, bytes] | None = None,
        online: tuple[str, bytes] | None = None,
        offline: tuple[str, bytes] | None = None,
        manual_ack: bool = False,
    ) -> None:
        problem = text_problem(client_id)
        if problem is not None:
            raise InvalidTopicError(client_id, problem, endpoint=settings.endpoint, what="client id")
        for pattern in subscriptions:
            self._check(pattern, settings, is_filter=True)
        for message in (will, online, offline):
            if message is not None:
                self._check(message[0], settings)
        self.settings = settings
        self.client_id = client_id
        self.subscriptions = tuple(subscriptions)
        self.will = will
        self.online = online
        self.offline = offline
        self.manual_ack = manual_ack
        self.connections = 0  # how many times a connection was established
        self.last_error: Exception | None = None
        self._link: _Link | None = None  # the established connection
        self._attempt: _Link | None = None  # the connection being made or in use (the supervisor's)
        self._link_changed = asyncio.Event()  # set, then replaced, whenever `_link` changes
        self._connected = asyncio.Event()
        self._refused = asyncio.Event()
        # Received messages wait here in arrival order; `_arrived` is set when there is something to take.
        self._incoming: collections.deque[Received] = collections.deque()
        self._arrived = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False
        self._losses: collections.deque[float] = collections.deque()  # when established connections dropped

    @staticmethod
    def _check(topic: str, settings: MqttSettings, *, is_filter: bool = False) -> None:
        problem = topic_problem(topic, is_filter=is_filter)
        if problem is not None:
            raise InvalidTopicError(topic, problem, endpoint=settings.endpoint, what="filter" if is_filter else "topic")

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def __aenter__(self) -> MqttConnection:
        self._supervisor = asyncio.create_task(self._run(), name=f"mqtt-supervisor-{self.client_id}")
        connected = asyncio.ensure_future(self._connected.wait())
        refused = asyncio.ensure_future(self._refused.wait())
        await asyncio.wait(
            {connected, refused}, timeout=self.settings.connect_timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        connected.cancel()
        refused.cancel()
        if self._refused.is_set():
            await self._stop()
            raise SinkError(
                f"the broker refused the connection ({self.last_error}): check the user name and password and the ACL",
                sink="mqtt",
                endpoint=self.settings.endpoint,
            ) from None
        if not self._connected.is_set():
            await self._stop()
            raise SinkError(
                f"cannot connect within {self.settings.connect_timeout_s:g} s ({self.last_error or 'no answer'});"
                " is the broker running and are the credentials right?",
                sink="mqtt",
                endpoint=self.settings.endpoint,
            ) from None
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        link = self._link
        if self.offline and link is not None and link.up:
            acks = _Acks()
            with contextlib.suppress(LinkLost, OSError, TimeoutError):
                link.issue([self.offline], qos=1, retain=True, acks=acks)
                await link.wait(acks.done, 2.0)
            link.forget(acks)
        await self._stop()

    async def _stop(self) -> None:
        self._closing = True
        link = self._attempt  # also one still subscribing: a clean close tells the broker to drop the will
        if link is not None:
            await link.disconnect(CLOSE_GRACE_S)
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor

    async def _run(self) -> None:
        delays = backoff_delays_s(self.settings.reconnect_initial_s, self.settings.reconnect_max_s)
        while not self._closing:
            # Received messages go straight from paho's callback into our queue (a persistent session's
            # queued messages follow the CONNACK at once, before the link is published as current).
            self._attempt = link = _Link(
                settings=self.settings,
                client_id=self.client_id,
                will=self.will,
                manual_ack=self.manual_ack,
                incoming=self._incoming,
                arrived=self._arrived,
            )
            try:
                await link.open(self.settings.connect_timeout_s)
                await link.subscribe(self.subscriptions, self.settings.publish_timeout_s)
                if self.online:
                    acks = _Acks()
                    link.issue([self.online], qos=1, retain=True, acks=acks)
                    await link.wait(acks.done, self.settings.publish_timeout_s)
                    link.forget(acks)
                self._set_link(link)
                self.connections += 1
                self._connected.set()
                delays = backoff_delays_s(self.settings.reconnect_initial_s, self.settings.reconnect_max_s)
                await link.lost.wait()
                if not self._closing:
                    self.last_error = link.error
                    log.info("mqtt %s: connection lost: %s", self.client_id, link.error)
                    self._note_loss()
            except ConnectRefused as exc:
                # A CONNACK refusal (bad credentials, not authorised) will not fix itself before the
                # first connection: fail fast. Later (a broker restarting) it is retried like any loss.
                self.last_error = exc
                if self.connections == 0:
                    self._refused.set()
                    return
                log.warning("mqtt %s: connection refused: %s", self.client_id, exc)
            except (LinkLost, OSError, TimeoutError) as exc:
                # OSError: the TCP connect failed (refused, unreachable, name not found).
                if not self._closing:
                    self.last_error = exc
                    log.info("mqtt %s: cannot connect: %s", self.client_id, str(exc) or type(exc).__name__)
            finally:
                self._connected.clear()
                self._set_link(None)
                link.close()
            if not self._closing:
                await asyncio.sleep(next(delays))

    def _note_loss(self) -> None:
        """Say so (a warning, once per burst) when established connections keep dropping at once: another
        client with this client id (each connect evicts the other), or a broker refusing what is sent."""
        now = time.monotonic()
        losses = self._losses
        losses.append(now)
        while losses and now - losses[0] > FLAPPING_WINDOW_S:
            losses.popleft()
        if len(losses) == FLAPPING_LOSSES:
            log.warning(
                "mqtt %s: the connection dropped %d times within %g s (last: %s); is another client using this"
                " client id, or is the broker refusing what is sent?",
                self.client_id,
                len(losses),
                FLAPPING_WINDOW_S,
                self.last_error,
            )

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Publish and, for QoS 1, return only once the broker has acknowledged; across reconnects
        the publish is retried (so the receiver may see it twice: payloads carry keys to de-duplicate)."""
        await self._deliver([(topic, payload)], qos=qos, retain=retain)

    async def publish_batch(self, messages: Sequence[tuple[str, bytes]], *, qos: int = 1) -> None:
        """Publish many messages, issued in order, and return once the broker has acknowledged all.

        Cheaper than one `publish` each (no task, future and timer per message: one waiter for the
        batch). Across a reconnect the unacknowledged rest is issued again, still in order, so a batch
        is never overtaken by its own later messages (receivers may see a message twice)."""
        await self._deliver(list(messages), qos=qos, retain=False)

    async def _deliver(self, messages: list[tuple[str, bytes]], *, qos: int, retain: bool) -> None:
        """InvalidTopicError before anything is issued if a topic would make the broker drop the link."""
        for topic, _payload in messages:
            self._check(topic, self.settings)
        remaining = messages
        while remaining:
            await self._connected.wait()
            link = self._link
            if link is None:
                continue
            acks = _Acks()
            try:
                link.issue(remaining, qos=qos, retain=retain, acks=acks)
                await link.wait(acks.done, self.settings.publish_timeout_s)
                return
            except (LinkLost, OSError, TimeoutError) as exc:
                self.last_error = exc
                remaining = acks.unacknowledged(remaining)
                # The supervisor notices the dead link; wait for it to reconnect, then retry.
                await self._wait_link_change(link)
            finally:
                link.forget(acks)

    def _set_link(self, link: _Link | None) -> None:
        self._link = link
        self._link_changed.set()  # wakes every `_wait_link_change`; later ones wait for the next change
        self._link_changed = asyncio.Event()

    async def _wait_link_change(self, link: _Link) -> None:
        """Return once the current connection is no longer `link`, or after a keepalive-based deadline."""
        if self._link is not link:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                self._link_changed.wait(), self.settings.publish_timeout_s + self.settings.keepalive_s * 2
            )

    async def messages(self) -> AsyncIterator[Received]:
        """Received messages in arrival order, across reconnects."""
        while True:
            while not self._incoming:
                self._arrived.clear()
                await self._arrived.wait()
            yield self._incoming.popleft()

    def drain(self, limit: int) -> list[Received]:
        """Up to `limit` received messages, in arrival order, without waiting (for group processing)."""
        incoming = self._incoming
        return [incoming.popleft() for _ in range(min(limit, len(incoming)))]

    async def wait_arrival(self, timeout_s: float) -> None:
        """Return when a message is waiting, `wake()` is called, or after `timeout_s`."""
        if self._incoming:
            return
        self._arrived.clear()
        timer = asyncio.get_running_loop().call_later(timeout_s, self._arrived.set)
        try:
            await self._arrived.wait()
        finally:
            timer.cancel()

    def wake(self) -> None:
        """End a `wait_arrival` early (the receiver wants to stop)."""
        self._arrived.set()

    def pending(self) -> int:
        """Messages received and not yet taken."""
        return len(self._incoming)

    def ack(self, message: Received) -> None:
        """Acknowledge a QoS 1 message received with `manual_ack=True` (no-op otherwise). A message
        whose connection has gone is not acknowledged: the broker redelivers it.

        "Gone" is asked of the message's own connection, not compared with the current one: a
        persistent session's queued messages arrive right after the CONNACK, before the connection is
        published as current, and one left unacknowledged holds a slot of the broker's in-flight window
        for good (Mosquitto's max_inflight_messages is 20): once the window is full, nothing more is
        delivered."""
        if self.manual_ack and message.qos > 0:
            message.client.ack(message.mid, message.qos)


class _Acks:
    """The PUBACKs one publish call waits for: `done` completes when every message id it issued has
    been acknowledged (paho's `on_publish`; for QoS 0, when the message was written)."""

    __slots__ = ("done", "mids", "pending")

    def __init__(self) -> None:
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.mids: list[int] = []  # in issue order
        self.pending: set[int] = set()

    def acknowledged(self, mid: int) -> None:
        self.pending.discard(mid)
        if not self.pending and not self.done.done():
            self.done.set_result(None)

    def unacknowledged(self, messages: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        """`messages` (those this waiter issued first) without the acknowledged ones, in order."""
        issued = len(self.mids)
        return [m for m, mid in zip(messages, self.mids) if mid in self.pending] + messages[issued:]


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    """Fail `future` if it is still open; marked retrieved, so an abandoned one is not reported."""
    if not future.done():
        future.set_exception(exc)
        future.exception()


class _Link:
    """One network connection: a paho client of its own, its socket driven by the running loop.

    Everything paho does after the connect happens on the loop's thread, in these callbacks: the
    socket's reader calls `loop_read`, a write paho queues schedules `loop_write` (and a writer while
    the socket's buffer is full), a timer calls `loop_misc`. `lost` is set once, when the connection
    goes (paho's `on_disconnect` or its socket closing), and fails everything still waiting on it."""

    def __init__(
        self,
        *,
        settings: MqttSettings,
        client_id: str,
        will: tuple[str, bytes] | None,
        manual_ack: bool,
        incoming: collections.deque[Received],
        arrived: asyncio.Event,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self.loop = asyncio.get_running_loop()
        self.up = False  # CONNACK accepted and not lost since
        self.closed = False
        self.lost = asyncio.Event()
        self.error: LinkLost | None = None
        self.sock: paho.SocketLike | None = None
        self._acks: dict[int, _Acks] = {}  # message id -> the publish call waiting for its PUBACK
        self._subacks: dict[int, asyncio.Future[list[ReasonCode]]] = {}
        self._waiting: set[asyncio.Future[Any]] = set()  # failed when the link goes
        self._connack: asyncio.Future[None] = self.loop.create_future()
        self._connecting: asyncio.Future[MQTTErrorCode] | None = None  # paho's connect, on a thread
        self._attached = False  # the socket is registered with the loop
        self._misc: asyncio.TimerHandle | None = None
        self._progress = 0  # packets handled (messages, acknowledgements): reading goes on while it grows
        self._refused_publishes = 0
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv5,
            manual_ack=manual_ack,
        )
        if settings.username is not None:
            client.username_pw_set(settings.username, settings.password)
        if will is not None:
            client.will_set(will[0], will[1], qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_message = self._receiver(incoming, arrived)
        self.client = client

    # -- opening and closing --------------------------------------------------------------------
    async def open(self, timeout_s: float) -> None:
        """TCP connect and CONNECT on a thread (paho's connect blocks), then take the socket over and
        wait for the CONNACK. Raises ConnectRefused, LinkLost, OSError or TimeoutError."""
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.settings.session_expiry_s
        s = self.settings
        connect = functools.partial(
            self.client.connect, s.host, s.port, s.keepalive_s, clean_start=False, properties=props
        )
        # Shielded: a timeout or cancellation abandons the thread, not stops it; `close()` then closes
        # the socket it opens once it is done.
        self._connecting = connecting = self.loop.run_in_executor(None, connect)
        rc = await asyncio.wait_for(asyncio.shield(connecting), timeout_s)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise LinkLost(f"connect: {paho.error_string(rc)}")
        self._attach()
        await self.wait(self._connack, timeout_s)

    def _attach(self) -> None:
        """Register the connected socket with the loop; from here paho runs on the loop's thread."""
        sock = self.client.socket()
        if sock is None or self.closed:
            raise LinkLost("the socket closed while connecting")
        self.sock = sock
        self._attached = True
        _disable_nagle(sock)
        client = self.client
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        self.loop.add_reader(sock, self._readable)
        if client.want_write():  # the CONNECT did not fit the socket's buffer (paho wrote it on the thread)
            self.loop.add_writer(sock, self._flush)
        self._misc = self.loop.call_later(MISC_INTERVAL_S, self._keepalive)

    async def disconnect(self, timeout_s: float) -> None:
        """Close cleanly (DISCONNECT: the broker drops the will), waiting up to `timeout_s` for it to go
        out; then close whatever is left."""
        if self.up and not self.lost.is_set():
            self.client.disconnect()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.lost.wait(), timeout_s)
        self.close()

    def close(self) -> None:
        """Drop the connection now (idempotent): unregister the socket from the loop and close it."""
        if self.closed:
            return
        self.closed = True
        if self._misc is not None:
            self._misc.cancel()
        sock, self.sock = self.sock, None
        if sock is not None:
            client = self.client
            client.on_socket_close = None
            client.on_socket_register_write = None
            client.on_socket_unregister_write = None
            self.loop.remove_reader(sock)
            self.loop.remove_writer(sock)
            sock.close()
        elif not self._attached:
            connecting = self._connecting
            if connecting is None or connecting.done():
                self._drop_unattached()
            else:  # the connect thread is still at work: close what it opens when it is done
                connecting.add_done_callback(lambda _: self._drop_unattached())
        self._down(LinkLost("closed"))

    def _drop_unattached(self) -> None:
        """Close a socket paho opened on the connect thread that was never attached to the loop: with no
        loop registered, paho writes the DISCONNECT itself and closes the socket."""
        if self._attached or self.client.socket() is None:
            return
        with contextlib.suppress(Exception):
            self.client.disconnect()
        sock = self.client.socket()
        if sock is not None:
            sock.close()

    def _down(self, exc: LinkLost) -> None:
        if self.lost.is_set():
            return
        self.up = False
        self.error = exc
        self.lost.set()
        # A fresh exception for each waiter: one instance raised in many tasks collects their tracebacks.
        _fail(self._connack, exc)
        for future in [*self._waiting, *{id(a): a.done for a in self._acks.values()}.values(), *self._subacks.values()]:
            _fail(future, LinkLost(str(exc)))

    # -- operations -----------------------------------------------------------------------------
    async def wait(self, future: asyncio.Future[_T], timeout_s: float) -> _T:
        """`await future`, failed with LinkLost if the link goes first, TimeoutError after `timeout_s`."""
        if self.error is not None:
            _fail(future, LinkLost(str(self.error)))
        self._waiting.add(future)
        timer = self.loop.call_later(
            timeout_s, _fail, future, TimeoutError(f"no answer from the broker within {timeout_s:g} s")
        )
        try:
            return await future
        finally:
            timer.cancel()
            self._waiting.discard(future)

    async def subscribe(self, patterns: Sequence[str], timeout_s: float) -> None:
        """Subscribe to every pattern at QoS 1 in one SUBSCRIBE and wait for the SUBACK."""
        if not patterns:
            return
        rc, mid = self.client.subscribe([(pattern, 1) for pattern in patterns])
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise LinkLost(f"subscribe: {paho.error_string(rc)}")
        suback: asyncio.Future[list[ReasonCode]] = self.loop.create_future()
        self._subacks[mid] = suback
        try:
            codes = await self.wait(suback, timeout_s)
        finally:
            self._subacks.pop(mid, None)
        refused = [f"{p}: {c}" for p, c in zip(patterns, codes) if c.is_failure]
        if refused:
            log.warning("mqtt %s: subscriptions refused: %s", self.client_id, "; ".join(refused))

    def issue(self, messages: Sequence[tuple[str, bytes]], *, qos: int, retain: bool, acks: _Acks) -> None:
        """Hand `messages` to paho in order, each tracked in `acks` by its message id (paho sends up to
        its in-flight limit and the rest as PUBACKs free slots). Raises LinkLost if the link is down."""
        if not self.up:
            raise LinkLost(str(self.error or "not connected"))
        publish, tracked = self.client.publish, self._acks
        for topic, payload in messages:
            info = publish(topic, payload, qos, retain)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                raise LinkLost(f"publish: {paho.error_string(info.rc)}")
            acks.mids.append(info.mid)
            acks.pending.add(info.mid)
            tracked[info.mid] = acks

    def forget(self, acks: _Acks) -> None:
        """Stop tracking the PUBACKs of a publish call that has ended (acknowledged, failed, cancelled)."""
        tracked = self._acks
        for mid in acks.pending:
            if tracked.get(mid) is acks:
                del tracked[mid]

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge a received message, if this connection is still up (else the broker redelivers)."""
        if self.up:
            self.client.ack(mid, qos)

    # -- paho's callbacks (on the loop's thread) ------------------------------------------------
    def _receiver(self, incoming: collections.deque[Received], arrived: asyncio.Event) -> paho.CallbackOnMessage:
        def on_message(_client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
            self._progress += 1
            incoming.append(
                Received(
                    topic=message.topic,
                    payload=bytes(message.payload),  # received payloads are bytes already: no copy
                    qos=message.qos,
                    mid=message.mid,
                    client=self,
                )
            )
            arrived.set()

        return on_message

    def _on_connect(
        self,
        _client: paho.Client,
        _userdata: Any,
        _flags: paho.ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._progress += 1
        if reason_code.is_failure:
            _fail(self._connack, ConnectRefused(f"{reason_code} (reason code {reason_code.value})"))
        elif not self._connack.done():
            self.up = True
            self._connack.set_result(None)

    def _on_disconnect(
        self,
        _client: paho.Client,
        _userdata: Any,
        flags: paho.DisconnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        what = "the broker disconnected" if flags.is_disconnect_packet_from_server else "the link broke"
        self._down(LinkLost(f"{what} ({reason_code})"))

    def _on_publish(
        self, _client: paho.Client, _userdata: Any, mid: int, reason_code: ReasonCode, _properties: Properties
    ) -> None:
        self._progress += 1
        acks = self._acks.pop(mid, None)
        if acks is not None:
            acks.acknowledged(mid)
        if reason_code.is_failure:
            # Acknowledged all the same (a retry would meet the same answer); said once per connection.
            self._refused_publishes += 1
            if self._refused_publishes == 1:
                log.warning("mqtt %s: the broker refused a publish: %s", self.client_id, reason_code)

    def _on_subscribe(
        self,
        _client: paho.Client,
        _userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        self._progress += 1
        suback = self._subacks.get(mid)
        if suback is not None and not suback.done():
            suback.set_result(reason_codes)

    def _on_socket_close(self, _client: paho.Client, _userdata: Any, sock: paho.SocketLike) -> None:
        """paho closes its socket (the link broke, or the DISCONNECT went out): leave the loop."""
        self.loop.remove_reader(sock)
        self.loop.remove_writer(sock)
        self.sock = None
        if self._misc is not None:
            self._misc.cancel()
        # paho calls on_disconnect next, with the reason; this is the fallback should it not.
        self.loop.call_soon(self._down, LinkLost("socket closed"))

    def _on_register_write(self, _client: paho.Client, _userdata: Any, _sock: paho.SocketLike) -> None:
        # paho queued bytes: write them on this loop turn's end, all at once (a batch of publishes or
        # acknowledgements goes out together); a writer is added only if the socket's buffer fills.
        self.loop.call_soon(self._flush)

    def _on_unregister_write(self, _client: paho.Client, _userdata: Any, sock: paho.SocketLike) -> None:
        self.loop.remove_writer(sock)

    # -- driving paho ---------------------------------------------------------------------------
    def _readable(self) -> None:
        client = self.client
        try:
            for _ in range(READS_PER_EVENT):
                before = self._progress
                if client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS or self._progress == before:
                    break  # nothing more buffered (or the link went: paho reported it)
        except Exception as exc:  # a socket error paho did not handle: the link is gone
            self._broken(exc)

    def _flush(self) -> None:
        sock = self.sock
        if sock is None:
            return
        try:
            self.client.loop_write()
            if self.client.want_write() and self.sock is sock:
                self.loop.add_writer(sock, self._flush)  # the socket's buffer is full: wait until it drains
        except Exception as exc:
            self._broken(exc)

    def _keepalive(self) -> None:
        try:
            rc = self.client.loop_misc()
        except Exception as exc:
            self._broken(exc)
            return
        if rc == MQTTErrorCode.MQTT_ERR_SUCCESS and not self.closed:
            self._misc = self.loop.call_later(MISC_INTERVAL_S, self._keepalive)

    def _broken(self, exc: Exception) -> None:
        self._down(LinkLost(f"{type(exc).__name__}: {exc}"))
        self.close()


def _disable_nagle(sock: paho.SocketLike) -> None:
    """Send small messages at once: paho leaves Nagle's algorithm on, which with delayed ACKs holds a
    PUBACK or a small publish back by up to ~40 ms per hop."""
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
