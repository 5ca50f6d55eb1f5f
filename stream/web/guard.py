"""Bounds on the live pages' connections: how many, and how long one may sit idle.

aiohttp (before 3.14) starts no timer on a connection until its first request is answered, so a client
that opens a socket and sends half a request holds a file descriptor for ever; a few hundred of them
ran a process with a 256-descriptor limit (macOS's default) out of descriptors, after which asyncio
logged an `accept()` traceback many times a second and no page loaded. The guard sits between the
listening socket and aiohttp's protocol (`web.Server` is a protocol factory; `loop.create_server` takes
any factory), sees every connection as it is accepted, and:

- closes a connection that is idle — no request being handled — for `idle_timeout_s`: before its first
  request, between requests, or half-way through sending one (the request is "being handled" only once
  its headers are complete; `begin`/`end` are called by the server's middleware);
- keeps at most `max_connections` open, sized below the process's descriptor limit: a new connection
  over the limit pushes out the connection idle the longest (the cheapest to lose: it has sent nothing
  the server is working on), and is itself refused only when every connection is busy;
- counts what it closed, for `/healthz`. Nothing is logged per connection (a flood must not flood the
  terminal).

It also accepts the connections itself, one at a time, each admitted (or refused) before the next is
accepted. asyncio's own server accepts up to its backlog per loop turn and admits them two turns later,
so under load three bursts of a 64-connection backlog were held before the guard saw any of them: a
256-descriptor process with room for two ran out on a loaded CI machine. Accepting one at a time bounds
the descriptors at `max_connections` plus a few, however far behind the loop is; an `accept()` that
fails for want of descriptors (something else in the process took them) is counted and logged once a
minute, not as asyncio's traceback many times a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

try:
    import resource
except ImportError:  # Windows: no descriptor limit to size against
    resource = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 64  # connections the kernel queues (they hold no descriptor of ours until accepted)
# descriptors left beside the open connections: the one being accepted, the few evicted or refused
# sockets that close on the next loop turn, and the rest for the store, MQTT, files and the interpreter
FD_RESERVE = 64
ACCEPT_RETRY_S = 0.5  # after an accept() that failed for want of descriptors or memory
ACCEPT_LOG_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class Limits:
    """The live pages' resource bounds (settings `[web]`; docs/reliability.md, "Pages")."""

    max_feeds: int = 64  # live SSE feeds (open pages); more get 503
    max_connections: int = 256  # open TCP connections, lowered to fit the descriptor limit
    idle_timeout_s: float = 10.0  # a connection with no request being handled is closed after this
    write_timeout_s: float = 30.0  # an SSE write that cannot be delivered for this long ends that feed
    body_timeout_s: float = 5.0  # a request body (snooze) must arrive within this
    max_body_bytes: int = 4096  # a snooze is ~50 bytes of JSON


def connection_cap(wanted: int) -> int:
    """`wanted`, lowered so that open connections can never take the process's last descriptors."""
    if resource is None:
        return wanted
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(8, min(wanted, soft - FD_RESERVE))


