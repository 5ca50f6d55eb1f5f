"""Alert channels: the dispatcher sink (de-duplication, rate limit, one bounded lane per channel) and the
channels that reach the runner: terminal, live runner page, BLE haptic band, MQTT, webhook."""

from strideguard.stream.alerts.base import DISCLAIMER, Alert, Channel
from strideguard.stream.alerts.dispatcher import AlertDispatcher, ChannelStats, DispatchPolicy
from strideguard.stream.alerts.haptic import HapticChannel
from strideguard.stream.alerts.mqtt import MqttChannel
from strideguard.stream.alerts.page import PageChannel
from strideguard.stream.alerts.settings import ALERT_DEFAULTS, alert_settings, build_dispatcher
from strideguard.stream.alerts.terminal import TerminalChannel
from strideguard.stream.alerts.webhook import WebhookChannel

__all__ = [
    "ALERT_DEFAULTS",
    "DISCLAIMER",
    "Alert",
    "AlertDispatcher",
    "Channel",
    "ChannelStats",
    "DispatchPolicy",
    "HapticChannel",
    "MqttChannel",
    "PageChannel",
    "TerminalChannel",
    "WebhookChannel",
    "alert_settings",
    "build_dispatcher",
]
