"""Time for PMD samples: per-sample device timestamps by Polar's rules, and device -> host time mapping.

A PMD frame stamps only its LAST sample (ns since 2000-01-01 on the device clock). polar-ble-sdk's
PmdTimeStampUtils spreads the others: on the first frame of a stream, step back 1e9/fs per sample from
the frame timestamp; on later frames, spread (ts - previous ts) / n; the last sample always gets the
frame timestamp exactly; intermediate values are rounded half-to-even (Kotlin `round`), here computed
exactly rather than in doubles.

The device clock is neither the host clock nor running at exactly the host's rate, so
`DeviceClockMapper` maps device time to host time from (device timestamp, host receive time) pairs:
the receive delay is never negative, so the smallest `host - device` offset seen in each window is the
best estimate of the true offset, and a least-squares line through recent window minima tracks the
drift (ppm) between the clocks.
"""

from __future__ import annotations

import math
from collections import deque
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

from strideguard.sensors.errors import DecodeError
from strideguard.sensors.units import NS_PER_S

PROTOCOL = "pmd-time"
POLAR_EPOCH_UNIX_NS = 946_684_800 * NS_PER_S  # 2000-01-01T00:00Z in Unix ns
MAX_TIMESTAMP_NS = 2**63 - 1  # ns; a u64 device timestamp above this cannot be an int64 sample time


def sample_timestamps_ns(
    previous_frame_ts_ns: int | None, frame_ts_ns: int, n_samples: int, sample_rate_hz: float | None
) -> np.ndarray:
    """Device timestamps (int64 ns) of the `n_samples` samples of a frame, by the PMD rules.

    `previous_frame_ts_ns` is None (or 0, or not before this frame) for the first frame of a stream,
    which then needs `sample_rate_hz`.
    """
    if n_samples <= 0:
        raise DecodeError("frame carries no samples", protocol=PROTOCOL)
    if frame_ts_ns > MAX_TIMESTAMP_NS:
        raise DecodeError(f"timestamp {frame_ts_ns} ns does not fit int64 nanoseconds", protocol=PROTOCOL)
    if previous_frame_ts_ns and previous_frame_ts_ns < frame_ts_ns:
        return _timestamps_after(previous_frame_ts_ns, frame_ts_ns, n_samples)
    return _timestamps_first(frame_ts_ns, n_samples, sample_rate_hz)


# Exact rational arithmetic with half-to-even rounding: the SDK's Double math gives the same values
# wherever a double is exact, and does not lose ~100 ns to float precision at 2020s timestamps.
def _timestamps_after(previous_frame_ts_ns: int, frame_ts_ns: int, n_samples: int) -> NDArray[np.int64]:
    """A later frame: (ts - previous ts) / n apart, ending at the frame timestamp."""
    delta_ns = (frame_ts_ns - previous_frame_ts_ns) / n_samples
    _check_not_negative(frame_ts_ns, delta_ns, n_samples)
    out = np.empty(n_samples, dtype=np.int64)
    span = frame_ts_ns - previous_frame_ts_ns
    out[:-1] = previous_frame_ts_ns + _spread(span, np.arange(1, n_samples, dtype=np.int64), n_samples)
    out[-1] = frame_ts_ns
    return out


def _timestamps_first(frame_ts_ns: int, n_samples: int, sample_rate_hz: float | None) -> NDArray[np.int64]:
    """The first frame of a stream: 1e9 / fs apart, ending at the frame timestamp."""
    if not sample_rate_hz or sample_rate_hz <= 0 or not math.isfinite(sample_rate_hz):
        raise DecodeError("first frame of a stream needs the sample rate", protocol=PROTOCOL)
    delta_ns = NS_PER_S / sample_rate_hz
    start_ns = frame_ts_ns - delta_ns * (n_samples - 1)
    if start_ns <= 0:
        raise DecodeError(f"first sample time {start_ns:.0f} ns would be negative", protocol=PROTOCOL)
    _check_not_negative(frame_ts_ns, delta_ns, n_samples)
    out = np.empty(n_samples, dtype=np.int64)
    rate = Fraction(sample_rate_hz).limit_denominator(1_000_000)
    steps_back = np.arange(n_samples - 1, 0, -1, dtype=np.int64)
    out[:-1] = frame_ts_ns - _spread(NS_PER_S * rate.denominator, steps_back, rate.numerator)
    out[-1] = frame_ts_ns
    return out


def _check_not_negative(frame_ts_ns: int, delta_ns: float, n_samples: int) -> None:
    if frame_ts_ns < delta_ns * n_samples:
        raise DecodeError("sample timestamps would be negative", protocol=PROTOCOL)


def _spread(total: int, k: np.ndarray, parts: int) -> np.ndarray:
    """round_half_even(total * k / parts) for each k, exactly (int64 when it cannot overflow)."""
    if total * int(k.max(initial=0)) < 2**62:
        q, r = np.divmod(total * k, parts)
        return q + ((2 * r > parts) | ((2 * r == parts) & (q % 2 == 1)))
    return np.array([_round_half_even(total * int(x), parts) for x in k], dtype=np.int64)


def _round_half_even(numerator: int, denominator: int) -> int:
    q, r = divmod(numerator, denominator)
    if 2 * r > denominator or (2 * r == denominator and q % 2):
        q += 1
    return q


