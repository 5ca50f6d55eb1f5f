"""Reachable pages: bound to every interface, the server prints (and QR-codes) addresses a phone on the
network can open, with the runner's name and the key filled in.

Before: `--host 0.0.0.0` printed `http://127.0.0.1:8765/` and a `/runner/NAME` template."""

from __future__ import annotations

import json
import subprocess
import sys

import aiohttp
import pytest

from strideguard.stream.runtime import bus as busmod
from strideguard.stream.web import WebServer, reach
from tests.stream.web_raw import request

CLI = [sys.executable, "-m", "strideguard.stream.cli"]
IP_JSON = json.dumps(
    [
        {"ifname": "lo", "flags": ["LOOPBACK", "UP"], "addr_info": [{"family": "inet", "local": "127.0.0.1"}]},
        {"ifname": "eth0", "flags": ["UP"], "addr_info": [{"family": "inet", "local": "192.168.1.20"}]},
        {"ifname": "wlan0", "flags": ["DOWN"], "addr_info": [{"family": "inet", "local": "10.0.0.5"}]},
        {"ifname": "eth1", "flags": ["UP"], "addr_info": [{"family": "inet6", "local": "fe80::1"}]},
    ]
)


def test_ip_json_gives_the_addresses_of_interfaces_that_are_up() -> None:
    assert reach.addresses_from_ip_json(IP_JSON) == ["127.0.0.1", "192.168.1.20"]
    assert reach.addresses_from_ip_json("not json") == []
    assert reach.addresses_from_ip_json('{"a": 1}') == []


def test_lan_addresses_are_this_machines_own_and_never_loopback() -> None:
    found = reach.lan_addresses()
    ip_out = subprocess.run(["ip", "-4", "addr"], capture_output=True, text=True, check=False).stdout
    if "scope global" in ip_out:
        assert found, ip_out  # an interface with a global address is found
    for address in found:
        assert reach.is_own_address(address)
        assert not address.startswith(("127.", "169.254."))
    assert not reach.is_own_address("192.0.2.254") or "192.0.2.254" in ip_out  # not ours: binding fails


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.1.2.3", True), ("0.0.0.0", False), ("", False)],
)
def test_which_bind_addresses_mean_this_computer_only(host: str, loopback: bool) -> None:
    assert reach.is_loopback_host(host) is loopback


async def test_bound_to_every_interface_the_url_is_a_lan_address_that_answers() -> None:
    async with WebServer(busmod.Bus(), host="0.0.0.0", port=0) as server:
        lan = reach.lan_addresses()
        assert lan, "this test needs a LAN address"
        assert server.links.bases == tuple(f"http://{a}:{server.port}/" for a in lan)
        assert not server.url.startswith("http://127.")
        for address in lan:  # each printed address really reaches the server (with its own Host)
            reply = await request(server.port, "/healthz", address=address)
            assert reply.status == 200, address


async def test_the_announcement_fills_in_the_runner_the_key_and_a_qr_code() -> None:
    async with WebServer(busmod.Bus(), host="0.0.0.0", port=0) as server:
        text = server.announcement(["run #2"])
        key = server.key
        assert key is not None
        url = f"{server.url}runner/run%20%232?key={key}"
        assert f"run #2's page: {url}" in text
        assert f"team page: {server.url}?key={key}" in text
        assert "127.0.0.1" not in text
        qr_lines = text.split("scan to open the runner page on a phone:\n")[1].splitlines()
        assert len(qr_lines) >= 15 and all(set(line) <= set("█▀▄ ") for line in qr_lines)
        assert qr_lines == reach.qr_text(url).rstrip("\n").splitlines()  # the QR of the runner's link
        # a control character in a name cannot reach the terminal raw
        assert "\x1b" not in server.announcement(["eve\x1b[2J"])


async def test_on_loopback_the_announcement_says_a_phone_cannot_open_it(server: WebServer) -> None:
    text = server.announcement(["anna"])
    assert f"{server.url}runner/anna" in text and "--host 0.0.0.0" in text and "key" in text
    assert "█" not in text  # no QR code for an address a phone cannot open
    assert (await request(server.port, "/qr.svg")).status == 404


async def test_the_qr_route_encodes_the_page_address_with_the_key() -> None:
    async with (
        WebServer(busmod.Bus(), host="0.0.0.0", port=0) as server,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
    ):
        async with http.get(server.url + f"qr.svg?runner=anna&key={server.key}") as resp:
            assert resp.status == 200 and resp.content_type == "image/svg+xml"
            assert await resp.read() == reach.qr_svg(server.runner_url("anna"))
        async with http.get(server.url + "qr.svg") as resp:  # the cookie from above
            assert await resp.read() == reach.qr_svg(server.team_url)
        async with http.get(server.url + "qr.svg?runner=a%2Bb") as resp:
            assert resp.status == 400


@pytest.mark.slow
def test_the_cli_prints_the_lan_address_runner_and_qr_for_host_0_0_0_0() -> None:
    """`strideguard demo --web --host 0.0.0.0` end to end (the run itself cut short by --speed 0)."""
    done = subprocess.run(
        [*CLI, "demo", "--web", "--host", "0.0.0.0", "--port", "0", "--speed", "0", "--no-store"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lan = reach.lan_addresses()[0]
    assert f"alex's page: http://{lan}:" in done.stderr and "/runner/alex?key=" in done.stderr
    assert "http://127.0.0.1" not in done.stderr
    assert "scan to open the runner page on a phone:" in done.stderr
    assert "— page http://" in done.stdout  # the session's start line names its page too


def test_record_names_its_runners_page_and_qr_for_host_0_0_0_0(tmp_path) -> None:
    """`record --web --host 0.0.0.0` knows its runner before the run: the QR opens that runner's page."""
    done = subprocess.run(
        [
            *CLI,
            "record",
            "--simulate",
            "--fast",
            "--duration",
            "20",
            "--runner",
            "ann",
            "--device",
            "A0:9E:1A:00:00:01:chest",
            "--out",
            str(tmp_path / "ann.sgcap"),
            "--no-store",
            "--web",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lan = reach.lan_addresses()[0]
    assert f"ann's page: http://{lan}:" in done.stderr and "/runner/ann?key=" in done.stderr
    assert "scan to open the runner page on a phone:" in done.stderr
