"""The session engine: one runner session's life, the same behind every runtime.

    open -> push samples / readings / controls -> outputs to every sink -> finish with a summary

The embedded pipeline (`demo`, `replay`, `analyze`, `record`) and the MQTT worker are thin adapters
around one `SessionEngine`: the pipeline keys sessions by runner and reads controls from the in-process
bus; the worker keys them by the collector's session id and adds its journal and de-duplication. What a
session can do (heart rate, footpod readings, snooze) is therefore the same on every path.

Data enters through `SessionEngine.push`, the trust boundary: `Edge` checks every item against the
session before the analyzer sees it, and whatever it refuses is dropped and counted by reason (in the
engine's `dropped` and in the session summary), never raised inside the engine:
- an item of another runner than the session's (identity comes from the transport, not the payload);
- a sampling rate outside 1 Hz-10 kHz, or a rate that changes within a device's stream;
- samples whose values are not finite or beyond `max_abs_value` (no IMU reads 1,000 g), or whose time
  is not after the stream's previous sample (a repeated or reordered frame);
- heart rate outside 20-300 bpm, speed outside 0-15 m/s, cadence outside 0-300 spm;
- a speed shared by the runner page's phone (device `phone-gps`) outside 0-12 m/s, not after the
  previous one, or more than `PHONE_SKEW_S` from the session's latest sample: it is stamped with the
  wall clock, which is the session's data time only for a live run (a replay is on its recording's
  time, so the phone's speed is refused there rather than put at a time it was not measured).
A gap longer than `max_gap_s` in a session's data ends the session there and opens a new one (a
segment), so a month between two rows of a CSV is two sessions, not a month of empty windows.

A shorter gap, longer than `HOLE_S` with no sample of any stream (a strap off, a link down), is a
dropout: the analyzer still emits its windows (it sees no steps there, so they read "not running"), and
the SQLite store keeps them, but a sink that shows the run (`live = True`: the pages, the terminal, MQTT
to the coach, InfluxDB for Grafana) gets no window overlapping a dropout: nothing is shown for a time the
sensor was away. Those windows are counted in `withheld`.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from strideguard.analytics.errors import AnalyticsError
from strideguard.analytics.results import AnalyzerOutput, WindowMetrics
from strideguard.sensors.types import HeartRateReading, SampleBatch, StrideReading
from strideguard.sensors.units import NS_PER_MIN, NS_PER_S
from strideguard.stream.runtime.session import SessionInfo

log = logging.getLogger(__name__)


SNOOZE_MAX_MIN = 240.0  # the longest snooze a control message may ask for, in minutes
MIN_RATE_HZ = 1.0  # Hz: no body-worn IMU samples slower
MAX_RATE_HZ = 10_000.0  # Hz: nor faster
MAX_ABS_VALUE = 1_000.0  # g or deg/s: beyond any IMU's range (H10 +-16 g, gyros +-2000 deg/s)
MAX_GAP_S = 600.0  # s: a longer gap in a session's data starts a new session (segment)
HOLE_S = 2.0  # s without any sample: a dropout, and no window overlapping it reaches a live sink
HEART_RATE_BPM = (20, 300)  # plausible range, bpm
SPEED_MPS = (0.0, 15.0)  # plausible range, m/s
CADENCE_SPM = (0, 300)  # plausible range, steps/min
PHONE_DEVICE = "phone-gps"  # the device name of a speed the runner page shares (stream/web/server.py)
PHONE_SPEED_MPS = (0.0, 12.0)  # m/s: nobody runs faster (the world record is about 10.4 m/s)
PHONE_SKEW_S = 15.0  # s: a phone speed (wall clock) this far from the session's data time is refused

Reading = HeartRateReading | StrideReading


@runtime_checkable
class Snoozable(Protocol):
    """A risk stage the runner can silence for a while (analytics.risk.RiskEngine)."""

    def snooze(self, metric: str | None, until_t_ns: int) -> None: ...


class Analyzer(Protocol):
    """What the engine needs of a per-runner analyzer (analytics.runner.RunnerAnalyzer)."""

    def push(self, batch: SampleBatch) -> AnalyzerOutput: ...

    def push_reading(self, reading: HeartRateReading | StrideReading) -> AnalyzerOutput: ...

    def finish(self) -> AnalyzerOutput: ...

    @property
    def summary(self) -> dict[str, Any]: ...

    @property
    def risk(self) -> object | None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionSummary:
    """What a finished session leaves behind: stored with it, shown at its end, and read by the runner's
    next session (`baseline`). `as_dict()` is the JSON the store keeps; `from_dict` reads it back."""

    session_id: str
    runner: str
    duration_s: float
    n_samples: int
    n_steps: int
    n_windows: int
    device: str | None = None
    placement: str | None = None
    rate_hz: float | None = None
    cadence_spm: float | None = None
    impact_g: float | None = None
    n_running_windows: int = 0
    latency_s: float | None = None
    means: dict[str, float | None] = field(default_factory=dict)  # "mean_<metric>" -> window mean
    risk: dict[str, Any] | None = None  # score statistics and the baseline the next session starts from
    dropped: dict[str, int] = field(default_factory=dict)  # what the trust boundary refused, by reason

    _FIELDS = (
        "runner",
        "device",
        "placement",
        "rate_hz",
        "duration_s",
        "n_samples",
        "n_steps",
        "cadence_spm",
        "impact_g",
        "n_windows",
        "n_running_windows",
        "latency_s",
    )

    @classmethod
    def from_analyzer(cls, session_id: str, summary: dict[str, Any], *, dropped: dict[str, int]) -> SessionSummary:
        return cls.from_dict({"session_id": session_id, **summary, "dropped": dict(dropped)})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionSummary:
        return cls(
            session_id=str(data.get("session_id", "")),
            runner=str(data.get("runner", "")),
            device=data.get("device"),
            placement=data.get("placement"),
            rate_hz=data.get("rate_hz"),
            duration_s=float(data.get("duration_s") or 0.0),
            n_samples=int(data.get("n_samples") or 0),
            n_steps=int(data.get("n_steps") or 0),
            cadence_spm=data.get("cadence_spm"),
            impact_g=data.get("impact_g"),
            n_windows=int(data.get("n_windows") or 0),
            n_running_windows=int(data.get("n_running_windows") or 0),
            latency_s=data.get("latency_s"),
            means={k: v for k, v in data.items() if k.startswith("mean_")},
            risk=data.get("risk"),
            dropped=dict(data.get("dropped") or {}),
        )

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON-able dict, keys in the order the store has always kept them."""
        out: dict[str, Any] = {"session_id": self.session_id}
        out.update({name: getattr(self, name) for name in self._FIELDS})
        out.update(self.means)
        if self.risk is not None:
            out["risk"] = self.risk
        if self.dropped:
            out["dropped"] = dict(self.dropped)
        return out

    @property
    def baseline(self) -> dict[str, Any] | None:
        """The risk baseline this session ended with, for the runner's next session."""
        return (self.risk or {}).get("baseline") or None


