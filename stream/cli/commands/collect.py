"""`strideguard collect`: replay recordings or synthetic runners of a team onto MQTT, one session each."""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import time

import numpy as np

from strideguard.sensors.simulated.scenarios import (
    DROPOUT_DOWN_S,
    SUGGESTED_DURATION_S,
    describe,
    scenario_for,
    scenario_names,
)
from strideguard.sensors.types import Placement, SampleBatch
from strideguard.stream import names
from strideguard.stream.cli.commands._common import runner_for_file
from strideguard.stream.errors import UsageError
from strideguard.stream.mqtt.connection import MqttSettings
from strideguard.stream.runtime import sources

EXAMPLES = """\
examples:
  strideguard collect --broker mqtt://127.0.0.1:1883 --team club run1.sgcap run2.csv
        two runners (named after the files) as fast as possible
  strideguard collect --team club --speed 1 --runner ana --runner ben a.sgcap b.sgcap
        real time, with runner names given in file order
  strideguard collect --team club --bundled --speed 10
        the bundled demo runs as a team of two, at 10x
  strideguard collect --team club --synthetic 6 --duration-s 600 --speed 1
        six synthetic runners with different cadences for ten minutes, live
  strideguard collect --team club --synthetic 6 --scenario mixed --speed 1
        six synthetic runners, each showing a different alert or state (scenarios below), live
environment: STRIDEGUARD_MQTT_URL, STRIDEGUARD_MQTT_USERNAME, STRIDEGUARD_MQTT_PASSWORD
Start one or more `strideguard worker` processes to analyse what is published.

scenarios (--synthetic N --scenario NAME; each run 12 minutes unless --duration-s):
{scenarios}"""


def add_broker_options(p: argparse.ArgumentParser, *, every_team: bool = False) -> None:
    p.add_argument(
        "--broker",
        metavar="URL",
        default=os.environ.get("STRIDEGUARD_MQTT_URL", "mqtt://127.0.0.1:1883"),
        help="MQTT broker, mqtt://host:port (default $STRIDEGUARD_MQTT_URL or mqtt://127.0.0.1:1883)",
    )
    p.add_argument(
        "--username",
        default=os.environ.get("STRIDEGUARD_MQTT_USERNAME"),
        help="broker user (default $STRIDEGUARD_MQTT_USERNAME)",
    )
    p.add_argument(
        "--password",
        default=os.environ.get("STRIDEGUARD_MQTT_PASSWORD"),
        help="broker password (default $STRIDEGUARD_MQTT_PASSWORD; prefer the variable)",
    )
    p.add_argument(
        "--team",
        type=_team_or_every if every_team else names.argument("team"),
        default=os.environ.get("STRIDEGUARD_TEAM", "default"),
        help="team name: the topic level coaches subscribe to (default $STRIDEGUARD_TEAM or 'default'"
        + ("; + = every team" if every_team else "")
        + f"; {names.ALLOWED_TEXT})",
    )


def _team_or_every(text: str) -> str:
    return text if text == "+" else names.argument("team")(text)


def broker_settings(args: argparse.Namespace) -> MqttSettings:
    try:
        settings = MqttSettings.from_url(args.broker)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.username:
        settings = MqttSettings.from_url(args.broker, username=args.username, password=args.password)
    return settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "collect",
        help="publish recordings or synthetic runners of a team on MQTT",
        description="The collector role of a multi-process deployment: reads each file (capture or "
        "CSV) or generates synthetic runners and publishes their samples on "
        "strideguard/v1/<team>/<runner>/imu/<partition> (QoS 1, binary batches with "
        "sequence numbers). Analyzer workers pick them up. See docs/live.md.",
        epilog=EXAMPLES.format(scenarios=describe()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="*", type=pathlib.Path, metavar="FILE", help="captures (.sgcap) or CSV files")
    add_broker_options(p)
    p.add_argument(
        "--runner",
        action="append",
        type=names.argument("runner"),
        default=[],
        metavar="NAME",
        help="runner name for each FILE in order (default: the runner in the file, or its name)",
    )
    p.add_argument(
        "--placement",
        choices=[pl.value for pl in Placement],
        default="chest",
        help="sensor placement for CSV files (default chest)",
    )
    p.add_argument("--bundled", action="store_true", help="also replay the bundled demo runs, one runner each")
    p.add_argument("--synthetic", type=int, default=0, metavar="N", help="also publish N synthetic runners")
    p.add_argument(
        "--duration-s",
        type=float,
        metavar="S",
        help=f"length of each synthetic run in seconds (default 300; {SUGGESTED_DURATION_S:g} with --scenario)",
    )
    p.add_argument(
        "--scenario",
        choices=scenario_names(),
        metavar="NAME",
        help=f"with --synthetic: what the synthetic runners do ({', '.join(scenario_names())}; see below)",
    )
    p.add_argument(
        "--speed", type=float, default=0.0, metavar="X", help="X times real time; 0 = as fast as possible (default)"
    )
    p.add_argument("--loop", action="store_true", help="start again with new sessions when done (demos)")
    p.add_argument(
        "--now",
        action="store_true",
        help="shift every run so it starts now (live dashboards show it at the current time)",
    )
    p.add_argument("--id", default="collector", help="collector id, unique per broker (default 'collector')")
    p.set_defaults(func=run)


