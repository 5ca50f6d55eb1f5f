"""Who may use the live pages, over real sockets against the real server: the Host header on loopback (so
a DNS-rebinding page cannot read or snooze), the key beyond loopback (query once, then an HttpOnly
SameSite=Strict cookie), the Origin of a snooze, and /healthz open to monitors.

Before: every route answered any Host with 200, and bound to 0.0.0.0 there was no key at all."""

from __future__ import annotations

import json

import aiohttp
import pytest

from strideguard.stream.runtime import bus as busmod
from strideguard.stream.web import WebServer
from strideguard.stream.web.reach import lan_addresses
from tests.stream.test_web import read_events
from tests.stream.web_raw import request

SNOOZE = json.dumps({"metric": None, "minutes": 10}).encode()
JSON = {"Content-Type": "application/json"}
ROUTES = ("/", "/runner/anna", "/static/live.js", "/api/latest", "/events?runner=anna")


def running(bus: busmod.Bus, runner: str = "anna") -> None:
    bus.publish(busmod.topic("club", runner, "status"), {"runner": runner, "state": "running"})


@pytest.fixture
async def lan_server():
    """The server bound to every interface (as `--host 0.0.0.0`), on a free port."""
    if not lan_addresses():
        pytest.fail("this machine has no LAN address: the test needs one (any non-loopback IPv4 interface)")
    async with WebServer(busmod.Bus(), host="0.0.0.0", port=0) as server:
        yield server


async def test_loopback_answers_its_own_names_and_no_key_is_needed(server: WebServer) -> None:
    assert server.key is None
    for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}", f"LOCALHOST:{server.port}"):
        reply = await request(server.port, "/runner/anna", host=host)
        assert reply.status == 200, host


@pytest.mark.parametrize("path", ROUTES)
async def test_a_rebinding_host_is_refused_on_every_route(server: WebServer, path: str) -> None:
    reply = await request(server.port, path, host=f"evil.example:{server.port}")
    assert reply.status == 421
    assert reply.body.decode().count("\n") == 1 and b"runner" not in reply.body  # one line, no data


async def test_a_rebinding_page_cannot_snooze_and_the_refusals_are_counted(server: WebServer) -> None:
    running(server.bus)
    control = server.bus.subscribe(f"{busmod.TOPIC_ROOT}/+/+/control")
    for host in (f"evil.example:{server.port}", "127.0.0.1:1", "", "[::1"):
        reply = await request(
            server.port, "/api/runner/anna/snooze", host=host, method="POST", headers=JSON, body=SNOOZE
        )
        assert reply.status in (421, 400), host  # 400: aiohttp rejects a malformed Host itself
    assert control.get_nowait() is None
    health = json.loads((await request(server.port, "/healthz")).body)
    assert health["rejected"]["host"] >= 3


async def test_a_snooze_from_another_sites_page_is_refused(server: WebServer) -> None:
    running(server.bus)
    control = server.bus.subscribe(f"{busmod.TOPIC_ROOT}/+/+/control")
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{server.port + 1}"):
        reply = await request(
            server.port, "/api/runner/anna/snooze", method="POST", headers={**JSON, "Origin": origin}, body=SNOOZE
        )
        assert reply.status == 403, origin
    assert control.get_nowait() is None
    own = {**JSON, "Origin": f"http://127.0.0.1:{server.port}"}
    reply = await request(server.port, "/api/runner/anna/snooze", method="POST", headers=own, body=SNOOZE)
    assert reply.status == 202
    assert control.get_nowait() is not None


async def test_beyond_loopback_every_route_but_healthz_needs_the_key(lan_server: WebServer) -> None:
    server = lan_server
    address = server.url.split("//")[1].split(":")[0]
    assert server.key and len(server.key) >= 20
    assert not address.startswith("127.")  # the printed address is one a phone can open
    for path in ROUTES:
        for query in ("", "?key=wrong", "?key=%C3%A9t%C3%A9"):  # missing, wrong, not ASCII
            sep = "&" if "?" in path and query else ""
            reply = await request(server.port, path + (sep + query[1:] if sep else query), address=address)
            assert reply.status == 403, (path, query)
            assert b"key" in reply.body and reply.body.count(b"\n") == 1
    reply = await request(server.port, "/healthz", address=address)
    assert reply.status == 200 and json.loads(reply.body)["rejected"]["key"] == 15


async def test_the_key_in_the_address_becomes_a_strict_httponly_cookie(lan_server: WebServer) -> None:
    server = lan_server
    running(server.bus)
    runner_url = server.runner_url("anna")
    assert runner_url.startswith(server.url) and f"key={server.key}" in runner_url
    # unsafe=True: aiohttp's jar, unlike a browser's, ignores cookies from an IP address otherwise
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(runner_url) as resp:
            assert resp.status == 200
            cookie = resp.headers["Set-Cookie"]
        assert f"strideguard_key_{server.port}={server.key}" in cookie
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        # the page's own requests carry no key, only the cookie the session now holds
        async with http.get(server.url + "events?runner=anna") as resp:
            assert resp.status == 200
            ((kind, data),) = await read_events(resp, 1)
            assert (kind, data["message"]["state"]) == ("status", "running")
        own = {**JSON, "Origin": server.url.rstrip("/")}
        async with http.post(server.url + "api/runner/anna/snooze", data=SNOOZE, headers=own) as resp:
            assert resp.status == 202
    # the right key still cannot come in under another site's name
    address = server.url.split("//")[1].split(":")[0]
    reply = await request(server.port, f"/?key={server.key}", address=address, host=f"evil.example:{server.port}")
    assert reply.status == 421


async def test_a_proxy_name_from_the_settings_is_accepted() -> None:
    async with WebServer(busmod.Bus(), host="127.0.0.1", port=0, extra_hosts=["Pages.Example"]) as server:
        assert (await request(server.port, "/", host="pages.example")).status == 200
        assert (await request(server.port, "/", host="other.example")).status == 421
