"""Snooze from the runner page in real headless Chromium (Debian's), driven by Playwright: the runner taps
"snooze" during a replayed run, the server publishes a control message, the pipeline snoozes the risk
engine on data time, the page shows what is snoozed and how long is left (run time), and alerts for
that metric stay away until the snooze ends while the others still fire."""

from __future__ import annotations

import asyncio

import pytest

from strideguard.stream.alerts import AlertDispatcher, PageChannel
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.runtime.pipeline import BusSink, Pipeline
from strideguard.stream.web import WebServer
from tests.stream.snooze_helpers import NS, RUNNER, analyzer, onsets_s, snooze_run
from tests.stream.test_web_browser import RECORD_VIBRATE

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
T_NS = 1_767_250_800_000_000_000


@pytest.mark.slow
async def test_snooze_buttons_are_big_at_the_bottom_and_show_the_answer_on_data_time(browser) -> None:
    bus = busmod.Bus()
    async with WebServer(bus, host="127.0.0.1", port=0) as server:
        page = await browser.new_page(viewport=PHONE)
        await page.goto(server.url + "runner/anna")
        await page.wait_for_function("document.getElementById('conn').dataset.state === 'live'", timeout=10_000)
        box = await page.locator("#snooze-all").bounding_box()
        assert box["height"] >= 64 and box["width"] >= 0.9 * PHONE["width"]
        assert PHONE["height"] - 40 <= box["y"] + box["height"] <= PHONE["height"]  # at the bottom, in view
        assert await page.text_content("#snooze-all") == "Snooze 10 min"

        # no live session yet: the page says why
        await page.click("#snooze-all")
        await page.wait_for_function(
            "document.getElementById('snooze-status').textContent.includes('failed')", timeout=10_000
        )
        assert await page.text_content("#snooze-status") == "Snooze failed: no live session for runner 'anna'"

        bus.publish(busmod.topic("t", "anna", "status"), {"runner": "anna", "state": "running"})
        control = bus.subscribe(f"{busmod.TOPIC_ROOT}/+/+/control")
        await page.click("#snooze-all")
        await page.wait_for_function("StrideGuard.state.snoozeRequests.length === 2", timeout=10_000)
        topic_name, message = await asyncio.wait_for(control.get(), 5)
        assert topic_name == busmod.topic("t", "anna", "control")
        assert (message["action"], message["metric"], message["minutes"]) == ("snooze", None, 10.0)

        # the pipeline's answer (data time), then windows further on: the page counts down in data time
        bus.publish(
            busmod.topic("t", "anna", "control"),
            {
                "action": "snoozed",
                "runner": "anna",
                "metric": None,
                "minutes": 10.0,
                "request_id": 1,
                "from_t_ns": T_NS,
                "until_t_ns": T_NS + 600 * NS,
            },
        )
        await page.wait_for_function(
            "document.getElementById('snooze-status').textContent === 'Snoozed all alerts: 10 min left'", timeout=10_000
        )
        for at_s, text in ((299, "Snoozed all alerts: 6 min left"), (601, "")):
            bus.publish(
                busmod.topic("t", "anna", "metrics"),
                {
                    "runner": "anna",
                    "t_start_ns": T_NS + (at_s - 10) * NS,
                    "t_end_ns": T_NS + at_s * NS,
                    "running": True,
                    "cadence_spm": 170.0,
                    "risk_score": 3.0,
                },
            )
            await page.wait_for_function(
                f"document.getElementById('snooze-status').textContent === {text!r}", timeout=10_000
            )
        await page.close()


def alerting_pipeline() -> tuple[busmod.Bus, Pipeline]:
    """A bus and a pipeline whose alerts go to the runner page's channel and whose outputs go on the bus."""
    bus = busmod.Bus()
    return bus, Pipeline(
        analyzer_factory=analyzer,
        sinks=[AlertDispatcher([PageChannel(bus)]), BusSink(bus)],
        team="t",
        source="synthetic",
        keep_outputs=True,
    )


