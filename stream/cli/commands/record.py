"""`strideguard record`: stream wearables of one or more runners into a capture file.

The collector (`sensors.ble.collect`) does the BLE work; this command parses runner/device groups,
opens the capture, stops on Ctrl-C / SIGTERM / --duration, and prints a summary. Live analytics attach
through `record(..., on_item=...)`: every decoded SampleBatch / HeartRateReading / StrideReading is
handed to that callable as it arrives.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pathlib
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from strideguard.sensors.ble import CollectorStats, DeviceSpec, RealClock, SimClock, collect
from strideguard.sensors.capture import CaptureEvent, CaptureWriter
from strideguard.sensors.decoding import DecodedItem
from strideguard.sensors.simulated.scenarios import describe, scenario_for, scenario_names
from strideguard.sensors.types import Placement, SampleBatch
from strideguard.stream import names
from strideguard.stream.cli.commands._common import NAMES_HELP, add_shoe_option, add_store_options
from strideguard.stream.cli.commands.collect import broker_settings
from strideguard.stream.errors import UsageError
from strideguard.stream.mqtt.connection import MqttSettings
from strideguard.stream.runtime import sources
from strideguard.stream.runtime.history import recovery_before_run
from strideguard.stream.runtime.live import add_live_options
from strideguard.stream.sqlite.store import SessionStore, StoreError, default_db_path

EXAMPLES = """\
examples:
  strideguard record --runner ann --device A0:9E:1A:12:34:56:chest --out ann.sgcap
  strideguard record --runner ann --device A0:9E:1A:12:34:56:chest --device C4:11:22:33:44:55:foot \\
                     --runner bob --device A0:9E:1A:65:43:21:sacrum --out team.sgcap --duration 3600
  strideguard record --simulate --fast --duration 600 --runner ann \\
                     --device A0:9E:1A:00:00:01:chest --device C4:00:00:00:00:01:foot --out try.sgcap
  strideguard record --simulate --scenario dropout --fast --duration 720 --runner ann \\
                     --device A0:9E:1A:00:00:01:chest --out dropout.sgcap
        see an alert or a sensor dropout without hardware (scenarios below)
  strideguard record --runner ann --device A0:9E:1A:12:34:56:chest --out ann.sgcap \\
                     --broker mqtt://club-server:1883 --team club --no-analysis
        record locally and send the run live to the club's workers (the coach's dashboards)

Each --device belongs to the --runner before it; PLACEMENT is one of chest, sacrum, foot, shank, wrist,
arm (default unknown). Stop with Ctrl-C: the capture is closed cleanly and replays with
`strideguard replay FILE`. Find addresses with `strideguard scan`.

