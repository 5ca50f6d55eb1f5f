"""The past-sessions page on a phone (390x844, Chromium): every session fits its box, nothing is cut off
or pushes the page sideways (a 64-character runner name and an incomplete session's long status
included), and a tap on a runner opens that session's report.

Screenshots at phone and desktop size go to $STRIDEGUARD_SCREENSHOTS when set (to look at them)."""

from __future__ import annotations

import os
import pathlib

import pytest

from strideguard.stream.runtime import bus as busmod
from strideguard.stream.web import WebServer
from tests.stream.test_web_history import LONG_NAME, club_store

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
TOO_WIDE = """[...document.querySelectorAll('body *')]
  .filter(el => el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0)
  .map(el => el.tagName + '.' + el.className + ' ' + el.scrollWidth + '>' + el.clientWidth)"""
OUTSIDE = """[...document.querySelectorAll('body *')]
  .filter(el => el.offsetParent !== null && el.getBoundingClientRect().right > window.innerWidth + 0.5)
  .map(el => el.tagName + ' ' + Math.round(el.getBoundingClientRect().right))"""


@pytest.fixture
def club(tmp_path: pathlib.Path) -> tuple[pathlib.Path, list[str]]:
    """Built outside the test's event loop (the shared world runs the pipeline with asyncio.run)."""
    return club_store(tmp_path)


async def test_the_past_sessions_fit_a_phone_and_open_their_report(browser, club, tmp_path: pathlib.Path) -> None:
    db, newest_first = club
    shots = pathlib.Path(os.environ.get("STRIDEGUARD_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    async with WebServer(busmod.Bus(), host="127.0.0.1", port=0, store_path=db) as server:
        page = await browser.new_page(viewport=PHONE)
        await page.goto(server.url)
        await page.click("#past-sessions")  # the team page's link
        await page.wait_for_url("**/sessions")
        assert await page.locator("table.sessions tbody tr:not(.day)").count() == len(newest_first)
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert await page.evaluate(TOO_WIDE) == []
        assert await page.evaluate(OUTSIDE) == []
        assert await page.locator("td.who", has_text=LONG_NAME).is_visible()
        await page.screenshot(path=str(shots / "sessions-phone.png"), full_page=True)
        await page.locator("td.who a").nth(1).click()  # the newest session with data
        await page.wait_for_url("**/report/")
        assert await page.locator("img").count() == 5
        assert await page.evaluate("[...document.images].every(img => img.complete && img.naturalWidth > 0)")
        await page.close()
        page = await browser.new_page(viewport=DESKTOP)
        await page.goto(server.url + "sessions")
        assert await page.evaluate(TOO_WIDE) == []
        await page.screenshot(path=str(shots / "sessions-desktop.png"), full_page=True)
        await page.goto(server.url)
        await page.screenshot(path=str(shots / "team-desktop.png"))
        await page.close()
