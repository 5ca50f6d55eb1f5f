"""The one error tree of the `analytics` package."""

from __future__ import annotations


class AnalyticsError(Exception):
    """Base of every error raised by `analytics`."""


class ConfigError(AnalyticsError):
    """A configuration value that is missing, of the wrong type or out of range.

    `key` names the setting (dotted path in the TOML file) so the user can find it.
    """

    def __init__(self, message: str, *, key: str | None = None):
        super().__init__(message)
        self.key = key

    def __str__(self) -> str:
        return f"{self.key}: {self.args[0]}" if self.key else str(self.args[0])
