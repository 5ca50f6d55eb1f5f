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
`AlertSettings.from_settings` validates the table of a parsed settings document (see `stream.settings`,
which parses the file once) into frozen dataclasses; `build_dispatcher` builds the channels from them.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TextIO

from strideguard.analytics.errors import ConfigError
from strideguard.analytics.risk.config import merge
from strideguard.stream.alerts.base import Channel
from strideguard.stream.alerts.dispatcher import AlertDispatcher, DispatchPolicy
from strideguard.stream.alerts.haptic import HapticChannel
from strideguard.stream.alerts.mqtt import DEFAULT_TOPIC, MqttChannel
from strideguard.stream.alerts.page import PageChannel
from strideguard.stream.alerts.terminal import TerminalChannel
from strideguard.stream.alerts.webhook import STYLES, WebhookChannel
from strideguard.stream.mqtt.connection import MqttSettings
from strideguard.stream.runtime import bus as busmod

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
    """The effective `[alerts]` table (defaults merged), validated, with per-runner haptic addresses
    collected under `haptic.addresses`."""
    table = settings.get("alerts", {})
    if not isinstance(table, Mapping):
        raise ConfigError("must be a table", key="alerts")
    merged = merge(ALERT_DEFAULTS, table, prefix="alerts")
    addresses = {}
    runners = settings.get("runner", {})
    if not isinstance(runners, Mapping):
        raise ConfigError("must be a table of runner names", key="runner")
    for runner, over in runners.items():
        haptic = over.get("alerts", {}).get("haptic", {}) if isinstance(over, Mapping) else {}
        if not isinstance(haptic, Mapping):
            raise ConfigError("must be a table", key=f"runner.{runner}.alerts.haptic")
        if "address" in haptic:
            addresses[str(runner)] = _text(haptic, "address", f"runner.{runner}.alerts.haptic")
    merged["haptic"]["addresses"] = addresses
    _validate(merged)
    return merged


@dataclass(frozen=True, slots=True, kw_only=True)
class TerminalAlerts:
    enabled: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PageAlerts:
    enabled: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class HapticAlerts:
    enabled: bool
    address: str  # "" = none: only the runners in `addresses` get a band
    buzz_s: float
    connect_timeout_s: float
    addresses: Mapping[str, str]  # runner -> address, from [runner."NAME".alerts.haptic]


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttAlerts:
    enabled: bool
    url: str
    topic: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookAlerts:
    enabled: bool
    url: str
    style: str
    max_attempts: float  # a whole number is meant; the dispatcher takes int()
    attempt_timeout_s: float
    send_cleared: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertSettings:
    """The validated `[alerts]` table. Numbers keep the type they were written with (int or float), so
    `strideguard config` prints them back as given."""

    burst: float
    refill_s: float
    queue_size: float
    timeout_s: float
    terminal: TerminalAlerts
    page: PageAlerts
    haptic: HapticAlerts
    mqtt: MqttAlerts
    webhook: WebhookAlerts

    @classmethod
    def default(cls) -> AlertSettings:
        return cls.from_settings({})

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> AlertSettings:
        """From a whole parsed settings document (its `alerts` table and the per-runner haptic addresses)."""
        a = alert_settings(settings)
        h = dict(a["haptic"])
        h["addresses"] = types.MappingProxyType(h["addresses"])
        return cls(
            **{k: a[k] for k in ("burst", "refill_s", "queue_size", "timeout_s")},
            terminal=TerminalAlerts(**a["terminal"]),
            page=PageAlerts(**a["page"]),
            haptic=HapticAlerts(**h),
            mqtt=MqttAlerts(**a["mqtt"]),
            webhook=WebhookAlerts(**a["webhook"]),
        )

    def as_dict(self) -> dict[str, Any]:
        """The effective table for `strideguard config`, in the order of ALERT_DEFAULTS, without the
        collected per-runner addresses (they are printed under no key of `[alerts]`)."""
        out: dict[str, Any] = {}
        for key in ALERT_DEFAULTS:
            value = getattr(self, key)
            if isinstance(value, (TerminalAlerts, PageAlerts, HapticAlerts, MqttAlerts, WebhookAlerts)):
                value = {f.name: getattr(value, f.name) for f in fields(value) if f.name != "addresses"}
            out[key] = value
        return out


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
    if not _text(h, "address", "alerts.haptic") and h["enabled"] and not h["addresses"]:
        raise ConfigError("set the band's BLE address (or per-runner addresses)", key="alerts.haptic.address")
    m = a["mqtt"]
    url, topic = _text(m, "url", "alerts.mqtt"), _text(m, "topic", "alerts.mqtt")
    if m["enabled"]:
        try:
            MqttSettings.from_url(url)
        except ValueError as exc:
            raise ConfigError(str(exc), key="alerts.mqtt.url") from exc
        try:
            topic.format(team="t", runner="r")
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError("may use only {team} and {runner}", key="alerts.mqtt.topic") from exc
    w = a["webhook"]
    if _text(w, "style", "alerts.webhook") not in STYLES:
        raise ConfigError(f"must be one of {', '.join(STYLES)}, got {w['style']!r}", key="alerts.webhook.style")
    _number(w, "max_attempts", "alerts.webhook")
    _number(w, "attempt_timeout_s", "alerts.webhook")
    _flag(w, "send_cleared", "alerts.webhook")
    if not _text(w, "url", "alerts.webhook").startswith(("http://", "https://")) and w["enabled"]:
        raise ConfigError(f"must start with http:// or https://, got {w['url']!r}", key="alerts.webhook.url")


def build_dispatcher(
    alerts: AlertSettings,
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
    channels: list[Channel] = []
    if alerts.terminal.enabled if terminal is None else terminal:
        channels.append(TerminalChannel(out=out))
    if alerts.page.enabled and bus is not None:
        channels.append(PageChannel(bus))
    h = alerts.haptic
    if h.enabled:
        channels.append(
            HapticChannel(
                address=h.address or None,
                addresses=dict(h.addresses),
                buzz_s=h.buzz_s,
                connect_timeout_s=h.connect_timeout_s,
                backend=ble_backend,
            )
        )
    m = alerts.mqtt
    if m.enabled:
        channels.append(MqttChannel(settings=MqttSettings.from_url(m.url), topic=m.topic))
    w = alerts.webhook
    if w.enabled:
        channels.append(
            WebhookChannel(
                url=w.url,
                style=w.style,
                max_attempts=int(w.max_attempts),
                attempt_timeout_s=w.attempt_timeout_s,
                send_cleared=w.send_cleared,
            )
        )
    if not channels:
        return None
    policy = DispatchPolicy(
        burst=int(alerts.burst),
        refill_s=alerts.refill_s,
        queue_size=int(alerts.queue_size),
        timeout_s=alerts.timeout_s,
    )
    return AlertDispatcher(channels, policy=policy)
