"""Soak: 30 minutes of running by three runners, replayed at 60x through the collector process, real
Mosquitto, two worker processes and real InfluxDB, while the broker restarts twice, workers are
SIGKILLed three times and InfluxDB is down twice. It must end in exact counts: every step, window and
alert of the embedded analysis in InfluxDB once, equal field by field, and every step on MQTT in order.

Built on the live-pipeline rig (tests/stream/test_e2e_live.py: its `rig` fixture, observer and
assertions are imported, not copied). Faults are driven by progress (the share of steps the observer
has seen), so each lands mid-run whatever the machine's speed.

It cannot hang CI: every phase runs under `phase()`, a deadline that fails the test with the phase's name
and the processes' logs. `asyncio.timeout` cancels a phase that waits too long; a SIGALRM backstop a
little later fails it even if the event loop itself is blocked (a stuck synchronous call), where no
asyncio timeout could fire.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator

import pytest

from strideguard.stream.mqtt.topics import partition_of
from tests.stream.test_e2e_live import (
    RUNNERS,
    Observer,
    Rig,
    assert_influx_equals_embedded,
    assert_mqtt_steps_complete_and_ordered,
    expected_counts,
    influx_counts,
    start_all,
    wait_until,
)

pytestmark = [pytest.mark.services, pytest.mark.slow]

SOAK_DATA_S = 30 * 60.0  # s of running per runner
SPEED = 60.0  # x real time: 30 min of data published in 30 s, slow enough for the faults to land mid-run
PHASE_TIMEOUT_S = 240.0  # no phase takes more than ~60 s on a loaded 2-CPU machine; a hang fails here
ALARM_GRACE_S = 30.0  # the SIGALRM backstop fires this much after the asyncio deadline


@contextlib.asynccontextmanager
async def phase(
    name: str, rig: Rig | None, timeout_s: float = PHASE_TIMEOUT_S, alarm_grace_s: float = ALARM_GRACE_S
) -> AsyncIterator[None]:
    """Run one soak phase under a hard deadline that fails the test with a clear message, never hangs."""
    logs = (lambda: rig.logs()) if rig is not None else (lambda: "")

    def on_alarm(signum: int, frame: object) -> None:
        pytest.fail(
            f"soak phase {name!r} still running {timeout_s + alarm_grace_s:g} s after it started, with "
            f"the event loop blocked\n{logs()}",
            pytrace=False,
        )

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s + alarm_grace_s)
    try:
        async with asyncio.timeout(timeout_s):
            yield
    except TimeoutError:
        pytest.fail(f"soak phase {name!r} did not finish within {timeout_s:g} s\n{logs()}", pytrace=False)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Faults:
    """The fault schedule and what was done, for the report and the final assertions."""

    def __init__(self, rig: Rig, observer: Observer) -> None:
        self.rig, self.observer = rig, observer
        self.done: list[str] = []
        self.expected_steps = {r: len(rig.inputs.expected[r].steps) for r in RUNNERS}

    def progress(self) -> float:
        """Smallest share of its steps any runner has reached on MQTT (0..1)."""
        seen = {r: sum(len(v) for k, v in self.observer.steps.items() if k.startswith(f"{r}-")) for r in RUNNERS}
        return min(seen[r] / self.expected_steps[r] for r in RUNNERS)

    async def at(self, share: float) -> None:
        await wait_until(lambda: self.progress() >= share, 120, f"{share:.0%} of the steps", self.rig)

    async def kill_worker(self, index: int) -> None:
        name = f"worker-{self.rig.team}-{index}of2"
        at = self.progress()
        self.rig.workers[index].signal(signal.SIGKILL)
        await wait_until(lambda: self.observer.services.get(name) == "offline", 15, f"{name}'s will", self.rig)
        self.rig.workers[index] = self.rig.worker(index)
        await wait_until(lambda: self.observer.services.get(name) == "online", 30, f"{name} back", self.rig)
        self.done.append(f"SIGKILL worker {index} at {at:.0%}")

    async def restart_broker(self, down_s: float) -> None:
        at = self.progress()
        self.rig.broker.stop()
        await asyncio.sleep(down_s)
        self.rig.broker.start()
        self.done.append(f"broker down {down_s:g} s at {at:.0%}")

    def influx_down(self) -> float:
        self.rig.influx.stop()
        self.done.append(f"InfluxDB stopped at {self.progress():.0%}")
        return time.monotonic()

    def influx_up(self, since: float) -> None:
        self.rig.influx.start()
        self.done.append(f"InfluxDB back after {time.monotonic() - since:.0f} s")


@pytest.mark.parametrize("rig", [SOAK_DATA_S], indirect=True)
async def test_soak_30_minutes_with_faults_ends_in_exact_counts(rig: Rig) -> None:
    owned = {i: [r for r in RUNNERS if partition_of(rig.team, r) % 2 == i] for i in (0, 1)}
    assert owned[0] and owned[1], "each worker must own a runner for its crash to mean anything"
    started = time.monotonic()
    async with Observer(rig.broker, rig.team) as observer:  # its start is bounded (10 s)
        faults = Faults(rig, observer)
        async with phase("start workers and collector", rig):
            await start_all(rig, observer, speed=SPEED)
        async with phase("kill worker 0 at 10 %", rig):
            await faults.at(0.10)
            await faults.kill_worker(0)
        async with phase("restart the broker at 25 %", rig):
            await faults.at(0.25)
            await faults.restart_broker(3.0)
        async with phase("InfluxDB down, kill worker 1 at 40 %", rig):
            await faults.at(0.40)
            influx_since = faults.influx_down()
            await faults.kill_worker(1)
        async with phase("InfluxDB up at 55 %", rig):
            await faults.at(0.55)
            faults.influx_up(influx_since)
        async with phase("restart the broker at 65 %", rig):
            await faults.at(0.65)
            await faults.restart_broker(2.0)
        async with phase("InfluxDB down, kill worker 0 at 75 %", rig):
            await faults.at(0.75)
            influx_since = faults.influx_down()
            await faults.kill_worker(0)
            await asyncio.sleep(3.0)
            faults.influx_up(influx_since)
        async with phase("drain: sessions finished, InfluxDB complete", rig, timeout_s=PHASE_TIMEOUT_S + 120):
            await wait_until(lambda: len(observer.finished) == 3, 180, "3 finished sessions", rig)
            await wait_until(lambda: influx_counts(rig) == expected_counts(rig), 120, "all points in InfluxDB", rig)
    counts = influx_counts(rig)
    assert_influx_equals_embedded(rig, observer.finished)
    # MQTT is at-least-once: a worker killed after publishing but before its journal says so publishes
    # those steps again on restart; receivers drop them by (session, t_ns). InfluxDB holds each once.
    duplicates = assert_mqtt_steps_complete_and_ordered(rig, observer)
    async with phase("stop the workers", rig):
        rig.stop()
    logs = rig.workers[0].log() + rig.workers[1].log()
    print(
        f"soak: {SOAK_DATA_S / 60:g} min x {len(RUNNERS)} runners in {time.monotonic() - started:.0f} s wall; "
        f"InfluxDB {counts} == expected; MQTT step messages delivered twice: {duplicates}; faults: {faults.done}"
    )
    assert len(faults.done) == 9
    # No gap in any session's input sequence, as the workers count it at their clean stop.
    assert logs.count("gaps=") >= 2 and logs.count("gaps=") == logs.count("gaps=0,"), rig.logs()


async def test_a_phase_that_waits_too_long_fails_with_its_name() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"phase 'stuck await' did not finish within 0\.2 s"):
        async with phase("stuck await", None, timeout_s=0.2):
            await asyncio.Event().wait()


async def test_a_phase_that_blocks_the_event_loop_fails_instead_of_hanging() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"phase 'blocked loop' still running 0\.3 s .* loop blocked"):
        async with phase("blocked loop", None, timeout_s=0.1, alarm_grace_s=0.2):
            time.sleep(30)  # noqa: ASYNC251  a blocking call on purpose: only the SIGALRM backstop may end it
