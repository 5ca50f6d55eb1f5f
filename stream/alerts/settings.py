"""The `[alerts]` table of the settings file, validated, and the dispatcher it describes.

```toml
[alerts]                 # rate limit shared by every channel (data time)
burst = 3
refill_s = 60
[alerts.terminal]
enabled = true
[alerts.haptic]
enabled = true
address = "C4:7C:8D:6A:12:34"     # a band with Immediate Alert; per runner: [runner."anna".alerts.haptic]
[alerts.mqtt]
enabled = true
url = "mqtt://127.0.0.1:1883"
[alerts.webhook]
enabled = true
url = "https://ntfy.sh/my-team-alerts"
style = "ntfy"                    # or "json"
```
Unknown keys and bad values raise ConfigError naming the dotted key, before any data is read.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, TextIO

from analytics.errors import ConfigError
from analytics.risk.config import merge
from stream import bus as busmod
from stream.alerts.base import Channel
from stream.alerts.dispatcher import AlertDispatcher, DispatchPolicy
from stream.alerts.haptic import HapticChannel
from stream.alerts.mqtt import DEFAULT_TOPIC, MqttChannel
from stream.alerts.page import PageChannel
from stream.alerts.terminal import TerminalChannel
from stream.alerts.webhook import STYLES, WebhookChannel
from stream.mqtt.connection import MqttSettings

ALERT_DEFAULTS: dict[str, Any] = {
    "burst": 3,
    "refill_s": 60.0,
    "queue_size": 100,
    "timeout_s": 30.0,
    "terminal": {"enabled": False},
    "page": {"enabled": True},
    "haptic": {"enabled": False, "address": "", "buzz_s": 0.8, "connect_timeout_s": 10.0},
    "mqtt": {"enabled": False, "url": "mqtt://127.0.0.1:1883", "topic": DEFAULT_TOPIC},
    "webhook": {
        "enabled": False,
        "url": "",
        "style": "json",
        "max_attempts": 5,
        "attempt_timeout_s": 3.0,
        "send_cleared": True,
    },
}
ALERT_NOTES: dict[str, str] = {
    "burst": "onsets a runner may get at once across all channels",
    "refill_s": "then one more onset per this many seconds (data time)",
    "terminal.enabled": "one line per alert on stderr (the live view of demo/replay already shows alerts)",
    "page.enabled": "alerts on the live runner page (vibration, spoken cue) when --web is on",
    "haptic.address": "BLE address of a band with Immediate Alert (0x1802/0x2A06); per runner under "
    '[runner."NAME".alerts.haptic]',
    "mqtt.topic": "{team} and {runner} are filled in; .../alerts carries every raw event already",
    "webhook.style": "json (schema-1 payload) or ntfy (text body, Title/Priority/Tags headers)",
}


def alert_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The effective `[alerts]` table (defaults merged), with per-runner haptic addresses collected."""
    table = settings.get("alerts", {})
    if not isinstance(table, Mapping):
        raise ConfigError("must be a table", key="alerts")
    merged = merge(ALERT_DEFAULTS, table, prefix="alerts")
    addresses = {}
    for runner, over in dict(settings.get("runner", {})).items():
        haptic = over.get("alerts", {}).get("haptic", {}) if isinstance(over, Mapping) else {}
        if not isinstance(haptic, Mapping):
            raise ConfigError("must be a table", key=f"runner.{runner}.alerts.haptic")
        if "address" in haptic:
            addresses[str(runner)] = _text(haptic, "address", f"runner.{runner}.alerts.haptic")
    merged["haptic"]["addresses"] = addresses
    _validate(merged)
    return merged


def _number(d: Mapping[str, Any], key: str, where: str, *, positive: bool = True) -> float:
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (positive and not v > 0):
        raise ConfigError(f"must be a {'positive ' if positive else ''}number, got {v!r}", key=f"{where}.{key}")
    return float(v)


def _text(d: Mapping[str, Any], key: str, where: str) -> str:
    if not isinstance(d[key], str):
        raise ConfigError(f"must be a string, got {d[key]!r}", key=f"{where}.{key}")
    return d[key]


