"""What every alert channel shares: the alert as delivered, the channel protocol, and its wording.

An `Alert` is a RiskEvent that passed the dispatcher's de-duplication and rate limit, plus the session
it belongs to and the monotonic time it was accepted (for the latency benchmark). `payload()` is the one
JSON shape every machine channel (MQTT, webhook) sends, so a phone app parses one format.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from strideguard.analytics.results import RiskEvent, RiskEventKind
from strideguard.stream.runtime.session import SessionInfo

DISCLAIMER = "Gait change associated with low-back-pain risk; a heuristic, not a diagnosis."


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    session: SessionInfo
    event: RiskEvent
    accepted_s: float = field(default_factory=time.perf_counter)  # monotonic, for latency only

    @property
    def is_onset(self) -> bool:
        return self.event.kind is RiskEventKind.ONSET

    def title(self) -> str:
        """Short headline: 'StrideGuard anna: cadence (warning)' / '... ok again'."""
        e = self.event
        what = "ok again" if not self.is_onset else e.severity.value
        return f"StrideGuard {e.runner}: {e.metric.replace('_', ' ')} ({what})"

    def text(self) -> str:
        """One line a person reads: message, then the cue."""
        e = self.event
        if not self.is_onset:
            return f"{e.runner}: ok again — {e.message}"
        return f"{e.runner}: {e.severity.value.upper()} {e.message} — {e.cue}"

    def spoken(self) -> str:
        e = self.event
        return e.message if not self.is_onset else f"{e.message}. {e.cue}"

    def payload(self) -> dict[str, Any]:
        """The JSON every machine channel sends (schema 1)."""
        return {
            "schema": 1,
            "team": self.session.team,
            "session_id": self.session.session_id,
            "title": self.title(),
            "text": self.text(),
            "disclaimer": DISCLAIMER,
            **self.event.as_row(),
        }


@runtime_checkable
class Channel(Protocol):
    """One way to reach the runner. `send` may be slow or fail: the dispatcher isolates it."""

    name: str
    send_cleared: bool  # whether "ok again" events go out on this channel too

    async def send(self, alert: Alert) -> None: ...

    async def aclose(self) -> None: ...
