"""The live run a runner and a coach can trust, in real headless Chromium (Debian's), phone-sized.

`navigator.vibrate` and `speechSynthesis` are replaced in the page by an init script that records every
call; the fake voice takes 400 ms per utterance and reports its end like a real one, so a page that cuts
a cue (cancel, or speaking over the last one) is seen. Before this work: a dropout left the page green
"live" with the last cadence and no sound; every utterance called speechSynthesis.cancel(); a second
alert replaced the first in the banner; nothing was shown when the run ended; the team page sorted a
finished runner on top by its last risk.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from strideguard.analytics.risk import RiskEngine, parse_risk_config
from strideguard.analytics.runner import RunnerAnalyzer
from strideguard.sensors.capture import CaptureEvent
from strideguard.sensors.synthetic import SyntheticConfig, SyntheticRunner
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.runtime.pipeline import BusSink, Pipeline
from strideguard.stream.web import WebServer

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
NS = 1_000_000_000
RECORD = """
window.__vibrations = [];
navigator.vibrate = function (pattern) { window.__vibrations.push(pattern); return true; };
window.__speech = { started: [], cancels: 0, overlaps: 0 };
(function () {
  let speaking = false;
  const fake = {
    speak: function (u) {
      if (speaking) window.__speech.overlaps += 1;
      speaking = true;
      const rec = { text: u.text, start: performance.now(), end: null };
      window.__speech.started.push(rec);
      setTimeout(function () {
        rec.end = performance.now();
        speaking = false;
        u.dispatchEvent(new Event("end"));
      }, 400);
    },
    cancel: function () { window.__speech.cancels += 1; },
    pause: function () {}, resume: function () {}, getVoices: function () { return []; },
  };
  Object.defineProperty(window, "speechSynthesis", { value: fake, configurable: true });
})();
"""


async def open_runner(browser, server: WebServer, name: str = "anna"):
    page = await browser.new_page(viewport=PHONE)
    await page.add_init_script(RECORD)
    await page.goto(server.url + "runner/" + name)
    await page.wait_for_function("document.getElementById('conn').dataset.state === 'live'", timeout=10_000)
    return page


def alert(metric: str, severity: str, t_ns: int, *, delivered: bool = True, kind: str = "onset", **kw) -> dict:
    return {
        "session_id": "s1",
        "runner": "anna",
        "t_ns": t_ns,
        "kind": kind,
        "metric": metric,
        "severity": severity,
        "value": 1.0,
        "baseline": 1.0,
        "deviation": 25.0,
        "deviation_unit": "%",
        "duration_s": 60.0,
        "message": kw.pop("message", f"{metric} {severity} message"),
        "cue": "shorter, quicker steps",
        "onset_t_ns": kw.pop("onset_t_ns", t_ns - 60 * NS),
        "delivered": delivered,
        **({"spoken": f"{metric} {severity} spoken.", "after_run": kw.pop("after_run", [])} if delivered else {}),
        **kw,
    }


def metrics(runner: str, t_end_ns: int, *, risk: float | None = None, cadence: float = 171.0, hr: int | None = 152):
    return {
        "session_id": "s1",
        "runner": runner,
        "t_start_ns": t_end_ns - 10 * NS,
        "t_end_ns": t_end_ns,
        "n_steps": 28,
        "running": True,
        "cadence_spm": cadence,
        "impact_g": 2.4,
        "sway_ml_ratio": 0.41,
        "lean_deg": 7.9,
        "heart_rate_bpm": hr,
        "risk_score": risk,
    }


def status(runner: str, **kw) -> dict:
    return {"session_id": "s1", "runner": runner, "state": "running", "sensor": "ok", "started_t_ns": 0, **kw}


async def test_a_dropout_is_shown_felt_and_spoken_then_the_sensor_comes_back(browser) -> None:
    """Through the real pipeline: the collector's link_lost -> status -> page within 5 s, and back."""
    risk = parse_risk_config("[risk]\nwarmup_s = 10\nbaseline_s = 30\nmin_baseline_windows = 4\n")
    run = SyntheticRunner(SyntheticConfig(cadence_spm=170.0)).generate(60.0, 25.0, seed=5, runner="anna", device="h10")
    batches = list(run.iter_batches(1.0))
    bus = busmod.Bus()
    pipeline = Pipeline(
        analyzer_factory=lambda r: RunnerAnalyzer(runner=r, risk=RiskEngine(risk)),
        sinks=[BusSink(bus)],
        team="t",
        source="test",
        silent_after_s=None,
    )
    async with WebServer(bus, host="127.0.0.1", port=0) as server:
        page = await open_runner(browser, server)
        for batch in batches[:40]:  # 20 s of acc + gyro
            await pipeline.push(batch)
        await page.wait_for_function("document.getElementById('cadence').textContent !== '–'", timeout=10_000)
        assert await page.is_hidden("#sensor")
        assert "Learning your baseline" in await page.text_content("#baseline")

        lost_at = time.monotonic()
        await pipeline.push(CaptureEvent(t_ns=0, kind="link_lost", fields={"runner": "anna", "device": "h10"}))
        await page.wait_for_function(
            "window.__speech.started.some(s => s.text === 'Sensor lost.')", timeout=5_000, polling=50
        )
        shown_s = time.monotonic() - lost_at
        assert shown_s < 5.0
        assert await page.get_attribute("#sensor", "data-kind") == "lost"
        assert (await page.text_content("#sensor")).startswith("Sensor lost")
        assert await page.text_content("#cadence") == "–"  # the last number is not left standing
        # a window from before the dropout, emitted late (the analyzer's look-ahead), is not shown either
        late = bus.last[busmod.topic("t", "anna", "metrics")]
        bus.publish(busmod.topic("t", "anna", "metrics"), late)
        await page.wait_for_timeout(500)
        assert await page.text_content("#cadence") == "–"
        assert await page.evaluate("window.__vibrations") == [[90, 90, 90, 90, 90, 90, 700]]

        await pipeline.push(CaptureEvent(t_ns=0, kind="link_restored", fields={"runner": "anna", "device": "h10"}))
        for batch in batches[80:]:  # the samples resume after a hole
            await pipeline.push(batch)
        await page.wait_for_function("document.getElementById('sensor').dataset.kind === 'back'", timeout=5_000)
        assert (await page.text_content("#sensor")).startswith("Sensor back after")
        await page.wait_for_function(
            "window.__speech.started.some(s => s.text === 'Sensor back.')", timeout=5_000, polling=50
        )
        assert await page.evaluate("window.__speech.cancels") == 0
        await pipeline.finish()
        await pipeline.close()
        await page.wait_for_selector("#summary:not([hidden])", timeout=5_000)
        assert "Sensor dropouts1" in (await page.text_content("#summary-list")).replace("\n", "")
        await page.close()


