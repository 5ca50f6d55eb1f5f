"""Acceptance of the bleak shell against simulated devices (real BleakClient/BleakScanner, backend=),
on virtual time: ten simulated minutes take a few seconds."""

from __future__ import annotations

import asyncio
import logging
import pathlib

import numpy as np
import pytest

from strideguard.sensors.ble import DeviceSpec, ReconnectPolicy, SimClock, collect
from strideguard.sensors.capture import CaptureEvent, CaptureWriter, ReplayStats, replay
from strideguard.sensors.protocols import pmd_control
from strideguard.sensors.protocols.pmd_control import MeasurementType, PmdStatus
from strideguard.sensors.simulated import (
    LinkFaults,
    SimulatedFootpod,
    SimulatedH10,
    SimulatedMovesense,
    SimulatedVeritySense,
    SimulatedWorld,
)
from strideguard.sensors.types import HeartRateReading, Placement, SampleBatch, SampleKind, StrideReading

H10 = "A0:9E:1A:00:00:01"
POD = "C4:00:00:00:00:01"
PERIOD_NS = 5_000_000  # 200 Hz


async def _run(
    world: SimulatedWorld,
    clock: SimClock,
    specs: list[DeviceSpec],
    duration_s: float,
    *,
    capture: CaptureWriter | None = None,
    policy: ReconnectPolicy | None = None,
):
    items: list = []
    stop = asyncio.Event()

    async def stop_later() -> None:
        await clock.sleep(duration_s)
        stop.set()

    timer = asyncio.ensure_future(stop_later())
    stats = await collect(
        specs,
        on_item=items.append,
        capture=capture,
        backend_client=world.client_backend,
        backend_scanner=world.scanner_backend,
        stop=stop,
        clock=clock,
        policy=policy or ReconnectPolicy(seed=7),
    )
    timer.cancel()
    return items, stats


def _acc(items: list, device: str = H10) -> tuple[np.ndarray, np.ndarray]:
    batches = [i for i in items if isinstance(i, SampleBatch) and i.device == device and i.kind is SampleKind.ACC]
    return np.concatenate([b.t_ns for b in batches]), np.concatenate([b.values for b in batches])


