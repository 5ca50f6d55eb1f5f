"""A page's feed keeps one bounded mailbox per kind: a flood of metrics (a replay running flat out, a
phone on a slow link) drops old metrics, never the alert the runner must feel; steps never enter it."""

from __future__ import annotations

import aiohttp

from strideguard.stream.runtime import bus as busmod
from strideguard.stream.web import WebServer
from tests.stream.test_web import METRICS, read_events


async def test_an_alert_survives_a_flood_of_metrics_and_steps() -> None:
    bus = busmod.Bus()
    async with (
        WebServer(bus, host="127.0.0.1", port=0) as server,
        aiohttp.ClientSession() as http,
        http.get(server.url + "events?runner=anna") as resp,
    ):
        ((kind, _),) = await read_events(resp, 1)
        assert kind == "unknown"  # no session of anna's yet
        (feed,) = server._feeds
        alert = {"runner": "anna", "kind": "onset", "metric": "cadence", "message": "m", "cue": "c"}
        bus.publish(busmod.topic("t", "anna", "alerts"), alert)
        for i in range(2000):  # no await in between: the page cannot keep up
            bus.publish(busmod.topic("t", "anna", "steps"), {"t_ns": i})
            bus.publish(busmod.topic("t", "anna", "metrics"), {**METRICS, "t_end_ns": i})
        assert sum(sub.dropped for sub in feed.subs) > 0  # the metrics mailbox overflowed
        events = await read_events(resp, 3)
        assert (events[0][0], events[0][1]["message"]) == ("alerts", alert)  # alerts go first
        assert [k for k, _ in events[1:]] == ["metrics", "metrics"]  # and no steps