class _Conn:
    __slots__ = ("busy", "idle_since", "transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.busy = 0  # requests being handled on this connection
        self.idle_since = time.monotonic()


class ConnectionGuard:
    """Wraps a protocol factory (aiohttp's `web.Server`); `factory` goes to `loop.create_server`."""

    def __init__(self, inner: Callable[[], asyncio.Protocol], *, max_connections: int, idle_timeout_s: float) -> None:
        self.inner = inner
        self.max_connections = connection_cap(max_connections)
        self.idle_timeout_s = idle_timeout_s
        self._conns: dict[asyncio.BaseTransport, _Conn] = {}  # insertion order: oldest first
        self.timed_out = 0  # idle too long
        self.evicted = 0  # pushed out by a newer connection when full
        self.refused = 0  # arrived when full and every connection was busy
        self.accept_failed = 0  # accept() failed (out of descriptors): the connection waits in the kernel
        self._last_accept_log_s = -ACCEPT_LOG_EVERY_S
        self._tasks: list[asyncio.Task[None]] = []
        self._listening: list[socket.socket] = []

    def factory(self) -> asyncio.Protocol:
        return _GuardedProtocol(self)

    @property
    def open(self) -> int:
        return len(self._conns)

    def start(self, listening: list[socket.socket]) -> None:
        """Accept on `listening` (from `listen`; the guard closes them on `stop`) and sweep idle connections."""
        loop = asyncio.get_running_loop()
        self._listening = listening
        self._tasks = [loop.create_task(self._sweep(), name="web-idle-sweeper")]
        self._tasks += [loop.create_task(self._accept(sock), name="web-accept") for sock in listening]

    async def stop(self) -> None:
        """Stops accepting (the open connections are the server's to close) and sweeping."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for sock in self._listening:
            sock.close()
        self._listening = []

    async def _accept(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _addr = await loop.sock_accept(sock)
            except ConnectionAbortedError:  # the client gave up while queued
                continue
            except OSError as exc:
                self._accept_failed(exc)
                await asyncio.sleep(ACCEPT_RETRY_S)
                continue
            try:
                await loop.connect_accepted_socket(self.factory, conn)  # admitted or refused by now
            except OSError:  # the client went away between accept and set-up
                conn.close()

    def _accept_failed(self, exc: OSError) -> None:
        self.accept_failed += 1
        now = time.monotonic()
        if now - self._last_accept_log_s >= ACCEPT_LOG_EVERY_S:
            self._last_accept_log_s = now
            why = errno.errorcode.get(exc.errno or 0, "") or str(exc)
            log.warning(
                "live pages: cannot accept connections (%s: %s); retrying, %d failures so far",
                why,
                exc.strerror or exc,
                self.accept_failed,
            )

    def counts(self) -> dict[str, int]:
        return {
            "open": self.open,
            "max": self.max_connections,
            "timed_out": self.timed_out,
            "evicted": self.evicted,
            "refused": self.refused,
            "accept_failed": self.accept_failed,
        }

    # -- called by the server's middleware around each request ------------------------------------
    def begin(self, transport: asyncio.BaseTransport | None) -> None:
        conn = self._conns.get(transport) if transport is not None else None
        if conn is not None:
            conn.busy += 1

    def end(self, transport: asyncio.BaseTransport | None) -> None:
        conn = self._conns.get(transport) if transport is not None else None
        if conn is not None:
            conn.busy = max(0, conn.busy - 1)
            conn.idle_since = time.monotonic()

    # -- called by the protocol ------------------------------------------------------------------
    def admit(self, transport: asyncio.Transport) -> bool:
        if len(self._conns) >= self.max_connections:
            idle = [c for c in self._conns.values() if not c.busy]
            if not idle:
                self.refused += 1
                return False
            oldest = min(idle, key=lambda c: c.idle_since)
            self._drop(oldest)
            self.evicted += 1
        self._conns[transport] = _Conn(transport)
        return True

    def forget(self, transport: asyncio.BaseTransport) -> None:
        self._conns.pop(transport, None)

    def _drop(self, conn: _Conn) -> None:
        self._conns.pop(conn.transport, None)
        conn.transport.abort()  # not close(): a peer that reads nothing would keep a close() pending

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.idle_timeout_s / 4))
            deadline = time.monotonic() - self.idle_timeout_s
            for conn in [c for c in self._conns.values() if not c.busy and c.idle_since < deadline]:
                self._drop(conn)
                self.timed_out += 1


class _GuardedProtocol(asyncio.Protocol):
    """Hands a connection to aiohttp's protocol only once the guard admits it; forwards every event."""

    def __init__(self, guard: ConnectionGuard) -> None:
        self.guard = guard
        self.inner: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        if not self.guard.admit(transport):
            transport.abort()
            return
        self.transport = transport
        self.inner = self.guard.inner()
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.guard.forget(self.transport)
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.inner is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()


def listen(host: str, port: int, backlog: int = LISTEN_BACKLOG) -> list[socket.socket]:
    """Listening, non-blocking sockets on every address `host` names (as asyncio's `create_server` binds).

    Port 0 asks the OS for a free port once; every further address is bound to that same port. OSError
    (address in use, unknown host) goes to the caller, with no socket left open."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    addresses = list(dict.fromkeys((family, address) for family, _type, _proto, _name, address in infos))
    socks: list[socket.socket] = []
    try:
        for family, address in addresses:
            sock = socket.socket(family, socket.SOCK_STREAM)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(socks) > 1:
                address = (address[0], socks[0].getsockname()[1], *address[2:])
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except OSError:
        for sock in socks:
            sock.close()
        raise
    return socks
