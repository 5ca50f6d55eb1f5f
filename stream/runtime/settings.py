"""The user's settings: the TOML file read once, parsed once, validated into frozen dataclasses.

```
Settings
├── source_path: Path | None      the file read (None: no file, all defaults)
├── risk: RiskSettings            analytics.risk.config
│   ├── default: RiskConfig       [risk] over the defaults
│   └── runners: {name: RiskConfig}   [runner."NAME".risk] over [risk], one per runner table
├── alerts: AlertSettings         stream.alerts.settings: [alerts] and [runner."NAME".alerts.haptic]
│   └── terminal, page, haptic, mqtt, webhook
└── web: WebSettings              [web]: the live pages' bounds and extra host names (below)
```

Every command that reads settings goes through `load_settings` (the analyzers, the alert channels,
`strideguard config`, the worker). Every error is one line naming the file and the dotted key
(`config.toml: risk.metrics.cadence.treshold: unknown setting ...`), raised before any data is read;
every runner's overrides are checked then, not when the runner first shows up. The top-level tables and
those under `[runner."NAME"]` are `TABLES` below: any other name is an error (with the closest known one),
not a table nobody reads.

Validation stays in the hand-written validators beside the types they build (`risk_settings` in
analytics, which must not import `stream`; `AlertSettings.from_settings` here): the settings are partial
tables deep-merged over documented defaults and then per runner over `[risk]`, with errors worded for
users ("must be > 0, got -5") at dotted paths through tables keyed by metric and runner names, which a
schema library would validate only after the same merge and report less precisely.
"""

from __future__ import annotations

import difflib
import os
import pathlib
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from strideguard.analytics.errors import ConfigError
from strideguard.analytics.risk.config import RiskSettings, risk_settings
from strideguard.stream.alerts.settings import AlertSettings
from strideguard.stream.errors import UsageError
from strideguard.stream.runtime.config_file import default_config_path

__all__ = ["Settings", "SettingsError", "WebSettings", "load_settings", "parse_settings"]


class SettingsError(ConfigError):
    """A bad settings file: `str()` names the file, then the dotted key (`key` as in ConfigError)."""

    def __init__(self, message: str, *, path: pathlib.Path, key: str | None = None) -> None:
        super().__init__(message, key=key)
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: {super().__str__()}"


WEB_KEYS = ("max_feeds", "max_connections", "idle_timeout_s", "write_timeout_s", "hosts")  # WebSettings' fields


@dataclass(frozen=True, slots=True, kw_only=True)
class WebSettings:
    """`[web]`: bounds of the live pages (docs/reliability.md, "Pages") and Host names to accept besides
    this machine's own (a reverse proxy's name). The defaults are `stream.web.guard.Limits`'."""

    max_feeds: int = 64  # open pages (SSE feeds); more get 503
    max_connections: int = 256  # open connections (lowered to fit the descriptor limit)
    idle_timeout_s: float = 10.0  # a connection with no request being handled is closed after this
    write_timeout_s: float = 30.0  # a page that reads nothing for this long is dropped
    hosts: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, document: Mapping[str, Any]) -> WebSettings:
        table = document.get("web", {})
        if not isinstance(table, Mapping):
            raise ConfigError("must be a table", key="web")
        out: dict[str, Any] = {}
        for key, value in table.items():
            where = f"web.{key}"
            if key in ("max_feeds", "max_connections"):
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ConfigError(f"must be a whole number >= 1, got {value!r}", key=where)
            elif key in ("idle_timeout_s", "write_timeout_s"):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600:
                    raise ConfigError(f"must be a number of seconds above 0, at most 3600, got {value!r}", key=where)
                value = float(value)
            elif key == "hosts":
                if not isinstance(value, list) or not all(isinstance(h, str) and h and "/" not in h for h in value):
                    raise ConfigError(f"must be a list of host names, got {value!r}", key=where)
                value = tuple(value)
            else:
                raise unknown_name_error(key, WEB_KEYS, key=where, what="setting")
            out[key] = value
        return cls(**out)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything the settings file says, validated (see the module doc for the tree)."""

    risk: RiskSettings
    alerts: AlertSettings
    web: WebSettings = WebSettings()
    source_path: pathlib.Path | None = None

    @classmethod
    def default(cls) -> Settings:
        return settings_from_document({})


def load_settings(path: str | os.PathLike[str] | None) -> Settings:
    """The settings of `path`, or of the default file ($STRIDEGUARD_CONFIG or
    ~/.config/strideguard/config.toml) when it exists, else the defaults. A named file must exist."""
    named = path is not None
    file = pathlib.Path(path) if path is not None else default_config_path()
    if not named and not file.exists():
        return Settings.default()
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the settings file {file}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SettingsError(f"not UTF-8 text (byte {exc.start})", path=file) from None
    # an empty default file is no settings file (so `strideguard config` says "all defaults")
    return parse_settings(text, source_path=file if named or text else None)


def parse_settings(text: str, *, source_path: pathlib.Path | None = None) -> Settings:
    """Settings from TOML text; errors name `source_path` when given."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = f"not valid TOML: {exc}"
        raise (ConfigError(message) if source_path is None else SettingsError(message, path=source_path)) from None
    return settings_from_document(document, source_path=source_path)


