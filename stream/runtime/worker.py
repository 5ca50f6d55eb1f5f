"""The analyzer worker: MQTT imu -> one RunnerAnalyzer per runner session -> MQTT outputs and sinks.

Scale-out is keyed: worker i of N subscribes to the IMU partitions it owns (`stream.mqtt.topics`), so
each runner's batches reach one worker, in order. The worker's MQTT client id names its team and
partitions followed by a secret token kept in its state directory (`mqtt-client-id`: a runner's login
cannot name it to knock the worker off the broker), with a persistent session (clean_start=False, long
expiry), so a restarted worker gets from the broker everything published while it was away.

Nothing is lost and nothing is doubled:
- a received message is written to the worker's journal and fsync'd BEFORE it is acknowledged to the
  broker (manual ack), so a worker killed at any point either has it on disk or gets it again. Messages
  are taken in groups (everything the socket has delivered, up to MAX_GROUP) and a group is journaled
  under ONE fsync (group commit), which runs on a thread while the group is analysed; the group is
  acknowledged when the fsync has returned;
- every IMU message carries a per-session sequence number: redeliveries (QoS 1 is at-least-once) are
  dropped by it, and gaps are counted and logged;
- on start, the worker re-analyses every unfinished session from its journal (the analytics are
  deterministic and chunk-invariant, so this rebuilds exactly the state it lost) and writes the outputs
  again to the sinks: InfluxDB points are keyed by series + time, so rewriting overwrites. MQTT outputs
  already published (the journal's watermark) are not published again.

Outputs are published without holding up the next group: a delivery task publishes what the outbox
holds, waits for the PUBACKs, journals the watermark reached, and takes what accumulated meanwhile (one
batch in flight, so nothing overtakes an earlier output, and a watermark never claims a message the
broker has not acknowledged). Past MAX_OUTBOX queued outputs the worker waits (backpressure).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import json
import logging
import os
import pathlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from strideguard.analytics.results import AnalyzerOutput
from strideguard.sensors.errors import DecodeError
from strideguard.stream import names
from strideguard.stream.mqtt.connection import MqttConnection, MqttSettings, Received, stored_client_id
from strideguard.stream.mqtt.inband import ControlMessage, InputMessage, LinkMessage, ReadingMessage, decode_input
from strideguard.stream.mqtt.journal import Journal, is_finished
from strideguard.stream.mqtt.payload import ImuMessage, dumps, loads
from strideguard.stream.mqtt.sink import MqttSink
from strideguard.stream.mqtt.topics import (
    TopicParts,
    control_subscription,
    parse_topic,
    partition_of,
    service_status_topic,
    worker_partitions,
    worker_subscriptions,
)
from strideguard.stream.runtime.bus import topic
from strideguard.stream.runtime.engine import Analyzer, Session, SessionEngine, SessionSummary, Sink
from strideguard.stream.runtime.phone_speed import (
    SPEED_ACTION,
    NotThisRunner,
    SpeedRefused,
    phone_speed_reading,
    push_phone_speed,
    refusal,
)
from strideguard.stream.runtime.sensor_watch import (
    DEFAULT_SILENT_AFTER_S,
    SensorChange,
    SensorWatch,
    sample_span_ns,
)
from strideguard.stream.runtime.session import SessionInfo
from strideguard.stream.runtime.status import Snapshot, StatusBoard, baseline_wait_s

log = logging.getLogger(__name__)

MAX_GROUP = 512  # messages journaled under one fsync and acknowledged together
LINGER_BELOW = 8  # a group this small waits `group_linger_s` for more; a bigger one (a backlog) goes at once
CONTROL_ACTIONS = ("snooze", SPEED_ACTION)  # what the worker applies from a runner's control topic
MAX_OUTBOX = 5_000  # MQTT output batches queued behind the one awaiting PUBACKs before the worker waits


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
    # Group commit window: after a group's first message, wait this long for more before journaling
    # (one fsync, one loop pass, one publish batch for all). Trades that much latency for CPU when
    # messages trickle in one at a time (many runners, batches spread evenly); 0 = take what is there.
    group_linger_s: float = 0.005
    # a session with no message for this long (wall time) is published as sensor "silent" (None: never)
    silent_after_s: float | None = DEFAULT_SILENT_AFTER_S

    def __post_init__(self) -> None:
        worker_partitions(self.index, self.count)  # validates index and count

    @property
    def name(self) -> str:
        team = "all" if self.team == "+" else self.team
        return f"worker-{team}-{self.index}of{self.count}"

    @property
    def client_id(self) -> str:
        """The recognisable start of the MQTT client id (its secret token is in the state directory)."""
        return f"{self.group}-{self.name}"


@dataclass(slots=True)
class _Wire:
    """What the transport knows of one collector session: whose it is, and how far its input got."""

    team: str
    runner: str
    last_seq: int = -1
    input_seq: int = -1  # sequence number of the message being analysed (tags MQTT outputs)
    watermark: dict[str, int] = field(default_factory=dict)  # kind -> last t_ns published on MQTT
    last_seen_s: float = field(default_factory=time.monotonic)  # when its last message arrived


@dataclass(slots=True)
class WorkerStats:
    messages: int = 0
    duplicates: int = 0
    gaps: int = 0  # messages missing from a sequence (lost upstream)
    bad_payloads: int = 0
    foreign: int = 0  # messages naming a session of another runner or team (refused, never analysed)
    controls: int = 0  # runner controls applied or refused (a reply was published)
    phone_speeds_used: int = 0  # speeds from the runner page's phone pushed into a session
    phone_speeds_refused: int = 0  # ... refused (by the engine's edge or their shape), answered "speed_refused"
    sessions_rebuilt: int = 0
    sessions_finished: int = 0
    sessions_idle_closed: int = 0  # finished because their collector went silent (no final message)
    connections: int = 0  # MQTT connections made (more than 1: the broker went away and came back)
    journal_syncs: int = 0  # fsyncs of the journal (one per group of messages)
    latest_output_s: float = 0.0


class Worker:
    """`await Worker(settings=..., options=..., analyzer_factory=..., sinks=[...]).run(stop_event)`.

    An adapter around `stream.engine.SessionEngine`: sessions are keyed by the collector's session id and
    belong to the team and runner of the topic that opened them; the worker adds the journal, the
    de-duplication by sequence number, and is itself the engine's last sink: the MQTT outbox, a live sink
    (the coach's pages get no window over a sensor dropout)."""

    name = "mqtt-outbox"
    live = True

    def __init__(
        self,
        *,
        settings: MqttSettings,
        options: WorkerOptions,
        analyzer_factory: Callable[[str], Analyzer],
        sinks: Sequence[Sink] = (),
        publish_outputs: bool = True,
    ) -> None:
        self.settings = settings
        self.options = options
        self.publish_outputs = publish_outputs
        self.stats = WorkerStats()
        self.wires: dict[str, _Wire] = {}  # collector session id -> its transport state
        self.engine = SessionEngine(analyzer_factory=analyzer_factory, sinks=[*sinks, self])
        self.journal_dir = options.state_dir / "journal"
        self.journal: Journal | None = None
        self._mqtt_sink: MqttSink | None = None
        self._conn: MqttConnection | None = None
        # MQTT outputs of the current group: (session, output, input_seq, the session's watermark after it)
        self._outbox: list[tuple[SessionInfo, AnalyzerOutput, int, str, dict[str, int]]] = []
        self._delivery: asyncio.Task[None] | None = None  # publishes the outbox while groups go on
        self._fsync_thread: concurrent.futures.ThreadPoolExecutor | None = None  # journal fsyncs, off the loop
        self.ready = asyncio.Event()  # set once subscribed and rebuilt: collectors may start publishing
        self.sensor = SensorWatch(silent_after_s=options.silent_after_s)  # keyed by session id
        self._sensor_sinks = [s for s in sinks if callable(getattr(s, "sensor", None))]  # InfluxDB's status
        self.status = StatusBoard()  # each session's status snapshot, by session id

    @property
    def sessions(self) -> dict[str, Session]:
        """The open sessions by collector session id."""
        return self.engine.sessions

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        status = service_status_topic(self.options.name)
        self.options.state_dir.mkdir(parents=True, exist_ok=True)
        conn = MqttConnection(
            settings=self.settings,
            client_id=stored_client_id(self.options.client_id, self.options.state_dir / "mqtt-client-id"),
            subscriptions=[
                *worker_subscriptions(self.options.team, self.options.index, self.options.count),
                control_subscription(self.options.team),
            ],
            will=(status, dumps({"state": "offline", "clean": False})),
            online=(
                status,
                dumps(
                    {"state": "online", "partitions": list(worker_partitions(self.options.index, self.options.count))}
                ),
            ),
            offline=(status, dumps({"state": "offline", "clean": True})),
            manual_ack=True,
        )
        self.journal = Journal(self.journal_dir)
        self._fsync_thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal-fsync")
        async with conn:
            self._conn = conn
            self._mqtt_sink = MqttSink(conn, publish_status=False) if self.publish_outputs else None
            await self.engine.start()
            await self._rebuild()
            self.ready.set()
            stop_wait = asyncio.ensure_future(stop.wait())
            stop_wait.add_done_callback(lambda _: conn.wake())
            housekeeping_at = time.monotonic() + self.options.housekeeping_s
            try:
                while not stop.is_set():
                    group = await self._next_group(conn)
                    if group:
                        await self._handle_group(conn, group)
                    else:
                        await conn.wait_arrival(self.options.housekeeping_s)
                    if time.monotonic() >= housekeeping_at:
                        for change in self.sensor.check(time.monotonic()):
                            await self._sensor_changed(change)
                        await self._close_idle_sessions()
                        housekeeping_at = time.monotonic() + self.options.housekeeping_s
                await self._delivered()
            finally:
                self.stats.connections = conn.connections
                self.stats.journal_syncs = self.journal.syncs
                stop_wait.cancel()
                if self._delivery is not None:
                    self._delivery.cancel()
                self._fsync_thread.shutdown(wait=True)
                self.journal.close()
                await self.engine.close()

    # -- receiving -----------------------------------------------------------------------------
    async def _next_group(self, conn: MqttConnection) -> list[Received]:
        """Everything the socket has delivered, as one group (one fsync): a lone message waits up to
        `group_linger_s` for company, then a burst is taken over a few loop turns as long as each brings
        more (the transport reads a burst of packets per readable event, not always all that arrived)."""
        group = conn.drain(MAX_GROUP)
        if group and len(group) < LINGER_BELOW and self.options.group_linger_s > 0:
            await asyncio.sleep(self.options.group_linger_s)
            group += conn.drain(MAX_GROUP - len(group))
        while group and len(group) < MAX_GROUP:
            await asyncio.sleep(0)  # let the socket's reader run once more
            more = conn.drain(MAX_GROUP - len(group))
            if not more:
                break
            group += more
        return group

    def _accept(self, message: Received) -> tuple[str, InputMessage, TopicParts] | None:
        """The session key, decoded message and topic of one received message, or None (dropped, counted)."""
        assert self.journal is not None
        try:
            parts = parse_topic(message.topic)
            if parts.kind == "control":
                return self._accept_control(parts, message.payload)
            decoded = decode_input(message.payload, runner=parts.runner)
            names.check(decoded.session, "session")  # it names the session in InfluxDB, the store, topics
            names.check(_device_of(decoded), "device")  # an InfluxDB tag
        except (ValueError, DecodeError) as exc:
            self.stats.bad_payloads += 1
            log.warning("dropping a bad message on %s: %s", message.topic, " ".join(str(exc).split())[:200])
            return None
        wire = self.wires.get(decoded.session)
        # A session id is the runner's (`new_session_id`: `<runner>-...`). Checked here too, not only against
        # this worker's open sessions: a runner may publish on a partition of ANOTHER worker, where the
        # other runner's session is not open, and would add rows to that session in the shared sinks.
        if not decoded.session.startswith(f"{parts.runner}-") or (
            wire is not None and (wire.team, wire.runner) != (parts.team, parts.runner)
        ):
            self.stats.foreign += 1  # another runner's session id: never lets one runner touch another's data
            log.warning("dropping a message on %s for a session of another runner", message.topic)
            return None
        if wire is None and is_finished(self.journal_dir, decoded.session):
            self.stats.duplicates += 1  # a redelivery after the session was closed
            return None
        if wire is not None and decoded.seq <= wire.last_seq:
            self.stats.duplicates += 1
            return None
        if wire is None and not isinstance(decoded, ImuMessage):
            self.stats.bad_payloads += 1  # a session starts with samples (they give it its start time)
            log.warning("dropping a %s message of session %s before its first samples", message.topic, decoded.session)
            return None
        self.journal.append_message(decoded.session, message.topic, message.payload)
        return decoded.session, decoded, parts

    def _accept_control(self, parts: TopicParts, payload: bytes) -> tuple[str, InputMessage, TopicParts] | None:
        """A control from the runner's phone on `.../<runner>/control`: for the runner's open session on
        this worker; replies (also on that topic) and other workers' runners are ignored."""
        assert self.journal is not None
        if partition_of(parts.team, parts.runner) not in worker_partitions(self.options.index, self.options.count):
            return None
        control = loads(payload)
        if control.get("action") not in CONTROL_ACTIONS:
            return None  # a reply, or nothing for the engine
        if control.get("action") == SPEED_ACTION and control.get("runner") != parts.runner:
            self.stats.foreign += 1  # a speed naming another runner is not this runner's (nor answered)
            log.warning("dropping a phone speed on %s/%s naming another runner", parts.team, parts.runner)
            return None
        key = next(
            (k for k, w in self.wires.items() if (w.team, w.runner) == (parts.team, parts.runner)),
            None,
        )
        if key is None:
            self.stats.bad_payloads += 1
            log.warning("dropping a control for %s/%s: no open session", parts.team, parts.runner)
            return None
        self.journal.append_message(key, topic(parts.team, parts.runner, "control"), payload)
        return key, ControlMessage(session=key, seq=-1, control=control), parts

    async def _handle_group(self, conn: MqttConnection, group: list[Received]) -> None:
        """Journal the group under one fsync, acknowledge it, analyse it, write and publish its outputs."""
        assert self.journal is not None
        accepted: list[tuple[str, InputMessage]] = []
        for message in group:
            self.stats.messages += 1
            taken = self._accept(message)
            if taken is not None:
                key, decoded, parts = taken
                await self._note_input(key, decoded, parts)
                accepted.append((key, decoded))
        # Group commit: one fsync makes the whole group durable. It runs on a thread while the group is
        # analysed (the disk wait overlaps the CPU work); the group is acknowledged only once it returned.
        fd = self.journal.write_out()
        durable = (
            asyncio.get_running_loop().run_in_executor(self._fsync_thread, os.fsync, fd) if fd is not None else None
        )
        try:
            for key, decoded in accepted:
                await self._analyse(key, decoded)
        finally:
            if durable is not None:
                await durable
                self.journal.synced()
        for message in group:
            conn.ack(message)  # durable: the broker may forget it
        self.journal.rotate_if_full()
        await self._publish_outbox()

    async def _note_input(self, key: str, decoded: InputMessage, parts: TopicParts) -> None:
        """Open the session on its first samples; sequence bookkeeping for every in-band message."""
        wire = self.wires.get(key)
        if wire is None:
            assert isinstance(decoded, ImuMessage)  # _accept lets only samples open a session
            wire = self.wires[key] = _Wire(team=parts.team, runner=parts.runner)
            batch = decoded.batch
            info = SessionInfo(
                session_id=key,
                runner=parts.runner,
                team=parts.team,
                source="mqtt",
                started_t_ns=int(batch.t_ns[0]) if len(batch) else 0,
            )
            await self.engine.open(key, info, device=batch.device, placement=batch.placement.value)
        if decoded.seq >= 0:  # in-band; a control from the control topic has no place in the sequence
            self._note_gap(key, wire, decoded.seq)
            wire.last_seq = decoded.seq
            # Only the collector's messages say it is alive: a phone sharing its speed every second must
            # not keep the session of a collector that went silent open for ever (idle close).
            wire.last_seen_s = time.monotonic()

    def _note_gap(self, key: str, wire: _Wire, seq: int) -> None:
        if seq != wire.last_seq + 1:
            missing = seq - wire.last_seq - 1
            self.stats.gaps += missing
            log.warning("session %s: %d input message(s) missing before seq %d", key, missing, seq)

    # -- analysing and emitting ----------------------------------------------------------------
    async def _analyse(self, key: str, decoded: InputMessage) -> None:
        wire = self.wires.get(key)
        if wire is None or key not in self.engine.sessions:
            return  # finished earlier in this group
        if isinstance(decoded, ControlMessage):
            await self._control(key, wire, decoded.control)
            return
        if isinstance(decoded, LinkMessage):
            change = self.sensor.on_link(key, decoded.event, time.monotonic(), device=decoded.device, t_ns=decoded.t_ns)
            await self._sensor_changed(change)
            return
        device = decoded.batch.device if isinstance(decoded, ImuMessage) else None
        span = sample_span_ns(decoded.batch) if isinstance(decoded, ImuMessage) else None
        await self._sensor_changed(self.sensor.on_item(key, time.monotonic(), device=device, span_ns=span))
        wire.input_seq = decoded.seq
        if isinstance(decoded, ReadingMessage):
            await self.engine.push(key, decoded.reading)
            return
        if len(decoded.batch):
            await self.engine.push(key, decoded.batch)
        if decoded.final:
            await self._finish(key)

    async def _control(self, key: str, wire: _Wire, control: dict[str, Any], *, rebuilding: bool = False) -> None:
        if control.get("action") == SPEED_ACTION:
            await self._phone_speed(key, wire, control, answer=not rebuilding)
            return
        reply = self.engine.control(key, control)
        self.stats.controls += 1
        log.info("control for %s: %s", wire.runner, reply)
        if self._conn is not None:
            await self._conn.publish(topic(wire.team, wire.runner, "control"), dumps(reply.as_dict()), qos=1)

    async def _phone_speed(self, key: str, wire: _Wire, control: dict[str, Any], *, answer: bool) -> None:
        """A speed from the runner page's phone, into the session as the embedded pipeline puts it (the
        engine's edge refuses one that is not at the session's data time); only a refusal is answered.
        A rebuild applies it again at the same place, but does not answer again what was answered."""
        try:
            problem = await push_phone_speed(self.engine, key, phone_speed_reading(wire.runner, control))
        except NotThisRunner:  # an in-band control naming someone else (the control topic's are dropped on arrival)
            self.stats.foreign += 1
            return
        except SpeedRefused as exc:
            problem = exc.reason
        if problem is None:
            self.stats.phone_speeds_used += 1
            return
        self.stats.phone_speeds_refused += 1
        if answer and self._conn is not None:
            reply = refusal(wire.runner, problem)
            await self._conn.publish(topic(wire.team, wire.runner, "control"), dumps(reply), qos=1)

    async def _sensor_changed(self, change: SensorChange | None) -> None:
        """A session's sensor state changed: a log line, InfluxDB's status, and the runner's status."""
        wire = self.wires.get(change.runner) if change is not None else None
        if change is None or wire is None:
            return
        log.warning("%s", dataclasses.replace(change, runner=wire.runner).log_line())
        info = self.engine.sessions[change.runner].info
        for sink in self._sensor_sinks:
            sink.sensor(info, change)  # type: ignore[attr-defined]
        await self._publish_status(info, self.status.sensor(info, change))

    async def _publish_status(self, info: SessionInfo, snapshot: Snapshot) -> None:
        """The runner's whole status (retained: a coach that starts later gets it at once), as the
        embedded pipeline's BusSink publishes it (`stream.runtime.status`)."""
        if self._conn is not None and self._mqtt_sink is not None:
            await self._conn.publish(topic(info.team, info.runner, "status"), dumps(snapshot), qos=1, retain=True)

    async def _publish_outbox(self) -> None:
        """Hand the group's MQTT outputs to the delivery task (started if idle), so the next group is
        analysed while the broker acknowledges; wait only when MAX_OUTBOX outputs are queued."""
        if self._mqtt_sink is None:
            self._outbox.clear()
            return
        if not self._outbox:
            return
        if self._delivery is None or self._delivery.done():
            if self._delivery is not None:
                self._delivery.result()  # a delivery that failed fails the worker, not silently
            self._delivery = asyncio.create_task(self._deliver())
        elif len(self._outbox) >= MAX_OUTBOX:
            await self._delivery  # backpressure: the broker is slow, stop taking messages for a while

    async def _deliver(self) -> None:
        """Publish what the outbox holds (one batch, issued in order, acknowledged together), journal the
        watermarks reached, repeat until the outbox is empty. One batch at a time, so a batch is never
        overtaken by a later one, also not across a reconnect."""
        assert self._mqtt_sink is not None and self.journal is not None
        sink = self._mqtt_sink
        while self._outbox:
            outbox, self._outbox = self._outbox, []
            await sink.write_many([(info, out, seq) for info, out, seq, _, _ in outbox])
            reached = {key: mark for _, _, _, key, mark in outbox}
            for key, mark in reached.items():
                if key in self.wires:  # a finished session's journal is done with
                    self.journal.append_watermark(key, mark)

    async def _delivered(self) -> None:
        """Wait until every output so far is acknowledged by the broker."""
        await self._publish_outbox()
        if self._delivery is not None:
            await self._delivery

    async def _close_idle_sessions(self) -> None:
        """Finish sessions whose collector went silent (crashed, lost its runner) without the final
        message, so their last windows and summary are written and memory is freed. Messages of such a
        session that arrive later are treated as duplicates: `idle_close_s` is long for that reason."""
        now = time.monotonic()
        for key in [k for k, w in self.wires.items() if now - w.last_seen_s >= self.options.idle_close_s]:
            log.warning("session %s: no message for %.0f s, closing it", key, now - self.wires[key].last_seen_s)
            await self._finish(key)
            self.stats.sessions_idle_closed += 1

    async def _finish(self, key: str) -> None:
        assert self.journal is not None
        await self.engine.finish(key)  # the outbox sink delivers before publishing "finished"
        self.sensor.forget(key)
        del self.wires[key]
        self.journal.finish(key)
        self.stats.sessions_finished += 1

    # -- the engine's MQTT sink ------------------------------------------------------------------
    # Outputs past the session's watermark go to the outbox with the input sequence number that produced
    # them; status snapshots go straight to the broker, "finished" only after everything before it.
    async def open_session(self, session: SessionInfo) -> None:
        analyzer = self.engine.sessions[self.engine.key_of(session.session_id)].analyzer
        snapshot = self.status.open(session)
        self.status.plan(session, baseline_wait_s(analyzer))
        await self._publish_status(session, snapshot)

    async def write(self, session: SessionInfo, output: AnalyzerOutput) -> None:
        self.stats.latest_output_s = time.time()
        if self._mqtt_sink is None:
            return
        if (snapshot := self.status.windows(session, output.windows)) is not None:
            await self._publish_status(session, snapshot)
        key = self.engine.key_of(session.session_id)
        wire = self.wires[key]
        fresh = _after_watermark(output, wire.watermark)
        if fresh:
            wire.watermark = _watermark(fresh, wire.watermark)
            self._outbox.append((session, fresh, wire.input_seq, key, wire.watermark))

    async def close_session(self, session: SessionInfo, summary: SessionSummary) -> None:
        await self._delivered()  # "finished" only after everything before it
        await self._publish_status(session, self.status.finish(session, summary.as_dict()))

    async def close(self) -> None:
        return None  # the connection closes with `run`

    # -- restart -------------------------------------------------------------------------------
    async def _rebuild(self) -> None:
        """Re-analyse every unfinished session from the journal (see the module docstring)."""
        assert self.journal is not None
        recovered = self.journal.recovered
        for key, topic_name, payload in self.journal.replay():
            parts = parse_topic(topic_name)
            if parts.kind == "control":
                if key in self.wires:
                    await self._control(key, self.wires[key], loads(payload), rebuilding=True)
                continue
            decoded = decode_input(payload, runner=parts.runner)
            if key not in self.wires:
                await self._note_input(key, decoded, parts)
                self.wires[key].watermark = dict(recovered.watermarks.get(key, {}))
                self.stats.sessions_rebuilt += 1
                log.info("rebuilding session %s from %d journaled messages", key, recovered.messages[key])
            elif decoded.seq <= self.wires[key].last_seq:
                continue
            else:
                await self._note_input(key, decoded, parts)
            await self._analyse(key, decoded)
        await self._delivered()


def _device_of(message: InputMessage) -> str:
    if isinstance(message, ImuMessage):
        return message.batch.device
    if isinstance(message, ReadingMessage):
        return message.reading.device
    if isinstance(message, LinkMessage):
        return message.device
    return "control"  # a control names no device


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
