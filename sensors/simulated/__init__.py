"""Simulated BLE devices behind the real bleak API, for tests and for trying StrideGuard without hardware.

A `SimulatedWorld` holds peripherals (a Polar H10, a Verity-Sense-like PMD sensor with gyro, an RSC
footpod, a heart-rate strap, a Movesense, an Immediate Alert band) and hands out bleak backend classes:

    world = SimulatedWorld(clock=clock)
    h10 = world.add(SimulatedH10(address="A0:9E:1A:00:00:01", acc_source=sine_acc()))
    async with BleakClient(h10.address, backend=world.client_backend) as client: ...
    async with BleakScanner(callback, backend=world.scanner_backend): ...

Devices answer the same bytes real ones do (PMD control point, PMD data frames, 0x2A37, 0x2A53, GSP) and
time everything on the world's `Clock`, so with a `SimClock` ten simulated minutes run in seconds.
A `LinkFaults` plan per device drops the link (and stops advertising for a while), delays, reorders,
truncates or corrupts notifications, all from a seeded RNG.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from bleak.assigned_numbers import CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError

from strideguard.sensors.ble.clock import Clock
from strideguard.sensors.errors import DecodeError
from strideguard.sensors.protocols import alert_level, dis, hrm, movesense, pmd_control, pmd_data, rsc, uuids
from strideguard.sensors.protocols.pmd_control import ControlOp, MeasurementType, PmdSettings, PmdStatus
from strideguard.sensors.units import NS_PER_S, STANDARD_GRAVITY_MPS2

log = logging.getLogger(__name__)

DEFAULT_MTU = 23  # bytes, the ATT minimum before negotiation
PMD_MIN_MTU = 232  # bytes the H10 needs to fit a 200 Hz ACC frame
READ_ROUND_TRIP_S = 0.015  # s a GATT read takes (request and response, one connection interval each)

# A sample source maps sample times (float64 seconds since the stream started) to (n, 3) values in the
# kind's unit (g for acceleration, deg/s for angular rate).
SampleSource = Callable[[np.ndarray], np.ndarray]
# A GATT table: {service uuid: {characteristic uuid: properties}}.
GattTable = dict[str, dict[str, list[CharacteristicPropertyName]]]
# Device Information Service strings by characteristic UUID: the bytes a read returns, or the error it raises
DeviceInfo = Mapping[str, bytes | BleakError]
# what a Polar H10 answers (manufacturer and model as H7/H10 dumps show them; the version in the Software
# Revision String, a bootloader's in the Firmware Revision String, as Polar's own SDK reads them)
H10_DEVICE_INFO: DeviceInfo = {
    dis.MANUFACTURER_NAME: b"Polar Electro Oy",
    dis.MODEL_NUMBER: b"H10",
    dis.FIRMWARE_REVISION: b"2.1.9",
    dis.SOFTWARE_REVISION: b"3.1.1",
}
# a Verity Sense: the same layout; its model and version strings are illustrative (no dump of one was found)
VERITY_DEVICE_INFO: DeviceInfo = {
    dis.MANUFACTURER_NAME: b"Polar Electro Oy",
    dis.MODEL_NUMBER: b"Polar Sense",
    dis.FIRMWARE_REVISION: b"1.0.5",
    dis.SOFTWARE_REVISION: b"2.1.0",
}


def sine_acc(*, cadence_spm: float = 170.0, amplitude_g: float = 1.2) -> SampleSource:
    """A crude running trunk: 1 g plus a vertical bounce at step frequency and a sway at half of it."""
    step_hz = cadence_spm / 60.0

    def source(t_s: np.ndarray) -> np.ndarray:
        vertical = 1.0 + amplitude_g * np.sin(2 * np.pi * step_hz * t_s)
        lateral = 0.2 * np.sin(np.pi * step_hz * t_s)
        forward = 0.1 * np.cos(2 * np.pi * step_hz * t_s)
        return np.stack([lateral, forward, vertical], axis=1)

    return source


def sine_gyro(*, cadence_spm: float = 170.0, amplitude_dps: float = 40.0) -> SampleSource:
    step_hz = cadence_spm / 60.0

    def source(t_s: np.ndarray) -> np.ndarray:
        w = amplitude_dps * np.sin(np.pi * step_hz * t_s)
        return np.stack([w, 0.3 * w, -0.5 * w], axis=1)

    return source


def array_source(values: np.ndarray, rate_hz: float) -> SampleSource:
    """Play a recorded (n, 3) array at `rate_hz`, looping."""
    values = np.asarray(values, dtype=np.float64)

    def source(t_s: np.ndarray) -> np.ndarray:
        idx = np.round(t_s * rate_hz).astype(np.int64) % values.shape[0]
        return values[idx]

    return source


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkFaults:
    """What goes wrong on a device's link. Times are seconds of the device's streaming time (since its
    first measurement start); `every_n` counters run over data notifications."""

    drop_link_at_s: tuple[float, ...] = ()
    down_for_s: float = 3.0  # not advertising (unreachable) for this long after a drop
    latency_s: tuple[float, float] = (0.008, 0.030)  # uniform delivery delay, FIFO order kept
    corrupt_every_n: int = 0  # replace the payload with random bytes
    truncate_every_n: int = 0  # cut the payload short
    garbage_every_n: int = 0  # insert an extra notification of random bytes
    reorder_every_n: int = 0  # swap this notification with the next one
    seed: int = 0


@dataclass(slots=True)
class _Link:
    """One connection between a simulated client backend and a peripheral."""

    peripheral: SimulatedPeripheral
    disconnected: Callable[[], None] | None
    callbacks: dict[str, NotifyCallback] = field(default_factory=dict)
    mtu: int = DEFAULT_MTU
    alive: bool = True
    queue: asyncio.Queue[tuple[int, str, bytes]] = field(default_factory=asyncio.Queue)
    deliverer: asyncio.Task[None] | None = None


class SimulatedPeripheral:
    """Base: identity, advertisement, a GATT table, a link with fault injection.

    Subclasses declare `services` ({service uuid: {characteristic uuid: properties}}) and override
    `on_write`, `on_subscribe`, `on_read`, `on_link_up`, `on_link_down`. A `device_info` adds a Device
    Information Service with those characteristics (none by default: many devices have none).
    """

    services: ClassVar[GattTable] = {}

    def __init__(
        self,
        *,
        address: str,
        name: str,
        rssi_dbm: int = -60,
        advertised_services: tuple[str, ...] = (),
        faults: LinkFaults | None = None,
        device_info: DeviceInfo | None = None,
    ) -> None:
        self.address = address
        self.device_info: dict[str, bytes | BleakError] = dict(device_info or {})
        self.name = name
        self.rssi_dbm = rssi_dbm
        self.advertised_services = advertised_services
        self.faults = faults or LinkFaults()
        self.world: SimulatedWorld | None = None
        self.advertising = True
        self.link: _Link | None = None
        self.connections = 0
        self.drops = 0
        self._rng = random.Random(self.faults.seed)
        self._data_count = 0
        self._held: tuple[str, bytes] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._drop_times_s = sorted(self.faults.drop_link_at_s)
        self.stream_started_ns: int | None = None

    # -- wiring -----------------------------------------------------------------------------------
    @property
    def clock(self) -> Clock:
        assert self.world is not None, "add the peripheral to a SimulatedWorld first"
        return self.world.clock

    def advertisement(self) -> AdvertisementData:
        return AdvertisementData(
            local_name=self.name,
            manufacturer_data={},
            service_data={},
            service_uuids=list(self.advertised_services),
            tx_power=None,
            rssi=self.rssi_dbm,
            platform_data=(),
        )

    def gatt(self) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        handle = 1
        table = dict(self.services)
        if self.device_info:
            table[dis.DEVICE_INFORMATION_SERVICE] = {uuid: ["read"] for uuid in self.device_info}
        for service_uuid, chars in table.items():
            service = BleakGATTService(None, handle, service_uuid)
            collection.add_service(service)
            handle += 1
            for char_uuid, props in chars.items():
                collection.add_characteristic(
                    BleakGATTCharacteristic(
                        None, handle, char_uuid, list(props), lambda: self.link.mtu - 3 if self.link else 20, service
                    )
                )
                handle += 2
        return collection

    # -- link -------------------------------------------------------------------------------------
    def attach(self, link: _Link) -> None:
        self.link = link
        self.connections += 1
        self._held = None
        link.deliverer = asyncio.get_running_loop().create_task(self._deliver(link), name=f"sim-{self.address}")
        self.on_link_up()

    def detach(self, *, unsolicited: bool) -> None:
        link, self.link = self.link, None
        if link is None:
            return
        link.alive = False
        if link.deliverer is not None:
            link.deliverer.cancel()
        for task in list(self._tasks):
            task.cancel()
        self.on_link_down()
        if unsolicited and link.disconnected is not None:
            link.disconnected()

    def drop_link(self) -> None:
        """Lose the link now (as if out of range) and stop advertising for `faults.down_for_s`."""
        if self.link is None:
            return
        self.drops += 1
        self.advertising = False
        self.detach(unsolicited=True)
        self.spawn(self._come_back())

    async def _come_back(self) -> None:
        await self.clock.sleep(self.faults.down_for_s)
        self.advertising = True
        if self.world is not None:
            self.world.announce(self)

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def notify(self, char_uuid: str, payload: bytes, *, data: bool = True) -> None:
        """Send a notification through the link's faults and latency."""
        link = self.link
        if link is None or not link.alive or char_uuid not in link.callbacks:
            return
        f = self.faults
        if data:
            self._data_count += 1
            n = self._data_count
            if f.garbage_every_n and n % f.garbage_every_n == 0:
                self._enqueue(link, char_uuid, self._rng.randbytes(self._rng.randint(1, 12)))
            if f.corrupt_every_n and n % f.corrupt_every_n == 0:
                payload = self._rng.randbytes(len(payload))
            if f.truncate_every_n and n % f.truncate_every_n == 0:
                payload = payload[: self._rng.randint(0, max(0, len(payload) - 1))]
            if f.reorder_every_n and n % f.reorder_every_n == 0 and self._held is None:
                self._held = (char_uuid, payload)
                return
        self._enqueue(link, char_uuid, payload)
        if self._held is not None and data:
            held, self._held = self._held, None
            self._enqueue(link, *held)

    def _enqueue(self, link: _Link, char_uuid: str, payload: bytes) -> None:
        lo, hi = self.faults.latency_s
        delay_ns = int(self._rng.uniform(lo, hi) * NS_PER_S)
        link.queue.put_nowait((self.clock.now_ns() + delay_ns, char_uuid, payload))

    async def _deliver(self, link: _Link) -> None:
        last_ns = 0
        while link.alive:
            due_ns, char_uuid, payload = await link.queue.get()
            due_ns = max(due_ns, last_ns)  # FIFO: a notification never overtakes an earlier one
            last_ns = due_ns
            if due_ns > self.clock.now_ns():
                await self.clock.sleep((due_ns - self.clock.now_ns()) / NS_PER_S)
            callback = link.callbacks.get(char_uuid)
            if link.alive and callback is not None:
                callback(bytearray(payload))

    def check_drop(self) -> bool:
        """Drop the link if a scheduled drop time has passed; True if it dropped."""
        if not self._drop_times_s or self.stream_started_ns is None:
            return False
        elapsed_s = (self.clock.now_ns() - self.stream_started_ns) / NS_PER_S
        if elapsed_s >= self._drop_times_s[0]:
            self._drop_times_s.pop(0)
            self.drop_link()
            return True
        return False

    # -- behaviour hooks ----------------------------------------------------------------------------
    def on_link_up(self) -> None: ...

    def on_link_down(self) -> None: ...

    def on_read(self, char_uuid: str) -> bytes:
        value = self.device_info.get(char_uuid)
        if isinstance(value, BleakError):
            raise value
        if value is not None:
            return value
        raise BleakError(f"characteristic {char_uuid} is not readable")

    def on_write(self, char_uuid: str, payload: bytes) -> None:
        raise BleakError(f"characteristic {char_uuid} is not writable")

    def on_subscribe(self, char_uuid: str) -> None: ...


