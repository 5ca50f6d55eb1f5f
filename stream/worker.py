"""The analyzer worker: MQTT imu -> one RunnerAnalyzer per runner session -> MQTT outputs and sinks.

Scale-out is keyed: worker i of N subscribes to the IMU partitions it owns (`stream.mqtt.topics`), so
each runner's batches reach one worker, in order. The worker's MQTT client id names its team and
partitions, with a persistent session (clean_start=False, long expiry), so a restarted worker gets
from the broker everything published while it was away.

Nothing is lost and nothing is doubled:
- a received message is written to the session's journal and fsync'd BEFORE it is acknowledged to the
  broker (manual ack), so a worker killed at any point either has it on disk or gets it again;
- every IMU message carries a per-session sequence number: redeliveries (QoS 1 is at-least-once) are
  dropped by it, and gaps are counted and logged;
- on start, the worker re-analyses every unfinished session from its journal (the analytics are
  deterministic and chunk-invariant, so this rebuilds exactly the state it lost) and writes the outputs
  again to the sinks: InfluxDB points are keyed by series + time, so rewriting overwrites. MQTT outputs
  already published (the journal's watermark) are not published again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import pathlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiomqtt

from analytics.results import AnalyzerOutput
from sensors.errors import DecodeError
from stream.mqtt.connection import MqttConnection, MqttSettings, Received
from stream.mqtt.journal import Journal, is_finished, read_records, unfinished
from stream.mqtt.payload import ImuMessage, decode_imu, dumps
from stream.mqtt.sink import MqttSink
from stream.mqtt.topics import parse_topic, service_status_topic, worker_partitions, worker_subscriptions
from stream.pipeline import Analyzer, Sink
from stream.session import SessionInfo

log = logging.getLogger(__name__)

MAX_GROUP = 256  # messages journaled under one fsync


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerOptions:
    """Which partitions this worker owns and where it keeps its journals."""

    state_dir: pathlib.Path
    team: str = "+"  # one team, or + for every team
    index: int = 0
    count: int = 1
    group: str = "strideguard"  # client id prefix: workers of one deployment share it
    idle_close_s: float = 1800.0  # a session with no message for this long is finished and closed
    housekeeping_s: float = 5.0  # how often idle sessions are looked for when no message comes

    def __post_init__(self) -> None:
        worker_partitions(self.index, self.count)  # validates index and count

    @property
    def name(self) -> str:
        team = "all" if self.team == "+" else self.team
        return f"worker-{team}-{self.index}of{self.count}"

    @property
    def client_id(self) -> str:
        return f"{self.group}-{self.name}"


@dataclass(slots=True)
class _Session:
    info: SessionInfo
    analyzer: Analyzer
    journal: Journal
    last_seq: int = -1
    watermark: dict[str, int] = field(default_factory=dict)  # kind -> last t_ns published on MQTT
    last_seen_s: float = field(default_factory=time.monotonic)  # when its last message arrived
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class WorkerStats:
    messages: int = 0
    duplicates: int = 0
    gaps: int = 0  # messages missing from a sequence (lost upstream)
    bad_payloads: int = 0
    sessions_rebuilt: int = 0
    sessions_finished: int = 0
    sessions_idle_closed: int = 0  # finished because their collector went silent (no final message)
    connections: int = 0  # MQTT connections made (more than 1: the broker went away and came back)
    latest_output_s: float = 0.0


class Worker:
    """`await Worker(settings=..., options=..., analyzer_factory=..., sinks=[...]).run(stop_event)`."""

    def __init__(self, *, settings: MqttSettings, options: WorkerOptions,
                 analyzer_factory: Callable[[str], Analyzer], sinks: Sequence[Sink] = (),
                 publish_outputs: bool = True) -> None:
        self.settings = settings
        self.options = options
        self.analyzer_factory = analyzer_factory
        self.sinks = list(sinks)
        self.publish_outputs = publish_outputs
        self.stats = WorkerStats()
        self.sessions: dict[str, _Session] = {}
        self.journal_dir = options.state_dir / "journal"
        self._mqtt_sink: MqttSink | None = None
        self._outbox: list[tuple[_Session, AnalyzerOutput, int]] = []  # MQTT outputs of the current group
        self.ready = asyncio.Event()  # set once subscribed and rebuilt: collectors may start publishing

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        status = service_status_topic(self.options.name)
        conn = MqttConnection(
            settings=self.settings,
            client_id=self.options.client_id,
            subscriptions=worker_subscriptions(self.options.team, self.options.index, self.options.count),
            will=aiomqtt.Will(status, dumps({"state": "offline", "clean": False}), qos=1, retain=True),
            online=(status, dumps({"state": "online", "partitions": list(
                worker_partitions(self.options.index, self.options.count))})),
            offline=(status, dumps({"state": "offline", "clean": True})),
            manual_ack=True,
        )
        async with conn:
            self._mqtt_sink = MqttSink(conn) if self.publish_outputs else None
            for sink in self.sinks:
                start = getattr(sink, "start", None)
                if start is not None:
                    await start()
            await self._rebuild()
            self.ready.set()
            messages = conn.messages()
            stop_wait = asyncio.ensure_future(stop.wait())
            next_message: asyncio.Future[Received] | None = None
            try:
                while not stop.is_set():
                    if next_message is None:
                        next_message = asyncio.ensure_future(anext(messages))
                    done, _ = await asyncio.wait({next_message, stop_wait}, timeout=self.options.housekeeping_s,
                                                 return_when=asyncio.FIRST_COMPLETED)
                    if stop_wait in done and next_message not in done:
                        next_message.cancel()
                        break
                    if next_message not in done:
                        await self._close_idle_sessions()
                        continue
                    group = [next_message.result()]
                    next_message = None
                    while conn.pending() and len(group) < MAX_GROUP:
                        group.append(await anext(messages))
                    await self._handle_group(conn, group)
            finally:
                self.stats.connections = conn.connections
                stop_wait.cancel()
                if next_message is not None:
                    next_message.cancel()
                for session in self.sessions.values():
                    session.journal.close()
                for sink in self.sinks:
                    await sink.close()

    # -- receiving -----------------------------------------------------------------------------
    async def _handle_group(self, conn: MqttConnection, group: list[Received]) -> None:
        """Journal + fsync the group, analyse it, write outputs, then acknowledge it."""
        accepted: list[tuple[_Session, ImuMessage]] = []
        for message in group:
            self.stats.messages += 1
            try:
                parts = parse_topic(message.topic)
                imu = decode_imu(message.payload, runner=parts.runner)
            except (ValueError, DecodeError) as exc:
                self.stats.bad_payloads += 1
                log.warning("dropping a bad message on %s: %s", message.topic, exc)
                continue
            session = self.sessions.get(imu.session)
            if session is None and is_finished(self.journal_dir, imu.session):
                self.stats.duplicates += 1  # a redelivery after the session was closed
                continue
            if session is None:
                session = await self._open(parts.team, imu, Journal.for_session(self.journal_dir, imu.session))
            if imu.seq <= session.last_seq:
                self.stats.duplicates += 1
                continue
            self._note_gap(session, imu.seq)
            session.journal.append_message(message.topic, message.payload)
            session.last_seq = imu.seq
            session.last_seen_s = time.monotonic()
            accepted.append((session, imu))
        for session in {id(s): s for s, _ in accepted}.values():
            session.journal.sync()
        for session, imu in accepted:
            await self._analyse(session, imu)
        await self._flush_outbox()
        for message in group:
            conn.ack(message)

    def _note_gap(self, session: _Session, seq: int) -> None:
        if seq != session.last_seq + 1:
            missing = seq - session.last_seq - 1
            self.stats.gaps += missing
            log.warning("session %s: %d IMU message(s) missing before seq %d", session.info.session_id, missing, seq)

    async def _open(self, team: str, imu: ImuMessage, journal: Journal) -> _Session:
        batch = imu.batch
        started = int(batch.t_ns[0]) if len(batch) else 0
        info = SessionInfo(session_id=imu.session, runner=batch.runner, team=team, source="mqtt",
                           started_t_ns=started)
        session = _Session(info=info, analyzer=self.analyzer_factory(batch.runner), journal=journal,
                           tags={"device": batch.device, "placement": batch.placement.value})
        self.sessions[imu.session] = session
        for sink in self._all_sinks():
            tag = getattr(sink, "tag_session", None)
            if tag is not None:
                tag(imu.session, **session.tags)
            await sink.open_session(info)
        return session

    def _all_sinks(self) -> list[Any]:
        return [*self.sinks, *([self._mqtt_sink] if self._mqtt_sink else [])]

    # -- analysing and emitting ----------------------------------------------------------------
    async def _analyse(self, session: _Session, imu: ImuMessage) -> None:
        output = session.analyzer.push(imu.batch) if len(imu.batch) else AnalyzerOutput()
        if imu.final:
            output = output + session.analyzer.finish()
        await self._emit(session, output, imu.seq)
        if imu.final:
            await self._close(session)

    async def _emit(self, session: _Session, output: AnalyzerOutput, input_seq: int) -> None:
        if not output:
            return
        for sink in self.sinks:
            await sink.write(session.info, output)
        if self._mqtt_sink is not None:
            fresh = _after_watermark(output, session.watermark)
            if fresh:
                self._outbox.append((session, fresh, input_seq))
                session.watermark = _watermark(fresh, session.watermark)
        self.stats.latest_output_s = time.time()

    async def _flush_outbox(self) -> None:
        """Publish the MQTT outputs of a group together (issued in order, acknowledged concurrently: one
        round trip per group instead of one per message), then journal the new watermarks."""
        if not self._outbox or self._mqtt_sink is None:
            return
        outbox, self._outbox = self._outbox, []
        sink = self._mqtt_sink
        await asyncio.gather(*(sink.write(s.info, out, input_seq=seq) for s, out, seq in outbox))
        for session in {id(s): s for s, _, _ in outbox}.values():
            session.journal.append_watermark(session.watermark)

    async def _close_idle_sessions(self) -> None:
        """Finish sessions whose collector went silent (crashed, lost its runner) without the final
        message, so their last windows and summary are written and memory is freed. Messages of such a
        session that arrive later are treated as duplicates: `idle_close_s` is long for that reason."""
        now = time.monotonic()
        for session in [s for s in self.sessions.values() if now - s.last_seen_s >= self.options.idle_close_s]:
            log.warning("session %s: no message for %.0f s, closing it", session.info.session_id,
                        now - session.last_seen_s)
            await self._emit(session, session.analyzer.finish(), session.last_seq)
            await self._close(session)
            self.stats.sessions_idle_closed += 1

    async def _close(self, session: _Session) -> None:
        await self._flush_outbox()  # the outputs go out before the session's "finished" status
        summary = {"session_id": session.info.session_id, **session.analyzer.summary}
        for sink in self._all_sinks():
            await sink.close_session(session.info, summary)
        session.journal.finish()
        del self.sessions[session.info.session_id]
        self.stats.sessions_finished += 1

    # -- restart -------------------------------------------------------------------------------
    async def _rebuild(self) -> None:
        """Re-analyse every unfinished session from its journal (see the module docstring)."""
        for path in unfinished(self.journal_dir):
            session: _Session | None = None
            watermark: dict[str, int] = {}
            messages: list[tuple[str, bytes]] = []
            for kind, record in read_records(path):
                if kind == "watermark":
                    watermark = record
                else:
                    messages.append(record)
            for topic_name, payload in messages:
                parts = parse_topic(topic_name)
                imu = decode_imu(payload, runner=parts.runner)
                if session is None:
                    session = await self._open(parts.team, imu, Journal(path))
                    session.watermark = dict(watermark)
                if imu.seq <= session.last_seq:
                    continue
                self._note_gap(session, imu.seq)
                session.last_seq = imu.seq
                await self._analyse(session, imu)
            await self._flush_outbox()
            if session is None:
                path.unlink()  # an empty journal: nothing was acknowledged for it
                continue
            self.stats.sessions_rebuilt += 1
            log.info("rebuilt session %s from %d journaled messages", session.info.session_id, len(messages))


def _after_watermark(output: AnalyzerOutput, watermark: dict[str, int]) -> AnalyzerOutput:
    steps_after = watermark.get("steps", -1)
    metrics_after = watermark.get("metrics", -1)
    alerts_after = watermark.get("alerts", -1)
    return AnalyzerOutput(
        steps=tuple(s for s in output.steps if s.t_ns > steps_after),
        windows=tuple(w for w in output.windows if w.t_end_ns > metrics_after),
        risk_events=tuple(e for e in output.risk_events if e.t_ns > alerts_after),
    )


def _watermark(output: AnalyzerOutput, previous: dict[str, int]) -> dict[str, int]:
    new = dict(previous)
    if output.steps:
        new["steps"] = max(new.get("steps", -1), max(s.t_ns for s in output.steps))
    if output.windows:
        new["metrics"] = max(new.get("metrics", -1), max(w.t_end_ns for w in output.windows))
    if output.risk_events:
        new["alerts"] = max(new.get("alerts", -1), max(e.t_ns for e in output.risk_events))
    return new


def describe(stats: WorkerStats) -> str:
    return json.dumps({k: getattr(stats, k) for k in WorkerStats.__dataclass_fields__})
