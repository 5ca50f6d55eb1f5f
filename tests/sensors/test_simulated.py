"""The simulated devices speak their protocols through the REAL bleak API (BleakClient/BleakScanner with
backend=), on virtual time."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError

from strideguard.sensors.ble import SimClock
from strideguard.sensors.protocols import alert_level, hrm, movesense, pmd_control, pmd_data, rsc, uuids
from strideguard.sensors.protocols.pmd_control import ControlOp, MeasurementType, PmdStatus
from strideguard.sensors.simulated import (
    DEFAULT_MTU,
    LinkFaults,
    SimulatedAlertBand,
    SimulatedFootpod,
    SimulatedH10,
    SimulatedHeartRateStrap,
    SimulatedMovesense,
    SimulatedWorld,
)

H10 = "A0:9E:1A:00:00:01"


async def test_scanner_hears_advertising_devices_with_name_services_and_rssi() -> None:
    async with SimClock() as clock:
        world = SimulatedWorld(clock=clock)
        world.add(SimulatedH10(address=H10))
        world.add(SimulatedFootpod(address="C4:00:00:00:00:01"))
        heard = {}
        async with BleakScanner(lambda d, adv: heard.__setitem__(d.address, adv), backend=world.scanner_backend):
            await clock.sleep(0.5)
        assert heard[H10].local_name.startswith("Polar H10") and heard[H10].rssi == -58
        assert uuids.RSC_SERVICE in heard["C4:00:00:00:00:01"].service_uuids


async def test_h10_control_point_and_acc_frames_through_bleak() -> None:
    async with SimClock() as clock:
        world = SimulatedWorld(clock=clock, connect_mtu=DEFAULT_MTU)  # a stack that does not exchange the MTU
        h10 = world.add(SimulatedH10(address=H10))
        control_notes: list[bytes] = []
        frames: list[bytes] = []
        async with BleakClient(H10, backend=world.client_backend) as client:
            await client.start_notify(uuids.PMD_CONTROL_POINT, lambda _c, d: control_notes.append(bytes(d)))
            await client.start_notify(uuids.PMD_DATA, lambda _c, d: frames.append(bytes(d)))
            features = pmd_control.parse_features(bytes(await client.read_gatt_char(uuids.PMD_CONTROL_POINT)))
            assert features == {MeasurementType.ECG, MeasurementType.ACC}
            start = pmd_control.build_start(MeasurementType.ACC, sample_rate_hz=200, range_=8)
            await client.write_gatt_char(uuids.PMD_CONTROL_POINT, start, response=True)
            await clock.sleep(0.1)
            # MTU not negotiated yet: the H10 refuses, as the real one does
            assert pmd_control.parse_response(control_notes[-1]).status == PmdStatus.INVALID_MTU
            await client._backend.request_mtu(232)
            await client.write_gatt_char(
                uuids.PMD_CONTROL_POINT, pmd_control.build_get_settings(MeasurementType.ACC), response=True
            )
            await client.write_gatt_char(uuids.PMD_CONTROL_POINT, start, response=True)
            await clock.sleep(2.0)
        settings, started = (pmd_control.parse_response(p) for p in control_notes[1:3])
        assert settings.settings.sample_rate_hz == (25, 50, 100, 200) and settings.settings.range == (2, 4, 8)
        assert started.ok and started.op == ControlOp.START
        decoded = [pmd_data.parse_frame(f) for f in frames]
        assert 10 <= len(decoded) <= 12  # 2 s at 200 Hz, 36 samples a frame
        assert all(len(f) == 36 and f.frame_type == 1 and not f.compressed for f in decoded)
        steps = np.diff([f.timestamp_ns for f in decoded])
        assert np.all(steps == 36 * 5_000_000)  # the device samples on its own clock's 200 Hz grid
        truth_host_ns = np.concatenate([host for _, host, _ in h10.sent])
        assert np.diff(truth_host_ns).mean() == pytest.approx(5_000_000 / (1 + 40e-6), abs=1)  # 40 ppm fast
        assert h10.control_writes[-1] == start


async def test_link_drop_calls_the_disconnect_callback_and_the_device_hides_for_a_while() -> None:
    async with SimClock() as clock:
        world = SimulatedWorld(clock=clock)
        strap = world.add(SimulatedHeartRateStrap(address="E0:00:00:00:00:01", faults=LinkFaults(down_for_s=4.0)))
        dropped = asyncio.Event()
        readings: list[hrm.HeartRateMeasurement] = []
        client = BleakClient(strap.address, disconnected_callback=lambda c: dropped.set(), backend=world.client_backend)
        await client.connect()
        await client.start_notify(uuids.HR_MEASUREMENT, lambda _c, d: readings.append(hrm.parse_hrm(bytes(d))))
        await clock.sleep(3.5)
        assert [r.heart_rate_bpm for r in readings] == [148, 148, 148]
        strap.drop_link()
        assert dropped.is_set() and not client.is_connected
        with pytest.raises(BleakError, match="not found"):
            await BleakClient(strap.address, backend=world.client_backend).connect()
        await clock.sleep(4.5)
        again = BleakClient(strap.address, backend=world.client_backend)
        await again.connect()
        assert again.is_connected
        await again.disconnect()


async def test_faults_truncate_corrupt_reorder_and_add_garbage_deterministically() -> None:
    async def run(seed: int) -> list[bytes]:
        async with SimClock() as clock:
            world = SimulatedWorld(clock=clock)
            pod = world.add(
                SimulatedFootpod(
                    address="C4:00:00:00:00:01",
                    faults=LinkFaults(truncate_every_n=3, garbage_every_n=5, reorder_every_n=7, seed=seed),
                )
            )
            got: list[bytes] = []
            async with BleakClient(pod.address, backend=world.client_backend) as client:
                await client.start_notify(uuids.RSC_MEASUREMENT, lambda _c, d: got.append(bytes(d)))
                await clock.sleep(30.5)
            return got

    first, again = await run(1), await run(1)
    assert first == again
    good = []
    for payload in first:
        try:
            good.append(rsc.parse_rsc(payload))
        except Exception:
            continue
    assert len(first) > 30 and len(good) < len(first)
    distances = [m.total_distance_m for m in good]
    assert distances != sorted(distances)  # reordered


async def test_alert_band_logs_every_write_publicly() -> None:
    async with SimClock() as clock:
        world = SimulatedWorld(clock=clock)
        band = world.add(SimulatedAlertBand(address="D0:00:00:00:00:01"))
        async with BleakClient(band.address, backend=world.client_backend) as client:
            await client.write_gatt_char(uuids.ALERT_LEVEL, alert_level.build_alert_level(2), response=False)
            await clock.sleep(1)
            await client.write_gatt_char(uuids.ALERT_LEVEL, b"\x07", response=False)
        assert [level for _, level in band.alerts] == [alert_level.AlertLevel.HIGH]
        assert band.bad_writes == [b"\x07"]


async def test_movesense_answers_a_gsp_subscription_with_imu6_data() -> None:
    async with SimClock() as clock:
        world = SimulatedWorld(clock=clock)
        sensor = world.add(SimulatedMovesense(address="0C:8C:DC:00:00:01"))
        notes: list[bytes] = []
        sub = movesense.Subscription.from_path("/Meas/IMU6/104")
        async with BleakClient(sensor.address, backend=world.client_backend) as client:
            await client.start_notify(uuids.MOVESENSE_NOTIFY, lambda _c, d: notes.append(bytes(d)))
            await client.write_gatt_char(uuids.MOVESENSE_WRITE, movesense.build_subscribe(5, sub), response=True)
            await clock.sleep(1.0)
        events = [movesense.parse_notification(n, {5: sub}) for n in notes]
        assert events[0] == movesense.GspCommandResult(reference=5, status=200)
        data = events[1:]
        assert 12 <= len(data) <= 13 and all(d.gyro_dps is not None and d.acc_mps2.shape == (8, 3) for d in data)
        assert abs(np.mean([d.acc_mps2[:, 2].mean() for d in data]) - 9.80665) < 3


async def test_sim_clock_wakes_sleepers_in_time_order_and_skips_cancelled_ones() -> None:
    async with SimClock(start_ns=0) as clock:
        woke: list[tuple[str, int]] = []

        async def sleeper(name: str, seconds: float) -> None:
            await clock.sleep(seconds)
            woke.append((name, clock.now_ns()))

        tasks = [asyncio.ensure_future(sleeper(n, s)) for n, s in (("late", 600.0), ("early", 0.5), ("gone", 1.0))]
        await asyncio.sleep(0)
        tasks[2].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert woke == [("early", 500_000_000), ("late", 600_000_000_000)]
