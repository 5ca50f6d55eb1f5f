"""One supervised MQTT connection: reconnects with jittered backoff, resumes its persistent session,
retries QoS 1 publishes until the broker acknowledges them, and hands received messages on in order.

Persistence is chosen so nothing is lost across reconnects: MQTT v5, `clean_start=False` and a session
expiry of days, so the broker keeps subscriptions and queues QoS 1 messages while a client is away; a
fixed client id per role (a worker's id names its partitions) so a restarted process finds its session.
With `manual_ack=True` a received message is acknowledged only when the receiver calls `ack()` (after it
has made the message durable), so a process killed in between gets it again from the broker.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import random
import socket
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiomqtt
import paho.mqtt.client as paho
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from stream.errors import SinkError

log = logging.getLogger(__name__)

DEFAULT_SESSION_EXPIRY_S = 7 * 24 * 3600  # broker keeps an absent client's queue for a week


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    """A received message and the connection it came on (needed to acknowledge it)."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    client: aiomqtt.Client


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
        self.settings = settings
        self.client_id = client_id
        self.subscriptions = tuple(subscriptions)
        self.will = will
        self.online = online
        self.offline = offline
        self.manual_ack = manual_ack
        self.connections = 0  # how many times a connection was established
        self.last_error: Exception | None = None
        self._client: aiomqtt.Client | None = None
        self._link_changed = asyncio.Event()  # set, then replaced, whenever `_client` changes
        self._connected = asyncio.Event()
        self._refused = asyncio.Event()
        # Received messages wait here in arrival order; `_arrived` is set when there is something to take.
        self._incoming: collections.deque[Received] = collections.deque()
        self._arrived = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False

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
        if self.offline and self._client is not None:
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                await self._client.publish(*self.offline, qos=1, retain=True, timeout=2)
        await self._stop()

    async def _stop(self) -> None:
        self._closing = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor

    def _make_client(self) -> aiomqtt.Client:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.settings.session_expiry_s
        client = aiomqtt.Client(
            hostname=self.settings.host,
            port=self.settings.port,
            username=self.settings.username,
            password=self.settings.password,
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=props,
            will=None if self.will is None else aiomqtt.Will(*self.will, qos=1, retain=True),
            keepalive=self.settings.keepalive_s,
            timeout=self.settings.publish_timeout_s,
        )
        client.pending_calls_threshold = 100_000  # many concurrent QoS 1 publishes are normal here
        if self.manual_ack:
            # aiomqtt does not expose it; paho acknowledges a QoS 1 message only on `ack()` then.
            client._client.manual_ack_set(True)  # noqa: SLF001  aiomqtt has no manual-ack option (redesign: issue 14)
        return client

    async def _run(self) -> None:
        delays = backoff_delays_s(self.settings.reconnect_initial_s, self.settings.reconnect_max_s)
        while not self._closing:
            client = self._make_client()
            # Messages go straight from paho's callback into our queue (set before connecting: a persistent
            # session's queued messages follow the CONNACK at once); aiomqtt's own iterator costs a task,
            # an asyncio.wait and a Message object per message.
            client._client.on_message = self._receiver(client)  # noqa: SLF001  aiomqtt has no public per-group receive (redesign: issue 14)
            try:
                async with client:
                    _disable_nagle(client)
                    for pattern in self.subscriptions:
                        await client.subscribe(pattern, qos=1)
                    if self.online:
                        await client.publish(*self.online, qos=1, retain=True)
                    self._set_client(client)
                    self.connections += 1
                    self._connected.set()
                    delays = backoff_delays_s(self.settings.reconnect_initial_s, self.settings.reconnect_max_s)
                    await _until_disconnected(client)
            except MqttConnectError as exc:
                # A CONNACK refusal (bad credentials, not authorised) will not fix itself before the
                # first connection: fail fast. Later (a broker restarting) it is retried like any loss.
                self.last_error = exc
                if self.connections == 0:
                    self._refused.set()
                    return
                log.warning("mqtt %s: connection refused: %s", self.client_id, exc)
            except (aiomqtt.MqttError, OSError) as exc:
                # OSError: paho registers the socket with the loop from its callbacks, and a socket the
                # broker just closed can raise EBADF there; that is a lost link like any other.
                self.last_error = exc
                log.info("mqtt %s: connection lost: %s", self.client_id, exc)
            finally:
                self._connected.clear()
                self._set_client(None)
                _consume_disconnect_error(client)
            if not self._closing:
                await asyncio.sleep(next(delays))

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Publish and, for QoS 1, return only once the broker has acknowledged; across reconnects
        the publish is retried (so the receiver may see it twice: payloads carry keys to de-duplicate)."""
        while True:
            await self._connected.wait()
            client = self._client
            if client is None:
                continue
            try:
                await client.publish(topic, payload, qos=qos, retain=retain)
                return
            except (aiomqtt.MqttError, OSError) as exc:
                self.last_error = exc
                # The supervisor notices the dead link; wait for it to reconnect, then retry.
                await self._wait_link_change(client)

    async def publish_batch(self, messages: Sequence[tuple[str, bytes]], *, qos: int = 1) -> None:
        """Publish many messages, issued in order, and return once the broker has acknowledged all.

        Cheaper than one `publish` each (no task, event and timeout per message: one waiter for the
        batch). Across a reconnect the unacknowledged rest is issued again, still in order, so a batch
        is never overtaken by its own later messages (receivers may see a message twice)."""
        remaining = list(messages)
        while remaining:
            await self._connected.wait()
            client = self._client
            if client is None:
                continue
            paho_client = client._client  # noqa: SLF001  aiomqtt has no batched publish (redesign: issue 14)
            infos: list[paho.MQTTMessageInfo] = []
            try:
                for topic, payload in remaining:
                    info = paho_client.publish(topic, payload, qos)
                    if info.rc != paho.MQTT_ERR_SUCCESS:
                        raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
                    infos.append(info)
                if qos > 0:
                    await self._acknowledged(client, infos)
                return
            except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
                self.last_error = exc
                remaining = [m for m, info in zip(remaining, infos) if not info.is_published()] + remaining[
                    len(infos) :
                ]
                await self._wait_link_change(client)

    async def _acknowledged(self, client: aiomqtt.Client, infos: list[paho.MQTTMessageInfo]) -> None:
        """Wait for the PUBACKs of `infos` (through aiomqtt's own on_publish bookkeeping); TimeoutError
        after `publish_timeout_s`, MqttError if the link goes first."""
        waiting = [info for info in infos if not info.is_published()]
        if not waiting:
            return
        done = asyncio.get_running_loop().create_future()
        countdown = _Countdown(len(waiting), done)
        pending = client._pending_publishes  # noqa: SLF001  aiomqtt sets each PUBACK's entry, no public hook (redesign: issue 14)
        for info in waiting:
            pending[info.mid] = countdown
        disconnected = asyncio.shield(client._disconnected)  # noqa: SLF001  aiomqtt has no public lost-link future (redesign: issue 14)
        try:
            finished, _ = await asyncio.wait(
                {done, disconnected}, timeout=self.settings.publish_timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
            if done not in finished:
                raise (
                    aiomqtt.MqttError("disconnected while publishing")
                    if finished
                    else TimeoutError(f"no PUBACK within {self.settings.publish_timeout_s:g} s")
                )
        finally:
            if disconnected.done() and not disconnected.cancelled():
                disconnected.exception()  # retrieved: the supervisor reports the lost link
            disconnected.cancel()
            for info in waiting:
                if pending.get(info.mid) is countdown:
                    del pending[info.mid]

    def _set_client(self, client: aiomqtt.Client | None) -> None:
        self._client = client
        self._link_changed.set()  # wakes every `_wait_link_change`; later ones wait for the next change
        self._link_changed = asyncio.Event()

    async def _wait_link_change(self, client: aiomqtt.Client) -> None:
        """Return once the current connection is no longer `client`, or after a keepalive-based deadline."""
        if self._client is not client:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                self._link_changed.wait(), self.settings.publish_timeout_s + self.settings.keepalive_s * 2
            )

    def _receiver(self, client: aiomqtt.Client) -> Callable[[paho.Client, Any, paho.MQTTMessage], None]:
        incoming, arrived = self._incoming, self._arrived

        def on_message(_paho: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
            incoming.append(
                Received(
                    topic=message.topic,
                    payload=bytes(message.payload),  # received payloads are bytes already: no copy
                    qos=message.qos,
                    mid=message.mid,
                    client=client,
                )
            )
            arrived.set()

        return on_message

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

        "Gone" is asked of the message's own client, not compared with the current one: a persistent
        session's queued messages arrive right after the CONNACK, before the connection is published as
        current, and one left unacknowledged holds a slot of the broker's in-flight window for good
        (Mosquitto's max_inflight_messages is 20): once the window is full, nothing more is delivered."""
        if self.manual_ack and message.qos > 0:
            client = message.client._client  # noqa: SLF001  aiomqtt has no public ack of a message (redesign: issue 14)
            if client.is_connected():
                client.ack(message.mid, message.qos)


class _Countdown(asyncio.Event):
    """Stands in for aiomqtt's per-publish Event (so it can sit in aiomqtt's table of them): its `set()`
    (one per PUBACK, the only method aiomqtt calls on it) counts down, and the batch's future completes
    at zero."""

    def __init__(self, count: int, done: asyncio.Future[None]) -> None:
        super().__init__()
        self._left = count
        self._done = done

    def set(self) -> None:
        self._left -= 1
        if self._left == 0 and not self._done.done():
            self._done.set_result(None)


async def _until_disconnected(client: aiomqtt.Client) -> None:
    """Wait until aiomqtt sees the link go; raise MqttError like its message iterator does then."""
    disconnected = client._disconnected  # noqa: SLF001  aiomqtt has no public lost-link future (redesign: issue 14)
    try:
        await asyncio.shield(disconnected)  # shielded: cancelling us must not cancel aiomqtt's future
    except aiomqtt.MqttError:
        raise
    except Exception as exc:  # aiomqtt sets whatever paho's socket callbacks raised
        raise aiomqtt.MqttError(f"disconnected: {exc!r}") from exc
    raise aiomqtt.MqttError("disconnected")


def _consume_disconnect_error(client: aiomqtt.Client) -> None:
    """aiomqtt keeps the reason of a lost link in a future nobody awaits once we reconnect with a new
    client; read it so asyncio does not report "Future exception was never retrieved" at exit."""
    future = getattr(client, "_disconnected", None)
    if isinstance(future, asyncio.Future) and future.done() and not future.cancelled():
        future.exception()


def _disable_nagle(client: aiomqtt.Client) -> None:
    """Send small messages at once: paho leaves Nagle's algorithm on, which with delayed ACKs holds a
    PUBACK or a small publish back by up to ~40 ms per hop."""
    sock = client._client.socket()  # noqa: SLF001  aiomqtt does not expose the socket (redesign: issue 14)
    if sock is not None and hasattr(sock, "setsockopt"):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
