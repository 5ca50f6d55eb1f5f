"""The session report as a runner or coach opens it on a phone (390 px, Chromium): nothing is cut off.

Before: the summary table was 401 px wide in a 358-px column; its `overflow-x: auto` kept the page from
scrolling sideways but cut the unit column ("steps/") until swiped."""

from __future__ import annotations

import pathlib

import pytest

from strideguard.stream.report import write_report
from tests.stream.test_export_helpers import shared_world

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def report_page(tmp_path: pathlib.Path) -> pathlib.Path:
    """A report with every part (alerts, figures, load); built outside the test's event loop."""
    world = shared_world()
    store = world.store()
    report = write_report(store, world.sessions[0], tmp_path / "r")
    store.close()
    return report.index


@pytest.mark.slow
async def test_the_report_fits_a_phone_with_nothing_cut_off(browser, report_page: pathlib.Path) -> None:
    page = await browser.new_page(viewport=PHONE)
    await page.goto(report_page.as_uri())
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    cut = await page.evaluate(
        "[...document.querySelectorAll('table, figure, p')]"
        ".filter(el => el.scrollWidth > el.clientWidth + 1)"
        ".map(el => el.tagName + ' ' + el.scrollWidth + '>' + el.clientWidth)"
    )
    assert cut == [], cut
    await page.close()