async def test_two_alerts_2_ms_apart_are_both_spoken_by_priority_and_the_most_severe_is_pinned(browser) -> None:
    bus = busmod.Bus()
    async with WebServer(bus, host="127.0.0.1", port=0) as server:
        bus.publish(busmod.topic("t", "anna", "status"), status("anna"))
        page = await open_runner(browser, server)
        t = busmod.topic("t", "anna", "alerts")
        bus.publish(t, alert("sway_ml", "warning", 300 * NS, after_run=["Core and glute work after the run."]))
        await asyncio.sleep(0.002)
        bus.publish(t, alert("fatigue", "alert", 301 * NS))
        await page.wait_for_function(
            "window.__speech.started.length === 2 && window.__speech.started[1].end", timeout=10_000
        )
        speech = await page.evaluate("window.__speech")
        assert [s["text"] for s in speech["started"]] == ["fatigue alert spoken.", "sway_ml warning spoken."]
        assert speech["cancels"] == 0 and speech["overlaps"] == 0
        assert speech["started"][1]["start"] >= speech["started"][0]["end"]  # the second waited for the first
        assert await page.get_attribute("#banner", "data-severity") == "alert"
        assert await page.get_attribute("#banner", "data-metric") == "fatigue"
        listed = await page.eval_on_selector_all("#alerts-more li", "lis => lis.map(l => l.dataset.metric)")
        assert listed == ["sway_ml"]
        assert await page.evaluate("window.__vibrations.length") == 2

        # an info note is listed, not felt or spoken; a warning later does not unpin the alert
        bus.publish(t, alert("cadence", "info", 310 * NS))
        bus.publish(t, alert("lean", "warning", 320 * NS))
        await page.wait_for_function("document.querySelectorAll('#alerts-more li').length === 3", timeout=5_000)
        assert await page.get_attribute("#banner", "data-metric") == "fatigue"
        assert await page.evaluate("window.__vibrations.length") == 3
        await asyncio.sleep(1.0)
        spoken = await page.evaluate("window.__speech.started.map(s => s.text)")
        assert "cadence info spoken." not in spoken and "lean warning spoken." in spoken

        # an onset the rate limit held back (a raw event with no delivered twin) is counted and shown
        bus.publish(t, alert("impact", "warning", 330 * NS, delivered=False, message="Impact 20 % above"))
        await page.wait_for_selector("#held-back:not([hidden])", timeout=6_000)
        assert (await page.text_content("#held-back")).startswith("1 alert held back")

        # the most severe clears: the next one is pinned
        bus.publish(t, alert("fatigue", "alert", 340 * NS, kind="cleared", onset_t_ns=301 * NS - 60 * NS))
        await page.wait_for_function("document.getElementById('banner').dataset.metric !== 'fatigue'", timeout=5_000)
        assert await page.get_attribute("#banner", "data-severity") == "warning"

        bus.publish(
            busmod.topic("t", "anna", "status"),
            status(
                "anna",
                state="finished",
                summary={
                    "duration_s": 1930.0,
                    "n_steps": 5400,
                    "cadence_spm": 168.2,
                    "risk": {
                        "score_mean": 22.4,
                        "score_max": 61.0,
                        "events": {"fatigue:onset": 1, "sway_ml:onset": 1},
                        "warmup": {"judged": True, "hard_start": True, "against": "previous session"},
                    },
                },
            ),
        )
        await page.wait_for_selector("#summary:not([hidden])", timeout=5_000)
        text = (await page.text_content("#summary")).replace("\n", " ")
        for part in ("32:10", "5400", "168 steps/min", "22 / 61 of 100", "Core and glute work after the run."):
            assert part in text, (part, text)
        assert "Start" in text and "hard: at working pace from the first minutes" in text  # the warm-up check
        assert "1 held back" in text
        assert await page.get_attribute("#sensor", "data-kind") == "finished"
        await server.stop()  # the run is over and the server goes: the page says so, not "reconnecting"
        await page.wait_for_function("document.getElementById('conn').textContent === 'run over'", timeout=10_000)
        await page.close()