@pytest.mark.slow
async def test_snooze_this_metric_on_the_banner_during_a_replayed_run(browser) -> None:
    """Cadence drops at 60, 150 and 700 s, lean rises at 150 s. The runner taps "Snooze cadence 10 min"
    on the first cadence banner: the 150-s cadence drop stays silent, the lean alert still comes, and
    the 700-s drop alerts again once the 10 minutes of run time are over."""
    run = snooze_run(last_drop_s=700.0, duration_s=780.0)
    t0 = run.start_t_ns
    bus, pipeline = alerting_pipeline()
    async with WebServer(bus, host="127.0.0.1", port=0) as server:
        page = await browser.new_page(viewport=PHONE)
        await page.add_init_script(RECORD_VIBRATE)
        await page.goto(server.url + "runner/" + RUNNER)
        await page.wait_for_function("document.getElementById('conn').dataset.state === 'live'", timeout=10_000)
        tapped = False
        for batch in run.iter_batches(1.0):
            await pipeline.push(batch)
            if not tapped and any(e.metric == "cadence" for e in pipeline.outputs(RUNNER).risk_events):
                await page.wait_for_selector("#snooze-metric:not([hidden])", timeout=10_000)
                assert await page.text_content("#snooze-metric") == "Snooze cadence 10 min"
                await page.click("#snooze-metric")
                await page.wait_for_function("StrideGuard.state.snoozeRequests.length === 1", timeout=10_000)
                assert await page.evaluate("StrideGuard.state.snoozeRequests[0].status") == 202
                tapped = True
            await asyncio.sleep(0)
        await pipeline.finish()
        assert tapped
        (reply,) = pipeline.control_replies
        assert (reply["action"], reply["metric"]) == ("snoozed", "cadence")
        until_s = (reply["until_t_ns"] - t0) / NS
        assert 70 < (reply["from_t_ns"] - t0) / NS < 90 and until_s == pytest.approx(
            (reply["from_t_ns"] - t0) / NS + 600
        )

        onsets = onsets_s(list(pipeline.outputs(RUNNER).risk_events), t0)
        assert [m for m, _ in onsets] == ["cadence", "lean", "cadence"]
        assert onsets[0][1] < 80 and 150 < onsets[1][1] <= 170 and until_s < onsets[2][1] <= 720

        # the page felt exactly those three alerts, and the snooze is over on data time
        await page.wait_for_function(
            "StrideGuard.state.alerts.filter(a => a.kind === 'onset').length === 3", timeout=10_000
        )
        felt = await page.evaluate("StrideGuard.state.alerts.filter(a => a.kind === 'onset').map(a => a.metric)")
        assert felt == ["cadence", "lean", "cadence"]
        assert await page.evaluate("window.__vibrations.length") == 3
        assert await page.get_attribute(".snooze-bar", "data-active") == "no"
        await pipeline.close()
        await page.close()


@pytest.mark.slow
async def test_the_same_tap_at_60x_gives_the_same_alerts(browser) -> None:
    """Data time, not wall clock: the run paced at 60x real time (13 s) with the tap at 85 s of data time
    gives the alerts of the as-fast-as-possible replay above (a wall-clock snooze of 10 min would hold the
    last cadence drop too)."""
    run = snooze_run(last_drop_s=700.0, duration_s=780.0)
    t0 = run.start_t_ns
    bus, pipeline = alerting_pipeline()
    async with WebServer(bus, host="127.0.0.1", port=0) as server:
        page = await browser.new_page(viewport=PHONE)
        await page.goto(server.url + "runner/" + RUNNER)
        await page.wait_for_function("document.getElementById('conn').dataset.state === 'live'", timeout=10_000)
        loop = asyncio.get_running_loop()
        start = loop.time()
        tapped = False
        for batch in run.iter_batches(1.0):
            due = start + (int(batch.t_ns[0]) - t0) / NS / 60.0
            await asyncio.sleep(max(0.0, due - loop.time()))
            await pipeline.push(batch)
            if not tapped and (int(batch.t_ns[-1]) - t0) / NS >= 85:
                await page.click("#snooze-metric")  # the cadence banner is up by now (onset by 80 s)
                tapped = True
        await pipeline.finish()
        await pipeline.close()
        (reply,) = pipeline.control_replies
        assert reply["until_t_ns"] - reply["from_t_ns"] == 600 * NS
        assert 85 <= (reply["from_t_ns"] - t0) / NS <= 95  # applied with the next batch after the POST lands
        onsets = onsets_s(list(pipeline.outputs(RUNNER).risk_events), t0)
        assert [m for m, _ in onsets] == ["cadence", "lean", "cadence"]
        assert onsets[2][1] > (reply["until_t_ns"] - t0) / NS
        await page.close()
