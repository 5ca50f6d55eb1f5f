"""MQTT channel: accepted alerts as JSON (`Alert.payload()`, QoS 1) for phone apps.

The topic defaults to `strideguard/v1/<team>/<runner>/notify`: the pipeline's MQTT sink already puts
every raw risk event on `.../alerts`; `notify` carries only what passed the dispatcher's de-duplication
and rate limit, in a shape meant for a notification. One aiomqtt connection, made on first use and
re-made (on the next alert) after it drops; the dispatcher isolates a broker that is away.
"""

from __future__ import annotations

import contextlib
import json

import aiomqtt

from stream.alerts.base import Alert
from stream.errors import SinkError
from stream.mqtt.connection import MqttSettings

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
        self._client: aiomqtt.Client | None = None
        self._stack: contextlib.AsyncExitStack | None = None

    def topic_for(self, alert: Alert) -> str:
        return self.topic.format(team=alert.session.team, runner=alert.session.runner)

    async def _connect(self) -> aiomqtt.Client:
        if self._client is not None:
            return self._client
        s = self.settings
        stack = contextlib.AsyncExitStack()
        client = aiomqtt.Client(
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=s.password,
            keepalive=s.keepalive_s,
            timeout=s.connect_timeout_s,
        )
        try:
            await stack.enter_async_context(client)
        except aiomqtt.MqttError as exc:
            await stack.aclose()
            raise SinkError(f"broker not reachable: {exc}", sink=self.name, endpoint=s.endpoint) from exc
        self._client, self._stack = client, stack
        return client

    async def send(self, alert: Alert) -> None:
        client = await self._connect()
        try:
            await client.publish(
                self.topic_for(alert),
                json.dumps(alert.payload()).encode(),
                qos=self.qos,
                retain=self.retain,
                timeout=self.settings.publish_timeout_s,
            )
        except aiomqtt.MqttError as exc:
            await self.aclose()
            raise SinkError(f"publish failed: {exc}", sink=self.name, endpoint=self.settings.endpoint) from exc

    async def aclose(self) -> None:
        stack, self._client, self._stack = self._stack, None, None
        if stack is not None:
            with contextlib.suppress(Exception):
                await stack.aclose()
