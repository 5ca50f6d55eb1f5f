"""`strideguard worker`: the analyzer role: MQTT imu -> analytics -> MQTT outputs, InfluxDB and (with
`--db`) the SQLite store, so a coach can list, report and export the team's sessions afterwards."""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import signal
import sys
from typing import TYPE_CHECKING

from strideguard.stream.cli.commands.collect import add_broker_options, broker_settings
from strideguard.stream.errors import UsageError

if TYPE_CHECKING:  # at run time imported in influx_sink: only a worker writing to InfluxDB needs them
    from strideguard.stream.influx import InfluxSink
    from strideguard.stream.influx.writers import LineWriter

STOP_GRACE_S = 15.0  # after SIGTERM/Ctrl-C, how long a clean stop may take

EXAMPLES = """\
examples:
  strideguard worker --team club --state-dir /var/lib/strideguard/w0
        one worker for the whole team, outputs on MQTT only
  strideguard worker --team club --index 0 --count 2 --state-dir w0 --influx-url http://127.0.0.1:8086 --influx-db sg
  strideguard worker --team club --index 1 --count 2 --state-dir w1 --influx-url http://127.0.0.1:8086 --influx-db sg
        two workers sharing the team's runners by a stable hash, writing to InfluxDB 1.x (v1 API)
  strideguard worker --team club --state-dir w0 --db /srv/strideguard/club.db
        also keep every session in a store for `strideguard sessions`, `report` and `export` (workers
        may share one file)
  strideguard worker --team club --influx-url http://influxdb:8086 --influx-org club --influx-bucket strideguard
        InfluxDB 2.x/3.x through the v2 API (token in $STRIDEGUARD_INFLUX_TOKEN)
environment: STRIDEGUARD_MQTT_URL, STRIDEGUARD_MQTT_USERNAME/PASSWORD, STRIDEGUARD_INFLUX_URL, _DB, _TOKEN,
_ORG, _BUCKET, STRIDEGUARD_DB, STRIDEGUARD_WORKER_INDEX, STRIDEGUARD_WORKER_COUNT, STRIDEGUARD_STATE_DIR
Stop with Ctrl-C or SIGTERM; a restarted worker resumes from the broker and its journal (docs/live.md)."""


def _env(name: str, default: str | None = None) -> str | None:
    """$STRIDEGUARD_<name>; set but empty is unset (an empty $STRIDEGUARD_DB was the folder "." as a store)."""
    return os.environ.get(f"STRIDEGUARD_{name}") or default


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "worker",
        help="analyse a team's runners from MQTT (scale out with --index/--count)",
        description="The analyzer role of a multi-process deployment: subscribes to the IMU "
        "partitions worker INDEX of COUNT owns, runs one analyzer per runner session, "
        "publishes steps, metrics, alerts and status on MQTT and writes them to InfluxDB. "
        "Nothing is lost across restarts: see docs/live.md.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_broker_options(p, every_team=True)
    p.add_argument(
        "--index", type=int, default=int(_env("WORKER_INDEX", "0") or 0), help="this worker's index, 0-based"
    )
    p.add_argument("--count", type=int, default=int(_env("WORKER_COUNT", "1") or 1), help="number of workers (1-16)")
    p.add_argument(
        "--state-dir",
        type=pathlib.Path,
        default=_env("STATE_DIR"),
        metavar="DIR",
        help="journal and spool directory; keep it across restarts (default $STRIDEGUARD_STATE_DIR)",
    )
    p.add_argument("--config", type=pathlib.Path, metavar="TOML", help="risk thresholds and per-runner overrides")
    p.add_argument("--influx-url", default=_env("INFLUX_URL"), metavar="URL", help="InfluxDB base URL")
    p.add_argument(
        "--influx-db",
        default=_env("INFLUX_DB"),
        metavar="NAME",
        help="database for the v1 API (InfluxDB 1.x, or a 2.x/3.x DBRP mapping)",
    )
    p.add_argument("--influx-org", default=_env("INFLUX_ORG"), metavar="ORG", help="v2 API: organisation")
    p.add_argument("--influx-bucket", default=_env("INFLUX_BUCKET"), metavar="BUCKET", help="v2 API: bucket")
    p.add_argument(
        "--influx-token",
        default=_env("INFLUX_TOKEN"),
        metavar="TOKEN",
        help="token (v2 API, or v1 API on 2.x); prefer $STRIDEGUARD_INFLUX_TOKEN",
    )
    p.add_argument(
        "--db",
        type=pathlib.Path,
        default=_env("DB"),
        metavar="PATH",
        help="also keep the sessions in this SQLite store (default $STRIDEGUARD_DB; none if unset)",
    )
    p.add_argument("--no-publish", action="store_true", help="do not publish outputs on MQTT (InfluxDB only)")
    p.add_argument(
        "--idle-close-s",
        type=float,
        default=1800.0,
        metavar="S",
        help="finish a session whose collector has sent nothing for S seconds (default 1800)",
    )
    p.add_argument(
        "--linger-ms",
        type=float,
        default=5.0,
        metavar="MS",
        help="group commit window: wait up to MS for more messages before journaling a lone one "
        "(less CPU per message at many runners, up to MS more latency; 0 = none; default 5)",
    )
    p.set_defaults(func=run)