def _runs(args: argparse.Namespace) -> dict[str, list[SampleBatch]]:
    files: list[tuple[pathlib.Path, str | None]] = []
    if len(args.runner) > len(args.files):
        raise UsageError(f"{len(args.runner)} --runner names for {len(args.files)} files")
    files += [
        (f, runner_for_file(f, args.runner[i] if i < len(args.runner) else None)) for i, f in enumerate(args.files)
    ]
    if args.bundled:
        from strideguard.stream.cli.commands.demo import SAMPLES, sample_path

        files += [(sample_path(name), name) for name in SAMPLES]
    runs: dict[str, list[SampleBatch]] = {}
    for path, runner in files:
        batches = [
            i
            for i in sources.read_file(path, runner=runner, placement=Placement(args.placement))
            if isinstance(i, SampleBatch)
        ]
        name = runner or (batches[0].runner if batches else path.stem)
        if name in runs:
            raise UsageError(f"runner {name!r} appears twice: give each file its own --runner")
        runs[name] = batches
    if args.scenario and not args.synthetic:
        raise UsageError("--scenario needs --synthetic N (the scenarios are played by synthetic runners)")
    if args.synthetic:
        duration_s = args.duration_s or (SUGGESTED_DURATION_S if args.scenario else 300.0)
        runs.update(synthetic_team(args.synthetic, duration_s, scenario=args.scenario))
    if not runs:
        raise UsageError("nothing to publish: give FILEs, --bundled or --synthetic N")
    return runs


def synthetic_team(
    n_runners: int, duration_s: float, *, rate_hz: float = 100.0, scenario: str | None = None
) -> dict[str, list[SampleBatch]]:
    """N synthetic runners (cadence 158-176 spm, different seeds), acc at `rate_hz`; with a `scenario`
    (`sensors.simulated.scenarios`, or `mixed`) runner i plays it, a dropout as a hole in the samples
    (`collect` has no radio to lose)."""
    from strideguard.sensors.synthetic import SyntheticConfig, SyntheticRunner

    team = {}
    for i in range(n_runners):
        name = f"runner-{i + 1}"
        cadence_spm = 158.0 + (i * 5) % 20
        chosen = scenario_for(scenario, i) if scenario else None
        config = (
            chosen.synthetic_config(cadence_spm=cadence_spm) if chosen else SyntheticConfig(cadence_spm=cadence_spm)
        )
        run = SyntheticRunner(config).generate(
            duration_s, rate_hz, seed=100 + i, runner=name, device=f"synthetic-{i + 1}"
        )
        team[name] = without_dropouts(run.acc, chosen.dropouts_s if chosen else ())
    return team


def without_dropouts(batch: SampleBatch, dropouts_s: tuple[float, ...]) -> list[SampleBatch]:
    """The batch with the samples of each dropout (`DROPOUT_DOWN_S` from each start, s from the run's
    start) left out: what a collector whose sensor went away would have sent."""
    keep = np.ones(len(batch), dtype=bool)
    t_s = (batch.t_ns - batch.t_ns[0]) / 1e9
    for at_s in dropouts_s:
        keep &= ~((t_s >= at_s) & (t_s < at_s + DROPOUT_DOWN_S))
    if keep.all():
        return [batch]
    edges = np.flatnonzero(np.diff(np.concatenate(([0], keep.astype(np.int8), [0]))))
    return [batch.slice(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def shifted_to_now(runs: dict[str, list[SampleBatch]]) -> dict[str, list[SampleBatch]]:
    """The same runs with each runner's clock moved so that its first sample is now (recordings made
    years apart then run side by side, as a team would)."""
    now_ns = time.time_ns()
    out = {}
    for runner, batches in runs.items():
        starts = [int(b.t_ns[0]) for b in batches if len(b)]
        offset_ns = now_ns - min(starts) if starts else 0
        out[runner] = [
            SampleBatch(
                runner=b.runner,
                device=b.device,
                placement=b.placement,
                kind=b.kind,
                rate_hz=b.rate_hz,
                t_ns=b.t_ns + offset_ns,
                values=b.values,
                meta=b.meta,
            )
            for b in batches
        ]
    return out


def run(args: argparse.Namespace) -> int:
    from strideguard.stream.runtime.collector import Collector

    settings = broker_settings(args)
    runs = _runs(args)

    async def main() -> None:
        async with Collector(settings=settings, team=args.team, collector_id=args.id) as collector:
            while True:
                stats = await collector.replay(shifted_to_now(runs) if args.now else runs, speed=args.speed or None)
                for runner, s in stats.items():
                    print(f"collect: {runner}: session {s.session_id}, {s.messages} messages, {s.samples} samples")
                if not args.loop:
                    return
                collector.stats.clear()

    asyncio.run(main())
    return 0