class DeviceClockMapper:
    """Maps device-clock ns to host-clock ns with offset and drift tracking.

    Feed `observe(device_ns, host_rx_ns)` once per frame (device time of the frame's last sample, host
    time the notification arrived), then `to_host(device_ns)`. Pure state, no I/O: replaying the same
    observations gives the same mapping. A jump larger than `resync_threshold_s` (device reboot, clock
    set) restarts the estimate.

    Parameters are stored as given (gaitmap style): `window_s` is the device-time length over which one
    minimum offset is kept, `history_windows` how many window minima the drift line is fitted through.
    """

    __slots__ = (
        "_applied",
        "_history",
        "_offset0_ns",
        "_ref_device_ns",
        "_slope",
        "_window_min",
        "_window_start",
        "history_windows",
        "max_slew",
        "resync_threshold_s",
        "resyncs_",
        "window_s",
    )

    def __init__(
        self,
        *,
        window_s: float = 10.0,
        history_windows: int = 30,
        resync_threshold_s: float = 2.0,
        max_slew: float = 0.05,
    ):
        self.window_s = window_s
        self.history_windows = history_windows
        self.resync_threshold_s = resync_threshold_s
        self.max_slew = max_slew  # how fast `map_frame` may move the applied offset: ns per ns of device time
        self.resyncs_ = 0
        self._reset()

    def _reset(self) -> None:
        self._window_start: int | None = None
        self._window_min: tuple[int, int] | None = None  # (device_ns, offset_ns)
        self._history: deque[tuple[int, int]] = deque(maxlen=self.history_windows)
        self._offset0_ns = 0
        self._ref_device_ns = 0
        self._slope = 0.0
        self._applied: tuple[int, int] | None = None  # (device ns, offset ns) of the last mapped sample

    @property
    def drift_ppm(self) -> float:
        """How much faster the host clock runs than the device clock, in parts per million."""
        return self._slope * 1e6

    def observe(self, device_ns: int, host_rx_ns: int) -> None:
        offset_ns = host_rx_ns - device_ns
        if self._window_start is not None:
            predicted = self._offset_at(device_ns)
            if abs(offset_ns - predicted) > self.resync_threshold_s * NS_PER_S or device_ns < self._window_start - int(
                self.resync_threshold_s * NS_PER_S
            ):
                self.resyncs_ += 1
                self._reset()
        history_changed = False
        window_min = self._window_min  # set together with `_window_start`
        if self._window_start is None or window_min is None:
            self._window_start = device_ns
            window_min = self._window_min = (device_ns, offset_ns)
            self._history.clear()
        elif device_ns - self._window_start >= self.window_s * NS_PER_S:
            self._history.append(window_min)
            self._window_start = device_ns
            window_min = self._window_min = (device_ns, offset_ns)
            history_changed = True
        elif offset_ns < window_min[1]:
            window_min = self._window_min = (device_ns, offset_ns)
        if history_changed or len(self._history) < 2:  # the line only moves when a window completes
            self._fit(window_min)

    def _fit(self, window_min: tuple[int, int]) -> None:
        """Refit the offset line; `window_min` is the current window's smallest (device_ns, offset_ns)."""
        points = list(self._history)
        if len(points) < 2:
            # too short to tell drift from jitter: the smallest offset so far
            best = min([*points, window_min], key=lambda p: p[1])
            self._ref_device_ns, self._offset0_ns, self._slope = best[0], best[1], 0.0
            return
        # completed windows only: a window that has just begun holds few deliveries and a poor minimum
        ref = points[0][0]
        x = np.array([p[0] - ref for p in points], dtype=np.float64)
        y = np.array([p[1] for p in points], dtype=np.float64)
        x_mean, y_mean = x.mean(), y.mean()
        var = float(((x - x_mean) ** 2).sum())
        slope = float(((x - x_mean) * (y - y_mean)).sum() / var) if var > 0 else 0.0
        self._ref_device_ns = ref
        self._offset0_ns = round(float(y_mean - slope * x_mean))
        self._slope = slope

    def _offset_at(self, device_ns: int) -> int:
        return self._offset0_ns + round(float(self._slope * (device_ns - self._ref_device_ns)))

    def map_frame(self, device_ns: np.ndarray) -> np.ndarray:
        """Host ns for the samples of the next frame, slewing instead of jumping.

        When the estimate moves (a faster delivery reveals a smaller delay, a new window refines the
        drift), the applied offset follows at most `max_slew` ns per ns of device time, interpolated
        across the frame, so the sample timeline never steps backwards or squeezes; a resync jumps.
        """
        device = np.asarray(device_ns, dtype=np.int64)
        target = self.to_host(device) - device
        if self._applied is None or device[-1] <= self._applied[0]:
            offsets = target
        else:
            last_device, last_offset = self._applied
            allowed = self.max_slew * float(device[-1] - last_device)
            end_offset = last_offset + int(np.clip(int(target[-1]) - last_offset, -allowed, allowed))
            fraction = (device - last_device).astype(np.float64) / float(device[-1] - last_device)
            offsets = last_offset + np.round(fraction * (end_offset - last_offset)).astype(np.int64)
        self._applied = (int(device[-1]), int(offsets[-1]))
        return device + offsets

    def to_host(self, device_ns: np.ndarray) -> np.ndarray:
        """Host ns (int64) for device ns by the current estimate (no slewing); needs one `observe`."""
        if self._window_start is None:
            raise DecodeError("no observation yet to map device time", protocol=PROTOCOL)
        device = np.asarray(device_ns, dtype=np.int64)
        rel = (device - self._ref_device_ns).astype(np.float64)
        return device + self._offset0_ns + np.round(self._slope * rel).astype(np.int64)