@runtime_checkable
class Sink(Protocol):
    """Where a session's outputs go (store, bus, terminal, alerts, InfluxDB, MQTT).

    A sink with a true class attribute `live` shows the run as it happens and gets no window that
    overlaps a dropout (see the module docstring); every other sink gets everything."""

    name: str

    async def open_session(self, session: SessionInfo) -> None: ...

    async def write(self, session: SessionInfo, output: AnalyzerOutput) -> None: ...

    async def close_session(self, session: SessionInfo, summary: SessionSummary) -> None: ...

    async def close(self) -> None: ...


@runtime_checkable
class TaggingSink(Protocol):
    """A sink that labels a session's data with what only the transport knows (device, placement)."""

    def tag_session(self, session_id: str, **tags: str | None) -> None: ...


@runtime_checkable
class StartingSink(Protocol):
    """A sink with work to start before the first session (e.g. delivering an earlier run's spool)."""

    async def start(self) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class EdgeLimits:
    """The trust boundary's bounds (see the module docstring); keyword-only, validated."""

    max_gap_s: float = MAX_GAP_S
    max_abs_value: float = MAX_ABS_VALUE

    def __post_init__(self) -> None:
        if not (self.max_gap_s > 0 and self.max_abs_value > 0):
            raise ValueError("edge limits must be positive")


