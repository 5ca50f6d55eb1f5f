"""Speed from the phone in real headless Chromium (Debian's), driven by Playwright with a mocked position
(`context.set_geolocation`, moved every half second as a runner at 3.2 m/s would move) and the location
permission granted: the runner taps "share speed", the page derives the speed from the fixes (a mocked
position has no `coords.speed`), posts it, the pipeline puts it into the live session, the windows carry
`speed_mps`, the cadence floor is judged, and the page shows pace and distance.

And the honest failures: on a plain http:// network address the browser gives no location at all (not a
secure context): the page says so instead of pretending; a refused permission is said too.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from strideguard.sensors.synthetic import SyntheticConfig, SyntheticRunner
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.runtime.pipeline import BusSink, Pipeline
from strideguard.stream.web import WebServer
from tests.stream.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.stream.snooze_helpers import analyzer

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
SPEED_MPS = 3.2
M_PER_DEG_LAT = 111_195.0  # metres per degree of latitude on the mean sphere
START = {"latitude": 52.0, "longitude": 4.0, "accuracy": 5.0}
SEED = 11
RUN_S = 45.0
RECORD_STATUS = """window.speedTexts = [];
const status = document.getElementById('speed-status');
new MutationObserver(function () { speedTexts.push(status.textContent); })
  .observe(status, {childList: true, characterData: true, subtree: true});"""


@pytest.mark.slow
async def test_the_phones_gps_speed_reaches_the_windows_and_the_floor_is_judged(browser) -> None:
    bus = busmod.Bus()
    pipeline = Pipeline(analyzer_factory=analyzer, sinks=[BusSink(bus)], team="t", source="live", keep_outputs=True)
    print(f"synthetic seed {SEED}")
    start_ns = time.time_ns()
    run = SyntheticRunner(SyntheticConfig(cadence_spm=156.0, standing_s=2.0)).generate(
        RUN_S, 25, seed=SEED, runner="anna", start_t_ns=start_ns
    )
    batches = list(run.iter_batches(0.5))
    async with WebServer(bus, host="127.0.0.1", port=0) as server:
        context = await browser.new_context(viewport=PHONE, geolocation=START, permissions=["geolocation"])
        page = await context.new_page()
        await page.goto(server.url + "runner/anna")
        await page.wait_for_function("document.getElementById('conn').dataset.state === 'live'", timeout=10_000)
        assert await page.evaluate("StrideGuard.state.speed.sharing") == "off"
        assert await page.is_hidden("#pace")  # no speed source yet: no pace

        async def live_feed() -> None:
            """The batches at the wall time they cover: a live run's data time is the wall clock."""
            for batch in batches:
                wait_s = (int(batch.t_ns[-1]) - time.time_ns()) / 1e9
                if wait_s > 0:
                    await asyncio.sleep(wait_s)
                await pipeline.push(batch)

        feeding = asyncio.create_task(live_feed())
        await page.wait_for_function(
            "StrideGuard.state.dataTNs !== null || document.body.dataset.sensor", timeout=10_000
        )
        await page.click("#share-speed")
        moved_from_s = time.monotonic()  # the mocked runner moves at SPEED_MPS of wall time, however slow the loop
        statuses = set()
        shot = False
        while not feeding.done():
            await asyncio.sleep(0.5)
            lat = START["latitude"] + SPEED_MPS * (time.monotonic() - moved_from_s) / M_PER_DEG_LAT
            await context.set_geolocation({**START, "latitude": lat})
            statuses.add(await page.text_content("#speed-status"))
            if time.time_ns() - start_ns > (RUN_S - 3) * 1e9 and not shot:
                await page.screenshot(path="/tmp/h11_speed_phone.png")
                shot = True
        await feeding
        print("speed statuses seen", sorted(statuses))
        assert any(s.startswith("Sharing speed: 1") and s.endswith(" km/h") for s in statuses)  # 11.5 km/h
        sent = await page.evaluate("StrideGuard.state.speed.sent")
        assert sent >= 20, await page.text_content("#speed-status")
        await page.wait_for_function("document.getElementById('pace').textContent !== '–'", timeout=10_000)
        pace, distance = await page.text_content("#pace"), await page.text_content("#distance")
        summary = await pipeline.finish()
        await pipeline.close()
        await context.close()

    windows = [w for w in pipeline.outputs("anna").windows if w.running and w.speed_mps is not None]
    speeds = [w.speed_mps for w in windows]
    print("window speeds", [round(v, 2) for v in speeds], "pace", pace, "distance", distance)
    assert len(windows) >= 4 and all(abs(v - SPEED_MPS) < 0.4 for v in speeds)
    floor = summary["anna"].risk["cadence_floor_windows"]
    assert floor["judged"] > 0, floor
    assert pipeline.phone_speeds["used"] >= 20 and pipeline.phone_speeds["refused"] == 0
    minutes, seconds = map(int, pace.split(":"))
    assert abs((minutes * 60 + seconds) - 1000 / SPEED_MPS) < 40  # 5:13 min/km at 3.2 m/s
    assert 0.0 < float(distance) < SPEED_MPS * RUN_S / 1000 + 0.05


