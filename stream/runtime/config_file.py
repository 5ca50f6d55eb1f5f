"""Where the user's TOML configuration lives, and reading it (cheap to import: no analytics)."""

from __future__ import annotations

import os
import pathlib


def default_config_path() -> pathlib.Path:
    """$STRIDEGUARD_CONFIG, else $XDG_CONFIG_HOME/strideguard/config.toml."""
    if os.environ.get("STRIDEGUARD_CONFIG"):
        return pathlib.Path(os.environ["STRIDEGUARD_CONFIG"])
    base = pathlib.Path(os.environ.get("XDG_CONFIG_HOME") or pathlib.Path.home() / ".config")
    return base / "strideguard" / "config.toml"


def read_config_text(path: str | os.PathLike[str] | None) -> str:
    """The user's TOML (empty: all defaults). A named file must exist; the default one may not.

    The app reads settings through `stream.settings.load_settings` (read and parsed once, validated)."""
    if path is not None:
        return pathlib.Path(path).read_text()
    default = default_config_path()
    return default.read_text() if default.exists() else ""
