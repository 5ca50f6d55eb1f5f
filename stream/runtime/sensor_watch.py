"""Whether each runner's sensor is delivering: "ok", "lost" (the link dropped) or "silent" (no data).

A runner page that keeps showing the last numbers while the strap is off lies to the runner, so the
live runtimes keep this small state per runner and publish every change on the runner's `status` topic:
- "lost": the BLE collector reported `link_lost` for one of the runner's devices; back to "ok" on that
  device's `link_restored` or on its next samples;
- "silent": a live session got no item at all for `silent_after_s` of wall time (a strap that slipped
  off, a collector that hung: no disconnect is ever reported); back to "ok" on the next item.

Pure bookkeeping: the caller passes wall time in (`now_s`, monotonic seconds), so tests need no
sleeping and the embedded pipeline and the worker share the rules. When the caller also passes data
times (the samples' `span_ns`, a link event's `t_ns`), the gap of a sensor that comes back is the longer
of its wall time (how long the live view went without it) and its data time (how long the recording
has no samples): a replay run as fast as possible said "sensor back after 0 s" for a 28-s dropout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from strideguard.sensors.types import SampleBatch

DEFAULT_SILENT_AFTER_S = 10.0  # s of wall time without any item before a live session is "silent"
LINK_LOST = "link_lost"
LINK_RESTORED = "link_restored"


def sample_span_ns(batch: SampleBatch) -> tuple[int, int] | None:
    """The data times of a batch's first and last sample (None when it is empty), for `on_item`."""
    return (int(batch.t_ns[0]), int(batch.t_ns[-1])) if len(batch) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorChange:
    """One change of a runner's sensor state; `gap_s` (see the module docstring) is set when it comes back."""

    runner: str
    sensor: str  # "ok" | "lost" | "silent"
    was: str
    gap_s: float | None = None
    device: str | None = None

    def log_line(self) -> str:
        """What the terminal says: 'anna: sensor lost', 'anna: sensor back after 25 s'."""
        if self.sensor == "ok":
            return f"{self.runner}: sensor back after {self.gap_s:.0f} s"
        if self.sensor == "lost":
            return f"{self.runner}: sensor lost" + (f" ({self.device})" if self.device else "")
        return f"{self.runner}: no data from the sensor (silent)"


@dataclass(slots=True)
class _Runner:
    last_item_s: float
    sensor: str = "ok"
    since_s: float = 0.0  # when the current not-ok state began (wall time)
    since_t_ns: int | None = None  # the same in data time, where known
    last_t_ns: int | None = None  # the latest sample's data time
    lost_devices: set[str] = field(default_factory=set)


class SensorWatch:
    """Per-runner sensor state from items, link events and the passing of wall time."""

    def __init__(self, *, silent_after_s: float | None = DEFAULT_SILENT_AFTER_S) -> None:
        if silent_after_s is not None and not silent_after_s > 0:
            raise ValueError("silent_after_s must be positive (or None: never silent)")
        self.silent_after_s = silent_after_s
        self._runners: dict[str, _Runner] = {}

    def state(self, runner: str) -> str:
        r = self._runners.get(runner)
        return "ok" if r is None else r.sensor

    def forget(self, runner: str) -> None:
        """The runner's session ended: no more watching (a finished runner is not silent)."""
        self._runners.pop(runner, None)

    def on_item(
        self, runner: str, now_s: float, *, device: str | None = None, span_ns: tuple[int, int] | None = None
    ) -> SensorChange | None:
        """An item of the runner arrived (samples when `device` is given, with the data times of their
        first and last sample in `span_ns`; else a reading)."""
        r = self._runners.get(runner)
        if r is None:
            r = self._runners[runner] = _Runner(last_item_s=now_s)
            r.last_t_ns = span_ns[1] if span_ns is not None else None
            return None
        r.last_item_s = now_s
        change = None
        if device is not None:
            r.lost_devices.discard(device)
        if r.sensor == "silent" or (r.sensor == "lost" and not r.lost_devices):
            change = self._set(runner, r, "ok", now_s, t_ns=span_ns[0] if span_ns is not None else None)
        if span_ns is not None:
            r.last_t_ns = span_ns[1] if r.last_t_ns is None else max(r.last_t_ns, span_ns[1])
        return change

    def on_link(
        self, runner: str, kind: str, now_s: float, *, device: str = "", t_ns: int | None = None
    ) -> SensorChange | None:
        """A collector's link event (`link_lost` / `link_restored`, at data time `t_ns` where known) for
        one of the runner's devices."""
        r = self._runners.setdefault(runner, _Runner(last_item_s=now_s))
        if kind == LINK_LOST:
            r.lost_devices.add(device)
            if r.sensor == "lost":
                return None
            return self._set(runner, r, "lost", now_s, device=device or None, t_ns=t_ns)
        if kind == LINK_RESTORED:
            r.lost_devices.discard(device)
            r.last_item_s = now_s  # the silence watch starts again from the reconnect
            if r.sensor != "ok" and not r.lost_devices:
                return self._set(runner, r, "ok", now_s, t_ns=t_ns)
        return None

    def check(self, now_s: float) -> list[SensorChange]:
        """Runners that have been without any item for `silent_after_s` (called about once a second)."""
        if self.silent_after_s is None:
            return []
        return [
            self._set(runner, r, "silent", now_s)
            for runner, r in self._runners.items()
            if r.sensor == "ok" and now_s - r.last_item_s >= self.silent_after_s
        ]

    def _set(
        self, runner: str, r: _Runner, sensor: str, now_s: float, *, device: str | None = None, t_ns: int | None = None
    ) -> SensorChange:
        was = r.sensor
        gap_s = None
        if sensor == "ok":
            gap_s = max(0.0, now_s - r.since_s)
            if t_ns is not None and r.since_t_ns is not None:
                gap_s = max(gap_s, (t_ns - r.since_t_ns) / 1e9)
        elif was == "ok":
            r.since_s = now_s if sensor == "lost" else r.last_item_s  # silent since the last item
            # in data time: since the last sample (the link may have dropped a while before it said so)
            r.since_t_ns = r.last_t_ns if r.last_t_ns is not None else t_ns
        r.sensor = sensor
        return SensorChange(runner=runner, sensor=sensor, was=was, gap_s=gap_s, device=device)


__all__ = ["DEFAULT_SILENT_AFTER_S", "LINK_LOST", "LINK_RESTORED", "SensorChange", "SensorWatch", "sample_span_ns"]