class Edge:
    """The per-session trust boundary: `admit` returns what the analyzer may see, counting the rest."""

    def __init__(self, runner: str, limits: EdgeLimits) -> None:
        self.runner = runner
        self.limits = limits
        self.dropped: dict[str, int] = {}
        self._streams: dict[tuple[str, str], tuple[float, int]] = {}  # (device, kind) -> (rate, last t_ns)
        self.last_t_ns: int | None = None  # the latest admitted sample time of any stream
        self._last_phone_t_ns: int | None = None  # the latest admitted phone speed

    def drop(self, reason: str, count: int = 1) -> None:
        if reason not in self.dropped:
            log.warning("runner %r: dropping input: %s", self.runner, reason)
        self.dropped[reason] = self.dropped.get(reason, 0) + count

    def is_gap(self, batch: SampleBatch) -> bool:
        """Does this batch start more than `max_gap_s` after the session's data (a new segment)?"""
        return (
            self.last_t_ns is not None
            and len(batch) > 0
            and int(batch.t_ns[0]) - self.last_t_ns > self.limits.max_gap_s * NS_PER_S
        )

    def admit_batch(self, batch: SampleBatch) -> SampleBatch | None:
        if batch.runner != self.runner:
            self.drop("samples of another runner", len(batch))
            return None
        if not len(batch):
            return None
        if not MIN_RATE_HZ <= batch.rate_hz <= MAX_RATE_HZ:
            self.drop("samples at an impossible rate", len(batch))
            return None
        key = (batch.device, batch.kind.value)
        rate, last_t_ns = self._streams.get(key, (batch.rate_hz, -(2**63)))
        if batch.rate_hz != rate:
            self.drop("samples after the device changed its rate", len(batch))
            return None
        keep = (batch.t_ns > last_t_ns) & np.isfinite(batch.values).all(axis=1)
        keep &= (np.abs(batch.values) <= self.limits.max_abs_value).all(axis=1)
        if not keep.all():
            old = int((batch.t_ns <= last_t_ns).sum())
            if old:
                self.drop("samples not after the previous one (time went back)", old)
            if len(batch) - int(keep.sum()) - old:
                self.drop("samples not finite or out of range", len(batch) - int(keep.sum()) - old)
            if not keep.any():
                return None
            batch = batch.select(keep)
        self._streams[key] = (rate, int(batch.t_ns[-1]))
        end_t_ns = int(batch.t_ns[-1])
        self.last_t_ns = end_t_ns if self.last_t_ns is None else max(self.last_t_ns, end_t_ns)
        return batch

    def admit_reading(self, reading: Reading) -> Reading | None:
        if reading.runner != self.runner:
            self.drop("readings of another runner")
            return None
        if isinstance(reading, StrideReading) and reading.device == PHONE_DEVICE:
            return self._admit_phone_speed(reading)
        if isinstance(reading, HeartRateReading):
            ok = HEART_RATE_BPM[0] <= reading.heart_rate_bpm <= HEART_RATE_BPM[1]
        else:
            ok = (
                math.isfinite(reading.speed_mps)
                and SPEED_MPS[0] <= reading.speed_mps <= SPEED_MPS[1]
                and CADENCE_SPM[0] <= reading.cadence_spm <= CADENCE_SPM[1]
            )
        if not ok:
            self.drop("readings out of range")
            return None
        return reading

    def phone_speed_problem(self, reading: StrideReading) -> str | None:
        """Why a phone's speed cannot enter this session (None: it can). Times are the session's data
        time; the phone's is the server's wall clock when the speed arrived."""
        if not (math.isfinite(reading.speed_mps) and PHONE_SPEED_MPS[0] <= reading.speed_mps <= PHONE_SPEED_MPS[1]):
            return "phone speeds out of range"
        if self.last_t_ns is None or abs(reading.t_ns - self.last_t_ns) > PHONE_SKEW_S * NS_PER_S:
            return "phone speeds away from the session's data time (a replay is not on the wall clock)"
        if self._last_phone_t_ns is not None and reading.t_ns <= self._last_phone_t_ns:
            return "phone speeds not after the previous one"
        return None

    def _admit_phone_speed(self, reading: StrideReading) -> StrideReading | None:
        problem = self.phone_speed_problem(reading)
        if problem is not None:
            self.drop(problem)
            return None
        self._last_phone_t_ns = reading.t_ns
        return reading


def _overlaps_hole(window: WindowMetrics, holes: list[tuple[int, int]]) -> bool:
    return any(window.t_start_ns < to_t_ns and from_t_ns < window.t_end_ns for from_t_ns, to_t_ns in holes)


def _split_at_gaps(batch: SampleBatch, max_gap_ns: int) -> list[SampleBatch]:
    """The batch cut where consecutive samples are more than `max_gap_ns` apart (usually: itself)."""
    if len(batch) < 2:
        return [batch]
    cuts = (np.flatnonzero(np.diff(batch.t_ns) > max_gap_ns) + 1).tolist()
    if not cuts:
        return [batch]
    bounds = [0, *cuts, len(batch)]
    return [batch.slice(a, b) for a, b in itertools.pairwise(bounds)]


