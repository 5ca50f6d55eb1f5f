"""Fixtures shared by the stream tests."""

from __future__ import annotations

import os
import shutil

import pytest

from strideguard.stream.runtime import bus as busmod
from strideguard.stream.web import WebServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def server():
    """The built-in web server on a free loopback port, over a fresh bus (`server.bus`)."""
    bus = busmod.Bus()
    srv = WebServer(bus, host="127.0.0.1", port=0)
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def browser():
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which("chromium")):
        pytest.fail("chromium not found: install the Debian package 'chromium' (scripts/install.sh does)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        await b.close()
