#!/usr/bin/env python3
"""Alert latency per channel: from the moment the sustained condition is met to delivery.

"Met" is the call of `RiskEngine.push_window` with the window that confirms an episode (the clock starts
just before it); "delivered" is observed on the receiving side of each channel, all on this machine:
  terminal  the line is written to the stream (a pipe to /dev/null)
  page      the alert arrives at an SSE client of the live-pages server (what the phone's page reads)
  haptic    the simulated band (a bleak backend) receives the 0x02 Alert Level write
  mqtt      a subscriber of a real Mosquitto (started here on 127.0.0.1) receives the JSON
  webhook   a local HTTP receiver gets the POST
All channels run together through one AlertDispatcher, as in a live session. Alerts go out one at a
time with a gap (`--gap-ms`), as they would in a run. Prints a table of p50 / p99 / max in ms; the
target is p99 <= 500 ms.

    .venv/bin/python -m benchmarks.bench_alerts [--alerts 200] [--gap-ms 20] [--no-mqtt]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pathlib
import sys
import tempfile
import time
from typing import TextIO, cast

import aiohttp
import numpy as np
from aiohttp import web

from strideguard.analytics.results import AnalyzerOutput, RiskEventKind, WindowMetrics
from strideguard.analytics.risk import Baseline, MetricBaseline, RiskConfig, RiskEngine
from strideguard.sensors.ble.clock import RealClock
from strideguard.sensors.simulated import SimulatedAlertBand, SimulatedWorld
from strideguard.sensors.units import NS_PER_S
from strideguard.stream.alerts import (
    AlertDispatcher,
    Channel,
    DispatchPolicy,
    HapticChannel,
    MqttChannel,
    PageChannel,
    TerminalChannel,
    WebhookChannel,
)
from strideguard.stream.mqtt.connection import MqttSettings
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.runtime.session import SessionInfo
from strideguard.stream.web import WebServer

BAND = "C4:7C:8D:6A:12:34"
TARGET_P99_MS = 500.0


class _Timestamped:
    """A text stream that notes when each alert line was written."""

    def __init__(self, sink: TextIO, marks: dict[str, float]) -> None:
        self.sink, self.marks = sink, marks

    def write(self, text: str) -> int:
        now = time.perf_counter()
        for line in text.splitlines():
            if " — " in line:
                self.marks.setdefault(line.split(": ", 1)[0].split("] ", 1)[-1], now)
        return self.sink.write(text)

    def flush(self) -> None:
        self.sink.flush()


class _TimedBand(SimulatedAlertBand):
    """The simulated band, noting when each 0x02 (high alert) write arrives, as `received["haptic"]["#k"]`
    for the k-th alert it has logged before it."""

    def __init__(self, *, address: str, received: dict[str, dict[str, float]]) -> None:
        super().__init__(address=address)
        self.received = received

    def on_write(self, char_uuid: str, payload: bytes) -> None:
        if payload == b"\x02":
            self.received["haptic"][f"#{len(self.alerts)}"] = time.perf_counter()
        super().on_write(char_uuid, payload)


def confirming_sequence(runner: str, config: RiskConfig) -> list[WindowMetrics]:
    """Windows past the warm-up whose last one confirms a cadence episode (with a prior baseline)."""
    t0 = 1_700_000_000 * NS_PER_S
    out = []
    for k in range(int((config.warmup_s + config.rule("cadence").sustain_s) / 5) + 4):
        start = t0 + k * 5 * NS_PER_S
        cadence = 170.0 if k * 5 < config.warmup_s + 5 else 158.0
        out.append(
            WindowMetrics(
                runner=runner,
                t_start_ns=start,
                t_end_ns=start + 10 * NS_PER_S,
                n_steps=28,
                running=True,
                cadence_spm=cadence,
            )
        )
    return out


PRIOR = Baseline(metrics={"cadence": MetricBaseline(value=170.0, sd=0.5, n_windows=30)}, source="prior")


async def run(n_alerts: int, gap_ms: float, use_mqtt: bool, terminal_sink: TextIO) -> dict[str, list[float]]:
    received: dict[str, dict[str, float]] = {k: {} for k in ("terminal", "page", "haptic", "mqtt", "webhook")}
    stack = contextlib.AsyncExitStack()
    async with stack:
        # webhook receiver
        async def hook(request: web.Request) -> web.Response:
            body = await request.json()
            received["webhook"].setdefault(body["runner"], time.perf_counter())
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/hook", hook)
        runner_app = web.AppRunner(app)
        await runner_app.setup()
        site = web.TCPSite(runner_app, "127.0.0.1", 0)
        await site.start()
        stack.push_async_callback(runner_app.cleanup)
        hook_url = f"http://127.0.0.1:{runner_app.addresses[0][1]}/hook"

        # live pages + an SSE client
        bus = busmod.Bus()
        server = WebServer(bus, host="127.0.0.1", port=0)
        await server.start()
        stack.push_async_callback(server.stop)
        http = aiohttp.ClientSession()
        stack.push_async_callback(http.close)
        sse = await http.get(server.url + "events")

        async def read_sse() -> None:
            async for raw in sse.content:
                line = raw.decode().strip()
                if line.startswith("data: ") and '"delivered":true' in line:
                    msg = json.loads(line[6:])["message"]
                    received["page"].setdefault(msg["runner"], time.perf_counter())

        sse_task = asyncio.create_task(read_sse())

        # simulated band
        world = SimulatedWorld(clock=RealClock())
        world.add(_TimedBand(address=BAND, received=received))

        channels: list[Channel] = [
            # TerminalChannel only calls write() and flush(), which _Timestamped provides
            TerminalChannel(out=cast(TextIO, _Timestamped(terminal_sink, received["terminal"]))),
            PageChannel(bus),
            HapticChannel(address=BAND, buzz_s=0.002, backend=world.client_backend),
            WebhookChannel(url=hook_url),
        ]
        if use_mqtt:
            from tests.fixtures_services import MosquittoService

            broker = MosquittoService(workdir=pathlib.Path(tempfile.mkdtemp(prefix="sg-bench-mqtt-")))
            broker.start()
            stack.callback(broker.stop)
            channels.append(MqttChannel(settings=MqttSettings.from_url(broker.url)))
            import aiomqtt

            sub = aiomqtt.Client(hostname=broker.host, port=broker.port)
            await stack.enter_async_context(sub)
            await sub.subscribe("strideguard/v1/bench/+/notify", qos=1)

            async def read_mqtt() -> None:
                async for message in sub.messages:
                    body = json.loads(message.payload)
                    received["mqtt"].setdefault(body["runner"], time.perf_counter())

            mqtt_task = asyncio.create_task(read_mqtt())
        else:
            mqtt_task = None
        dispatcher = AlertDispatcher(channels, policy=DispatchPolicy(burst=10**6, refill_s=1.0))
        config = RiskConfig.default()
        started: dict[str, float] = {}
        haptic_order: list[str] = []
        for i in range(n_alerts):
            runner = f"r{i:04d}"
            engine = RiskEngine(config, prior_baseline=PRIOR)
            session = SessionInfo(session_id=f"bench-{i}", runner=runner, team="bench", source="bench", started_t_ns=0)
            for window in confirming_sequence(runner, config):
                t_met = time.perf_counter()
                _, events = engine.push_window(window)
                if any(e.kind is RiskEventKind.ONSET for e in events):
                    started[runner] = t_met
                    haptic_order.append(runner)
                    await dispatcher.write(session, AnalyzerOutput(risk_events=events))
                    break
            await asyncio.sleep(gap_ms / 1000)
        await dispatcher.flush(timeout_s=30)
        await asyncio.sleep(0.3)
        # the band's writes are in dispatch order: map the k-th 0x02 to the k-th runner
        haptic = dict(
            zip(haptic_order, [received["haptic"][k] for k in sorted(received["haptic"], key=lambda s: int(s[1:]))])
        )
        received["haptic"] = haptic
        await dispatcher.close()
        sse_task.cancel()
        if mqtt_task is not None:
            mqtt_task.cancel()
    latencies: dict[str, list[float]] = {}
    for channel, marks in received.items():
        if channel == "mqtt" and not use_mqtt:
            continue
        latencies[channel] = [(marks[r] - t) * 1000 for r, t in started.items() if r in marks]
    latencies["_expected"] = [float(len(started))]
    return latencies


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--alerts", type=int, default=200)
    p.add_argument("--gap-ms", type=float, default=20.0)
    p.add_argument("--no-mqtt", action="store_true", help="skip the MQTT channel (no mosquitto binary)")
    args = p.parse_args()
    with open(os.devnull, "w") as terminal_sink:
        lat = asyncio.run(run(args.alerts, args.gap_ms, not args.no_mqtt, terminal_sink))
    expected = int(lat.pop("_expected")[0])
    print(f"alert latency, sustained condition met -> delivered ({expected} alerts, {args.gap_ms:g} ms apart)")
    print(
        f"{'channel':<10} {'delivered':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  target p99 <= "
        f"{TARGET_P99_MS:g} ms"
    )
    ok = True
    for channel, values in lat.items():
        v = np.asarray(values)
        if v.size == 0:
            print(f"{channel:<10} {0:>9}        -        -        -  FAIL")
            ok = False
            continue
        p50, p99, mx = np.percentile(v, 50), np.percentile(v, 99), v.max()
        good = p99 <= TARGET_P99_MS and v.size == expected
        ok &= good
        print(f"{channel:<10} {v.size:>9} {p50:8.2f} {p99:8.2f} {mx:8.2f}  {'ok' if good else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