@dataclass(slots=True)
class Session:
    """One open session: its identity, analyzer, trust boundary and what it produced so far."""

    info: SessionInfo
    analyzer: Analyzer
    edge: Edge
    key: str
    tags: dict[str, str | None] = field(default_factory=dict)
    segment: int = 1
    holes: list[tuple[int, int]] = field(default_factory=list)  # dropouts: (last sample, next sample) t_ns


@dataclass(frozen=True, slots=True, kw_only=True)
class RunnerControl:
    """A runner's control message as an item of the input stream (the phone's snooze, carried at the
    position it was made, so a replay or the team path applies it where the live run did)."""

    runner: str
    message: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlReply:
    """The answer to a runner's control message (published back on the runner's control topic)."""

    runner: str
    action: str  # "snoozed" or "refused"
    metric: Any = None
    minutes: Any = None
    request_id: Any = None
    from_t_ns: int | None = None
    until_t_ns: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "runner": self.runner,
            "metric": self.metric,
            "minutes": self.minutes,
            "request_id": self.request_id,
        }
        if self.from_t_ns is not None:
            out.update(from_t_ns=self.from_t_ns, until_t_ns=self.until_t_ns)
        out["action"] = self.action
        if self.reason is not None:
            out["reason"] = self.reason
        return out


