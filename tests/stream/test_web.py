"""The live pages server over real HTTP: SSE feed from the bus, late joiners, filtering, shutdown."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from strideguard.stream.errors import UsageError
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.web import WebServer
from strideguard.stream.web.server import sse_event

METRICS = {
    "session_id": "s1",
    "runner": "anna",
    "t_start_ns": 0,
    "t_end_ns": 10,
    "n_steps": 28,
    "running": True,
    "cadence_spm": 171.4,
    "impact_g": 2.4,
    "sway_ml_ratio": 0.41,
    "lean_deg": 7.9,
    "risk_score": 12.0,
}


async def read_events(resp: aiohttp.ClientResponse, n: int, timeout_s: float = 5.0) -> list[tuple[str, dict]]:
    """The next n SSE events (kind, data) from a streaming response."""
    events: list[tuple[str, dict]] = []
    kind, data = None, None
    async with asyncio.timeout(timeout_s):
        while len(events) < n:
            line = (await resp.content.readline()).decode()
            if line == "":
                break
            line = line.rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
            elif line == "" and kind is not None:
                events.append((kind, data))
                kind, data = None, None
    return events


async def test_feed_replays_the_last_message_then_streams_new_ones(server: WebServer) -> None:
    bus = server.bus
    bus.publish(busmod.topic("t", "anna", "metrics"), METRICS)
    async with aiohttp.ClientSession() as http, http.get(server.url + "events?runner=anna") as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        ((kind, data),) = await read_events(resp, 1)
        assert (kind, data["message"], data["replay"]) == ("metrics", METRICS, True)
        alert = {"runner": "anna", "kind": "onset", "metric": "cadence", "message": "m", "cue": "c"}
        bus.publish(busmod.topic("t", "anna", "alerts"), alert)
        ((kind, data),) = await read_events(resp, 1)
        assert (kind, data["message"], data["replay"]) == ("alerts", alert, False)


async def test_a_runner_feed_carries_only_that_runner_and_no_steps(server: WebServer) -> None:
    bus = server.bus
    async with aiohttp.ClientSession() as http, http.get(server.url + "events?runner=anna") as resp:
        await asyncio.sleep(0.05)  # the subscription exists once the response has started
        bus.publish(busmod.topic("t", "ben", "metrics"), {**METRICS, "runner": "ben"})
        bus.publish(busmod.topic("t", "anna", "steps"), {"t_ns": 1})
        bus.publish(busmod.topic("t", "anna", "status"), {"runner": "anna", "state": "running"})
        # anna had nothing on the bus when the page opened: first the page hears so, then her status
        (unknown, status) = await read_events(resp, 2)
        assert (unknown[0], unknown[1]["message"]["runner"]) == ("unknown", "anna")
        assert (status[0], status[1]["message"]["runner"]) == ("status", "anna")


async def test_team_feed_sees_every_runner_and_latest_is_json(server: WebServer) -> None:
    server.bus.publish(busmod.topic("t", "ben", "metrics"), {**METRICS, "runner": "ben"})
    server.bus.publish(busmod.topic("t", "anna", "metrics"), METRICS)
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "events") as resp:
            events = await read_events(resp, 2)
            assert sorted(d["message"]["runner"] for _, d in events) == ["anna", "ben"]
        async with http.get(server.url + "api/latest?runner=ben") as resp:
            latest = await resp.json()
            assert [item["message"]["runner"] for item in latest] == ["ben"]


async def test_pages_and_static_files_are_served_and_names_checked(server: WebServer) -> None:
    async with aiohttp.ClientSession() as http:
        for path, needle in (
            ("", "Team"),
            ("runner/anna", "live.js"),
            ("static/live.js", "navigator.vibrate"),
            ("static/style.css", ".banner"),
        ):
            async with http.get(server.url + path) as resp:
                assert resp.status == 200, path
                assert needle in await resp.text()
        async with http.get(server.url + "static/server.py") as resp:
            assert resp.status == 404
        async with http.get(server.url + "events?runner=a%2Bb") as resp:
            assert resp.status == 400


async def test_stop_ends_open_feeds_promptly(server: WebServer) -> None:
    async with aiohttp.ClientSession() as http, http.get(server.url + "events") as resp:
        await asyncio.sleep(0.05)
        async with asyncio.timeout(5):
            await server.stop()
            rest = await resp.content.read()
        assert b"event:" not in rest


async def test_a_busy_port_is_one_clear_error(server: WebServer) -> None:
    other = WebServer(busmod.Bus(), host="127.0.0.1", port=server.port)
    with pytest.raises(UsageError, match="choose another --port"):
        await other.start()


def test_sse_event_is_one_json_line() -> None:
    raw = sse_event("metrics", {"a": 1, "b": "x\ny"}, 7).decode()
    assert raw == 'id: 7\nevent: metrics\ndata: {"a":1,"b":"x\\ny"}\n\n'
