"""Alert latency to the page: from the alert's creation in the session engine to the alert shown on the
runner's page in real Chromium, on the embedded set-up and on the team set-up.

- embedded: one process, as `strideguard demo`: paced input -> Pipeline (alert dispatcher, bus) -> the
  WebServer -> each runner's page;
- team: `strideguard collect` (a process) -> real Mosquitto -> a worker (a process, the `Worker` of
  `strideguard worker` with a probe sink added) -> Mosquitto -> `strideguard coach` (a process) -> page.

"Created" is the wall time at which the engine handed the risk event to its sinks (a probe sink first in
line, in the process that runs the engine); "shown" is the wall time at which the event entered the page's
`StrideGuard.state.alerts` (what the page pinned or listed), seen by a MutationObserver right after the
DOM changed. Both are this machine's wall clock (`time.time()` and the page's `Date.now()`, 1 ms). Only
onsets the alert dispatcher delivered count (the rate limit holds some back, by design).

    .venv/bin/python -m benchmarks.bench_alert_latency                # both set-ups, about 3 minutes
    .venv/bin/python -m benchmarks.bench_alert_latency --runners 4 --duration-s 160 --setups embedded

Goals (issue 16): p99 <= 500 ms embedded, <= 1 s team. No timing is asserted anywhere: this prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

from strideguard.analytics.results import AnalyzerOutput, RiskEventKind
from strideguard.sensors import capture
from strideguard.sensors.synthetic import Change, SyntheticConfig, SyntheticRunner
from strideguard.sensors.types import SampleBatch
from strideguard.stream.runtime.session import SessionInfo
from tests.fixtures_services import REPO_ROOT, MosquittoService, free_port

CHROMIUM = "/usr/bin/chromium"
RISK_TOML = """\
[risk]
warmup_s = 5.0
baseline_s = 20.0
min_baseline_windows = 3
cooldown_s = 10.0
clear_s = 5.0
[risk.metrics.cadence]
sustain_s = 8.0
[risk.metrics.sway_ml]
sustain_s = 8.0
[risk.metrics.impact]
sustain_s = 8.0
"""
GOALS_MS = {"embedded": 500.0, "team": 1000.0}
# The page records when each alert entered StrideGuard.state.alerts (shown: pinned or listed).
OBSERVE = """
window.__shown = [];
document.addEventListener('DOMContentLoaded', function () {
  let seen = 0;
  new MutationObserver(function () {
    const alerts = (window.StrideGuard && StrideGuard.state.alerts) || [];
    for (; seen < alerts.length; seen++) {
      const ev = alerts[seen];
      window.__shown.push({key: [ev.runner, ev.metric, ev.onset_t_ns, ev.kind].join('|'), t_ms: Date.now()});
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
});
"""


def runs(n_runners: int, duration_s: float) -> dict[str, list[SampleBatch]]:
    """Runners whose sway and impact rise and fall back every 40 s: an onset and a clearing per cycle."""
    out = {}
    for i in range(n_runners):
        name = f"bench-{i + 1}"
        changes = []
        for k, at_s in enumerate(range(35 + 3 * i, int(duration_s) - 20, 40)):
            up = k % 2 == 0
            changes.append(Change(at_s=at_s, ramp_s=3, sway_pct=45 if up else -31, impact_pct=30 if up else -23.1))
        run = SyntheticRunner(SyntheticConfig(cadence_spm=164.0 + i, changes=tuple(changes))).generate(
            duration_s, 100, seed=200 + i, runner=name, device=f"imu-{i + 1}"
        )
        out[name] = [run.acc]
    return out


def event_key(runner: str, metric: str, onset_t_ns: int, kind: str) -> str:
    return f"{runner}|{metric}|{onset_t_ns}|{kind}"


class Probe:
    """A sink first in the engine's line: the wall time each risk event was created."""

    name = "probe"

    def __init__(self, path: pathlib.Path | None = None) -> None:
        self.created: dict[str, float] = {}
        self._file = open(path, "a") if path is not None else None  # noqa: SIM115 - open for the process's life

    async def open_session(self, session: SessionInfo) -> None:
        return None

    async def write(self, session: SessionInfo, output: AnalyzerOutput) -> None:
        now = time.time()
        for e in output.risk_events:
            key = event_key(e.runner, e.metric, e.onset_t_ns, e.kind.value)
            self.created.setdefault(key, now)
            if self._file is not None:
                self._file.write(json.dumps({"key": key, "t": now}) + "\n")
                self._file.flush()

    async def close_session(self, session: SessionInfo, summary: Any) -> None:
        return None

    async def close(self) -> None:
        if self._file is not None:
            self._file.close()


async def open_pages(browser: Any, base_url: str, runners: list[str]) -> list[Any]:
    pages = []
    for name in runners:
        page = await browser.new_page(viewport={"width": 390, "height": 844})
        await page.add_init_script(OBSERVE)
        await page.goto(f"{base_url}runner/{name}")
        await page.wait_for_function("document.getElementById('conn').dataset.state === 'live'", timeout=20_000)
        pages.append(page)
    return pages


async def shown_times(pages: list[Any]) -> dict[str, float]:
    shown: dict[str, float] = {}
    for page in pages:
        for item in await page.evaluate("window.__shown"):
            shown.setdefault(item["key"], item["t_ms"] / 1000)
    return shown


def latencies_ms(created: dict[str, float], shown: dict[str, float]) -> list[float]:
    return [(shown[k] - created[k]) * 1000 for k in onsets(created) if k in shown]


def onsets(created: dict[str, float]) -> list[str]:
    return [k for k in created if k.endswith(f"|{RiskEventKind.ONSET.value}")]


async def paced(items: dict[str, list[SampleBatch]], speed: float, push: Any) -> None:
    """Every runner's samples in 0.5-s batches, in data time / speed, all runners side by side."""
    from strideguard.stream.runtime.collector import split_batches

    merged = sorted(
        (
            (int(b.t_ns[0]), b)
            for batches in items.values()
            for b in split_batches(batches, 0.5)
            if isinstance(b, SampleBatch) and len(b)
        ),
        key=lambda x: x[0],
    )
    t0_ns, start = merged[0][0], time.monotonic()
    for t_ns, batch in merged:
        wait = (t_ns - t0_ns) / 1e9 / speed - (time.monotonic() - start)
        if wait > 0:
            await asyncio.sleep(wait)
        await push(batch)


async def embedded(browser: Any, team: dict[str, list[SampleBatch]], speed: float) -> tuple[list[float], int]:
    from strideguard.stream.alerts.dispatcher import AlertDispatcher
    from strideguard.stream.alerts.page import PageChannel
    from strideguard.stream.runtime import bus as busmod
    from strideguard.stream.runtime.app import analyzer_factory
    from strideguard.stream.runtime.pipeline import BusSink, Pipeline
    from strideguard.stream.web import WebServer

    bus = busmod.Bus()
    probe = Probe()
    pipeline = Pipeline(
        analyzer_factory=analyzer_factory(RISK_TOML),
        sinks=[probe, AlertDispatcher([PageChannel(bus)]), BusSink(bus)],
        team="bench",
        source="bench",
        silent_after_s=None,
    )
    async with WebServer(bus, host="127.0.0.1", port=0) as server:
        # the pages are open before the runners start (each is told its name is unknown, then waits)
        pages = await open_pages(browser, server.url, list(team))
        await paced(team, speed, pipeline.push)
        await pipeline.finish()
        await asyncio.sleep(1.0)
        shown = await shown_times(pages)
        await pipeline.close()
    return latencies_ms(probe.created, shown), len(onsets(probe.created))


def _worker_main(broker_port: int, team: str, state_dir: str, probe_path: str) -> None:
    """The team set-up's worker (a process): `strideguard worker`'s Worker with the probe sink added."""
    from strideguard.stream.mqtt.connection import MqttSettings
    from strideguard.stream.runtime.app import analyzer_factory
    from strideguard.stream.runtime.worker import Worker, WorkerOptions

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        worker = Worker(
            settings=MqttSettings(host="127.0.0.1", port=broker_port),
            options=WorkerOptions(state_dir=pathlib.Path(state_dir), team=team, group_linger_s=0.005),
            analyzer_factory=analyzer_factory(RISK_TOML),
            sinks=[Probe(pathlib.Path(probe_path))],
        )
        await worker.run(stop)

    asyncio.run(main())


def _role(args: list[str], log_path: pathlib.Path) -> subprocess.Popen[bytes]:
    """A `strideguard` subprocess, its output in `log_path`."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "strideguard.stream.cli", *args],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def _wait_http(url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout_s:g} s")


async def team_setup(
    browser: Any, team_runs: dict[str, list[SampleBatch]], speed: float, tmp: pathlib.Path
) -> tuple[list[float], int]:
    broker = MosquittoService(workdir=tmp / "mosquitto")
    broker.start()
    procs: list[subprocess.Popen[bytes]] = []
    probe_path = tmp / "probe.jsonl"
    worker = multiprocessing.get_context("spawn").Process(
        target=_worker_main, args=(broker.port, "bench", str(tmp / "worker"), str(probe_path))
    )
    try:
        worker.start()
        await asyncio.sleep(3.0)  # the worker subscribes before the collector publishes
        port = free_port()
        procs.append(
            _role(["coach", "--broker", broker.url, "--team", "bench", "--port", str(port)], tmp / "coach.log")
        )
        base = f"http://127.0.0.1:{port}/"
        await asyncio.to_thread(_wait_http, base + "healthz")
        pages = await open_pages(browser, base, list(team_runs))
        files = []
        for name, batches in team_runs.items():
            path = tmp / f"{name}.sgcap"
            capture.write_batches(path, batches)
            files.append(str(path))
        collect = ["collect", "--broker", broker.url, "--team", "bench", "--speed", str(speed), *files]
        collector = _role(collect, tmp / "collector.log")
        procs.append(collector)
        await asyncio.to_thread(collector.wait)
        await asyncio.sleep(3.0)  # the last alerts through worker and coach
        shown = await shown_times(pages)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=20)
        if worker.pid is not None and worker.is_alive():
            os.kill(worker.pid, signal.SIGTERM)
        worker.join(timeout=20)
        broker.stop()
    created: dict[str, float] = {}
    if probe_path.exists():
        for line in probe_path.read_text().splitlines():
            item = json.loads(line)
            created.setdefault(item["key"], item["t"])
    return latencies_ms(created, shown), len(onsets(created))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runners", type=int, default=6)
    parser.add_argument("--duration-s", type=float, default=240.0, help="data time per runner")
    parser.add_argument("--speed", type=float, default=4.0, help="times real time")
    parser.add_argument("--setups", default="embedded,team")
    args = parser.parse_args(argv)
    from playwright.async_api import async_playwright

    team_runs = runs(args.runners, args.duration_s)
    rows = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        for setup in args.setups.split(","):
            load_before = os.getloadavg()[0]
            if setup == "embedded":
                lat, created = await embedded(browser, team_runs, args.speed)
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    lat, created = await team_setup(browser, team_runs, args.speed, pathlib.Path(tmp))
            rows.append((setup, lat, created, max(load_before, os.getloadavg()[0])))
        await browser.close()
    print(
        f"machine: {os.cpu_count()} CPUs; {args.runners} runners, {args.duration_s:g} s of data each at "
        f"{args.speed:g}x real time; latency = alert created in the engine -> shown on the runner's page;\n"
        "onsets: created by the engine; shown: delivered by the alert dispatcher (its rate limit holds some back)"
    )
    print(
        f"{'set-up':<9} {'onsets':>6} {'shown':>12} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'mean ms':>7} {'goal p99':>8} {'load':>5}"
    )
    for setup, lat, created, load in rows:
        mean = statistics.fmean(lat) if lat else float("nan")
        print(
            f"{setup:<9} {created:>6} {len(lat):>12} {pct(lat, 50):>7.0f} {pct(lat, 99):>7.0f} "
            f"{max(lat, default=float('nan')):>7.0f} {mean:>7.0f} {GOALS_MS[setup]:>8.0f} {load:>5.1f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
