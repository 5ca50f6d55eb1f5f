"""In-process publish/subscribe with the same topic schema as the MQTT transport.

Topics are `strideguard/v1/<team>/<runner>/<kind>` with kind one of `metrics`, `steps`, `alerts`,
`status` (and `imu` on MQTT). Messages are JSON-able dicts. `publish` never blocks and never fails the
publisher: each subscriber has a bounded queue and a slow subscriber loses its oldest messages (it is
told how many in `dropped`), so a stalled web page can never hold back the analytics or the alerts.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from typing import Any

TOPIC_ROOT = "strideguard/v1"
KINDS = ("imu", "metrics", "steps", "alerts", "status", "control")  # control: page -> pipeline (snooze)


def topic(team: str, runner: str, kind: str) -> str:
    """The topic for one runner's stream of one kind."""
    if kind not in KINDS:
        raise ValueError(f"unknown topic kind {kind!r}; expected one of {', '.join(KINDS)}")
    for part, name in ((team, "team"), (runner, "runner")):
        if not part or any(c in part for c in "/+#"):
            raise ValueError(f"{name} {part!r} must be non-empty and contain no '/', '+' or '#'")
    return f"{TOPIC_ROOT}/{team}/{runner}/{kind}"


def matches(pattern: str, topic_name: str) -> bool:
    """MQTT-style match: `+` is one level, a trailing `#` any number of levels."""
    pat, top = pattern.split("/"), topic_name.split("/")
    for i, p in enumerate(pat):
        if p == "#":
            return True
        if i >= len(top) or (p != "+" and p != top[i]):
            return False
    return len(pat) == len(top)


class Subscription:
    """A bounded mailbox of (topic, message); iterate it with `async for`."""

    def __init__(self, bus: Bus, pattern: str, maxsize: int) -> None:
        self._bus = bus
        self.pattern = pattern
        self._queue: collections.deque[tuple[str, dict[str, Any]]] = collections.deque(maxlen=maxsize)
        self._ready = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def offer(self, topic_name: str, message: dict[str, Any]) -> None:
        """Put a message in the mailbox (the bus does, for every topic the pattern matches); a full
        mailbox drops its oldest message and counts it in `dropped`."""
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append((topic_name, message))
        self._ready.set()

    def get_nowait(self) -> tuple[str, dict[str, Any]] | None:
        return self._queue.popleft() if self._queue else None

    async def get(self) -> tuple[str, dict[str, Any]]:
        while not self._queue:
            if self.closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()

    def __aiter__(self) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        return self

    async def __anext__(self) -> tuple[str, dict[str, Any]]:
        return await self.get()

    def close(self) -> None:
        self.closed = True
        self._ready.set()
        self._bus.unsubscribe(self)


class Bus:
    """The in-process message bus of the embedded pipeline."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        self.last: dict[str, dict[str, Any]] = {}  # last message per topic, for late joiners

    def publish(self, topic_name: str, message: dict[str, Any]) -> None:
        self.last[topic_name] = message
        for sub in list(self._subscriptions):
            if matches(sub.pattern, topic_name):
                sub.offer(topic_name, message)

    def wants(self, topic_name: str) -> bool:
        """Whether a subscription would receive a message on this topic (if not, only `last` keeps it)."""
        return any(matches(sub.pattern, topic_name) for sub in self._subscriptions)

    def subscribe(self, pattern: str = f"{TOPIC_ROOT}/#", *, maxsize: int = 1000) -> Subscription:
        sub = Subscription(self, pattern, maxsize)
        self._subscriptions.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop delivering to `sub` (its `close()` does this)."""
        self._subscriptions.discard(sub)

    def close(self) -> None:
        for sub in list(self._subscriptions):
            sub.close()
