"""A runner's status snapshot: the one message its retained `status` topic carries.

A page that opens late gets only the last message of a topic, so every status message is the whole
snapshot: `session_id`, `runner`, `state` "running" | "finished", `sensor` "ok" | "lost" | "silent" with
`sensor_t_ns` (wall clock, ns since the epoch, of the change) and `gap_s` when it came back,
`started_t_ns` (data time: the page's elapsed time), `baseline_ready_t_ns` (data time the risk score
starts, once the first running window says when: the page's "learning your baseline" countdown) and the
`summary` when finished. The embedded pipeline publishes it on the in-process bus, the worker on MQTT:
one `StatusBoard` keeps the rules, so both say the same (the worker's status lacked the start and the
countdown before).

Pure bookkeeping: each method returns the snapshot to publish, or None when nothing changed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from strideguard.analytics.results import WindowMetrics
from strideguard.stream.runtime.sensor_watch import SensorChange
from strideguard.stream.runtime.session import SessionInfo

Snapshot = dict[str, Any]


def baseline_wait_s(analyzer: object) -> float | None:
    """Running time (s of data) before the analyzer's risk score starts: the warm-up, plus the baseline
    unless an earlier session's baseline is the prior; None for an analyzer with no risk engine."""
    risk = getattr(analyzer, "risk", None)
    config = getattr(risk, "config", None)
    warmup_s, baseline_s = getattr(config, "warmup_s", None), getattr(config, "baseline_s", None)
    if warmup_s is None or baseline_s is None:
        return None
    prior = getattr(risk, "prior_baseline", None)
    return float(warmup_s) + (0.0 if prior is not None else float(baseline_s))


class StatusBoard:
    """The status snapshot of every open session, by session id."""

    def __init__(self) -> None:
        self._of: dict[str, Snapshot] = {}
        self._wait_s: dict[str, float] = {}  # session id -> running time before the score, until the first run

    def open(self, session: SessionInfo) -> Snapshot:
        return self._update(session, state="running", sensor="ok", started_t_ns=session.started_t_ns)

    def plan(self, session: SessionInfo, wait_s: float | None) -> None:
        """The risk score starts `wait_s` of data time after the session's first running window (see
        `baseline_wait_s`); None: it never starts (no risk engine), and no countdown is shown."""
        if wait_s is not None:
            self._wait_s[session.session_id] = wait_s

    def windows(self, session: SessionInfo, windows: Iterable[WindowMetrics]) -> Snapshot | None:
        """New windows: the first running one fixes when the risk score starts."""
        wait_s = self._wait_s.get(session.session_id)
        if wait_s is None:
            return None
        first = next((w for w in windows if w.running), None)
        if first is None:
            return None
        del self._wait_s[session.session_id]
        return self._update(session, baseline_ready_t_ns=first.t_start_ns + round(wait_s * 1e9))

    def sensor(self, session: SessionInfo, change: SensorChange) -> Snapshot:
        return self._update(session, sensor=change.sensor, sensor_t_ns=time.time_ns(), gap_s=change.gap_s)

    def finish(self, session: SessionInfo, summary: dict[str, Any]) -> Snapshot:
        """The last snapshot of the session (forgotten afterwards)."""
        snapshot = self._update(session, state="finished", summary=summary)
        self._of.pop(session.session_id, None)
        self._wait_s.pop(session.session_id, None)
        return snapshot

    def _update(self, session: SessionInfo, **changes: Any) -> Snapshot:
        status = self._of.setdefault(
            session.session_id, {"session_id": session.session_id, "runner": session.runner, "state": "running"}
        )
        status.update(changes)
        if status.get("gap_s") is None:
            status.pop("gap_s", None)
        return dict(status)


__all__ = ["Snapshot", "StatusBoard", "baseline_wait_s"]