async def test_a_refused_location_permission_is_said(browser) -> None:
    bus = busmod.Bus()
    async with WebServer(bus, host="127.0.0.1", port=0) as server:
        context = await browser.new_context(viewport=PHONE)  # no permission granted: headless denies
        page = await context.new_page()
        await page.goto(server.url + "runner/anna")
        await page.click("#share-speed")
        await page.wait_for_function("StrideGuard.state.speed.sharing === 'denied'", timeout=10_000)
        assert (await page.text_content("#speed-status")).startswith("Location permission refused")
        await context.close()


async def test_on_a_plain_http_network_address_the_page_says_location_is_refused() -> None:
    """`phone.lan` resolves to 127.0.0.1 inside this browser only (no traffic leaves the machine), but to
    Chromium it is a network name over http://: not a secure context, so no geolocation."""
    from playwright.async_api import async_playwright

    bus = busmod.Bus()
    async with WebServer(bus, host="127.0.0.1", port=0, extra_hosts=["phone.lan"]) as server, async_playwright() as pw:
        b = await pw.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP phone.lan 127.0.0.1"]
        )
        context = await b.new_context(viewport=PHONE, geolocation=START, permissions=["geolocation"])
        page = await context.new_page()
        await page.goto(f"http://phone.lan:{server.port}/runner/anna")
        assert await page.evaluate("window.isSecureContext") is False
        assert await page.evaluate("StrideGuard.state.speed.sharing") == "insecure"
        assert await page.is_disabled("#share-speed")
        text = await page.text_content("#speed-status")
        assert "secure pages" in text and f"http://phone.lan:{server.port}" in text
        await page.screenshot(path="/tmp/h11_speed_insecure.png")
        await b.close()


async def test_during_a_replay_the_page_says_the_phones_speed_is_not_used(browser) -> None:
    """A replay runs on its recording's time (here 2026-01-01): the speed measured now is refused by the
    engine's edge, and the page shows why instead of "sharing"."""
    bus = busmod.Bus()
    pipeline = Pipeline(analyzer_factory=analyzer, sinks=[BusSink(bus)], team="t", source="replay")
    run = SyntheticRunner(SyntheticConfig(cadence_spm=170.0)).generate(
        60.0, 25, seed=SEED, runner="anna", start_t_ns=1_767_225_600 * 10**9
    )
    batches = list(run.iter_batches(1.0))
    async with WebServer(bus, host="127.0.0.1", port=0) as server:
        context = await browser.new_context(viewport=PHONE, geolocation=START, permissions=["geolocation"])
        page = await context.new_page()
        await page.goto(server.url + "runner/anna")
        await page.wait_for_function("document.getElementById('conn').dataset.state === 'live'", timeout=10_000)
        await pipeline.push(batches[0])
        await page.click("#share-speed")
        moved_from_s = time.monotonic()
        for batch in batches[1:]:
            await asyncio.sleep(0.25)
            lat = START["latitude"] + SPEED_MPS * (time.monotonic() - moved_from_s) / M_PER_DEG_LAT
            await context.set_geolocation({**START, "latitude": lat})
            await pipeline.push(batch)
            if await page.evaluate("StrideGuard.state.speed.refused.length") > 0:
                break
        await page.wait_for_function(
            "document.getElementById('speed-status').textContent.startsWith('Speed not used')", timeout=10_000
        )
        refused = "Speed not used: phone speeds away from the session's data time (a replay is not on the wall clock)"
        assert await page.text_content("#speed-status") == refused
        sent = await page.evaluate("StrideGuard.state.speed.sent")
        await page.evaluate(RECORD_STATUS)  # every text the status shows from now on
        for batch in batches[-8:]:  # more speeds taken by the server: the page still says they are not used
            await asyncio.sleep(0.5)
            lat = START["latitude"] + SPEED_MPS * (time.monotonic() - moved_from_s) / M_PER_DEG_LAT
            await context.set_geolocation({**START, "latitude": lat})
            await pipeline.push(batch)
        assert await page.evaluate("StrideGuard.state.speed.sent") > sent
        shown = await page.evaluate("window.speedTexts")
        assert shown and set(shown) == {refused}, shown  # never "Sharing speed" while the session refuses
        await page.screenshot(path="/tmp/h11_speed_replay.png")
        await pipeline.finish()
        await pipeline.close()
        await context.close()
    assert pipeline.phone_speeds["used"] == 0 and pipeline.phone_speeds["refused"] >= 1
