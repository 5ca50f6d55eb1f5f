"""The collector reads the Device Information Service after connecting, best effort, and the stream
metadata (live items, capture declarations) carries manufacturer, model and firmware.

Before: the collector never read DIS; every batch's meta had manufacturer/model/firmware None, so a
live H10 session exported "n/a"."""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any

from bleak.exc import BleakError

from strideguard.sensors.ble import DeviceSpec, ReconnectPolicy, SimClock, collect
from strideguard.sensors.capture import CaptureReader, CaptureWriter, replay
from strideguard.sensors.protocols import dis
from strideguard.sensors.simulated import LinkFaults, SimulatedH10, SimulatedPmdDevice, SimulatedWorld
from strideguard.sensors.types import Placement, SampleBatch

H10 = "A0:9E:1A:00:00:01"
SPEC = DeviceSpec(runner="ann", address=H10, placement=Placement.CHEST)


async def _record(world: SimulatedWorld, clock: SimClock, duration_s: float, **kw: Any) -> tuple[list, Any]:
    items: list = []
    stop = asyncio.Event()

    async def stop_later() -> None:
        await clock.sleep(duration_s)
        stop.set()

    timer = asyncio.ensure_future(stop_later())
    stats = await collect(
        [SPEC],
        on_item=items.append,
        backend_client=kw.pop("backend_client", world.client_backend),
        backend_scanner=world.scanner_backend,
        stop=stop,
        clock=clock,
        policy=ReconnectPolicy(seed=7),
        **kw,
    )
    timer.cancel()
    return items, stats


def _metas(items: list) -> set:
    return {(b.meta.manufacturer, b.meta.model, b.meta.firmware) for b in items if isinstance(b, SampleBatch)}


async def test_an_h10s_device_information_reaches_live_batches_and_the_capture(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "run.sgcap"
    async with SimClock() as clock:
        world = SimulatedWorld(clock=clock)
        world.add(SimulatedH10(address=H10, faults=LinkFaults(drop_link_at_s=(8.0,), down_for_s=2.0, seed=3)))
        with CaptureWriter(path) as capture:
            items, stats = await _record(world, clock, 20.0, capture=capture)
    assert stats.links_lost == {"ann/" + H10: 1}  # read again on reconnect: same values, no new declaration
    assert _metas(items) == {("Polar Electro Oy", "H10", "software 3.1.1, firmware 2.1.9")}
    replayed = [i for i in replay(path) if isinstance(i, SampleBatch)]
    assert replayed and _metas(replayed) == _metas(items)
    reader = CaptureReader(path)
    list(reader)
    declared = [s.meta for s in reader.streams.values() if s.source == "pmd_data"]
    assert [(m.manufacturer, m.model) for m in declared] == [("Polar Electro Oy", "H10")]


async def test_a_device_without_device_information_records_with_nothing_invented() -> None:
    async with SimClock() as clock:
        world = SimulatedWorld(clock=clock)
        world.add(SimulatedPmdDevice(address=H10))  # no DIS in its GATT table
        items, _ = await _record(world, clock, 5.0)
    assert _metas(items) == {(None, None, None)}
    assert sum(len(b) for b in items if isinstance(b, SampleBatch)) > 500


async def test_hostile_refused_and_silent_device_information_is_bounded_or_left_out() -> None:
    hostile = {
        dis.MANUFACTURER_NAME: b"Evil\x1b[2J\x00Corp\xff" + b"X" * 4000,
        dis.MODEL_NUMBER: BleakError("Read not permitted"),
        dis.FIRMWARE_REVISION: b"1.0",  # this read never answers (below)
        dis.SOFTWARE_REVISION: b"\x00\x00\x00",
    }

    async def read_gatt_char(self: Any, characteristic: Any, **kwargs: Any) -> bytearray:
        if characteristic.uuid == dis.FIRMWARE_REVISION:
            await asyncio.Event().wait()  # a device that never answers
        return bytearray(self._peripheral().on_read(characteristic.uuid))

    async with SimClock() as clock:
        world = SimulatedWorld(clock=clock)
        world.add(SimulatedH10(address=H10, device_info=hostile))
        silent = type("SilentReads", (world.client_backend,), {"read_gatt_char": read_gatt_char})
        items, _ = await _record(world, clock, 6.0, backend_client=silent)
    [(manufacturer, model, firmware)] = _metas(items)
    assert manufacturer is not None
    assert manufacturer.startswith("Evil [2JCorp\ufffdXXX") and len(manufacturer) == dis.MAX_TEXT_CHARS
    assert manufacturer.isprintable()
    assert (model, firmware) == (None, None)
    assert sum(len(b) for b in items if isinstance(b, SampleBatch)) > 500  # it still streams