async def test_ten_simulated_minutes_at_200_hz_8_g_without_gap_and_with_correct_timestamps() -> None:
    async with SimClock() as clock:
        world = SimulatedWorld(clock=clock)
        h10 = world.add(SimulatedH10(address=H10, clock_drift_ppm=60.0))
        items, stats = await _run(
            world, clock, [DeviceSpec(runner="ann", address=H10, placement=Placement.CHEST)], 600.0
        )
    # settings asked, ACC started at 200 Hz, 16 bit, +-8 g (no gyro: the H10 has none), stopped at the end
    start = pmd_control.build_start(MeasurementType.ACC, sample_rate_hz=200, resolution_bits=16, range_=8)
    assert h10.control_writes == [
        pmd_control.build_get_settings(MeasurementType.ACC),
        start,
        pmd_control.build_stop(MeasurementType.ACC),
    ]
    t, values = _acc(items)
    truth_t = np.concatenate([host for m, host, _ in h10.sent])
    truth_v = np.concatenate([v for m, _, v in h10.sent])
    assert len(t) >= 600 * 200 - 2 * 36
    assert 0 <= len(truth_t) - len(t) <= 36  # every sample the device took, but a frame still in the air
    truth_t, truth_v = truth_t[: len(t)], truth_v[: len(t)]
    steps = np.diff(t)
    assert steps.min() > 0 and steps.max() < 1.5 * PERIOD_NS, "a gap or a reversal in the samples"
    error_ms = (t - truth_t) / 1e6
    settled = error_ms[len(error_ms) // 10 :]  # after the first minute the drift estimate has settled
    assert settled.min() > 0 and settled.max() < 15, "host timestamps off: bias is the fastest radio delay"
    assert np.ptp(settled) < 6
    np.testing.assert_allclose(values, truth_v, atol=1e-6)
    assert stats.decode_errors == {} and stats.links_lost == {}
    readings = [i for i in items if isinstance(i, HeartRateReading)]
    assert len(readings) >= 590 and readings[0].heart_rate_bpm == 150


async def test_forced_disconnect_reconnects_within_the_backoff_records_the_gap_and_resumes(
    tmp_path: pathlib.Path,
) -> None:
    policy = ReconnectPolicy(seed=3)
    faults = LinkFaults(drop_link_at_s=(60.0,), down_for_s=3.0)
    path = tmp_path / "drop.sgcap"
    async with SimClock() as clock:
        world = SimulatedWorld(clock=clock)
        h10 = world.add(SimulatedH10(address=H10, faults=faults))
        with CaptureWriter(path) as capture:
            items, stats = await _run(
                world,
                clock,
                [DeviceSpec(runner="ann", address=H10, placement="chest")],
                150.0,
                capture=capture,
                policy=policy,
            )
    assert h10.drops == 1 and stats.links_lost == {f"ann/{H10}": 1} and stats.connects[f"ann/{H10}"] == 2
    # the bound: the device is back after down_for_s; we notice at the next backoff step plus a scan
    delays, elapsed = policy.delays(), 0.0
    while elapsed < faults.down_for_s:
        elapsed += next(delays)
    bound_s = elapsed + policy.scan_window_s + 0.5
    (gap_s,) = stats.gaps_s[f"ann/{H10}"]
    assert faults.down_for_s <= gap_s <= bound_s
    events = [i for i in replay(path) if isinstance(i, CaptureEvent)]
    kinds = [e.kind for e in events]
    assert kinds == ["link_lost", "link_restored", "gap"]
    gap = events[2]
    assert gap.fields["device"] == H10 and gap.fields["gap_s"] == pytest.approx(gap_s, abs=1e-6)
    t, _ = _acc(items)
    steps = np.diff(t)
    (jump,) = np.flatnonzero(steps > 1.5 * PERIOD_NS)  # one hole in the samples: the gap
    assert gap_s - 1 < steps[jump] / 1e9 < gap_s + 1
    assert t[-1] - t[jump + 1] > 80 * 1e9  # streaming resumed and went on to the end
    assert np.all(steps > 0)


async def test_garbage_and_truncated_notifications_are_counted_logged_once_per_kind_and_never_stop_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    faults = LinkFaults(garbage_every_n=40, truncate_every_n=55, corrupt_every_n=70, seed=11)
    caplog.set_level(logging.WARNING, logger="strideguard.sensors.ble.collector")
    async with SimClock() as clock:
        world = SimulatedWorld(clock=clock)
        world.add(SimulatedH10(address=H10, faults=faults))
        items, stats = await _run(world, clock, [DeviceSpec(runner="ann", address=H10, placement="chest")], 120.0)
    frames = 120 * 200 // 36
    injected = frames // 40 + frames // 55 + frames // 70
    errors = stats.decode_errors[f"ann/{H10}/pmd-data"]
    assert 0.7 * injected <= errors <= injected  # a truncation may land on a sample boundary and still decode
    logged = [r.getMessage() for r in caplog.records if "undecodable" in r.getMessage()]
    assert 1 <= len(logged) < errors / 3
    assert len(logged) == len(set(logged))
    t, _ = _acc(items)
    assert t[-1] - t[0] > 118e9  # still streaming at the end
    assert np.all(np.diff(t) > 0)


async def test_a_recorded_capture_replays_to_identical_decoded_items(tmp_path: pathlib.Path) -> None:
    """Two runners; H10 + footpod, Verity-style sensor with delta frames, factor and gyro, a Movesense;
    with a link drop and garbage, so every decoder path is on the record."""
    path = tmp_path / "team.sgcap"
    async with SimClock() as clock:
        world = SimulatedWorld(clock=clock)
        world.add(SimulatedH10(address=H10, faults=LinkFaults(drop_link_at_s=(20.0,), garbage_every_n=25, seed=2)))
        world.add(SimulatedFootpod(address=POD))
        world.add(SimulatedVeritySense(address="A0:9E:1A:00:00:02"))
        world.add(SimulatedMovesense(address="0C:8C:DC:00:00:01"))
        specs = [
            DeviceSpec(runner="ann", address=H10, placement=Placement.CHEST),
            DeviceSpec(runner="ann", address=POD, placement=Placement.FOOT),
            DeviceSpec(runner="bob", address="A0:9E:1A:00:00:02", placement=Placement.SACRUM),
            DeviceSpec(
                runner="bob", address="0C:8C:DC:00:00:01", placement=Placement.SHANK, movesense_path="/Meas/IMU6/52"
            ),
        ]
        with CaptureWriter(path, meta={"test": "replay"}) as capture:
            live, stats = await _run(world, clock, specs, 45.0, capture=capture)
    replay_stats = ReplayStats()
    replayed = [i for i in replay(path, replay_stats) if not isinstance(i, CaptureEvent)]
    assert len(replayed) == len(live)
    assert replayed == live
    kinds = {(i.runner, i.device, getattr(i, "kind", type(i).__name__)) for i in live}
    assert ("bob", "A0:9E:1A:00:00:02", SampleKind.GYRO) in kinds
    assert ("bob", "0C:8C:DC:00:00:01", SampleKind.GYRO) in kinds
    assert any(isinstance(i, StrideReading) and i.runner == "ann" for i in live)
    assert sum(replay_stats.decode_errors.values()) == sum(stats.decode_errors.values()) > 0
    verity = [
        i for i in live if isinstance(i, SampleBatch) and i.device == "A0:9E:1A:00:00:02" and i.kind is SampleKind.ACC
    ]
    assert abs(np.concatenate([b.values[:, 2] for b in verity]).mean() - 1.0) < 0.1  # factor applied: g


async def test_a_device_that_streams_nothing_is_a_clear_error() -> None:
    from strideguard.sensors.errors import DeviceError
    from strideguard.sensors.simulated import SimulatedAlertBand

    async with SimClock() as clock:
        world = SimulatedWorld(clock=clock)
        world.add(SimulatedAlertBand(address="D0:00:00:00:00:01"))
        with pytest.raises(DeviceError, match="streams nothing"):
            await _run(world, clock, [DeviceSpec(runner="ann", address="D0:00:00:00:00:01")], 10.0)


async def test_a_measurement_the_device_stops_by_itself_is_recorded(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "stopped.sgcap"
    async with SimClock() as clock:
        world = SimulatedWorld(clock=clock)
        h10 = world.add(SimulatedH10(address=H10))

        async def charger() -> None:
            await clock.sleep(10.0)
            h10.stop_by_itself(MeasurementType.ACC)

        task = asyncio.ensure_future(charger())
        with CaptureWriter(path) as capture:
            items, stats = await _run(world, clock, [DeviceSpec(runner="ann", address=H10)], 20.0, capture=capture)
        task.cancel()
    assert stats.stopped_by_device == {f"ann/{H10}": 1}
    (event,) = [i for i in replay(path) if isinstance(i, CaptureEvent)]
    assert event.kind == "pmd_stopped_by_device" and event.fields["measurements"] == str(int(MeasurementType.ACC))
    t, _ = _acc(items)
    assert t[-1] - t[0] < 11e9  # no samples after the device stopped


async def test_scan_recognises_devices_strongest_first() -> None:
    from strideguard.sensors.ble import scan
    from strideguard.sensors.ble.recognize import DeviceKind
    from strideguard.sensors.simulated import SimulatedAlertBand

    async with SimClock() as clock:
        world = SimulatedWorld(clock=clock)
        world.add(SimulatedFootpod(address=POD))
        world.add(SimulatedH10(address=H10, rssi_dbm=-50))
        world.add(SimulatedAlertBand(address="D0:00:00:00:00:01"))
        results = await scan(timeout_s=1.0, backend_scanner=world.scanner_backend, clock=clock)
    assert [r.address for r in results] == [H10, "D0:00:00:00:00:01", POD]
    assert [r.profile.kind for r in results] == [DeviceKind.POLAR_PMD, DeviceKind.ALERT_BAND, DeviceKind.RSC_FOOTPOD]
    assert results[0].rssi_dbm == -50 and "acc 25-200 Hz +-2/4/8 g" in results[0].profile.streams


async def test_a_device_that_keeps_refusing_the_settings_ends_the_recording_with_one_error() -> None:
    from strideguard.sensors.errors import DeviceError

    async with SimClock() as clock:
        world = SimulatedWorld(clock=clock)
        world.add(SimulatedH10(address=H10, refuse_start_with=PmdStatus.DEVICE_IN_CHARGER))
        with pytest.raises(DeviceError, match=r"gave up after 5 refusals.*device_in_charger"):
            await _run(world, clock, [DeviceSpec(runner="ann", address=H10)], 600.0)


def test_adapter_errors_are_told_apart_from_transient_ones() -> None:
    from bleak.exc import BleakError

    from strideguard.sensors.ble import adapter_error

    assert adapter_error(FileNotFoundError(2, "No such file or directory")) is not None
    assert adapter_error(BleakError("No Bluetooth adapters found.")) is not None
    assert adapter_error(BleakError("[org.bluez.Error.NotReady] Resource Not Ready")) is not None
    assert adapter_error(BleakError("[org.bluez.Error.InProgress] Operation already in progress")) is None
    assert adapter_error(BleakError("Device with address X was not found.")) is None


async def test_reordered_and_delayed_frames_never_bend_the_timeline() -> None:
    faults = LinkFaults(reorder_every_n=20, latency_s=(0.005, 0.150), seed=5)
    async with SimClock() as clock:
        world = SimulatedWorld(clock=clock)
        world.add(SimulatedH10(address=H10, faults=faults))
        items, stats = await _run(world, clock, [DeviceSpec(runner="ann", address=H10)], 60.0)
    t, _ = _acc(items)
    steps_ms = np.diff(t) / 1e6
    slew = 0.05  # the clock mapper's max_slew: estimate updates stretch steps by at most 5 %
    regular = np.abs(steps_ms - 5.0) <= 5.0 * slew + 1e-3
    skipped_frame = np.abs(steps_ms - 185.0) <= 185.0 * slew  # the overtaken frame is dropped, not squeezed in
    assert np.all(regular | skipped_frame), steps_ms[~(regular | skipped_frame)]
    reorders = stats.decode_errors[f"ann/{H10}/pmd-data"]
    assert reorders == skipped_frame.sum() > 0


async def test_a_stack_that_does_not_exchange_the_mtu_ends_in_the_devices_own_refusal() -> None:
    """bleak has no public MTU request: the H10's INVALID_MTU answer is what the user is told."""
    from strideguard.sensors.errors import DeviceError

    async with SimClock() as clock:
        world = SimulatedWorld(clock=clock, connect_mtu=23)
        world.add(SimulatedH10(address=H10))
        with pytest.raises(DeviceError, match=r"gave up after 5 refusals.*invalid_mtu"):
            await _run(world, clock, [DeviceSpec(runner="ann", address=H10)], 600.0)
