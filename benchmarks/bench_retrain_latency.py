#!/usr/bin/env python3
"""Retraining latency (issue 20): how long after a step the runner's sound reflects it.

Three legs, each measured, then added up against the goal "within two strides" (4 steps):

  1. detector  data time from a step (its `t_ns`, mid-stance; and its initial contact) to the end of the
               chunk of samples whose push emitted it: the analytics' look-ahead for steps. Measured by
               pushing a synthetic steady run (170 spm) through `RunnerAnalyzer` in live-sized chunks.
  2. page      wall time from the push of that chunk into the real `Pipeline` (analysis, BusSink, the
               bus) to the retraining page in real headless Chromium scheduling the new noise level on
               its AudioContext (`setTargetAtTime` at `currentTime`). Page and Python clocks are aligned
               by the round trip of `Date`-style reads (offset from the shortest of 20).
  3. output    the AudioContext's own `baseLatency + outputLatency` as the page reports it (headless
               Chromium has no sound card: a phone adds its own, typically 10-50 ms; Bluetooth
               earphones 150-250 ms).

Prints p50 / p99 / max in ms. The summary's `latency_s` (2.5 s) is the *window* look-ahead (windows are
emitted 2.5 s after their end); steps come out much sooner, after the detector's own look-ahead.

    .venv/bin/python -m benchmarks.bench_retrain_latency [--seconds 30] [--chunk-s 0.05] [--rate-hz 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import numpy as np

from strideguard.analytics.config import AnalyticsConfig
from strideguard.analytics.risk import Baseline, MetricBaseline
from strideguard.analytics.runner import RunnerAnalyzer
from strideguard.sensors.synthetic.config import SyntheticConfig
from strideguard.sensors.synthetic.generator import SyntheticRunner
from strideguard.sensors.synthetic.truth import SyntheticRun
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.runtime.pipeline import BusSink, Pipeline
from strideguard.stream.web import WebServer
from strideguard.stream.web.retrain_routes import RetrainProviders, add_retrain_routes

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
RUNNER = "bench"
CADENCE_SPM = 170.0
GOAL_STEPS = 4  # two strides
SEED = 8


def percentiles_ms(values_s: list[float]) -> tuple[float, float, float]:
    a = np.asarray(values_s) * 1000.0
    return float(np.percentile(a, 50)), float(np.percentile(a, 99)), float(a.max())


def synthetic_run(seconds: float, rate_hz: float) -> SyntheticRun:
    return SyntheticRunner(SyntheticConfig(cadence_spm=CADENCE_SPM, standing_s=2.0)).generate(
        seconds, rate_hz, seed=SEED, runner=RUNNER
    )


def detector_delays(run: SyntheticRun, chunk_s: float) -> tuple[list[float], list[float]]:
    """Data-time delay of each emitted step from its t_ns and from its initial contact."""
    analyzer = RunnerAnalyzer(runner=RUNNER)
    from_event, from_contact = [], []
    for batch in run.iter_batches(chunk_s):
        end_ns = int(batch.t_ns[-1])
        for s in analyzer.push(batch).steps:
            from_event.append((end_ns - s.t_ns) / 1e9)
            if s.contact_t_ns is not None:
                from_contact.append((end_ns - s.contact_t_ns) / 1e9)
    return from_event, from_contact


async def page_latency(run: SyntheticRun, chunk_s: float) -> tuple[list[float], float | None, int]:
    """Wall time from the push that emitted a step to the page scheduling its sound change."""
    from playwright.async_api import async_playwright

    bus = busmod.Bus()
    server = WebServer(bus, host="127.0.0.1", port=0)
    impact = float(np.median([s.impact_g for s in run.steps]))
    baseline = Baseline(
        metrics={
            "cadence": MetricBaseline(value=CADENCE_SPM, sd=2.0, n_windows=30),
            "impact": MetricBaseline(value=impact, sd=0.1, n_windows=30),
        }
    )
    add_retrain_routes(server.app, bus, RetrainProviders(baseline=lambda r: baseline))
    await server.start()
    pushed_at: dict[int, int] = {}  # step t_ns -> wall ns of the push that emitted it
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            await page.goto(server.url + f"runner/{RUNNER}/retrain")
            await page.wait_for_function("document.getElementById('conn').dataset.state === 'live'")
            await page.click("#start")  # armed: starts with the session the pipeline opens
            await page.wait_for_function("Retrain.state.taps.length === 1")
            offset_ms = await clock_offset_ms(page)
            pipeline = Pipeline(analyzer_factory=lambda r: RunnerAnalyzer(runner=r), sinks=[BusSink(bus)], team="b")
            t_next = time.perf_counter()
            for batch in run.iter_batches(chunk_s):
                t_next += chunk_s
                await asyncio.sleep(max(0.0, t_next - time.perf_counter()))  # real-time pace
                t0 = time.time_ns()
                out = await pipeline.push(batch)
                for s in out.steps:
                    pushed_at[s.t_ns] = t0
            await asyncio.sleep(1.0)
            levels = await page.evaluate("Retrain.state.levels.filter(l => l.stepTNs !== null)")
            output_s = await page.evaluate(
                "(() => { const c = Retrain.state.audio.ctx; return (c.baseLatency || 0) + (c.outputLatency || 0); })()"
            )
            await pipeline.finish()
            await pipeline.close()
            await browser.close()
    finally:
        await server.stop()
        bus.close()
    # the page holds t_ns as a JavaScript number (a double: 256-ns steps at today's epoch), so match each
    # recorded step to the nearest emitted one within 1 ms (steps are 350 ms apart)
    emitted = np.array(sorted(pushed_at), dtype=np.int64)
    delays = []
    for lv in levels:
        i = int(np.argmin(np.abs(emitted - int(lv["stepTNs"]))))
        if abs(int(emitted[i]) - int(lv["stepTNs"])) < 1_000_000:
            delays.append((lv["wallMs"] - offset_ms) / 1000.0 - pushed_at[int(emitted[i])] / 1e9)
    return delays, output_s, len(pushed_at) - len(delays)


async def clock_offset_ms(page) -> float:  # type: ignore[no-untyped-def]
    """Page clock minus Python clock (ms), from the read with the shortest round trip."""
    best: tuple[float, float] | None = None
    for _ in range(20):
        t0 = time.time_ns() / 1e6
        page_ms = await page.evaluate("performance.timeOrigin + performance.now()")
        t1 = time.time_ns() / 1e6
        if best is None or t1 - t0 < best[0]:
            best = (t1 - t0, page_ms - (t0 + t1) / 2)
    assert best is not None
    return best[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="synthetic run length (the page leg runs in real time)")
    ap.add_argument("--chunk-s", type=float, default=0.05, help="live chunk length (a BLE notification is 40-70 ms)")
    ap.add_argument("--rate-hz", type=float, default=100.0)
    args = ap.parse_args()
    run = synthetic_run(args.seconds, args.rate_hz)
    step_s = 60.0 / CADENCE_SPM
    cfg = AnalyticsConfig()
    rows: list[tuple[str, tuple[float, float, float], str]] = []
    ev, contact = detector_delays(run, args.chunk_s)
    rows.append(("1. detector: step t_ns -> emitted", percentiles_ms(ev), "data time"))
    rows.append(("1. detector: initial contact -> emitted", percentiles_ms(contact), "data time"))
    ev_1s, _ = detector_delays(run, 1.0)
    rows.append(("   (same, 1-s chunks as a replay)", percentiles_ms(ev_1s), "data time"))
    page, output_s, missing = asyncio.run(page_latency(run, args.chunk_s))
    rows.append(("2. push -> page schedules the sound", percentiles_ms(page), f"wall, {len(page)} steps"))
    total = [percentiles_ms(contact)[i] + percentiles_ms(page)[i] + 1000 * (output_s or 0.0) for i in range(3)]
    print(
        f"Retraining latency: synthetic run {args.seconds:g} s at {CADENCE_SPM:g} spm, {args.rate_hz:g} Hz, "
        f"chunks of {args.chunk_s:g} s, seed {SEED}"
    )
    print(f"{'leg':44} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  clock")
    for name, (p50, p99, mx), clock in rows:
        print(f"{name:44} {p50:8.1f} {p99:8.1f} {mx:8.1f}  {clock}")
    print(f"{'3. AudioContext base + output latency':44} {1000 * (output_s or 0):8.1f} {'':8} {'':8}  as reported")
    print(f"{'contact -> sound scheduled (1 + 2 + 3)':44} {total[0]:8.1f} {total[1]:8.1f} {total[2]:8.1f}")
    goal_ms = GOAL_STEPS * step_s * 1000
    print(
        f"goal: within two strides = {GOAL_STEPS} steps = {goal_ms:.0f} ms at {CADENCE_SPM:g} spm -> "
        f"{'met' if total[1] <= goal_ms else 'NOT met'} at p99"
    )
    print(
        f"for reference: the summary's latency_s {cfg.latency_s} s is the window look-ahead; the step "
        f"detector's is step_post_s {cfg.step_post_s} s after the band-pass peak, or one refractory "
        f"period (<= max_refractory_s {cfg.max_refractory_s} s) plus the gate delay; the 5-step moving "
        f"average then shows a change fully after 5 steps ({5 * step_s * 1000:.0f} ms), a fifth of it at once"
    )
    if missing:
        print(f"{missing} emitted steps reached no sound change on the page (dropped or after the end)")
    print(json.dumps({"detector_p50_ms": rows[0][1][0], "page_p50_ms": rows[3][1][0], "page_p99_ms": rows[3][1][1]}))


if __name__ == "__main__":
    main()
