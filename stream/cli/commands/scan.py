"""`strideguard scan`: list nearby wearables StrideGuard can read, with RSSI and what each streams."""

from __future__ import annotations

import argparse
import asyncio
import json

from strideguard.sensors.ble import SimClock, scan
from strideguard.sensors.ble.collector import ScanResult

EXAMPLES = """\
examples:
  strideguard scan                 listen 5 s, list Polar H10/Verity Sense, footpods, HR straps, Movesense
  strideguard scan --timeout 10    listen longer (devices advertise less often when idle)
  strideguard scan --json          machine-readable
  strideguard scan --simulate      the simulated devices `record --simulate` uses (no radio needed)

Wake a device before scanning: a chest strap advertises only while worn (moisten the electrodes)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan",
        help="list nearby wearables that StrideGuard can read",
        description="Scan for Bluetooth LE wearables and say what each can stream. Devices are "
        "recognised by name and advertised services: Polar H10 / Verity Sense (PMD "
        "accelerometer), RSC footpods, heart-rate straps, Movesense, alert bands.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--timeout", type=float, default=5.0, metavar="S", help="seconds to listen (default 5)")
    p.add_argument("--all", action="store_true", help="also list devices StrideGuard cannot use")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--simulate", action="store_true", help="scan the simulated devices instead of the radio")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    results = asyncio.run(_scan(args))
    if args.json:
        print(json.dumps([_as_json(r) for r in results], indent=2))
        return 0
    if not results:
        print("no supported devices heard; wear or wake them and scan again (--timeout 10)")
        return 1
    print(f"{'ADDRESS':<38} {'RSSI':>5}  {'KIND':<12} {'MODEL':<22} CAN STREAM")
    for r in results:
        print(
            f"{r.address:<38} {r.rssi_dbm:>5}  {r.profile.kind.value:<12} {r.profile.model[:22]:<22} "
            f"{', '.join(r.profile.streams)}"
        )
    return 0


async def _scan(args: argparse.Namespace) -> list[ScanResult]:
    if not args.simulate:
        return await scan(timeout_s=args.timeout, include_unknown=args.all)
    from strideguard.sensors.simulated import demo_world

    async with SimClock() as clock:
        world = demo_world(clock=clock, runners=2)  # the devices `record --simulate` offers
        return await scan(
            timeout_s=args.timeout, backend_scanner=world.scanner_backend, clock=clock, include_unknown=args.all
        )


def _as_json(r: ScanResult) -> dict:
    return {
        "address": r.address,
        "name": r.name,
        "rssi_dbm": r.rssi_dbm,
        "kind": r.profile.kind.value,
        "model": r.profile.model,
        "streams": list(r.profile.streams),
        "has_gyro": r.profile.has_gyro,
    }