class _MeasurementStream:
    """One running PMD measurement on the simulated device."""

    def __init__(
        self,
        *,
        measurement: MeasurementType,
        rate_hz: int,
        source: SampleSource,
        scale: float,
        samples_per_frame: int,
        compressed: bool,
        clip: float,
    ) -> None:
        self.measurement = measurement
        self.clip = clip  # the selected range, in the unit
        self.rate_hz = rate_hz
        self.source = source
        self.scale = scale  # unit -> counts
        self.samples_per_frame = samples_per_frame
        self.compressed = compressed
        self.next_sample = 0


class SimulatedPmdDevice(SimulatedPeripheral):
    """A Polar PMD sensor (H10 by default): control point, ACC frames, optional gyro, HR service.

    Its clock runs `clock_drift_ppm` fast relative to the host, starting `device_time_offset_s` after
    2000-01-01; frames carry the device timestamp of their last sample, as the real ones do.
    """

    services: ClassVar[GattTable] = {
        uuids.PMD_SERVICE: {uuids.PMD_CONTROL_POINT: ["read", "write", "indicate"], uuids.PMD_DATA: ["notify"]},
        uuids.HR_SERVICE: {uuids.HR_MEASUREMENT: ["notify"]},
    }

    def __init__(
        self,
        *,
        address: str,
        name: str = "Polar H10 5A3B2C1D",
        rssi_dbm: int = -58,
        acc_source: SampleSource | None = None,
        gyro_source: SampleSource | None = None,
        acc_rates_hz: tuple[int, ...] = (25, 50, 100, 200),
        acc_ranges_g: tuple[int, ...] = (2, 4, 8),
        gyro_rates_hz: tuple[int, ...] = (),
        compressed: bool = False,
        factor: float | None = None,
        clock_drift_ppm: float = 40.0,
        device_time_offset_s: float = 8.0e8,
        heart_rate_bpm: int = 150,
        refuse_start_with: PmdStatus | None = None,
        faults: LinkFaults | None = None,
        device_info: DeviceInfo | None = None,
    ) -> None:
        super().__init__(
            address=address,
            name=name,
            rssi_dbm=rssi_dbm,
            advertised_services=(uuids.HR_SERVICE,),
            faults=faults,
            device_info=device_info,
        )
        self.acc_source = acc_source or sine_acc()
        self.gyro_source = gyro_source or sine_gyro()
        self.acc_rates_hz, self.acc_ranges_g, self.gyro_rates_hz = acc_rates_hz, acc_ranges_g, gyro_rates_hz
        self.compressed = compressed
        self.factor = factor  # sent in the start response (Verity Sense style) when not None
        self.clock_drift_ppm = clock_drift_ppm
        self.device_time_offset_ns = int(device_time_offset_s * NS_PER_S)
        self.heart_rate_bpm = heart_rate_bpm
        self.refuse_start_with = refuse_start_with  # e.g. DEVICE_IN_CHARGER: every start is refused
        # a scenario's runner goes on through a reconnect: its sources are read at the time since the
        # device first streamed (else each stream starts its source at 0, as the sine sources expect)
        self.source_time_from_first_stream = False
        self.control_writes: list[bytes] = []
        self.running: dict[int, _MeasurementStream] = {}
        self._epoch_host_ns: int | None = None
        self.frames_sent = 0
        # truth for tests: per frame sent, (measurement, host ns each sample was taken, values in unit)
        self.sent: list[tuple[int, np.ndarray, np.ndarray]] = []

    # device clock: ns since 2000-01-01 on a clock that drifts against the host
    def device_ns(self, host_ns: int) -> int:
        if self._epoch_host_ns is None:
            self._epoch_host_ns = host_ns
        elapsed = host_ns - self._epoch_host_ns
        return self.device_time_offset_ns + elapsed + int(elapsed * self.clock_drift_ppm * 1e-6)

    def host_ns_of_device(self, device_ns: np.ndarray) -> np.ndarray:
        """Truth for tests: the host time at which a device timestamp was taken."""
        assert self._epoch_host_ns is not None
        elapsed = (np.asarray(device_ns, dtype=np.int64) - self.device_time_offset_ns).astype(np.float64)
        return self._epoch_host_ns + np.round(elapsed / (1 + self.clock_drift_ppm * 1e-6)).astype(np.int64)

    def on_read(self, char_uuid: str) -> bytes:
        if char_uuid == uuids.PMD_CONTROL_POINT:
            features = (1 << MeasurementType.ECG) | (1 << MeasurementType.ACC)
            if self.gyro_rates_hz:
                features |= 1 << MeasurementType.GYRO
            return bytes((0x0F, features & 0xFF, 0))
        return super().on_read(char_uuid)

    def on_subscribe(self, char_uuid: str) -> None:
        if char_uuid == uuids.HR_MEASUREMENT:
            self.spawn(self._heart_rate_loop())

    def on_link_down(self) -> None:
        self.running.clear()  # a PMD device stops its streams when the link goes

    def on_write(self, char_uuid: str, payload: bytes) -> None:
        if char_uuid != uuids.PMD_CONTROL_POINT:
            return super().on_write(char_uuid, payload)
        self.control_writes.append(payload)
        try:
            op, measurement, selected = pmd_control.parse_request(payload)
        except DecodeError:
            self._respond(
                payload[0] if payload else 0,
                payload[1] if len(payload) > 1 else 0,
                PmdStatus.INVALID_OP_CODE if payload else PmdStatus.INVALID_LENGTH,
            )
            return
        available = self._available(measurement)
        if available is None:
            self._respond(op, measurement, PmdStatus.INVALID_MEASUREMENT_TYPE)
        elif op == ControlOp.GET_SETTINGS:
            self._respond(op, measurement, PmdStatus.SUCCESS, pmd_control.encode_settings(available))
        elif op == ControlOp.STOP:
            status = PmdStatus.SUCCESS if self.running.pop(measurement, None) else PmdStatus.ALREADY_IN_STATE
            self._respond(op, measurement, status)
        else:
            self._start(measurement, selected, available)

    def _available(self, measurement: int) -> PmdSettings | None:
        if measurement == MeasurementType.ACC:
            return PmdSettings(sample_rate_hz=self.acc_rates_hz, resolution_bits=(16,), range=self.acc_ranges_g)
        if measurement == MeasurementType.GYRO and self.gyro_rates_hz:
            return PmdSettings(sample_rate_hz=self.gyro_rates_hz, resolution_bits=(16,), range=(250, 500, 1000, 2000))
        return None

    def _start(self, measurement: int, selected: PmdSettings, available: PmdSettings) -> None:
        op = ControlOp.START
        if self.refuse_start_with is not None:
            return self._respond(op, measurement, self.refuse_start_with)
        if self.link is not None and self.link.mtu < PMD_MIN_MTU:
            return self._respond(op, measurement, PmdStatus.INVALID_MTU)
        if measurement in self.running:
            return self._respond(op, measurement, PmdStatus.ALREADY_IN_STATE)
        if len(selected.sample_rate_hz) != 1 or selected.sample_rate_hz[0] not in available.sample_rate_hz:
            return self._respond(op, measurement, PmdStatus.INVALID_SAMPLE_RATE)
        if selected.range and selected.range[0] not in available.range:
            return self._respond(op, measurement, PmdStatus.INVALID_RANGE)
        rate_hz = selected.sample_rate_hz[0]
        if measurement == MeasurementType.ACC:
            range_g = selected.range[0] if selected.range else available.range[-1]
            scale = 1.0 / self.factor if (self.compressed and self.factor) else 1000.0  # g -> counts
            stream = _MeasurementStream(
                measurement=MeasurementType.ACC,
                rate_hz=rate_hz,
                source=self.acc_source,
                scale=scale,
                samples_per_frame=36 if not self.compressed else 57,
                compressed=self.compressed,
                clip=range_g,
            )
        else:
            factor = self.factor or 1.0
            stream = _MeasurementStream(
                measurement=MeasurementType.GYRO,
                rate_hz=rate_hz,
                source=self.gyro_source,
                scale=1.0 / factor,
                samples_per_frame=max(1, rate_hz // 5),
                compressed=True,
                clip=2000.0,
            )
        params = b"\x01"  # what H10 firmware sends: not a settings list
        if self.factor is not None:
            params = pmd_control.encode_settings(PmdSettings(factor=(self.factor,)))
        self._respond(op, measurement, PmdStatus.SUCCESS, params)
        self.running[measurement] = stream
        if self.stream_started_ns is None:
            self.stream_started_ns = self.clock.now_ns()
        self.spawn(self._stream_loop(stream))

    def stop_by_itself(self, measurement: MeasurementType) -> None:
        """Stop a measurement as a device does on its own (charger, button): the unsolicited 0x01 note."""
        if self.running.pop(measurement, None) is not None:
            self.notify(
                uuids.PMD_CONTROL_POINT, bytes((pmd_control.ONLINE_MEASUREMENT_STOPPED, measurement)), data=False
            )

    def _respond(self, op: int, measurement: int, status: int, params: bytes = b"") -> None:
        self.notify(uuids.PMD_CONTROL_POINT, pmd_control.build_response(op, measurement, status, params), data=False)

    async def _stream_loop(self, stream: _MeasurementStream) -> None:
        period_ns = NS_PER_S / stream.rate_hz
        start_host_ns = self.clock.now_ns()
        start_device_ns = self.device_ns(start_host_ns)
        # the device samples on its own clock grid; a frame leaves once its last sample is taken
        while self.running.get(stream.measurement) is stream and self.link is not None:
            last = stream.next_sample + stream.samples_per_frame - 1
            last_device_ns = start_device_ns + round(float(last * period_ns))  # float(): numpy 1.x rounds to float
            due_host_ns = int(self.host_ns_of_device(np.array([last_device_ns]))[0])
            if due_host_ns > self.clock.now_ns():
                await self.clock.sleep((due_host_ns - self.clock.now_ns()) / NS_PER_S)
            if self.check_drop() or self.running.get(stream.measurement) is not stream:
                return
            idx = np.arange(stream.next_sample, last + 1)
            device_ts = start_device_ns + np.round(idx * period_ns).astype(np.int64)
            t_s = (device_ts - start_device_ns) / NS_PER_S
            if self.source_time_from_first_stream and self.stream_started_ns is not None:
                t_s = t_s + (start_host_ns - self.stream_started_ns) / NS_PER_S  # the run goes on, not again
            values = np.clip(stream.source(t_s), -stream.clip, stream.clip)
            counts = np.round(values * stream.scale).astype(np.int64)
            if stream.compressed:
                frame_type = 0 if (self.factor or stream.measurement == MeasurementType.GYRO) else 1
                payload = pmd_data.build_delta_frame(
                    stream.measurement, int(device_ts[-1]), counts, frame_type=frame_type
                )
            else:
                payload = pmd_data.build_raw_frame(stream.measurement, int(device_ts[-1]), counts, frame_type=1)
            stream.next_sample = last + 1
            self.frames_sent += 1
            self.sent.append((stream.measurement, self.host_ns_of_device(device_ts), counts / stream.scale))
            self.notify(uuids.PMD_DATA, payload)

    async def _heart_rate_loop(self) -> None:
        while self.link is not None:
            await self.clock.sleep(1.0)
            if self.link is None:
                return
            self.notify(uuids.HR_MEASUREMENT, heart_rate_payload(self.heart_rate_bpm), data=False)


def heart_rate_payload(heart_rate_bpm: int) -> bytes:
    """One 0x2A37 notification at a steady rate: contact detected, one RR interval of 60 / rate s."""
    rr = round(60.0 / heart_rate_bpm * hrm.RR_UNITS_PER_S)
    return hrm.build_hrm(
        hrm.HeartRateMeasurement(
            heart_rate_bpm=heart_rate_bpm, sensor_contact=True, energy_kj=None, rr_raw_1_1024s=(rr,)
        )
    )


def SimulatedH10(*, address: str, **kwargs: Any) -> SimulatedPmdDevice:  # named like a class: reads as a device
    """A Polar H10: ACC 25-200 Hz, +-2/4/8 g, raw type-1 frames, no gyro, HR service, Device Information."""
    kwargs.setdefault("device_info", H10_DEVICE_INFO)
    return SimulatedPmdDevice(address=address, **kwargs)


def SimulatedVeritySense(*, address: str, **kwargs: Any) -> SimulatedPmdDevice:
    """A Verity-Sense-like PMD sensor: 52 Hz ACC in delta frames with a factor, and a gyro."""
    kwargs.setdefault("name", "Polar Sense B5D4C3E2")
    kwargs.setdefault("acc_rates_hz", (52,))
    kwargs.setdefault("acc_ranges_g", (8,))
    kwargs.setdefault("gyro_rates_hz", (52,))
    kwargs.setdefault("compressed", True)
    kwargs.setdefault("factor", 0.000244)
    kwargs.setdefault("device_info", VERITY_DEVICE_INFO)
    return SimulatedPmdDevice(address=address, **kwargs)


class SimulatedFootpod(SimulatedPeripheral):
    """An RSC footpod: one 0x2A53 notification per second."""

    services: ClassVar[GattTable] = {uuids.RSC_SERVICE: {uuids.RSC_MEASUREMENT: ["notify"]}}

    def __init__(
        self,
        *,
        address: str,
        name: str = "Stryd",
        speed_mps: float = 3.3,
        cadence_spm: int = 172,
        stride_length_m: float = 1.15,
        faults: LinkFaults | None = None,
    ) -> None:
        super().__init__(
            address=address, name=name, advertised_services=(uuids.RSC_SERVICE,), rssi_dbm=-70, faults=faults
        )
        self.speed_mps, self.cadence_spm, self.stride_length_m = speed_mps, cadence_spm, stride_length_m
        self.distance_m = 0.0

    def on_subscribe(self, char_uuid: str) -> None:
        self.spawn(self._loop())

    async def _loop(self) -> None:
        while self.link is not None:
            await self.clock.sleep(1.0)
            if self.stream_started_ns is None:
                self.stream_started_ns = self.clock.now_ns()
            if self.check_drop() or self.link is None:
                return
            self.distance_m += self.speed_mps
            self.notify(
                uuids.RSC_MEASUREMENT,
                rsc.build_rsc(
                    rsc.RscMeasurement(
                        speed_mps=round(self.speed_mps * 256) / 256,
                        cadence_per_min=self.cadence_spm,
                        stride_length_m=self.stride_length_m,
                        total_distance_m=round(self.distance_m, 1),
                        running=True,
                    )
                ),
            )


class SimulatedHeartRateStrap(SimulatedPeripheral):
    """A plain HR strap: 0x2A37 with RR intervals once a second."""

    services: ClassVar[GattTable] = {uuids.HR_SERVICE: {uuids.HR_MEASUREMENT: ["notify"]}}

    def __init__(
        self,
        *,
        address: str,
        name: str = "HRM-Dual:123456",
        heart_rate_bpm: int = 148,
        faults: LinkFaults | None = None,
    ) -> None:
        super().__init__(address=address, name=name, advertised_services=(uuids.HR_SERVICE,), faults=faults)
        self.heart_rate_bpm = heart_rate_bpm

    def on_subscribe(self, char_uuid: str) -> None:
        self.spawn(self._loop())

    async def _loop(self) -> None:
        while self.link is not None:
            await self.clock.sleep(1.0)
            if self.link is None:
                return
            self.notify(uuids.HR_MEASUREMENT, heart_rate_payload(self.heart_rate_bpm))


class SimulatedMovesense(SimulatedPeripheral):
    """A Movesense running gatt_sensordata_app: answers GSP subscribe with IMU6/Acc data."""

    services: ClassVar[GattTable] = {
        uuids.MOVESENSE_SERVICE: {uuids.MOVESENSE_WRITE: ["write"], uuids.MOVESENSE_NOTIFY: ["notify"]}
    }

    def __init__(
        self,
        *,
        address: str,
        name: str = "Movesense 220330000123",
        acc_source: SampleSource | None = None,
        gyro_source: SampleSource | None = None,
        samples_per_packet: int = 8,
        faults: LinkFaults | None = None,
    ) -> None:
        super().__init__(address=address, name=name, advertised_services=(uuids.MOVESENSE_SERVICE,), faults=faults)
        self.acc_source = acc_source or sine_acc()
        self.gyro_source = gyro_source or sine_gyro()
        self.samples_per_packet = samples_per_packet
        self.subscriptions: dict[int, movesense.Subscription] = {}
        self.writes: list[bytes] = []

    def on_link_down(self) -> None:
        self.subscriptions.clear()

    def on_write(self, char_uuid: str, payload: bytes) -> None:
        if char_uuid != uuids.MOVESENSE_WRITE:
            return super().on_write(char_uuid, payload)
        self.writes.append(payload)
        try:
            command, reference, path = movesense.parse_request(payload)
            if command == movesense.GspCommand.SUBSCRIBE:
                subscription = movesense.Subscription.from_path(path)
                self.subscriptions[reference] = subscription
                self.spawn(self._loop(reference, subscription))
            elif command == movesense.GspCommand.UNSUBSCRIBE:
                self.subscriptions.pop(reference, None)
            status = 200
        except (DecodeError, ValueError):
            reference, status = (payload[1] if len(payload) > 1 else 0), 400
        self.notify(uuids.MOVESENSE_NOTIFY, movesense.build_command_result(reference, status), data=False)

    async def _loop(self, reference: int, subscription: movesense.Subscription) -> None:
        n = self.samples_per_packet
        period_s = n / subscription.rate_hz
        start_ns = self.clock.now_ns()
        if self.stream_started_ns is None:
            self.stream_started_ns = start_ns
        k = 0
        while self.subscriptions.get(reference) is subscription and self.link is not None:
            await self.clock.sleep(period_s)
            if self.check_drop() or self.subscriptions.get(reference) is not subscription:
                return
            t_s = (k + np.arange(n)) / subscription.rate_hz
            acc = self.acc_source(t_s) * STANDARD_GRAVITY_MPS2
            gyro = self.gyro_source(t_s) if subscription.resource is movesense.MovesenseResource.IMU6 else None
            # float(): numpy 1.x rounds to float
            timestamp_ms = (start_ns // 1_000_000 + round(float(k * 1000 / subscription.rate_hz))) % 2**32
            self.notify(uuids.MOVESENSE_NOTIFY, movesense.build_data(reference, timestamp_ms, acc, gyro))
            k += n


class SimulatedAlertBand(SimulatedPeripheral):
    """A band with the Immediate Alert service. `alerts` is the public log of (host t_ns, AlertLevel) of
    every valid write; `bad_writes` keeps what did not parse."""

    services: ClassVar[GattTable] = {uuids.IMMEDIATE_ALERT_SERVICE: {uuids.ALERT_LEVEL: ["write-without-response"]}}

    def __init__(self, *, address: str, name: str = "StrideGuard Band", faults: LinkFaults | None = None) -> None:
        super().__init__(
            address=address, name=name, advertised_services=(uuids.IMMEDIATE_ALERT_SERVICE,), faults=faults
        )
        self.alerts: list[tuple[int, alert_level.AlertLevel]] = []
        self.bad_writes: list[bytes] = []

    def on_write(self, char_uuid: str, payload: bytes) -> None:
        if char_uuid != uuids.ALERT_LEVEL:
            return super().on_write(char_uuid, payload)
        try:
            self.alerts.append((self.clock.now_ns(), alert_level.parse_alert_level(payload)))
        except DecodeError:
            self.bad_writes.append(payload)


class SimulatedWorld:
    """The radio neighbourhood: peripherals by address, and the bleak backends that reach them."""

    def __init__(self, *, clock: Clock, connect_mtu: int = 247) -> None:
        """`connect_mtu`: the ATT MTU every link gets at connection, as BlueZ and CoreBluetooth exchange it
        by themselves (capped at the simulated radio's 247); DEFAULT_MTU models a stack that does not."""
        self.clock = clock
        self.connect_mtu = max(DEFAULT_MTU, min(connect_mtu, 247))
        self.peripherals: dict[str, SimulatedPeripheral] = {}
        self._scanners: set[SimulatedBleakScanner] = set()
        world = self
        self.client_backend: type[BaseBleakClient] = type(
            "SimulatedBleakClient", (SimulatedBleakClient,), {"world": world}
        )
        self.scanner_backend: type[BaseBleakScanner] = type(
            "SimulatedBleakScanner", (SimulatedBleakScanner,), {"world": world}
        )

    def add(self, peripheral: SimulatedPeripheral) -> Any:
        peripheral.world = self
        self.peripherals[peripheral.address.upper()] = peripheral
        return peripheral

    def find(self, address: str) -> SimulatedPeripheral | None:
        return self.peripherals.get(address.upper())

    def announce(self, peripheral: SimulatedPeripheral) -> None:
        for scanner in list(self._scanners):
            scanner.advertise(peripheral)

    def start_scanning(self, scanner: SimulatedBleakScanner) -> None:
        """`scanner` hears every announcement from now on."""
        self._scanners.add(scanner)

    def stop_scanning(self, scanner: SimulatedBleakScanner) -> None:
        self._scanners.discard(scanner)


class SimulatedBleakScanner(BaseBleakScanner):
    """bleak scanner backend that 'hears' the advertising peripherals of its world."""

    world: SimulatedWorld

    def __init__(
        self,
        detection_callback: Any = None,
        service_uuids: list[str] | None = None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)

    async def start(self) -> None:
        self.seen_devices = {}
        self.world.start_scanning(self)
        for peripheral in list(self.world.peripherals.values()):
            self.advertise(peripheral)

    async def stop(self) -> None:
        self.world.stop_scanning(self)

    def advertise(self, peripheral: SimulatedPeripheral) -> None:
        if not peripheral.advertising or peripheral.link is not None:
            return
        adv = peripheral.advertisement()
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        device = self.create_or_update_device(
            peripheral.address, peripheral.address, peripheral.name, {"simulated": True}, adv
        )
        self.call_detection_callbacks(device, adv)


class SimulatedBleakClient(BaseBleakClient):
    """bleak client backend connected to a simulated peripheral of its world."""

    world: SimulatedWorld

    def __init__(self, address_or_ble_device: BLEDevice | str, **kwargs: Any) -> None:
        super().__init__(
            address_or_ble_device,
            disconnected_callback=kwargs.pop("disconnected_callback", None),
            timeout=kwargs.pop("timeout", 10.0),
        )
        self._link: _Link | None = None

    @property
    def name(self) -> str:
        peripheral = self.world.find(self.address)
        return peripheral.name if peripheral else self.address

    @property
    def mtu_size(self) -> int:
        return self._link.mtu if self._link else DEFAULT_MTU

    async def request_mtu(self, mtu: int) -> int:
        """Negotiate the ATT MTU (the simulated radio grants up to 247)."""
        if self._link is None:
            raise BleakError("Not connected")
        self._link.mtu = max(DEFAULT_MTU, min(int(mtu), 247))
        return self._link.mtu

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        peripheral = self.world.find(self.address)
        if peripheral is None or not peripheral.advertising:
            raise BleakError(f"Device with address {self.address} was not found.")
        if peripheral.link is not None:
            raise BleakError(f"{self.address} is already connected to another client")
        await self.world.clock.sleep(0.05)  # connection set-up and service discovery take a moment
        if not peripheral.advertising:
            raise BleakError(f"Device with address {self.address} was not found.")
        self._link = _Link(
            peripheral=peripheral, disconnected=self._on_unsolicited_disconnect, mtu=self.world.connect_mtu
        )
        self.services = peripheral.gatt()
        peripheral.attach(self._link)

    def _on_unsolicited_disconnect(self) -> None:
        self._link = None
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        link, self._link = self._link, None
        if link is not None and link.peripheral.link is link:
            link.peripheral.detach(unsolicited=False)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def unpair(self) -> None:
        return None

    @property
    def is_connected(self) -> bool:
        return self._link is not None and self._link.alive

    def _peripheral(self) -> SimulatedPeripheral:
        if self._link is None or not self._link.alive:
            raise BleakError("Not connected")
        return self._link.peripheral

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, **kwargs: Any) -> bytearray:
        self._peripheral()
        await self.world.clock.sleep(READ_ROUND_TRIP_S)  # a read is a round trip over the air
        return bytearray(self._peripheral().on_read(characteristic.uuid))

    async def read_gatt_descriptor(self, descriptor: Any, **kwargs: Any) -> bytearray:
        raise BleakError("descriptors are not simulated")

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: Any, response: bool) -> None:
        self._peripheral().on_write(characteristic.uuid, bytes(data))

    async def write_gatt_descriptor(self, descriptor: Any, data: Any) -> None:
        raise BleakError("descriptors are not simulated")

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        peripheral = self._peripheral()
        assert self._link is not None
        self._link.callbacks[characteristic.uuid] = callback
        peripheral.on_subscribe(characteristic.uuid)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        if self._link is not None:
            self._link.callbacks.pop(characteristic.uuid, None)