scenarios (--simulate --scenario NAME; record about 12 minutes, --fast does it in seconds; a simulated
run is stored in the demo store, {demo}, unless --db says otherwise):
{scenarios}"""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordOptions:
    devices: tuple[DeviceSpec, ...]
    out: pathlib.Path
    duration_s: float | None = None
    simulate: bool = False
    fast: bool = False
    scenario: str | None = None  # sensors.simulated.scenarios: what the simulated runners do


class _RunnerAction(argparse.Action):
    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        namespace.current_runner = values
        namespace.runners = [*(namespace.runners or []), values]


class _DeviceAction(argparse.Action):
    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        runner = getattr(namespace, "current_runner", None)
        if runner is None:
            parser.error("--device must follow the --runner it belongs to")
        namespace.devices = [*(namespace.devices or []), (runner, values)]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "record",
        help="record BLE wearables of one or more runners to a capture file",
        description="Connect to Polar H10 / Verity Sense, RSC footpods, HR straps and Movesense "
        "sensors, start their streams (ACC 200 Hz +-8 g on an H10), write every raw "
        "notification to a capture, reconnect with backoff when a link drops and "
        "record the gap.",
        epilog=EXAMPLES.format(demo="$STRIDEGUARD_DEMO_DB or demo.db beside the usual store", scenarios=describe()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--runner",
        action=_RunnerAction,
        type=names.argument("runner"),
        required=True,
        metavar="NAME",
        help=f"start a runner group (repeatable; {NAMES_HELP})",
    )
    p.add_argument(
        "--device",
        action=_DeviceAction,
        required=True,
        metavar="ADDR[:PLACEMENT]",
        help="a device of the current runner (repeatable)",
    )
    p.add_argument("--out", type=pathlib.Path, required=True, metavar="FILE.sgcap", help="capture to create")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (default: until Ctrl-C)")
    p.add_argument("--acc-rate", type=int, default=200, metavar="HZ", help="accelerometer rate (default 200)")
    p.add_argument("--acc-range", type=int, default=8, metavar="G", help="accelerometer range in g (default 8)")
    p.add_argument("--no-gyro", action="store_true", help="do not start gyroscopes")
    p.add_argument(
        "--simulate",
        action="store_true",
        help="use simulated devices (see `strideguard scan --simulate`) instead of the radio",
    )
    p.add_argument("--fast", action="store_true", help="with --simulate: run as fast as possible (needs --duration)")
    p.add_argument(
        "--scenario",
        choices=scenario_names(),
        metavar="NAME",
        help=f"with --simulate: what the simulated runners do ({', '.join(scenario_names())}; see below)",
    )
    p.add_argument(
        "--team",
        type=names.argument("team"),
        default="default",
        help="team name for the pages and the store (default: default)",
    )
    p.add_argument("--no-analysis", action="store_true", help="only record: no live analysis, alerts or store")
    p.add_argument(
        "--broker",
        metavar="URL",
        help="also send the recording, live, to the team set-up at mqtt://host:port (its workers analyse it "
        "for the coach; combine with --no-analysis to analyse only there)",
    )
    p.add_argument("--username", default=os.environ.get("STRIDEGUARD_MQTT_USERNAME"), help="broker user, with --broker")
    p.add_argument(
        "--password",
        default=os.environ.get("STRIDEGUARD_MQTT_PASSWORD"),
        help="broker password, with --broker (prefer $STRIDEGUARD_MQTT_PASSWORD)",
    )
    p.add_argument("--config", type=pathlib.Path, metavar="TOML", help="risk thresholds and alert channels")
    add_store_options(p)
    add_shoe_option(p)
    add_live_options(p, web_default=False)
    p.set_defaults(func=run, runners=None, devices=None, current_runner=None)


def parse_device(
    runner: str, text: str, *, acc_rate_hz: int = 200, acc_range_g: int = 8, gyro: bool = True
) -> DeviceSpec:
    """'ADDR[:placement]' -> DeviceSpec (addresses contain colons: the placement is the last field if it
    names one)."""
    address, placement = text, Placement.UNKNOWN
    head, sep, tail = text.rpartition(":")
    if sep and tail.lower() in {p.value for p in Placement}:
        address, placement = head, Placement(tail.lower())
    if not address:
        raise UsageError(f"--device {names.printable(text)!r}: no address")
    try:
        address = names.check(address, "device")
    except names.InvalidName as exc:
        raise UsageError(f"--device: {exc}") from None
    return DeviceSpec(
        runner=runner, address=address, placement=placement, acc_rate_hz=acc_rate_hz, acc_range_g=acc_range_g, gyro=gyro
    )


def run(args: argparse.Namespace) -> int:
    if args.fast and not (args.simulate and args.duration):
        raise UsageError("--fast needs --simulate and --duration")
    if args.scenario and not args.simulate:
        raise UsageError("--scenario needs --simulate (the scenarios are played by simulated devices)")
    specs = tuple(
        parse_device(runner, text, acc_rate_hz=args.acc_rate, acc_range_g=args.acc_range, gyro=not args.no_gyro)
        for runner, text in args.devices
    )
    opts = RecordOptions(
        devices=specs,
        out=args.out,
        duration_s=args.duration,
        simulate=args.simulate,
        fast=args.fast,
        scenario=args.scenario,
    )
    if args.simulate and args.db is None:
        from strideguard.stream.runtime.history import demo_db_path

        args.db = demo_db_path()  # a simulated runner is nobody's training: kept apart from the real store
    if args.scenario:
        for spec in specs:
            index = simulated_index(spec.address)
            if index is not None and spec.address.startswith("A0:"):  # the H10s play the scenario
                chosen = scenario_for(args.scenario, index)
                print(f"{spec.runner}: scenario {chosen.name}: {chosen.shows}")
    counts: dict[str, int] = {}

    def count(item: DecodedItem) -> None:
        key = f"{item.runner}/{item.device}"
        counts[key] = counts.get(key, 0) + (len(item) if isinstance(item, SampleBatch) else 1)

    settings = broker_settings(args) if args.broker else None
    if not args.no_store and not args.simulate:
        say_recovery(args.db, sorted({runner for runner, _ in args.devices}))

    async def main() -> tuple[CollectorStats, StoreError | None]:
        if settings is None:
            return await record_with_analysis(opts, args, on_item=count)
        async with published(settings, team=args.team) as send:

            def count_and_send(item: DecodedItem) -> None:
                count(item)
                send(item)

            return await record_with_analysis(opts, args, on_item=count_and_send)

    stats, store_error = asyncio.run(main())
    print(summary(opts, stats, counts))
    if args.simulate and not args.no_store and not args.no_analysis:
        print(f"stored in {args.db} (simulated runs are kept apart from your own; `strideguard sessions --db ...`)")
    if store_error is not None:
        raise store_error  # the capture is whole; the store's loss still fails the command
    return 0


def simulated_index(address: str) -> int | None:
    """Which simulated runner a device of `demo_world` belongs to (its address ends in the runner's number)."""
    try:
        return int(address.rsplit(":", 1)[-1], 16) - 1
    except ValueError:
        return None


def say_recovery(db: pathlib.Path | None, runners: list[str]) -> None:
    """Before the run: a hard last session less than 36 h ago is worth a word (docs/risk.md, Recovery)."""
    path = db or default_db_path()
    if not path.is_file():
        return
    store = SessionStore(path, readonly=True)
    try:
        for runner in runners:
            note = recovery_before_run(store, runner, time.time_ns())
            if note is not None:
                print(f"{runner}: {note.message}: {note.advice} (heuristic)", file=sys.stderr)
    finally:
        store.close()


@contextlib.asynccontextmanager
async def published(settings: MqttSettings, *, team: str) -> AsyncIterator[Callable[[DecodedItem], None]]:
    """A callable that sends each decoded item to the team set-up as it arrives: one collector session per
    runner (samples, heart-rate and footpod readings, in order), ended with the final marker when the
    recording stops. The recorder never waits for the broker: items queue while it is away."""
    from strideguard.stream.runtime.collector import Collector

    queues: dict[str, asyncio.Queue[DecodedItem | None]] = {}
    sessions: list[asyncio.Task[object]] = []

    async def items(queue: asyncio.Queue[DecodedItem | None]) -> AsyncIterator[DecodedItem]:
        while (item := await queue.get()) is not None:
            yield item

    async with Collector(settings=settings, team=team, collector_id=f"record-{os.getpid()}") as collector:

        def send(item: DecodedItem) -> None:
            queue = queues.get(item.runner)
            if queue is None:
                queue = queues[item.runner] = asyncio.Queue()
                sessions.append(asyncio.create_task(collector.publish_session(item.runner, items(queue))))
            queue.put_nowait(item)

        try:
            yield send
        finally:
            for queue in queues.values():
                queue.put_nowait(None)
            await asyncio.gather(*sessions)


async def record_with_analysis(
    opts: RecordOptions, args: argparse.Namespace, *, on_item: Callable[[DecodedItem], None]
) -> tuple[CollectorStats, StoreError | None]:
    """Record and, unless --no-analysis, analyse live: decoded items go through a queue to the same pipeline
    that `replay` uses (live view, alerts, pages, store). The collector never waits for the analysis.
    A store that fails after the recording started does not stop it: its error comes back with the stats."""
    if args.no_analysis:
        return await record(opts, on_item=on_item), None
    from strideguard.stream.runtime.app import RunOptions, open_pipeline
    from strideguard.stream.runtime.live import announce, apply_live_options

    run_opts = apply_live_options(
        RunOptions(db_path=args.db, store=not args.no_store, config_path=args.config, team=args.team, shoe=args.shoe),
        args,
    )
    queue: asyncio.Queue[DecodedItem | CaptureEvent | None] = asyncio.Queue()

    def feed(item: DecodedItem) -> None:
        on_item(item)
        queue.put_nowait(item)

    def link_event(event: CaptureEvent) -> None:
        queue.put_nowait(event)  # the runner's sensor state: lost / back on the terminal and the pages

    stats: CollectorStats | None = None
    try:
        async with open_pipeline(run_opts, source=sources.source_of(opts.out)) as parts:
            parts.runners = sorted({runner for runner, _ in args.devices})  # their pages' links and QR code
            announce(parts)

            async def analyse() -> None:
                while (item := await queue.get()) is not None:
                    await parts.pipeline.push(item)
                await parts.pipeline.finish()

            consumer = asyncio.create_task(analyse(), name="live-analysis")
            try:
                stats = await record(opts, on_item=feed, on_link_event=link_event)
            finally:
                queue.put_nowait(None)
                await consumer
    except StoreError as exc:
        if stats is None:
            raise  # the store failed before anything was recorded (at open)
        return stats, exc
    assert stats is not None
    return stats, None


class _LinkEventsToo:
    """The capture writer, also handing each link_lost / link_restored it records to `on_link_event`: the
    collector writes them only to the capture, and the live analysis needs them for the sensor state."""

    def __init__(self, capture: CaptureWriter, on_link_event: Callable[[CaptureEvent], None]) -> None:
        self._capture = capture
        self._on_link_event = on_link_event

    def __getattr__(self, name: str) -> Any:
        return getattr(self._capture, name)

    def write_event(self, t_ns: int, kind: str, **fields: Any) -> None:
        self._capture.write_event(t_ns, kind, **fields)
        if kind in ("link_lost", "link_restored"):
            self._on_link_event(CaptureEvent(t_ns=t_ns, kind=kind, fields=dict(fields)))


async def record(
    opts: RecordOptions,
    *,
    on_item: Callable[[DecodedItem], None] | None = None,
    on_link_event: Callable[[CaptureEvent], None] | None = None,
) -> CollectorStats:
    """Record until --duration, Ctrl-C or SIGTERM. The seam for live analytics is `on_item` (and
    `on_link_event` for the links lost and restored)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    meta = {"recorder": "strideguard record", "simulated": str(opts.simulate).lower()}
    async with contextlib.AsyncExitStack() as stack:
        clock = await stack.enter_async_context(SimClock()) if opts.fast else RealClock()
        backends: dict = {}
        if opts.simulate:
            from strideguard.sensors.simulated import demo_world

            world = demo_world(
                clock=clock,
                runners=max(2, len({d.runner for d in opts.devices})),
                scenario=opts.scenario,
                duration_s=opts.duration_s,
            )
            unknown = [d.address for d in opts.devices if world.find(d.address) is None]
            if unknown:
                raise UsageError(
                    f"no simulated device {', '.join(unknown)}; the simulated devices are "
                    f"{', '.join(sorted(world.peripherals))} (see `strideguard scan --simulate`)"
                )
            backends = {"backend_client": world.client_backend, "backend_scanner": world.scanner_backend}
        capture = stack.enter_context(CaptureWriter(opts.out, meta=meta))
        duration_s = opts.duration_s
        if duration_s:

            async def stop_later() -> None:
                await clock.sleep(duration_s)
                stop.set()

            timer = asyncio.ensure_future(stop_later())
            stack.callback(timer.cancel)
        try:
            return await collect(
                list(opts.devices),
                on_item=on_item or (lambda item: None),
                capture=capture if on_link_event is None else _LinkEventsToo(capture, on_link_event),
                stop=stop,
                clock=clock,
                **backends,
            )
        except BaseException:
            if not capture.streams:  # nothing was recorded: do not leave an empty capture behind
                capture.close()
                opts.out.unlink(missing_ok=True)
            raise


def summary(opts: RecordOptions, stats: CollectorStats, counts: dict[str, int]) -> str:
    lines = [f"recorded {opts.out}"]
    for spec in opts.devices:
        key = spec.key
        errors = sum(n for k, n in stats.decode_errors.items() if k.startswith(key + "/"))
        gaps = stats.gaps_s.get(key, [])
        lines.append(
            f"  {key} ({spec.placement.value}): {counts.get(key, 0)} samples/readings, "
            f"{stats.notifications.get(key, 0)} notifications, {errors} undecodable, "
            f"{len(gaps)} gap(s){f' totalling {sum(gaps):.1f} s' if gaps else ''}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(0)
