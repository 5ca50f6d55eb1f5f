"""Fixtures shared by the stream tests."""

from __future__ import annotations

import pytest

from stream import bus as busmod
from stream.web import WebServer


@pytest.fixture
async def server():
    """The built-in web server on a free loopback port, over a fresh bus (`server.bus`)."""
    bus = busmod.Bus()
    srv = WebServer(bus, host="127.0.0.1", port=0)
    await srv.start()
    yield srv
    await srv.stop()
