"""MQTT channel: accepted alerts as JSON (`Alert.payload()`, QoS 1) for phone apps.

The topic defaults to `strideguard/v1/<team>/<runner>/notify`: the pipeline's MQTT sink already puts
every raw risk event on `.../alerts`; `notify` carries only what passed the dispatcher's de-duplication
and rate limit, in a shape meant for a notification. One `MqttConnection` (stream.mqtt), made on first
use; it reconnects by itself after the broker goes away. A send waits at most `publish_timeout_s` for
the broker (reconnecting meanwhile) and then fails the channel's send, so the dispatcher isolates a
broker that is away. The connection's session ends when it closes (expiry 0, a client id of its own):
alerts are not queued for a channel that is gone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json

from strideguard.stream.alerts.base import Alert
from strideguard.stream.errors import SinkError
from strideguard.stream.mqtt.connection import MqttConnection, MqttSettings, unique_client_id

DEFAULT_TOPIC = "strideguard/v1/{team}/{runner}/notify"


class MqttChannel:
    name = "mqtt"
    send_cleared = True

    def __init__(
        self, *, settings: MqttSettings, topic: str = DEFAULT_TOPIC, qos: int = 1, retain: bool = False
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.qos = qos
        self.retain = retain
        self._connection: MqttConnection | None = None

    def topic_for(self, alert: Alert) -> str:
        return self.topic.format(team=alert.session.team, runner=alert.session.runner)

    async def _connect(self) -> MqttConnection:
        """The channel's connection, made on first use; SinkError (from MqttConnection) if the broker
        cannot be reached within `connect_timeout_s` or refuses the credentials."""
        if self._connection is None:
            connection = MqttConnection(
                settings=dataclasses.replace(self.settings, session_expiry_s=0),
                client_id=unique_client_id("strideguard-alerts"),
            )
            await connection.__aenter__()
            self._connection = connection
        return self._connection

    async def send(self, alert: Alert) -> None:
        connection = await self._connect()
        try:
            async with asyncio.timeout(self.settings.publish_timeout_s):
                await connection.publish(
                    self.topic_for(alert), json.dumps(alert.payload()).encode(), qos=self.qos, retain=self.retain
                )
        except TimeoutError as exc:
            reason = connection.last_error or f"no acknowledgement within {self.settings.publish_timeout_s:g} s"
            raise SinkError(f"publish failed: {reason}", sink=self.name, endpoint=self.settings.endpoint) from exc

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.__aexit__(None, None, None)
