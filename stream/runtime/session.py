"""What identifies one runner's session across every sink."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionInfo:
    """One runner's run: `started_t_ns` is the first sample's time on the recording's clock."""

    session_id: str
    runner: str
    team: str
    source: str
    started_t_ns: int


def new_session_id(runner: str, started_t_ns: int) -> str:
    """Readable and unique: runner, UTC start to the second, and a short random suffix."""
    stamp = dt.datetime.fromtimestamp(started_t_ns / 1e9, tz=dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{runner}-{stamp}-{secrets.token_hex(3)}"
