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
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

try:
    import resource
except ImportError:  # Windows: no descriptor limit to size against
    resource = None  # type: ignore[assignment]

LISTEN_BACKLOG = 64  # connections the kernel queues before the loop accepts them
# descriptors left beside the open connections: one accept burst (the loop accepts up to the backlog at
# once, before any of them is admitted), as many evicted connections whose sockets close only on the next
# loop turn, and 48 for the store, MQTT and files (a 256-descriptor process ran out without the second)
FD_RESERVE = 2 * LISTEN_BACKLOG + 48


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
        self._sweeper: asyncio.Task[None] | None = None

    def factory(self) -> asyncio.Protocol:
        return _GuardedProtocol(self)

    @property
    def open(self) -> int:
        return len(self._conns)

    def start(self) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="web-idle-sweeper")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    def counts(self) -> dict[str, int]:
        return {
            "open": self.open,
            "max": self.max_connections,
            "timed_out": self.timed_out,
            "evicted": self.evicted,
            "refused": self.refused,
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