def influx_sink(args: argparse.Namespace, spool_dir: pathlib.Path) -> InfluxSink | None:
    from strideguard.stream.influx import InfluxSink, V1Writer, V2Writer

    if not args.influx_url:
        return None
    writer: LineWriter
    if args.influx_bucket:
        if not (args.influx_org and args.influx_token):
            raise UsageError(
                "the v2 API needs --influx-org and a token ($STRIDEGUARD_INFLUX_TOKEN) with --influx-bucket"
            )
        writer = V2Writer(url=args.influx_url, token=args.influx_token, org=args.influx_org, bucket=args.influx_bucket)
    elif args.influx_db:
        writer = V1Writer(url=args.influx_url, database=args.influx_db, token=args.influx_token)
    else:
        raise UsageError("--influx-url needs --influx-db (v1 API) or --influx-bucket (v2 API)")
    return InfluxSink(writer=writer, spool_dir=spool_dir)


def run(args: argparse.Namespace) -> int:
    from strideguard.stream.runtime.app import analyzer_factory
    from strideguard.stream.runtime.pipeline import StoreSink
    from strideguard.stream.runtime.settings import load_settings
    from strideguard.stream.runtime.worker import Worker, WorkerOptions
    from strideguard.stream.sqlite.store import SessionStore

    if args.state_dir is None:
        raise UsageError("--state-dir is required (or $STRIDEGUARD_STATE_DIR): the worker keeps its journal there")
    try:
        options = WorkerOptions(
            state_dir=args.state_dir,
            team=args.team,
            index=args.index,
            count=args.count,
            idle_close_s=args.idle_close_s,
            group_linger_s=args.linger_ms / 1000,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    settings = broker_settings(args)
    run_settings = load_settings(args.config)  # a bad settings file stops here, before anything is opened
    sink = influx_sink(args, args.state_dir / "influx-spool")
    store_sink = StoreSink(SessionStore(args.db)) if args.db else None  # an unusable store stops here
    # each runner's latest completed session is the prior baseline, as in the embedded run; read on the
    # loop through its own connection (WAL: readers never wait for the store sink's writer thread)
    history = SessionStore(args.db) if args.db else None
    factory = analyzer_factory(run_settings, store=history)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def on_signal() -> None:
            # Finish the current group and close cleanly; if that hangs (the broker is away while
            # outputs wait for it), give up after a grace period: the journal is synced before any
            # message is acknowledged, so nothing is lost either way.
            if stop.is_set():
                task.cancel()
            stop.set()
            loop.call_later(STOP_GRACE_S, task.cancel)

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        worker = Worker(
            settings=settings,
            options=options,
            analyzer_factory=factory,
            sinks=[s for s in (sink, store_sink) if s is not None],
            publish_outputs=not args.no_publish,
        )
        print(f"worker {options.name}: {settings.endpoint}, partitions of team {args.team!r}", flush=True)
        await worker.run(stop)
        print(f"worker {options.name}: stopped; {worker.stats}", flush=True)
        if sink is not None:
            print(
                f"worker {options.name}: influxdb lines_written={sink.lines_written} "
                f"batches_spooled={sink.batches_spooled} lines_rejected={sink.lines_rejected} "
                f"spool_damaged_records={sink.spool.damaged_records}",
                flush=True,
            )
        if worker.engine.dropped:
            print(f"worker {options.name}: samples dropped at the edge {worker.engine.dropped}", flush=True)

    try:
        asyncio.run(main())
    except asyncio.CancelledError:
        print("worker: stopped without a clean close (grace period over); it resumes from its journal", flush=True)
    finally:
        if history is not None:
            history.close()
    if store_sink is not None and (failure := store_sink.failure()) is not None:
        print(f"strideguard worker: error: {failure}", file=sys.stderr, flush=True)  # the store never lies
        return 2
    return 0