# The names a settings file may use above the validators' own tables: each validator reads only its table
# (`.get("risk", {})`), so without this check a misspelt `[riskk]` or `[runner."anna".risks]` would
# silently leave the defaults in force. Nested as the file is: a name maps to its known children, or to
# None where the validator beside the type checks the keys itself.
RUNNER_TABLES: dict[str, Any] = {"risk": None, "alerts": {"haptic": {"address": None}}}
TABLES: dict[str, Any] = {"risk": None, "alerts": None, "web": None, "runner": RUNNER_TABLES}


def unknown_name_error(name: str, known: Collection[str], *, key: str, what: str) -> ConfigError:
    """One line naming the unknown `name` (at dotted `key`), a close known name if any, and all known."""
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f", did you mean {close[0]}?" if close else ""
    return ConfigError(f"unknown {what}{hint} (known: {', '.join(sorted(known))})", key=key)


def check_names(table: Mapping[str, Any], known: Mapping[str, Any], *, prefix: str = "") -> None:
    """Every name in `table` is one of `known`, recursively where `known` lists the children."""
    for name, value in table.items():
        key = f"{prefix}.{name}" if prefix else name
        if name not in known:
            what = "table" if isinstance(value, Mapping) else "setting"
            raise unknown_name_error(name, known, key=key, what=what)
        if known[name] is None:
            continue
        if key == "runner":
            check_runner_tables(value)
        elif not isinstance(value, Mapping):
            raise ConfigError("must be a table", key=key)
        else:
            check_names(value, known[name], prefix=key)


def check_runner_tables(runners: Any) -> None:
    """`[runner."NAME"]`: a table keyed by runner names, each holding only the per-runner tables."""
    if not isinstance(runners, Mapping):
        raise ConfigError("must be a table of runner names", key="runner")
    for runner, over in runners.items():
        if not isinstance(over, Mapping):
            raise ConfigError("must be a table", key=f"runner.{runner}")
        check_names(over, RUNNER_TABLES, prefix=f"runner.{runner}")


def settings_from_document(document: Mapping[str, Any], *, source_path: pathlib.Path | None = None) -> Settings:
    """Settings from an already parsed TOML document; errors name `source_path` when given."""
    try:
        check_names(document, TABLES)
        return Settings(
            risk=risk_settings(document),
            alerts=AlertSettings.from_settings(document),
            web=WebSettings.from_settings(document),
            source_path=source_path,
        )
    except ConfigError as exc:
        if source_path is None:
            raise
        raise SettingsError(exc.args[0], path=source_path, key=exc.key) from exc