def _flag(d: Mapping[str, Any], key: str, where: str) -> bool:
    if not isinstance(d[key], bool):
        raise ConfigError(f"must be true or false, got {d[key]!r}", key=f"{where}.{key}")
    return d[key]


def _validate(a: dict[str, Any]) -> None:
    for key in ("burst", "refill_s", "queue_size", "timeout_s"):
        _number(a, key, "alerts")
    for name in ("terminal", "page", "haptic", "mqtt", "webhook"):
        _flag(a[name], "enabled", f"alerts.{name}")
    h = a["haptic"]
    _number(h, "buzz_s", "alerts.haptic")
    _number(h, "connect_timeout_s", "alerts.haptic")
    if h["enabled"] and not (_text(h, "address", "alerts.haptic") or h["addresses"]):
        raise ConfigError("set the band's BLE address (or per-runner addresses)", key="alerts.haptic.address")
    m = a["mqtt"]
    if m["enabled"]:
        try:
            MqttSettings.from_url(_text(m, "url", "alerts.mqtt"))
        except ValueError as exc:
            raise ConfigError(str(exc), key="alerts.mqtt.url") from exc
        try:
            _text(m, "topic", "alerts.mqtt").format(team="t", runner="r")
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError("may use only {team} and {runner}", key="alerts.mqtt.topic") from exc
    w = a["webhook"]
    if _text(w, "style", "alerts.webhook") not in STYLES:
        raise ConfigError(f"must be one of {', '.join(STYLES)}, got {w['style']!r}", key="alerts.webhook.style")
    _number(w, "max_attempts", "alerts.webhook")
    _number(w, "attempt_timeout_s", "alerts.webhook")
    _flag(w, "send_cleared", "alerts.webhook")
    if w["enabled"] and not _text(w, "url", "alerts.webhook").startswith(("http://", "https://")):
        raise ConfigError(f"must start with http:// or https://, got {w['url']!r}", key="alerts.webhook.url")


def build_dispatcher(
    settings: Mapping[str, Any],
    *,
    bus: busmod.Bus | None = None,
    out: TextIO | None = None,
    terminal: bool | None = None,
    ble_backend: type | None = None,
) -> AlertDispatcher | None:
    """The dispatcher for the configured channels (None when none is on).

    `bus`: the page channel needs it (no bus, no page channel). `terminal` overrides the setting
    (commands without a live view turn it on).
    """
    a = alert_settings(settings)
    channels: list[Channel] = []
    if a["terminal"]["enabled"] if terminal is None else terminal:
        channels.append(TerminalChannel(out=out))
    if a["page"]["enabled"] and bus is not None:
        channels.append(PageChannel(bus))
    h = a["haptic"]
    if h["enabled"]:
        channels.append(
            HapticChannel(
                address=h["address"] or None,
                addresses=h["addresses"],
                buzz_s=h["buzz_s"],
                connect_timeout_s=h["connect_timeout_s"],
                backend=ble_backend,
            )
        )
    m = a["mqtt"]
    if m["enabled"]:
        channels.append(MqttChannel(settings=MqttSettings.from_url(m["url"]), topic=m["topic"]))
    w = a["webhook"]
    if w["enabled"]:
        channels.append(
            WebhookChannel(
                url=w["url"],
                style=w["style"],
                max_attempts=int(w["max_attempts"]),
                attempt_timeout_s=w["attempt_timeout_s"],
                send_cleared=w["send_cleared"],
            )
        )
    if not channels:
        return None
    policy = DispatchPolicy(
        burst=int(a["burst"]), refill_s=a["refill_s"], queue_size=int(a["queue_size"]), timeout_s=a["timeout_s"]
    )
    return AlertDispatcher(channels, policy=policy)


def effective_alerts(settings: Mapping[str, Any]) -> dict[str, Any]:
    """For `strideguard config`: the effective table without the collected per-runner addresses."""
    a = copy.deepcopy(alert_settings(settings))
    a["haptic"].pop("addresses", None)
    return a
