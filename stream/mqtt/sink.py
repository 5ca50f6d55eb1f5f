"""The MQTT output sink: a runner's steps, window metrics and alerts as JSON on its topics.

`strideguard/v1/<team>/<runner>/steps` (one message per analyzer push, `steps` a list),
`.../metrics` (one message per window), `.../alerts` (one per risk event), all QoS 1 and carrying
`session_id`; `.../status` is retained: `{"session_id", "runner", "state": "running" | "finished",
"summary"?}`. Usable by the embedded pipeline (`Pipeline(sinks=[MqttSink(connection)])`) and by the
analyzer worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strideguard.analytics.results import AnalyzerOutput
from strideguard.stream.mqtt.connection import MqttConnection
from strideguard.stream.mqtt.payload import dumps, output_messages
from strideguard.stream.runtime.bus import topic
from strideguard.stream.runtime.engine import SessionSummary
from strideguard.stream.runtime.session import SessionInfo


class MqttSink:
    """Outputs to MQTT for live consumers (the coach's pages): a live sink, no window over a dropout."""

    name = "mqtt"
    live = True

    def __init__(self, connection: MqttConnection, *, publish_status: bool = True) -> None:
        self.connection = connection
        self.publish_status = publish_status
        self.messages_published = 0

    async def open_session(self, session: SessionInfo) -> None:
        if self.publish_status:  # started_t_ns: the pages' elapsed time, as the embedded BusSink gives it
            await self._status(session, "running", started_t_ns=session.started_t_ns)

    async def write(self, session: SessionInfo, output: AnalyzerOutput, *, input_seq: int | None = None) -> None:
        messages = output_messages(session.session_id, output, input_seq=input_seq)
        # One batch: issued in order, acknowledged together, and after a reconnect the unacknowledged
        # rest goes again in order (no task per message).
        await self.connection.publish_batch(
            [(topic(session.team, session.runner, kind), dumps(message)) for kind, message in messages], qos=1
        )
        self.messages_published += len(messages)

    async def write_many(self, writes: Sequence[tuple[SessionInfo, AnalyzerOutput, int | None]]) -> None:
        """The messages of many outputs (session, output, input_seq) as one batch of publishes, in order:
        the worker's way, one call per group instead of one task per message."""
        batch = [
            (topic(session.team, session.runner, kind), dumps(message))
            for session, output, input_seq in writes
            for kind, message in output_messages(session.session_id, output, input_seq=input_seq)
        ]
        await self.connection.publish_batch(batch, qos=1)
        self.messages_published += len(batch)

    async def close_session(self, session: SessionInfo, summary: SessionSummary) -> None:
        if self.publish_status:
            await self._status(session, "finished", summary=summary.as_dict())

    async def close(self) -> None:
        return None  # the connection belongs to whoever opened it

    async def _status(self, session: SessionInfo, state: str, **extra: Any) -> None:
        message = {"session_id": session.session_id, "runner": session.runner, "state": state, **extra}
        await self.connection.publish(topic(session.team, session.runner, "status"), dumps(message), qos=1, retain=True)
