"""The collector: a team's runners' input (replayed files, synthetic runs, or live BLE fed through the same
call) -> each runner's partitioned MQTT topic: sample batches as binary IMU payloads, heart-rate and
footpod readings, runner controls and BLE link events (lost / restored) as in-band JSON at the position they
came (`stream.mqtt.inband`).

Each runner is one session with its own sequence numbers; batches of one runner are published one
after the other, each acknowledged by the broker (QoS 1) before the next, so a runner's order is the
publish order even across reconnects: a publish that fails is retried on the new connection before
anything later. Runners are published concurrently on one connection. The last message of a session
carries the `final` flag (an empty batch when the data has ended), so the worker knows to flush the
analyzer and close the session.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import AsyncIterable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from strideguard.sensors.capture import CaptureEvent
from strideguard.sensors.types import HeartRateReading, SampleBatch, StrideReading
from strideguard.stream.mqtt.connection import MqttConnection, MqttSettings, unique_client_id
from strideguard.stream.mqtt.inband import LINK_EVENTS, encode_control, encode_link, encode_reading
from strideguard.stream.mqtt.payload import dumps, encode_imu
from strideguard.stream.mqtt.topics import imu_topic, service_status_topic
from strideguard.stream.runtime import sources
from strideguard.stream.runtime.engine import RunnerControl
from strideguard.stream.runtime.session import new_session_id


@dataclass(slots=True)
class RunnerStats:
    """What was published for one runner; `publish_wall_s[seq]`: when message `seq` was published."""

    session_id: str = ""
    messages: int = 0
    samples: int = 0
    publish_wall_s: dict[int, float] = field(default_factory=dict)


class Collector:
    """`async with Collector(settings=..., team=...) as c: await c.replay({runner: batches})`."""

    def __init__(
        self, *, settings: MqttSettings, team: str, collector_id: str = "collector", record_publish_times: bool = False
    ) -> None:
        self.team = team
        self.collector_id = collector_id
        self.record_publish_times = record_publish_times
        status = service_status_topic(f"collector-{collector_id}")
        # A client id of its own per process (role + random token): a runner's login cannot name it to
        # knock the collector off the broker. Nothing waits under it after the process ends (it
        # subscribes to nothing and re-issues unacknowledged publishes itself), so its session ends too.
        self.connection = MqttConnection(
            settings=dataclasses.replace(settings, session_expiry_s=0),
            client_id=unique_client_id(f"strideguard-collector-{team}-{collector_id}"),
            will=(status, dumps({"state": "offline", "clean": False})),
            online=(status, dumps({"state": "online", "team": team})),
            offline=(status, dumps({"state": "offline", "clean": True})),
        )
        self.stats: dict[str, RunnerStats] = {}

    async def __aenter__(self) -> Collector:
        await self.connection.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.connection.__aexit__(*exc_info)

    async def replay(
        self,
        runs: Mapping[str, Iterable[SampleBatch]],
        *,
        speed: float | None = None,
        chunk_s: float = 0.5,
        common_clock: bool = False,
    ) -> dict[str, RunnerStats]:
        """Publish every runner's batches concurrently (paced at `speed` x real time; None: as fast
        as possible), then the end-of-session markers. Returns what was published per runner.

        Each runner is paced from its own first batch, so recordings made at different times play
        together; `common_clock=True` paces all on the earliest runner's clock instead, keeping their
        offsets (recordings of one team run, or a benchmark's staggered runners)."""
        streams = {runner: iter(split_batches(batches, chunk_s)) for runner, batches in runs.items()}
        start_t_ns = None
        if common_clock:
            firsts = {runner: next(stream, None) for runner, stream in streams.items()}
            streams = {r: itertools.chain([] if f is None else [f], streams[r]) for r, f in firsts.items()}
            ends = [int(f.t_ns[-1]) for f in firsts.values() if isinstance(f, SampleBatch) and len(f)]
            start_t_ns = min(ends) if ends else None
        await asyncio.gather(
            *(
                self.publish_session(runner, sources.paced(stream, speed=speed, start_t_ns=start_t_ns))
                for runner, stream in streams.items()
            )
        )
        return self.stats

    async def publish_session(self, runner: str, batches: AsyncIterable[object]) -> RunnerStats:
        """One runner's session: every SampleBatch in order, then a final marker."""
        stats = self.stats.setdefault(runner, RunnerStats())
        topic = imu_topic(self.team, runner)
        seq = 0
        last: SampleBatch | None = None
        async for item in batches:
            payload: bytes
            if isinstance(item, SampleBatch) and len(item):
                if item.runner != runner:
                    item = _renamed(item, runner)
                if not stats.session_id:
                    stats.session_id = new_session_id(runner, int(item.t_ns[0]))
                payload = encode_imu(item, session=stats.session_id, seq=seq)
                stats.samples += len(item)
                last = item
            elif not stats.session_id:
                continue  # a session starts with samples: readings or controls before them have no session
            elif isinstance(item, HeartRateReading | StrideReading):
                payload = encode_reading(item, session=stats.session_id, seq=seq)
            elif isinstance(item, RunnerControl):
                payload = encode_control(item.message, session=stats.session_id, seq=seq)
            elif isinstance(item, CaptureEvent) and item.kind in LINK_EVENTS:  # the worker publishes sensor state
                device = str(item.fields.get("device") or "")
                payload = encode_link(item.kind, device=device, t_ns=item.t_ns, session=stats.session_id, seq=seq)
            else:
                continue  # other capture events (gaps, notes) stay local
            await self._publish(topic, payload, stats, seq)
            seq += 1
        if last is not None:
            end = SampleBatch(
                runner=runner,
                device=last.device,
                placement=last.placement,
                kind=last.kind,
                rate_hz=last.rate_hz,
                t_ns=np.empty(0, np.int64),
                values=np.empty((0, 3), np.float32),
            )
            await self._publish(topic, encode_imu(end, session=stats.session_id, seq=seq, final=True), stats, seq)
        return stats

    async def _publish(self, topic: str, payload: bytes, stats: RunnerStats, seq: int) -> None:
        if self.record_publish_times:
            stats.publish_wall_s[seq] = time.time()  # handed to the broker (retries keep the first time)
        await self.connection.publish(topic, payload, qos=1)
        stats.messages += 1


def split_batches(items: Iterable[object], chunk_s: float) -> Iterator[object]:
    """Batches longer than `chunk_s` cut into pieces of `chunk_s` (one MQTT message each, so a
    whole-file import does not become one huge message); shorter batches and other items pass as they
    are. The analytics do not depend on chunking, so this changes no result."""
    for item in items:
        if isinstance(item, SampleBatch) and len(item) and (item.t_ns[-1] - item.t_ns[0]) / 1e9 > chunk_s:
            step = max(1, round(float(chunk_s * item.rate_hz)))  # float(): an int under numpy 1.x too
            for i in range(0, len(item), step):
                yield item.slice(i, i + step)
        else:
            yield item


def _renamed(batch: SampleBatch, runner: str) -> SampleBatch:
    return SampleBatch(
        runner=runner,
        device=batch.device,
        placement=batch.placement,
        kind=batch.kind,
        rate_hz=batch.rate_hz,
        t_ns=batch.t_ns,
        values=batch.values,
        meta=batch.meta,
    )