async def test_baseline_countdown_heart_rate_and_elapsed_time(browser) -> None:
    bus = busmod.Bus()
    async with WebServer(bus, host="127.0.0.1", port=0) as server:
        bus.publish(busmod.topic("t", "anna", "status"), status("anna", baseline_ready_t_ns=300 * NS))
        page = await open_runner(browser, server)
        bus.publish(busmod.topic("t", "anna", "metrics"), metrics("anna", 100 * NS))
        await page.wait_for_function("document.getElementById('heart-rate').textContent === '152'", timeout=5_000)
        assert await page.text_content("#baseline") == "Learning your baseline, 4 min left"
        assert await page.text_content("#elapsed") == "01:40"
        bus.publish(busmod.topic("t", "anna", "metrics"), metrics("anna", 310 * NS, risk=14.0))
        await page.wait_for_function("document.getElementById('baseline').hidden", timeout=5_000)
        await page.close()


async def test_team_page_ranks_by_alert_then_risk_then_name_and_sinks_stale_and_finished(browser) -> None:
    bus = busmod.Bus()
    async with WebServer(bus, host="127.0.0.1", port=0) as server:
        for runner, risk in (
            ("anna", 12.0),
            ("ben", 64.0),
            ("cara", 30.0),
            ("dan", 90.0),
            ("eve", 70.0),
            ("fay", 64.0),
        ):
            bus.publish(busmod.topic("t", runner, "status"), status(runner))
            bus.publish(busmod.topic("t", runner, "metrics"), metrics(runner, 100 * NS, risk=risk))
        a = alert("cadence", "alert", 200 * NS)
        bus.publish(busmod.topic("t", "anna", "alerts"), {**a, "delivered": False})  # raw events rank too
        bus.publish(busmod.topic("t", "cara", "alerts"), {**alert("sway_ml", "warning", 200 * NS), "runner": "cara"})
        bus.publish(busmod.topic("t", "dan", "status"), status("dan", state="finished", summary={}))
        bus.publish(busmod.topic("t", "eve", "status"), status("eve", sensor="lost"))
        page = await browser.new_page(viewport=PHONE)
        await page.goto(server.url)
        await page.wait_for_function("document.querySelectorAll('#runners tbody tr').length === 6", timeout=10_000)

        async def order() -> list[str]:
            return await page.eval_on_selector_all("#runners tbody tr", "rows => rows.map(r => r.dataset.runner)")

        await page.wait_for_function(
            "document.querySelector('#runners tbody tr:last-child').dataset.runner === 'dan'", timeout=5_000
        )
        assert await order() == ["anna", "cara", "ben", "fay", "eve", "dan"]
        assert await page.get_attribute("tr[data-runner=eve]", "data-state") == "stale"
        assert await page.get_attribute("tr[data-runner=dan]", "data-state") == "finished"
        headers = await page.eval_on_selector_all("#runners th", "ths => ths.map(t => t.textContent)")
        assert "risk /100" in headers and "cadence spm" in headers and "HR bpm" in headers
        # on a phone the table fits the screen (no sideways scrolling)
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

        # anna's alert clears: she drops to her risk's place; eve's sensor comes back: she rises
        bus.publish(busmod.topic("t", "anna", "alerts"), {**a, "kind": "cleared", "delivered": False})
        bus.publish(busmod.topic("t", "eve", "status"), status("eve", sensor="ok", gap_s=25.0))
        await page.wait_for_function(
            "document.querySelector('#runners tbody tr').dataset.runner === 'cara'", timeout=5_000
        )
        assert await order() == ["cara", "eve", "ben", "fay", "anna", "dan"]
        await page.close()