class _ScenarioRun:
    """A synthetic runner's run behind a simulated device: generated on first use (a world holds devices
    for more runners than a recording may use), played by time since the device first streamed."""

    def __init__(self, config: Any, *, duration_s: float, seed: int) -> None:
        self.config, self.duration_s, self.seed = config, duration_s, seed
        self._acc: SampleSource | None = None
        self._gyro: SampleSource | None = None

    def _generate(self) -> None:
        from strideguard.sensors.synthetic import SyntheticRunner

        run = SyntheticRunner(self.config).generate(self.duration_s, SCENARIO_RATE_HZ, seed=self.seed)
        self._acc = array_source(run.acc.values, SCENARIO_RATE_HZ)
        self._gyro = array_source(run.gyro.values, SCENARIO_RATE_HZ)

    def acc(self, t_s: np.ndarray) -> np.ndarray:
        if self._acc is None:
            self._generate()
        assert self._acc is not None
        return self._acc(t_s)

    def gyro(self, t_s: np.ndarray) -> np.ndarray:
        if self._gyro is None:
            self._generate()
        assert self._gyro is not None
        return self._gyro(t_s)


SCENARIO_RATE_HZ = 200.0  # Hz: the synthetic run is made at the H10's fastest rate; slower streams pick from it


def demo_world(
    *,
    clock: Clock,
    runners: int = 1,
    faults: LinkFaults | None = None,
    scenario: str | None = None,
    duration_s: float | None = None,
) -> SimulatedWorld:
    """A world for `strideguard record --simulate`: per runner an H10 on the chest and a footpod.

    Without a `scenario` the H10 plays a sine runner (168 + 2i spm). With one (`scenarios.SCENARIOS`, or
    `mixed`), runner i's H10 plays that scenario's synthetic runner (a run of `duration_s`, at least the
    scenario's suggested length, then from its start again) and, for `dropout`, loses its link for real."""
    from strideguard.sensors.simulated.scenarios import DROPOUT_DOWN_S, SUGGESTED_DURATION_S, scenario_for

    world = SimulatedWorld(clock=clock)
    for i in range(runners):
        acc_source, gyro_source, device_faults = sine_acc(cadence_spm=168 + 2 * i), None, faults
        if scenario is not None:
            chosen = scenario_for(scenario, i)
            run = _ScenarioRun(
                chosen.synthetic_config(cadence_spm=168.0 + 2 * i),
                duration_s=max(SUGGESTED_DURATION_S, duration_s or 0.0),
                seed=1000 + i,
            )
            acc_source, gyro_source = run.acc, run.gyro
            if chosen.dropouts_s:
                device_faults = dataclasses.replace(
                    faults or LinkFaults(seed=i), drop_link_at_s=chosen.dropouts_s, down_for_s=DROPOUT_DOWN_S
                )
        h10 = SimulatedH10(
            address=f"A0:9E:1A:00:00:{i + 1:02X}",
            name=f"Polar H10 0000{i + 1:04X}",
            acc_source=acc_source,
            gyro_source=gyro_source,
            faults=device_faults,
        )
        h10.source_time_from_first_stream = scenario is not None
        world.add(h10)
        world.add(
            SimulatedFootpod(address=f"C4:00:00:00:00:{i + 1:02X}", name=f"Stryd {i + 1}", cadence_spm=168 + 2 * i)
        )
    world.add(SimulatedAlertBand(address="D0:00:00:00:00:01"))
    return world


__all__ = [
    "LinkFaults",
    "SimulatedAlertBand",
    "SimulatedBleakClient",
    "SimulatedBleakScanner",
    "SimulatedFootpod",
    "SimulatedH10",
    "SimulatedHeartRateStrap",
    "SimulatedMovesense",
    "SimulatedPmdDevice",
    "SimulatedVeritySense",
    "SimulatedWorld",
    "array_source",
    "demo_world",
    "sine_acc",
    "sine_gyro",
]