class SessionEngine:
    """Owns every open session of one runtime; adapters choose the key a session is found by."""

    def __init__(
        self,
        *,
        analyzer_factory: Callable[[str], Analyzer],
        sinks: Sequence[Sink],
        limits: EdgeLimits | None = None,
        keep_outputs: bool = False,
    ) -> None:
        self.analyzer_factory = analyzer_factory
        self.sinks = list(sinks)
        self.limits = limits if limits is not None else EdgeLimits()
        self.keep_outputs = keep_outputs
        self.sessions: dict[str, Session] = {}  # adapter's key -> open session
        self.outputs: dict[str, AnalyzerOutput] = {}  # adapter's key -> all its sessions' outputs (keep_outputs)
        self.summaries: dict[str, SessionSummary] = {}  # session id -> summary, for finished sessions
        self.dropped: dict[str, int] = {}  # every session's refusals added up, by reason
        self.withheld = 0  # windows kept from the live sinks because they overlap a dropout
        self._keys: dict[str, str] = {}  # session id -> adapter's key (segments share their first's key)

    async def start(self) -> None:
        for sink in self.sinks:
            if isinstance(sink, StartingSink):
                await sink.start()

    async def open(self, key: str, info: SessionInfo, **tags: str | None) -> Session:
        session = Session(
            info=info, analyzer=self.analyzer_factory(info.runner), edge=Edge(info.runner, self.limits), key=key
        )
        session.tags.update(tags)
        self.sessions[key] = session
        self._keys[info.session_id] = key
        for sink in self.sinks:
            if tags and isinstance(sink, TaggingSink):
                sink.tag_session(info.session_id, **tags)
            await sink.open_session(info)
        return session

    def key_of(self, session_id: str) -> str:
        """The adapter's key of a session (a segment's key is its first segment's)."""
        return self._keys[session_id]

    async def push(self, key: str, item: SampleBatch | Reading) -> AnalyzerOutput:
        """One item for the session under `key`, through the trust boundary; returns what it produced."""
        session = self.sessions[key]
        if isinstance(item, SampleBatch):
            output = AnalyzerOutput()
            for piece in _split_at_gaps(item, round(self.limits.max_gap_s * NS_PER_S)):
                if session.edge.is_gap(piece):
                    session = await self._next_segment(key, session, int(piece.t_ns[0]))
                before_t_ns = session.edge.last_t_ns
                batch = session.edge.admit_batch(piece)
                if batch is not None:
                    if before_t_ns is not None and int(batch.t_ns[0]) - before_t_ns > HOLE_S * NS_PER_S:
                        session.holes.append((before_t_ns, int(batch.t_ns[0])))
                    output = output + await self._analysed(session, session.analyzer.push, batch)
            return output
        reading = session.edge.admit_reading(item)
        if reading is None:
            return AnalyzerOutput()
        return await self._analysed(session, session.analyzer.push_reading, reading)

    async def finish(self, key: str) -> SessionSummary:
        """Flush the session's analyzer, close it in every sink, and forget it."""
        session = self.sessions.pop(key)
        output = session.analyzer.finish()
        if output:
            await self._emit(session, output)
        for reason, count in session.edge.dropped.items():
            self.drop(reason, count)
        summary = SessionSummary.from_analyzer(
            session.info.session_id, session.analyzer.summary, dropped=session.edge.dropped
        )
        self.summaries[session.info.session_id] = summary
        for sink in self.sinks:
            await sink.close_session(session.info, summary)
        self._keys.pop(session.info.session_id, None)
        return summary

    def drop(self, reason: str, count: int = 1) -> None:
        """Count input refused outside any session (the sessions' own refusals are added at finish)."""
        self.dropped[reason] = self.dropped.get(reason, 0) + count

    def control(self, key: str, message: dict[str, Any]) -> ControlReply:
        """Apply a runner's control message (`{"action": "snooze", "metric": name | None, "minutes": m}`)
        to the session under `key`: the snooze lasts from the session's latest data time for m minutes of
        data time, so a replay at any speed behaves as the live run would."""
        session = self.sessions[key]
        metric, minutes = message.get("metric"), message.get("minutes")

        def reply(action: str, **extra: Any) -> ControlReply:
            return ControlReply(
                runner=session.info.runner,
                action=action,
                metric=metric,
                minutes=minutes,
                request_id=message.get("request_id"),
                **extra,
            )

        risk = session.analyzer.risk
        if message.get("action") != "snooze":
            return reply("refused", reason="unknown action")
        if metric is not None and not isinstance(metric, str):
            return reply("refused", reason="metric must be a name or null")
        if (
            isinstance(minutes, bool)
            or not isinstance(minutes, int | float)
            or not (math.isfinite(minutes) and 0 < minutes <= SNOOZE_MAX_MIN)
        ):
            return reply("refused", reason=f"minutes must be a number above 0 and at most {SNOOZE_MAX_MIN:g}")
        if not isinstance(risk, Snoozable):
            return reply("refused", reason="this runner's analyzer has no risk engine")
        from_t_ns = session.edge.last_t_ns if session.edge.last_t_ns is not None else session.info.started_t_ns
        until_t_ns = from_t_ns + round(minutes * NS_PER_MIN)
        try:
            risk.snooze(metric, until_t_ns)
        except AnalyticsError as exc:
            return reply("refused", reason=str(exc))
        return reply("snoozed", from_t_ns=from_t_ns, until_t_ns=until_t_ns)

    async def close(self) -> None:
        for sink in self.sinks:
            try:
                await sink.close()
            except Exception as exc:  # a sink failing at shutdown must not hide the others' close
                log.warning("closing %s failed: %s", sink.name, exc)

    async def _analysed(self, session: Session, step: Callable[[Any], AnalyzerOutput], item: Any) -> AnalyzerOutput:
        try:
            output = step(item)
        except AnalyticsError as exc:  # the edge should have refused it: count, never crash the runtime
            session.edge.drop(f"refused by the analyzer ({exc})")
            return AnalyzerOutput()
        if output:
            await self._emit(session, output)
        return output

    async def _emit(self, session: Session, output: AnalyzerOutput) -> None:
        if self.keep_outputs:
            self.outputs[session.key] = self.outputs.get(session.key, AnalyzerOutput()) + output
        shown = self._live_view(session, output)
        for sink in self.sinks:
            await sink.write(session.info, shown if getattr(sink, "live", False) else output)

    def _live_view(self, session: Session, output: AnalyzerOutput) -> AnalyzerOutput:
        """`output` without the windows that overlap one of the session's dropouts."""
        if not session.holes or not output.windows:
            return output
        kept = tuple(w for w in output.windows if not _overlaps_hole(w, session.holes))
        if len(kept) == len(output.windows):
            return output
        self.withheld += len(output.windows) - len(kept)
        return dataclasses.replace(output, windows=kept)

    async def _next_segment(self, key: str, session: Session, started_t_ns: int) -> Session:
        """End `session` at a gap longer than `max_gap_s` and open its next segment under the same key."""
        last_t_ns = session.edge.last_t_ns if session.edge.last_t_ns is not None else started_t_ns
        gap_s = (started_t_ns - last_t_ns) / NS_PER_S
        log.warning("session %s: %.0f s without data; continuing as a new session", session.info.session_id, gap_s)
        await self.finish(key)
        segment = session.segment + 1
        base = session.info.session_id.rsplit("~", 1)[0]
        info = SessionInfo(
            session_id=f"{base}~{segment}",
            runner=session.info.runner,
            team=session.info.team,
            source=session.info.source,
            started_t_ns=started_t_ns,
        )
        new = await self.open(key, info, **session.tags)
        new.segment = segment
        return new


__all__ = [
    "HOLE_S",
    "Analyzer",
    "ControlReply",
    "Edge",
    "EdgeLimits",
    "RunnerControl",
    "Session",
    "SessionEngine",
    "SessionSummary",
    "Sink",
    "Snoozable",
    "StartingSink",
    "TaggingSink",
]
