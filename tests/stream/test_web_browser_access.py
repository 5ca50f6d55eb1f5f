"""The pages' access model and reachability in real headless Chromium (Debian's), driven by Playwright:
the printed address with its key opens the runner page on a phone-sized screen, its feed and snooze work
through the cookie the key became; a DNS-rebinding name and another site's snooze are refused; a
mistyped runner name says so at once. Screenshots (looked at) go to /tmp/h3_*.png."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from strideguard.stream.runtime import bus as busmod
from strideguard.stream.web import WebServer
from strideguard.stream.web.reach import lan_addresses
from tests.stream.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.stream.test_web_browser import metrics

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 800}
LIVE = "document.getElementById('conn').dataset.state === 'live'"


def running(bus: busmod.Bus, runner: str) -> None:
    bus.publish(busmod.topic("club", runner, "status"), {"runner": runner, "state": "running"})


async def test_the_printed_address_opens_the_page_and_its_feed_and_snooze_work(browser) -> None:
    assert lan_addresses(), "this test needs a LAN address"
    bus = busmod.Bus()
    async with WebServer(bus, host="0.0.0.0", port=0) as server:
        running(bus, "anna")
        running(bus, "ben")
        control = bus.subscribe(f"{busmod.TOPIC_ROOT}/+/+/control")
        phone = await browser.new_context(viewport=PHONE)
        page = await phone.new_page()
        response = await page.goto(server.runner_url("anna"))  # exactly what the terminal and QR give
        assert response is not None and response.status == 200
        await page.wait_for_function(LIVE, timeout=10_000)
        bus.publish(busmod.topic("club", "anna", "metrics"), metrics("anna", 171.4, 12.0))
        await page.wait_for_function("document.getElementById('cadence').textContent === '171'", timeout=10_000)
        assert await page.evaluate("document.cookie") == ""  # HttpOnly: no script on the page sees the key
        await page.click("#snooze-all")
        await page.wait_for_function("StrideGuard.state.snoozeRequests.length === 1", timeout=10_000)
        assert await page.evaluate("StrideGuard.state.snoozeRequests[0].status") == 202
        topic_name, message = await asyncio.wait_for(control.get(), 5)
        assert (topic_name, message["action"]) == (busmod.topic("club", "anna", "control"), "snooze")
        await page.screenshot(path="/tmp/h3_runner.png")

        # the team page, opened without the key on a laptop: the cookie carries it; a QR per page
        desk = await phone.new_page()
        await desk.set_viewport_size(DESK)
        await desk.goto(server.url)
        await desk.wait_for_function(LIVE, timeout=10_000)
        await desk.wait_for_selector("#phone:not([hidden])", timeout=10_000)
        assert "team page" in await desk.text_content("#qr-caption")
        await desk.click("tr[data-runner='anna'] .qr-button")
        await desk.wait_for_function(
            "document.getElementById('qr-caption').textContent.includes('anna')", timeout=10_000
        )
        await desk.wait_for_function("document.getElementById('qr').complete", timeout=10_000)
        await desk.screenshot(path="/tmp/h3_team.png")

        # another phone without the key: one line saying where the key comes from
        stranger = await browser.new_context(viewport=PHONE)
        other = await stranger.new_page()
        response = await other.goto(server.url + "runner/anna")
        assert response is not None and response.status == 403
        assert "key" in await other.text_content("body")
        await stranger.close()
        await phone.close()
        assert control.get_nowait() is None  # nothing but the one snooze


async def test_a_dns_rebinding_name_is_refused_in_a_real_browser() -> None:
    from playwright.async_api import async_playwright

    bus = busmod.Bus()
    async with WebServer(bus, host="127.0.0.1", port=0) as server, async_playwright() as pw:
        running(bus, "anna")
        # evil.example resolves to this machine, as a rebinding DNS server would make it
        b = await pw.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP evil.example 127.0.0.1"]
        )
        try:
            page = await b.new_page()
            response = await page.goto(f"http://evil.example:{server.port}/runner/anna")
            assert response is not None and response.status == 421
            status = await page.evaluate(
                """() => fetch('/api/runner/anna/snooze', {method: 'POST',
                          headers: {'Content-Type': 'application/json'},
                          body: JSON.stringify({metric: null, minutes: 120})}).then(r => r.status)"""
            )
            assert status == 421
            assert (await page.evaluate("fetch('/api/latest').then(r => r.status)")) == 421
        finally:
            await b.close()
        assert server.access.rejected["host"] >= 3  # (and the favicon)


async def test_another_sites_page_cannot_snooze(browser) -> None:
    bus = busmod.Bus()
    async with WebServer(bus, host="0.0.0.0", port=0) as lan, WebServer(bus, host="127.0.0.1", port=0) as local:
        running(bus, "anna")
        control = bus.subscribe(f"{busmod.TOPIC_ROOT}/+/+/control")
        # the attacker's page, served from another origin
        targets = [local.url + "api/runner/anna/snooze", lan.url + "api/runner/anna/snooze"]
        field = """<input name='{"metric":null,"minutes":120,"x":"' value='"}'>"""  # text/plain smuggles JSON
        attack = "".join(
            f'<form method="post" enctype="text/plain" action="{t}" target="f{i}">{field}</form><iframe name="f{i}">'
            "</iframe>"
            for i, t in enumerate(targets)
        )

        async def attacker_page(request: web.Request) -> web.Response:
            return web.Response(text=f"<html><body>{attack}</body></html>", content_type="text/html")

        app = web.Application()
        app.router.add_get("/", attacker_page)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            context = await browser.new_context()
            victim = await context.new_page()
            await victim.goto(lan.runner_url("anna"))  # the runner's browser holds the key's cookie
            await victim.wait_for_function(LIVE, timeout=10_000)
            page = await context.new_page()
            await page.goto(f"http://127.0.0.1:{port}/")
            for target in targets:
                status = await page.evaluate(
                    """(t) => fetch(t, {method: 'POST', mode: 'no-cors', credentials: 'include',
                              headers: {'Content-Type': 'text/plain'},
                              body: JSON.stringify({metric: null, minutes: 120})}).then(r => r.type)""",
                    target,
                )
                assert status == "opaque"
            await page.evaluate("document.querySelectorAll('form').forEach(f => f.submit())")
            await asyncio.sleep(1.0)
            await context.close()
        finally:
            await runner.cleanup()
        assert control.get_nowait() is None  # no snooze reached the pipeline
        assert local.access.rejected["origin"] == 2  # the fetch and the form
        assert lan.access.rejected["key"] + lan.access.rejected["origin"] == 2  # SameSite=Strict: no cookie


async def test_a_mistyped_runner_name_says_so_at_once(browser) -> None:
    bus = busmod.Bus()
    async with WebServer(bus, host="127.0.0.1", port=0) as server:
        running(bus, "anna")
        running(bus, "ben")
        page = await browser.new_page(viewport=PHONE)
        await page.goto(server.url + "runner/anan")
        await page.wait_for_selector("#unknown:not([hidden])", timeout=5_000)
        text = await page.text_content("#unknown")
        assert text == "No runner called \u201canan\u201d is running here. Running now: anna, ben"
        assert await page.get_attribute("#unknown a", "href") == "/runner/anna"
        await page.screenshot(path="/tmp/h3_unknown.png")
        running(bus, "anan")  # then a runner of that name starts: the message goes
        await page.wait_for_selector("#unknown", state="hidden", timeout=5_000)

        known = await browser.new_page(viewport=PHONE)
        await known.goto(server.url + "runner/anna")
        await known.wait_for_function(LIVE, timeout=10_000)
        await asyncio.sleep(0.3)
        assert await known.is_hidden("#unknown")
