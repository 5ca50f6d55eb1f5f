"""The bleak shell: find, connect, configure and stream devices; record raw bytes; reconnect on loss.

Thin on purpose: bytes go to `sensors.decoding` decoders (the same ones capture replay uses) and to the
capture writer; decoded items go to the caller's `on_item`. Per device one task loops
find (scan until it advertises) -> connect (bleak-retry-connector) -> configure -> stream -> on link
loss record the loss, back off (jittered exponential, on the injected clock) and go again. Garbage or
truncated notifications are counted per device and protocol, logged once per kind, and never stop it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError
from bleak_retry_connector import establish_connection

from strideguard.sensors.ble.clock import Clock, RealClock, wait_for_event
from strideguard.sensors.ble.recognize import DeviceKind, DeviceProfile, recognise
from strideguard.sensors.decoding import DecodedItem, DecoderContext, StreamDecoder, make_decoder
from strideguard.sensors.errors import DecodeError, DeviceError
from strideguard.sensors.protocols import dis, movesense, uuids
from strideguard.sensors.protocols.pmd_control import (
    MeasurementStopped,
    MeasurementType,
    PmdControlDecoder,
    PmdControlResponse,
    PmdStatus,
    build_get_settings,
    build_start,
    build_stop,
    parse_features,
)
from strideguard.sensors.types import NO_META, Placement, StreamMeta
from strideguard.sensors.units import NS_PER_S

log = logging.getLogger(__name__)

PMD_MTU = 232  # bytes; the H10 needs this ATT MTU for 200 Hz ACC frames
MAX_REFUSED_CONFIGURATIONS = 5  # connected but refused this many times in a row: a real error, not bad luck
# bleak/BlueZ messages that mean "no usable adapter" (not a transient radio problem)
_NO_ADAPTER = re.compile(
    r"No Bluetooth adapters? found|adapter .*not found|Bluetooth adapter|"
    r"org\.bluez\.Error\.NotReady|org\.freedesktop\.DBus\.Error\.ServiceUnknown|"
    r"Bluetooth device is turned off|powered off",
    re.I,
)
CONTROL_TIMEOUT_S = 5.0  # s to wait for a control-point response
DIS_READ_TIMEOUT_S = 2.0  # s to wait for one Device Information read before going on without it


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceSpec:
    """One device to record: who wears it, where, and what to ask it for."""

    runner: str
    address: str
    placement: Placement = Placement.UNKNOWN
    kind: DeviceKind | None = None  # None: recognise it from its advertisement
    acc_rate_hz: int = 200
    acc_range_g: int = 8
    gyro: bool = True  # start the gyro where the device has one
    movesense_path: str = "/Meas/IMU6/104"

    @property
    def key(self) -> str:
        return f"{self.runner}/{self.address}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconnectPolicy:
    """Jittered exponential backoff between attempts to find and connect a device (seconds)."""

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0
    jitter: float = 0.25  # +- this fraction
    scan_window_s: float = 2.0  # how long one look for the device's advertisement lasts
    seed: int | None = None

    def delays(self) -> Iterator[float]:
        rng = random.Random(self.seed)
        delay = self.initial_s
        while True:
            yield delay * (1 + rng.uniform(-self.jitter, self.jitter))
            delay = min(self.max_s, delay * self.factor)


@dataclass(slots=True)
class CollectorStats:
    """What happened, per device key (runner/address)."""

    notifications: dict[str, int] = field(default_factory=dict)
    decode_errors: dict[str, int] = field(default_factory=dict)  # "runner/address/protocol" -> count
    connects: dict[str, int] = field(default_factory=dict)
    links_lost: dict[str, int] = field(default_factory=dict)
    gaps_s: dict[str, list[float]] = field(default_factory=dict)
    stopped_by_device: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanResult:
    address: str
    name: str | None
    rssi_dbm: int
    profile: DeviceProfile


def _scanner_kwargs(backend: type[BaseBleakScanner] | None) -> dict[str, Any]:
    return {} if backend is None else {"backend": backend}


def _client_kwargs(backend: type[BaseBleakClient] | None) -> dict[str, Any]:
    return {} if backend is None else {"backend": backend}


def _listener(
    address: str,
) -> tuple[asyncio.Event, list[tuple[BLEDevice, AdvertisementData]], Callable[[BLEDevice, AdvertisementData], None]]:
    """A fresh (event, sightings, detection callback) for one scan: the callback records the first
    advertisement of `address` (upper case) and sets the event."""
    found = asyncio.Event()
    hit: list[tuple[BLEDevice, AdvertisementData]] = []

    def heard(device: BLEDevice, adv: AdvertisementData) -> None:
        if device.address.upper() == address and not found.is_set():
            hit.append((device, adv))
            found.set()

    return found, hit, heard


def adapter_error(exc: BaseException) -> DeviceError | None:
    """A DeviceError if `exc` means there is no usable Bluetooth adapter (or no BlueZ / D-Bus)."""
    text = str(exc)
    if isinstance(exc, (FileNotFoundError, ConnectionRefusedError)):
        return DeviceError(
            "no Bluetooth adapter: the system D-Bus is not reachable (is bluetoothd running? "
            "on Linux install and start BlueZ)"
        )
    if isinstance(exc, BleakError) and _NO_ADAPTER.search(text):
        return DeviceError(f"no Bluetooth adapter available ({' '.join(text.split())})")
    return None


async def scan(
    *,
    timeout_s: float = 5.0,
    backend_scanner: type[BaseBleakScanner] | None = None,
    clock: Clock | None = None,
    include_unknown: bool = False,
) -> list[ScanResult]:
    """Listen for `timeout_s` and return recognised devices, strongest signal first."""
    clock = clock or RealClock()
    seen: dict[str, tuple[BLEDevice, AdvertisementData]] = {}

    def heard(device: BLEDevice, adv: AdvertisementData) -> None:
        seen[device.address] = (device, adv)

    try:
        async with BleakScanner(heard, **_scanner_kwargs(backend_scanner)):
            await clock.sleep(timeout_s)
    except (BleakError, OSError) as exc:
        raise (adapter_error(exc) or DeviceError(f"scan failed: {exc}")) from exc
    results = []
    for address, (device, adv) in seen.items():
        name = adv.local_name or device.name
        profile = recognise(name, adv.service_uuids)
        if profile is None:
            if not include_unknown:
                continue
            profile = DeviceProfile(kind=DeviceKind.HR_STRAP, model="unknown", streams=())
        results.append(ScanResult(address=address, name=name, rssi_dbm=adv.rssi, profile=profile))
    return sorted(results, key=lambda r: -r.rssi_dbm)


class _LogOnce:
    """Counts decode errors and logs the first of each kind (device, protocol, message shape)."""

    def __init__(self, stats: CollectorStats) -> None:
        self.stats = stats
        self._seen: set[tuple[str, str, str]] = set()

    def __call__(self, device_key: str, exc: DecodeError) -> None:
        key = f"{device_key}/{exc.protocol}"
        self.stats.decode_errors[key] = self.stats.decode_errors.get(key, 0) + 1
        shape = re.sub(r"\d+", "N", str(exc.args[0]) if exc.args else "")
        if (device_key, exc.protocol, shape) not in self._seen:
            self._seen.add((device_key, exc.protocol, shape))
            log.warning(
                "%s: undecodable %s notification (%s); counting further ones of this kind silently",
                device_key,
                exc.protocol,
                exc,
            )


class _PmdControl:
    """Request/response over the PMD control point, on top of the sans-I/O decoder."""

    def __init__(self, client: BleakClient, clock: Clock, on_stopped: Callable[[MeasurementStopped], None]) -> None:
        self.client, self.clock, self.on_stopped = client, clock, on_stopped
        self.decoder = PmdControlDecoder()
        self._pending: tuple[int, int] | None = None
        self._answer: PmdControlResponse | None = None
        self._answered = asyncio.Event()

    def feed(self, payload: bytes) -> None:
        for event in self.decoder.feed(payload):  # DecodeError goes to the caller's counter
            if isinstance(event, MeasurementStopped):
                self.on_stopped(event)
            elif self._pending == (event.op, event.measurement_type):
                self._answer = event
                self._answered.set()

    async def request(self, payload: bytes) -> PmdControlResponse:
        self._pending, self._answer = (payload[0], payload[1]), None
        self._answered.clear()
        await self.client.write_gatt_char(uuids.PMD_CONTROL_POINT, payload, response=True)
        if not await wait_for_event(self._answered, self.clock, CONTROL_TIMEOUT_S):
            raise DeviceError(
                f"no control-point answer to {payload.hex()} within {CONTROL_TIMEOUT_S} s", device=self.client.address
            )
        assert self._answer is not None
        self._pending = None
        return self._answer


class _DeviceSession:
    """One device for the whole recording: across any number of connections."""

    def __init__(self, spec: DeviceSpec, shared: _Shared) -> None:
        self.spec = spec
        self.shared = shared
        self.key = spec.key
        self.kind = spec.kind
        self.decoders: dict[str, StreamDecoder] = {}
        self.stream_ids: dict[str, int] = {}
        self.stream_meta: dict[str, StreamMeta] = {}
        self.device_meta = NO_META  # what the Device Information Service said, over every connection
        self.lost = asyncio.Event()
        self.control: _PmdControl | None = None
        self.client: BleakClient | None = None
        self.started: list[MeasurementType] = []  # PMD measurements started on the current connection

    # -- the loop ----------------------------------------------------------------------------------
    async def run(self) -> None:
        shared, clock = self.shared, self.shared.clock
        delays = shared.policy.delays()
        lost_at_ns: int | None = None
        refused = 0
        while not shared.stop.is_set():
            device = await self._find()
            if device is None:
                break
            client: BleakClient | None = None
            try:
                client = await establish_connection(
                    BleakClient,
                    device,
                    self.key,
                    disconnected_callback=self._on_disconnect,
                    max_attempts=2,
                    **_client_kwargs(shared.backend_client),
                )
                self.lost.clear()
                self.client = client
                await self._read_device_information(client)
                await self._configure(client)
            except (TimeoutError, BleakError, DeviceError, OSError) as exc:
                log.warning("%s: connecting or configuring failed: %s", self.key, exc)
                if client is not None and client.is_connected:
                    await _quietly(client.disconnect())
                    refused += 1
                    if refused >= MAX_REFUSED_CONFIGURATIONS and isinstance(exc, DeviceError):
                        raise DeviceError(
                            f"{self.key}: gave up after {refused} refusals: {exc}", device=self.spec.address
                        ) from exc
                await clock.sleep(next(delays))
                continue
            refused = 0
            shared.stats.connects[self.key] = shared.stats.connects.get(self.key, 0) + 1
            delays = shared.policy.delays()
            if lost_at_ns is not None:
                now_ns = clock.now_ns()
                gap_s = (now_ns - lost_at_ns) / NS_PER_S
                shared.stats.gaps_s.setdefault(self.key, []).append(gap_s)
                self._event(now_ns, "link_restored")
                self._event(lost_at_ns, "gap", gap_s=round(gap_s, 6))
                log.info("%s: streaming again after a %.1f s gap", self.key, gap_s)
                lost_at_ns = None
            await _first_of(self.lost.wait(), shared.stop.wait())
            if self.lost.is_set() and not shared.stop.is_set():
                lost_at_ns = clock.now_ns()
                shared.stats.links_lost[self.key] = shared.stats.links_lost.get(self.key, 0) + 1
                self._event(lost_at_ns, "link_lost")
                log.warning("%s: link lost; reconnecting", self.key)
                await clock.sleep(next(delays))
                continue
            await self._shutdown(client)
            break

    def _on_disconnect(self, client: BleakClient) -> None:
        if client is self.client:  # a late callback of an earlier, abandoned connection is not news
            self.lost.set()

    async def _find(self) -> BLEDevice | None:
        """Scan until the device advertises (backing off between looks); None when asked to stop."""
        shared = self.shared
        delays = shared.policy.delays()
        address = self.spec.address.upper()
        announced = False
        while not shared.stop.is_set():
            found, hit, heard = _listener(address)
            try:
                async with BleakScanner(heard, **_scanner_kwargs(shared.backend_scanner)):
                    await wait_for_event(found, shared.clock, shared.policy.scan_window_s)
            except (BleakError, OSError) as exc:
                adapter = adapter_error(exc)
                if adapter is not None:
                    raise adapter from exc
                log.warning("%s: scan failed: %s", self.key, exc)
            if hit:
                device, adv = hit[0]
                if self.kind is None:
                    profile = recognise(adv.local_name or device.name, adv.service_uuids)
                    if profile is None or profile.kind is DeviceKind.ALERT_BAND:
                        raise DeviceError(
                            f"{device.address} ({adv.local_name or device.name}) streams nothing "
                            "StrideGuard can record",
                            device=device.address,
                        )
                    self.kind = profile.kind
                return device
            if not announced:
                log.warning(
                    "%s: not advertising yet; still looking (wear or wake it, close other apps using it)", self.key
                )
                announced = True
            await shared.clock.sleep(next(delays))
        return None

    # -- device information --------------------------------------------------------------------------
    async def _read_device_information(self, client: BleakClient) -> None:
        """Read the DIS strings the device has, best effort: one missing, refused or slow is left out (the
        export then says n/a), never invented; a value read on an earlier connection is kept."""
        values: dict[str, bytes] = {}
        for uuid in dis.CHARACTERISTICS:
            if client.services.get_characteristic(uuid) is None:
                continue
            try:
                values[uuid] = await self._read_with_timeout(client, uuid)
            except (TimeoutError, BleakError, OSError) as exc:
                log.info("%s: device information %s unreadable (%s); left out", self.key, uuid[4:8], exc)
        read = dis.device_meta(values)
        if read != NO_META and self.device_meta.updated(read) != self.device_meta:
            self.device_meta = self.device_meta.updated(read)
            log.info(
                "%s: %s %s, firmware %s",
                self.key,
                self.device_meta.manufacturer or "manufacturer n/a",
                self.device_meta.model or "model n/a",
                self.device_meta.firmware or "n/a",
            )

    async def _read_with_timeout(self, client: BleakClient, uuid: str) -> bytes:
        read = asyncio.ensure_future(client.read_gatt_char(uuid))
        timer = asyncio.ensure_future(self.shared.clock.sleep(DIS_READ_TIMEOUT_S))
        try:
            await asyncio.wait((read, timer), return_when=asyncio.FIRST_COMPLETED)
            if not read.done():
                raise TimeoutError(f"no answer within {DIS_READ_TIMEOUT_S} s")
            return bytes(read.result())
        finally:
            for task in (read, timer):
                if not task.done():
                    task.cancel()

    # -- configuring streams -------------------------------------------------------------------------
    async def _configure(self, client: BleakClient) -> None:
        kind = self.kind
        if kind is DeviceKind.POLAR_PMD:
            await self._configure_pmd(client)
            if client.services.get_characteristic(uuids.HR_MEASUREMENT) is not None:
                await self._subscribe(client, "hrm", uuids.HR_MEASUREMENT)
        elif kind is DeviceKind.HR_STRAP:
            await self._subscribe(client, "hrm", uuids.HR_MEASUREMENT)
        elif kind is DeviceKind.RSC_FOOTPOD:
            await self._subscribe(client, "rsc", uuids.RSC_MEASUREMENT)
        elif kind is DeviceKind.MOVESENSE:
            subscription = movesense.Subscription.from_path(self.spec.movesense_path)
            self._declare(
                "movesense",
                uuids.MOVESENSE_NOTIFY,
                rate_hz=float(subscription.rate_hz),
                meta=StreamMeta(movesense_path=subscription.path, movesense_reference=1),
            )
            await self._subscribe(client, "movesense", uuids.MOVESENSE_NOTIFY)
            await client.write_gatt_char(
                uuids.MOVESENSE_WRITE, movesense.build_subscribe(1, subscription), response=True
            )
        else:
            raise DeviceError(f"nothing to record from a {kind} device", device=self.spec.address)

    async def _configure_pmd(self, client: BleakClient) -> None:
        # bleak has no public MTU request: BlueZ, CoreBluetooth and Android exchange the ATT MTU by
        # themselves at connection. A stack that did not makes the device refuse to start (INVALID_MTU),
        # which `_PmdControl` reports with the device's own words.
        log.debug("%s: ATT MTU %d as bleak reports it (PMD needs %d)", self.key, client.mtu_size, PMD_MTU)
        self.control = control = _PmdControl(client, self.shared.clock, self._on_measurement_stopped)
        self.started = []
        self._declare("pmd_control", uuids.PMD_CONTROL_POINT)
        await client.start_notify(uuids.PMD_CONTROL_POINT, self._handler("pmd_control", control.feed))
        try:
            features = parse_features(bytes(await client.read_gatt_char(uuids.PMD_CONTROL_POINT)))
        except (BleakError, DecodeError) as exc:
            log.info("%s: PMD features unreadable (%s); assuming ACC only", self.key, exc)
            features = frozenset({MeasurementType.ACC})
        acc_rate_hz, acc_range, acc_factor = await self._start(
            control, MeasurementType.ACC, self.spec.acc_rate_hz, self.spec.acc_range_g
        )
        meta = StreamMeta(acc_rate_hz=float(acc_rate_hz), acc_range_g=acc_range, acc_factor=acc_factor)
        if self.spec.gyro and MeasurementType.GYRO in features:
            gyro_rate_hz, gyro_range, gyro_factor = await self._start(control, MeasurementType.GYRO, acc_rate_hz, None)
            meta = replace(meta, gyro_rate_hz=float(gyro_rate_hz), gyro_range_dps=gyro_range, gyro_factor=gyro_factor)
        self._declare("pmd_data", uuids.PMD_DATA, rate_hz=float(acc_rate_hz), meta=meta)
        await self._subscribe(client, "pmd_data", uuids.PMD_DATA)

    async def _start(
        self, control: _PmdControl, measurement: MeasurementType, rate_hz: int, range_: int | None
    ) -> tuple[int, int | None, float]:
        """Get settings, pick the closest rate/range, start; returns (rate, range, factor)."""
        available = await control.request(build_get_settings(measurement))
        if not available.ok or available.settings is None:
            raise DeviceError(f"{measurement.name} settings refused: {available.status_name}", device=self.spec.address)
        settings = available.settings
        rate = (
            min(settings.sample_rate_hz, key=lambda r: (abs(r - rate_hz), -r)) if settings.sample_rate_hz else rate_hz
        )
        chosen_range = None
        if settings.range:
            wanted = range_ if range_ is not None else max(settings.range)
            chosen_range = min(settings.range, key=lambda r: (abs(r - wanted), -r))
        resolution = max(settings.resolution_bits) if settings.resolution_bits else 16
        request = build_start(
            measurement,
            sample_rate_hz=rate,
            resolution_bits=resolution,
            range_=chosen_range,
            channels=max(settings.channels) if settings.channels else None,
        )
        response = await control.request(request)
        if response.status == PmdStatus.ALREADY_IN_STATE:  # left running by a previous session
            await control.request(build_stop(measurement))
            response = await control.request(request)
        if not response.ok:
            raise DeviceError(
                f"start {measurement.name} {rate} Hz refused: {response.status_name}", device=self.spec.address
            )
        self.started.append(measurement)
        log.info("%s: %s streaming at %d Hz, range %s", self.key, measurement.name, rate, chosen_range)
        return rate, chosen_range, response.factor

    def _on_measurement_stopped(self, event: MeasurementStopped) -> None:
        self.shared.stats.stopped_by_device[self.key] = self.shared.stats.stopped_by_device.get(self.key, 0) + 1
        self._event(
            self.shared.clock.now_ns(),
            "pmd_stopped_by_device",
            measurements=",".join(str(m) for m in event.measurement_types),
        )
        log.warning("%s: the device stopped %s by itself (charger, battery?)", self.key, event.measurement_types)

    # -- streams, capture and decoding ----------------------------------------------------------------
    def _declare(
        self, source: str, characteristic: str, *, rate_hz: float | None = None, meta: StreamMeta = NO_META
    ) -> None:
        """Declare the stream (once, or again if its meta changed) and make its decoder; the meta carries
        what the Device Information Service said, so captures, live items and exports name the device."""
        meta = self.device_meta.updated(meta)
        if source in self.decoders and self.stream_meta.get(source) == meta:
            return
        spec = self.spec
        capture = self.shared.capture
        if capture is not None:
            self.stream_ids[source] = capture.add_stream(
                runner=spec.runner,
                device=spec.address,
                placement=spec.placement,
                source=source,
                characteristic=characteristic,
                rate_hz=rate_hz,
                meta=meta,
            )
        self.stream_meta[source] = meta
        self.decoders[source] = make_decoder(
            source,
            runner=spec.runner,
            device=spec.address,
            placement=spec.placement,
            rate_hz=rate_hz,
            meta=meta,
            context=self.shared.context,
        )

    async def _subscribe(self, client: BleakClient, source: str, characteristic: str) -> None:
        if source not in self.decoders:
            self._declare(source, characteristic)
        await client.start_notify(characteristic, self._handler(source))

    def _handler(self, source: str, also: Callable[[bytes], None] | None = None) -> Callable[[Any, bytearray], None]:
        shared = self.shared
        stats = shared.stats

        def on_notification(_sender: Any, data: bytearray) -> None:
            t_ns = shared.clock.now_ns()
            payload = bytes(data)
            stats.notifications[self.key] = stats.notifications.get(self.key, 0) + 1
            if shared.capture is not None and source in self.stream_ids:
                shared.capture.write_notification(self.stream_ids[source], t_ns, payload)
            try:
                if also is not None:
                    also(payload)
                items = self.decoders[source].feed(t_ns, payload)
            except DecodeError as exc:
                shared.count_error(self.key, exc)
                return
            for item in items:
                shared.on_item(item)

        return on_notification

    def _event(self, t_ns: int, kind: str, **fields: Any) -> None:
        if self.shared.capture is not None:
            self.shared.capture.write_event(t_ns, kind, runner=self.spec.runner, device=self.spec.address, **fields)

    async def _shutdown(self, client: BleakClient) -> None:
        if client.is_connected and self.control is not None and self.kind is DeviceKind.POLAR_PMD:
            for measurement in self.started:
                await _quietly(client.write_gatt_char(uuids.PMD_CONTROL_POINT, build_stop(measurement), response=True))
        await _quietly(client.disconnect())


@dataclass(slots=True)
class _Shared:
    on_item: Callable[[DecodedItem], None]
    capture: Any
    backend_client: type[BaseBleakClient] | None
    backend_scanner: type[BaseBleakScanner] | None
    stop: asyncio.Event
    clock: Clock
    policy: ReconnectPolicy
    stats: CollectorStats
    context: DecoderContext
    count_error: Callable[[str, DecodeError], None] = field(default=lambda key, exc: None)


async def collect(
    devices: list[DeviceSpec],
    *,
    on_item: Callable[[DecodedItem], None],
    capture: Any = None,
    backend_client: type[BaseBleakClient] | None = None,
    backend_scanner: type[BaseBleakScanner] | None = None,
    stop: asyncio.Event,
    clock: Clock | None = None,
    policy: ReconnectPolicy | None = None,
    stats: CollectorStats | None = None,
    flush_interval_s: float = 1.0,
) -> CollectorStats:
    """Record `devices` until `stop` is set; returns the statistics.

    `on_item` gets every decoded SampleBatch / HeartRateReading / StrideReading (call-back on the event
    loop: keep it quick, e.g. put into a queue). `capture` is a `sensors.capture.CaptureWriter` or None.
    `backend_client` / `backend_scanner` inject bleak backends (the simulated world); `clock` a SimClock.
    """
    if not devices:
        raise DeviceError("no devices to record")
    keys = [d.key for d in devices]
    if len(set(keys)) != len(keys):
        raise DeviceError("the same device is listed twice for one runner")
    stats = stats if stats is not None else CollectorStats()
    shared = _Shared(
        on_item=on_item,
        capture=capture,
        backend_client=backend_client,
        backend_scanner=backend_scanner,
        stop=stop,
        clock=clock or RealClock(),
        policy=policy or ReconnectPolicy(),
        stats=stats,
        context=DecoderContext(),
    )
    shared.count_error = _LogOnce(stats)

    async def flush_loop() -> None:
        while not stop.is_set():
            await wait_for_event(stop, shared.clock, flush_interval_s)
            if capture is not None:
                capture.flush()

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(flush_loop(), name="capture-flush")
            for spec in devices:
                group.create_task(_DeviceSession(spec, shared).run(), name=f"ble-{spec.key}")
    except BaseExceptionGroup as group_error:
        # one device failing for good (no adapter, not a supported device) ends the recording with its
        # own error, not an exception group, so the user sees one line
        first = _first_leaf(group_error)
        if isinstance(first, Exception):
            raise first from None
        raise
    return stats


def _first_leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


async def _first_of(*aws: Any) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def _quietly(coro: Any) -> None:
    try:
        await coro
    except (TimeoutError, BleakError, OSError, DeviceError) as exc:
        log.debug("ignored during shutdown: %s", exc)


__all__ = [
    "CollectorStats",
    "DeviceSpec",
    "ReconnectPolicy",
    "ScanResult",
    "adapter_error",
    "collect",
    "scan",
]
