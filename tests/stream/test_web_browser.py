"""The runner and team pages in real headless Chromium (Debian's), driven by Playwright.

Checked inside the page: live numbers appear, an alert shows the banner and calls navigator.vibrate
(wrapped by an init script that records the calls), and the page recovers by itself after the server
is stopped and started again on the same port.
"""

from __future__ import annotations

import asyncio

import pytest

from strideguard.analytics.risk import RiskEngine, parse_risk_config
from strideguard.analytics.runner import RunnerAnalyzer
from strideguard.sensors.synthetic.config import Change
from strideguard.sensors.synthetic.presets import fatigue_run
from strideguard.stream.alerts import AlertDispatcher, PageChannel
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.runtime.pipeline import BusSink, Pipeline
from strideguard.stream.web import WebServer

pytestmark = pytest.mark.browser

RECORD_VIBRATE = """
window.__vibrations = [];
navigator.vibrate = function (pattern) { window.__vibrations.push(pattern); return true; };
"""


def metrics(runner: str, cadence_spm: float, risk: float | None) -> dict:
    return {
        "session_id": "s1",
        "runner": runner,
        "t_start_ns": 0,
        "t_end_ns": 10,
        "n_steps": 28,
        "running": True,
        "cadence_spm": cadence_spm,
        "impact_g": 2.43,
        "sway_ml_ratio": 0.41,
        "lean_deg": 7.9,
        "risk_score": risk,
    }


ALERT = {
    "session_id": "s1",
    "runner": "anna",
    "t_ns": 100,
    "kind": "onset",
    "metric": "cadence",
    "severity": "warning",
    "value": 160.0,
    "baseline": 171.0,
    "deviation": -6.4,
    "deviation_unit": "%",
    "duration_s": 60.0,
    "message": "Cadence 6 % below your baseline for 1 min",
    "cue": "shorter, quicker steps",
    "onset_t_ns": 40,
    "delivered": True,
}


@pytest.mark.slow
async def test_runner_page_numbers_banner_vibration_and_recovery(browser) -> None:
    bus = busmod.Bus()
    server = WebServer(bus, host="127.0.0.1", port=0)
    await server.start()
    page = await browser.new_page()
    await page.add_init_script(RECORD_VIBRATE)
    try:
        await page.goto(server.url + "runner/anna")
        await page.wait_for_function("document.getElementById('conn').dataset.state === 'live'", timeout=10_000)
        bus.publish(busmod.topic("t", "anna", "metrics"), metrics("anna", 171.4, 12.0))
        bus.publish(busmod.topic("t", "ben", "metrics"), metrics("ben", 150.0, 80.0))
        await page.wait_for_function("document.getElementById('cadence').textContent === '171'", timeout=10_000)
        assert await page.text_content("#impact") == "2.4"
        assert await page.text_content("#risk") == "12"
        assert await page.is_hidden("#banner")
        assert await page.evaluate("window.__vibrations.length") == 0

        bus.publish(busmod.topic("t", "anna", "alerts"), ALERT)
        await page.wait_for_selector("#banner:not([hidden])", timeout=10_000)
        assert await page.text_content("#banner-message") == ALERT["message"]
        assert await page.text_content("#banner-cue") == ALERT["cue"]
        assert await page.evaluate("window.__vibrations") == [[300, 120, 300]]
        assert await page.evaluate("StrideGuard.state.spoken") == [
            "Cadence 6 % below your baseline for 1 min. shorter, quicker steps"
        ]

        # the server goes away and comes back on the same port: the page reconnects by itself
        port = server.port
        await server.stop()
        await page.wait_for_function("document.getElementById('conn').dataset.state === 'reconnecting'", timeout=10_000)
        server = WebServer(bus, host="127.0.0.1", port=port)
        await server.start()
        await page.wait_for_function("document.getElementById('conn').dataset.state === 'live'", timeout=15_000)
        bus.publish(busmod.topic("t", "anna", "metrics"), metrics("anna", 165.0, 40.0))
        await page.wait_for_function("document.getElementById('cadence').textContent === '165'", timeout=10_000)
        # the alert replayed to the reconnected page is not felt twice
        assert await page.evaluate("window.__vibrations.length") == 1
        raw = {**ALERT, "metric": "sway_ml", "t_ns": 150, "delivered": False}  # a risk event the dispatcher held back
        bus.publish(busmod.topic("t", "anna", "alerts"), raw)
        alert2 = {**ALERT, "severity": "alert", "t_ns": 200}
        bus.publish(busmod.topic("t", "anna", "alerts"), alert2)
        await page.wait_for_function("window.__vibrations.length === 2", timeout=10_000)
        assert await page.get_attribute("#banner", "data-severity") == "alert"
        assert await page.get_attribute("#banner", "data-metric") == "cadence"  # the held-back one was not shown
    finally:
        await page.close()
        await server.stop()


