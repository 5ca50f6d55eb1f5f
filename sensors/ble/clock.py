"""Clocks for the BLE shell: the real one, and a virtual one so tests run simulated hours in seconds.

Everything in `sensors.ble` and `sensors.simulated` reads time and sleeps through a `Clock`, so the same
code runs live (`RealClock`) and as fast as possible against simulated devices (`SimClock`).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from typing import Protocol

from strideguard.sensors.units import NS_PER_S


class Clock(Protocol):
    def now_ns(self) -> int:
        """Host time, int ns since the Unix epoch."""

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    """Wall-clock time and asyncio sleeps."""

    def now_ns(self) -> int:
        return time.time_ns()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class SimClock:
    """Discrete-event virtual time.

    `sleep` parks the caller on a heap keyed by its wake-up time; a driver task lets every runnable task
    run (`idle_spins` passes of the event loop), then jumps time to the earliest wake-up and wakes that
    sleeper. Time therefore advances only when all simulated parties are waiting, and ten simulated
    minutes take as long as the work in them. Use as `async with SimClock() as clock:` so the driver
    stops with the test.

    Real waits (sockets, real timers) are not virtual: keep them out of simulated runs.
    """

    def __init__(self, *, start_ns: int = 1_767_225_600 * NS_PER_S, idle_spins: int = 12) -> None:
        self._now_ns = start_ns
        self.idle_spins = idle_spins
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._wakeup: asyncio.Event | None = None
        self._driver: asyncio.Task[None] | None = None

    def now_ns(self) -> int:
        return self._now_ns

    async def sleep(self, seconds: float) -> None:
        # float(): numpy 1.x rounds its floats to floats
        await self.sleep_until_ns(self._now_ns + max(0, round(float(seconds * NS_PER_S))))

    async def sleep_until_ns(self, wake_ns: int) -> None:
        self._ensure_driver()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (max(wake_ns, self._now_ns), next(self._seq), future))
        assert self._wakeup is not None
        self._wakeup.set()
        await future

    def _ensure_driver(self) -> None:
        if self._driver is None or self._driver.done():
            self._wakeup = asyncio.Event()
            self._driver = asyncio.get_running_loop().create_task(self._drive(), name="sim-clock")

    async def _drive(self) -> None:
        assert self._wakeup is not None
        while True:
            for _ in range(self.idle_spins):
                await asyncio.sleep(0)
            if not self._sleepers:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            wake_ns, _, future = heapq.heappop(self._sleepers)
            if future.done():  # the sleeper was cancelled
                continue
            self._now_ns = max(self._now_ns, wake_ns)
            future.set_result(None)

    async def __aenter__(self) -> SimClock:
        self._ensure_driver()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._driver is not None:
            self._driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._driver
            self._driver = None
        for _, _, future in self._sleepers:
            future.cancel()
        self._sleepers.clear()


async def wait_for_event(event: asyncio.Event, clock: Clock, timeout_s: float) -> bool:
    """Wait until `event` is set or `timeout_s` has passed on `clock`; True if the event was set."""
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    sleeper = asyncio.ensure_future(clock.sleep(timeout_s))
    try:
        await asyncio.wait((waiter, sleeper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiter, sleeper):
            if not task.done():
                task.cancel()
    return event.is_set()
