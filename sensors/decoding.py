"""The one place that turns a received (or recorded) notification into samples and readings.

Both the live BLE shell (`sensors.ble`) and capture replay (`sensors.capture.replay`) call
`make_decoder(source, ...)` once per stream and then `feed(t_ns, payload)` for every notification, in
order. `t_ns` is the host time the notification arrived; a decoder's output depends only on the sequence
of (t_ns, payload) it was fed and on its stream declaration, so a replay reproduces the live output
exactly.

Sources:
    "pmd_data"     Polar PMD data characteristic: ACC and GYRO frames (the measurement byte says which)
                   -> SampleBatch per frame, ACC in g, GYRO in deg/s, host-time `t_ns`
    "pmd_control"  Polar PMD control point: responses update the device's `PmdSession` (the factor from a
                   start response, the available settings); yields nothing itself
    "hrm"          Heart Rate Measurement 0x2A37 -> HeartRateReading
    "rsc"          Running Speed and Cadence Measurement 0x2A53 -> StrideReading
    "movesense"    Movesense GSP notifications -> SampleBatch (ACC, and GYRO for IMU6)

How control reaches data: decoders of one device share a `PmdSession`, found in a `DecoderContext`
(pass the same context to every `make_decoder` call of one recording or replay). Without a context each
decoder gets a private session, and the data decoder takes the factor and sample rates from the stream's
`StreamMeta`, which the recorder writes when it declares the stream, so a replay decodes the same either
way.

What the decoders read of the `StreamMeta`: acc_rate_hz, gyro_rate_hz, acc_factor, gyro_factor for
pmd_data; movesense_path (e.g. "/Meas/IMU6/104") and movesense_reference for movesense.

Corrupt payloads raise `DecodeError`; the caller counts them and carries on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from strideguard.sensors.errors import DecodeError
from strideguard.sensors.protocols import hrm, movesense, pmd_control, pmd_data, rsc
from strideguard.sensors.protocols.pmd_control import (
    MeasurementStopped,
    MeasurementType,
    PmdControlResponse,
    PmdSettings,
)
from strideguard.sensors.protocols.pmd_time import DeviceClockMapper, sample_timestamps_ns
from strideguard.sensors.types import (
    NO_META,
    HeartRateReading,
    Placement,
    SampleBatch,
    SampleKind,
    StreamMeta,
    StrideReading,
)
from strideguard.sensors.units import NS_PER_S, STANDARD_GRAVITY_MPS2

DecodedItem = SampleBatch | HeartRateReading | StrideReading

# A frame whose timestamp step is outside [0.5, 1.5] x the nominal sample period does not continue the
# previous frame (a reconnect, a dropped notification, a restarted stream): it is timed as a first frame.
CONTINUITY_TOLERANCE = 0.5
# A frame older than its predecessor by more than this is a device clock reset (reboot), not reordering.
CLOCK_RESET_NS = 2 * NS_PER_S  # ns
# keyed by int: a frame's measurement type is the raw byte, looked up before it is known to be ACC or GYRO
_PMD_KINDS: dict[int, SampleKind] = {MeasurementType.ACC: SampleKind.ACC, MeasurementType.GYRO: SampleKind.GYRO}


class StreamDecoder(Protocol):
    def feed(self, t_ns: int, payload: bytes) -> list[DecodedItem]: ...


@dataclass(slots=True)
class PmdSession:
    """What the control point has told us about one Polar device, shared by its decoders."""

    factors: dict[int, float] = field(default_factory=dict)  # measurement type -> counts-to-unit factor
    available: dict[int, PmdSettings] = field(default_factory=dict)  # from get-settings responses
    stopped_by_device: list[int] = field(default_factory=list)  # measurement types, in order
    starts: int = 0  # successful start responses seen

    def apply(self, event: PmdControlResponse | MeasurementStopped) -> None:
        if isinstance(event, MeasurementStopped):
            self.stopped_by_device.extend(event.measurement_types)
        elif event.ok and event.op == pmd_control.ControlOp.GET_SETTINGS and event.settings is not None:
            self.available[event.measurement_type] = event.settings
        elif event.ok and event.op == pmd_control.ControlOp.START:
            self.factors[event.measurement_type] = event.factor
            self.starts += 1


@dataclass(slots=True)
class DecoderContext:
    """Shared state of one recording or replay: a PMD session per (runner, device)."""

    sessions: dict[tuple[str, str], PmdSession] = field(default_factory=dict)

    def session(self, runner: str, device: str) -> PmdSession:
        return self.sessions.setdefault((runner, device), PmdSession())


class _Monotonic:
    """Keeps host timestamps of one stream strictly increasing across frames (clock-estimate updates
    may move the mapping back by a few microseconds; samples must never go back in time)."""

    __slots__ = ("last_ns",)

    def __init__(self) -> None:
        self.last_ns: int | None = None

    def apply(self, t_ns: np.ndarray) -> np.ndarray:
        idx = np.arange(t_ns.shape[0], dtype=np.int64)
        shifted = t_ns - idx
        if self.last_ns is not None:
            shifted = np.maximum(shifted, self.last_ns + 1)
        out = np.maximum.accumulate(shifted) + idx
        self.last_ns = int(out[-1])
        return out


class PmdDataDecoder:
    """PMD data frames of one device -> SampleBatch per frame, on the host clock."""

    def __init__(
        self,
        *,
        runner: str,
        device: str,
        placement: Placement,
        rate_hz: float | None,
        meta: StreamMeta,
        session: PmdSession,
    ) -> None:
        self.runner, self.device, self.placement = runner, device, Placement(placement)
        self.meta = meta
        self.session = session
        self.rates_hz: dict[int, float | None] = {
            MeasurementType.ACC: rate_hz if meta.acc_rate_hz is None else meta.acc_rate_hz,
            MeasurementType.GYRO: meta.gyro_rate_hz,
        }
        self.meta_factors: dict[int, float | None] = {
            MeasurementType.ACC: meta.acc_factor,
            MeasurementType.GYRO: meta.gyro_factor,
        }
        self.mapper = DeviceClockMapper()  # one device clock for all its measurements
        self._previous_ts: dict[int, int] = {}
        self._monotonic: dict[int, _Monotonic] = {kind: _Monotonic() for kind in _PMD_KINDS}
        self.discontinuities_ = 0

    def feed(self, t_ns: int, payload: bytes) -> list[DecodedItem]:
        frame = pmd_data.parse_frame(payload)
        measurement = frame.measurement_type
        if measurement not in _PMD_KINDS:
            raise DecodeError(
                f"measurement type {measurement} is not ACC or GYRO",
                protocol=pmd_data.PROTOCOL,
                payload=payload,
                offset=0,
            )
        rate_hz = self.rates_hz[measurement]
        if not rate_hz:
            raise DecodeError(
                f"no sample rate declared for measurement {measurement}", protocol=pmd_data.PROTOCOL, payload=payload
            )
        factor = self.session.factors.get(measurement, self.meta_factors[measurement] or 1.0)
        previous = self._previous_ts.get(measurement)
        n = len(frame)
        if previous is not None and previous - CLOCK_RESET_NS < frame.timestamp_ns <= previous:
            # a duplicate or a frame overtaken by its successor: its samples are already behind us
            raise DecodeError(
                "frame is not newer than the previous one (duplicate or out of order)",
                protocol=pmd_data.PROTOCOL,
                payload=payload,
            )
        if previous is not None:
            step_ns = (frame.timestamp_ns - previous) / n
            nominal_ns = NS_PER_S / rate_hz
            if abs(step_ns - nominal_ns) > CONTINUITY_TOLERANCE * nominal_ns:
                previous = None
                self.discontinuities_ += 1
        try:
            device_ts = sample_timestamps_ns(previous, frame.timestamp_ns, n, rate_hz)
        except DecodeError as exc:
            raise DecodeError(str(exc.args[0]), protocol=pmd_data.PROTOCOL, payload=payload) from None
        values = pmd_data.counts_to_unit(frame, factor=factor)
        self._previous_ts[measurement] = frame.timestamp_ns
        self.mapper.observe(frame.timestamp_ns, t_ns)
        host_ts = self._monotonic[measurement].apply(self.mapper.map_frame(device_ts))
        return [
            SampleBatch(
                runner=self.runner,
                device=self.device,
                placement=self.placement,
                kind=_PMD_KINDS[measurement],
                rate_hz=rate_hz,
                t_ns=host_ts,
                values=values,
                meta=self.meta,
            )
        ]


class PmdControlStreamDecoder:
    """Control-point notifications -> session updates (no samples)."""

    def __init__(self, *, session: PmdSession) -> None:
        self.session = session
        self._decoder = pmd_control.PmdControlDecoder()

    def feed(self, t_ns: int, payload: bytes) -> list[DecodedItem]:
        for event in self._decoder.feed(payload):
            self.session.apply(event)
        return []


class HrmDecoder:
    def __init__(self, *, runner: str, device: str) -> None:
        self.runner, self.device = runner, device

    def feed(self, t_ns: int, payload: bytes) -> list[DecodedItem]:
        m = hrm.parse_hrm(payload)
        return [
            HeartRateReading(
                runner=self.runner,
                device=self.device,
                t_ns=int(t_ns),
                heart_rate_bpm=m.heart_rate_bpm,
                rr_intervals_ms=m.rr_intervals_ms,
                energy_expended_kj=m.energy_kj,
                sensor_contact=m.sensor_contact,
            )
        ]


class RscDecoder:
    def __init__(self, *, runner: str, device: str) -> None:
        self.runner, self.device = runner, device

    def feed(self, t_ns: int, payload: bytes) -> list[DecodedItem]:
        m = rsc.parse_rsc(payload)
        return [
            StrideReading(
                runner=self.runner,
                device=self.device,
                t_ns=int(t_ns),
                speed_mps=m.speed_mps,
                cadence_spm=m.cadence_per_min,
                stride_length_m=m.stride_length_m,
                total_distance_m=m.total_distance_m,
                is_running=m.running,
            )
        ]


class MovesenseDecoder:
    """GSP data of one subscription -> ACC (g) and, for IMU6, GYRO (deg/s) batches on the host clock."""

    def __init__(
        self, *, runner: str, device: str, placement: Placement, rate_hz: float | None, meta: StreamMeta
    ) -> None:
        self.runner, self.device, self.placement = runner, device, Placement(placement)
        self.meta = meta
        path = f"/Meas/IMU6/{int(rate_hz or 104)}" if meta.movesense_path is None else meta.movesense_path
        self.subscription = movesense.Subscription.from_path(path)
        self.reference = 1 if meta.movesense_reference is None else meta.movesense_reference
        self.mapper = DeviceClockMapper()
        self._monotonic = {SampleKind.ACC: _Monotonic(), SampleKind.GYRO: _Monotonic()}

    def feed(self, t_ns: int, payload: bytes) -> list[DecodedItem]:
        event = movesense.parse_notification(payload, {self.reference: self.subscription})
        if isinstance(event, movesense.GspCommandResult):
            return []
        rate_hz = float(self.subscription.rate_hz)
        n = event.acc_mps2.shape[0]
        first_ns = event.timestamp_ms * 1_000_000
        device_ts = first_ns + np.round(np.arange(n) * (NS_PER_S / rate_hz)).astype(np.int64)
        self.mapper.observe(int(device_ts[-1]), t_ns)
        host = self.mapper.map_frame(device_ts)
        out: list[DecodedItem] = [self._batch(SampleKind.ACC, host, event.acc_mps2 / STANDARD_GRAVITY_MPS2)]
        if event.gyro_dps is not None:
            out.append(self._batch(SampleKind.GYRO, host, event.gyro_dps))
        return out

    def _batch(self, kind: SampleKind, host: np.ndarray, values: np.ndarray) -> SampleBatch:
        return SampleBatch(
            runner=self.runner,
            device=self.device,
            placement=self.placement,
            kind=kind,
            rate_hz=float(self.subscription.rate_hz),
            t_ns=self._monotonic[kind].apply(host),
            values=values,
            meta=self.meta,
        )


SOURCES = ("pmd_data", "pmd_control", "hrm", "rsc", "movesense")


def make_decoder(
    source: str,
    *,
    runner: str,
    device: str,
    placement: Placement | str,
    rate_hz: float | None,
    meta: StreamMeta = NO_META,
    context: DecoderContext | None = None,
) -> StreamDecoder:
    """A fresh stateful decoder for one declared stream. Unknown sources raise KeyError."""
    placement = Placement(placement)

    def session() -> PmdSession:
        return context.session(runner, device) if context is not None else PmdSession()

    factories: dict[str, Callable[[], StreamDecoder]] = {
        "pmd_data": lambda: PmdDataDecoder(
            runner=runner, device=device, placement=placement, rate_hz=rate_hz, meta=meta, session=session()
        ),
        "pmd_control": lambda: PmdControlStreamDecoder(session=session()),
        "hrm": lambda: HrmDecoder(runner=runner, device=device),
        "rsc": lambda: RscDecoder(runner=runner, device=device),
        "movesense": lambda: MovesenseDecoder(
            runner=runner, device=device, placement=placement, rate_hz=rate_hz, meta=meta
        ),
    }
    if source not in factories:
        raise KeyError(f"unknown decoder source {source!r}; known: {', '.join(SOURCES)}")
    return factories[source]()