async def test_team_page_lists_runners_by_risk(browser) -> None:
    bus = busmod.Bus()
    async with WebServer(bus, host="127.0.0.1", port=0) as server:
        for runner, risk in (("anna", 12.0), ("ben", 64.0), ("cara", 30.0)):
            bus.publish(busmod.topic("t", runner, "metrics"), metrics(runner, 170.0, risk))
        page = await browser.new_page()
        await page.goto(server.url)
        await page.wait_for_function("document.querySelectorAll('#runners tbody tr').length === 3", timeout=10_000)
        order = await page.eval_on_selector_all("#runners tbody tr", "rows => rows.map(r => r.dataset.runner)")
        assert order == ["ben", "cara", "anna"]
        bus.publish(busmod.topic("t", "anna", "metrics"), metrics("anna", 160.0, 90.0))
        await page.wait_for_function(
            "document.querySelector('#runners tbody tr').dataset.runner === 'anna'", timeout=10_000
        )
        assert await page.get_attribute("#runners tbody tr >> nth=0", "data-level") == "alert"
        await page.close()


@pytest.mark.slow
async def test_runner_page_follows_a_replayed_run_through_the_pipeline(browser) -> None:
    """A synthetic run replayed through the real pipeline (analyzer, risk engine, bus, alert dispatcher):
    the page shows the live cadence, then the banner and one vibration per alert when the step change at
    80 s is confirmed (risk settings shortened so the run takes seconds)."""
    risk = parse_risk_config("""
[risk]
warmup_s = 10
baseline_s = 40
min_baseline_windows = 4
[risk.metrics.cadence]
sustain_s = 15
[risk.fatigue]
enabled = false
""")
    run = fatigue_run(
        duration_s=130, rate_hz=25, seed=3, runner="anna", changes=(Change(at_s=80, ramp_s=0, cadence_pct=-10.0),)
    )
    bus = busmod.Bus()
    pipeline = Pipeline(
        analyzer_factory=lambda r: RunnerAnalyzer(runner=r, risk=RiskEngine(risk)),
        sinks=[AlertDispatcher([PageChannel(bus)]), BusSink(bus)],
        team="t",
        source="synthetic",
    )
    async with WebServer(bus, host="127.0.0.1", port=0) as server:
        page = await browser.new_page()
        await page.add_init_script(RECORD_VIBRATE)
        await page.goto(server.url + "runner/anna")
        await page.wait_for_function("document.getElementById('conn').dataset.state === 'live'", timeout=10_000)
        for batch in run.iter_batches(1.0):
            await pipeline.push(batch)
            await asyncio.sleep(0.005)
        await pipeline.finish()
        await pipeline.close()
        await page.wait_for_selector("#banner:not([hidden])", timeout=10_000)
        assert (await page.text_content("#banner-message")).startswith("Cadence 1")
        assert await page.get_attribute("#banner", "data-metric") == "cadence"
        shown = int(await page.text_content("#cadence"))
        assert 145 <= shown <= 160  # the last window: 170 spm - 10 %
        assert await page.evaluate("window.__vibrations.length") == 1  # published twice, felt once
        await page.close()
