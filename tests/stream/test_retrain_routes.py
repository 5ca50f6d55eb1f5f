"""The retraining routes on a real aiohttp server and bus: the synthetic runner answering the cue through
the whole feed (bus -> consumer -> progress), the tap arming the next session, and hostile or broken
input (bad requests, malformed bus messages, a failing store or pain log) answered with one-line errors
or counted drops while the feed goes on."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from strideguard.analytics.retraining import (
    ProgrammeStep,
    Reference,
    RetrainingConfig,
    RetrainingSession,
    SessionProgress,
)
from strideguard.analytics.risk import FATIGUE, Baseline, MetricBaseline
from strideguard.stream.web import retrain_routes
from strideguard.stream.web.retrain_routes import RETRAIN_HUB, RetrainProviders
from tests.analytics.test_retraining import SEED, entry_time_s, responsive_runner
from tests.stream.retrain_helpers import BASELINE, RUNNER, alert, retrain_server, status, step


async def post(server, body: Any, *, runner: str = RUNNER, raw: bytes | None = None, ctype: str = "application/json"):
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            server.url + f"api/runner/{runner}/retrain",
            data=raw if raw is not None else json.dumps(body),
            headers={"Content-Type": ctype},
        ) as r,
    ):
        return r.status, await r.json()


async def settle(server, runner: str = RUNNER) -> None:
    """Let the runner's consumer task drain its mailboxes."""
    hub = server.app[RETRAIN_HUB]
    for _ in range(50):
        await asyncio.sleep(0)
        r = hub.runners.get(runner)
        if r is not None and not any(len(sub._queue) for sub in r.subs.values()):
            break
    await asyncio.sleep(0.01)


async def test_synthetic_runner_answering_the_cue_through_the_feed_gives_its_progress() -> None:
    print(f"seed {SEED}")
    stored: list[SessionProgress] = []
    providers = RetrainProviders(baseline=lambda r: BASELINE, on_progress=stored.append)
    steps = responsive_runner(c0_spm=170.0, target=178.5, tau_s=60.0, duration_s=900.0)
    async with retrain_server(providers) as server:
        bus = server.bus
        code, reply = await post(server, {"action": "start"})
        assert code == 200 and reply == {"armed": True, "state": None}  # no session yet: armed for the next
        status(bus, "running")
        await settle(server)
        assert server.app[RETRAIN_HUB].runners[RUNNER].session.mode == "active"
        for k, (t_ns, dt, impact) in enumerate(steps):
            step(bus, t_ns, dt, impact, k)
            if k % 500 == 499:
                await settle(server)
        status(bus, "finished")
        await settle(server)
        step(bus, steps[-1][0] + 10**9, 0.33, 2.0, len(steps))  # a late step of the finished session
        await settle(server)
        assert server.app[RETRAIN_HUB].drops == {}
    assert len(stored) == 1
    # the same steps straight into the state machine: the feed lost and doubled nothing
    direct = RetrainingSession(
        runner=RUNNER,
        session_id="s1",
        config=RetrainingConfig(),
        programme=ProgrammeStep(session_number=1, phase="continuous", on_share=1.0, cycle_s=120.0, first_impact_g=None),
        cadence_ref=Reference(value=170.0),
        impact_ref=Reference(value=2.5),
    )
    direct.start()
    for t_ns, dt, impact in steps:
        direct.push_step(t_ns=t_ns, step_time_s=dt, impact_g=impact)
    assert stored[0] == direct.progress()
    p = stored[0]
    active = sum(dt for _, dt, _ in steps if dt is not None)
    assert p.time_in_band_s == pytest.approx(active - entry_time_s(170.0, 178.5, 60.0, 2.0) - 1.4, abs=1.5)
    assert p.target_spm == 178.5 and p.session_number == 1 and p.impact_change_pct is None


async def test_the_feed_sends_state_per_step_and_the_final_progress() -> None:
    async with (
        retrain_server() as server,
        aiohttp.ClientSession() as http,
        http.get(server.url + f"runner/{RUNNER}/retrain/events") as resp,
    ):
        bus = server.bus

        async def next_event() -> tuple[str, dict]:
            kind = None
            while True:
                line = (await asyncio.wait_for(resp.content.readline(), 5)).decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind:
                    return kind, json.loads(line[6:])

        kind, hello = await next_event()
        assert kind == "hello" and hello["state"] is None and hello["armed"] is False
        status(bus, "running")
        assert (await next_event())[1]["state"]["mode"] == "off"
        assert (await post(server, {"action": "start", "cadence_increase_pct": 7.5}))[0] == 200
        kind, data = await next_event()
        assert (kind, data["state"]["mode"], data["state"]["target_spm"]) == ("state", "active", 182.75)
        step(bus, 10**9, None, 2.5, 0)
        kind, data = await next_event()
        assert data["step"] == {"t_ns": 10**9, "index": 0, "impact_g": 2.5, "step_time_s": None}
        assert data["state"]["step_t_ns"] == 10**9
        status(bus, "finished")
        kind, data = await next_event()
        assert kind == "progress" and data["progress"]["session_id"] == "s1" and data["progress"]["stored"] is True


@pytest.mark.parametrize(
    ("body", "raw", "ctype", "code", "error"),
    [
        (None, b"{not json", "application/json", 400, "the body is not valid JSON"),
        (None, b"action=start", "application/x-www-form-urlencoded", 415, 'send JSON: {"action": "start" | "stop"}'),
        (["start"], None, "application/json", 400, 'send a JSON object with "action": "start" or "stop"'),
        ({"action": "go"}, None, "application/json", 400, 'send a JSON object with "action": "start" or "stop"'),
        (
            {"action": "start", "cadence_increase_pct": 12},
            None,
            "application/json",
            400,
            "retraining.cadence_increase_pct: must be from 0 to 10, got 12",
        ),
        (
            {"action": "start", "cadence_increase_pct": "5"},
            None,
            "application/json",
            400,
            "retraining.cadence_increase_pct: must be a number, got '5'",
        ),
        (
            {"action": "start", "fixed_target_spm": 1e9},
            None,
            "application/json",
            400,
            "retraining.fixed_target_spm: must be from 120 to 230, got 1e+09",
        ),
        (
            {"action": "start", "band_pct": 50},
            None,
            "application/json",
            400,
            "start takes only cadence_increase_pct, fixed_target_spm",
        ),
    ],
)
async def test_bad_taps_get_a_one_line_error(body, raw, ctype, code, error) -> None:
    async with retrain_server() as server:
        assert await post(server, body, raw=raw, ctype=ctype) == (code, {"error": error})
        assert await post(server, {"action": "start"}, runner="a+b") == (
            400,
            {"error": "runner names contain no '/', '+' or '#'"},
        )


async def test_malformed_bus_messages_are_counted_and_the_feed_goes_on() -> None:
    async with retrain_server() as server:
        bus = server.bus
        await post(server, {"action": "start"})
        status(bus, "running")
        await settle(server)
        topic = f"strideguard/v1/t/{RUNNER}/steps"
        for bad in (
            {"session_id": "s1", "t_ns": "soon", "step_time_s": 0.3, "impact_g": 2.5},
            {"session_id": "s1", "t_ns": 5, "step_time_s": "x", "impact_g": 2.5},
            {"session_id": "s1", "t_ns": 6, "step_time_s": 0.3, "impact_g": float("nan")},
            {"t_ns": 7, "step_time_s": 0.3, "impact_g": 2.5},
            ["not", "a", "dict"],
        ):
            bus.publish(topic, bad)  # type: ignore[arg-type]
        bus.publish(f"strideguard/v1/t/{RUNNER}/alerts", {"session_id": "s1", "metric": FATIGUE, "kind": "onset"})
        bus.publish(f"strideguard/v1/t/{RUNNER}/metrics", {"session_id": "s1", "running": True, "speed_mps": "fast"})
        for k in range(10):
            step(bus, (k + 1) * 10**9 // 3, None if k == 0 else 0.333, 2.5, k)
        await settle(server)
        async with aiohttp.ClientSession() as http, http.get(server.url + "api/retrain/stats") as r:
            stats = await r.json()
        assert stats["drops"] == {
            "steps: malformed": 3,
            "steps: no session_id": 1,
            "steps: not an object": 1,
            "alerts: malformed": 1,
            "metrics: malformed speed": 1,
        }
        session = server.app[RETRAIN_HUB].runners[RUNNER].session
        assert session.mode == "active" and session.last.t_ns == 10 * 10**9 // 3  # the good steps got through


async def test_fatigue_refuses_a_tap_until_cleared() -> None:
    async with retrain_server() as server:
        bus = server.bus
        status(bus, "running")
        await post(server, {"action": "start"})
        alert(bus, FATIGUE, "onset", 10)
        await settle(server)
        code, reply = await post(server, {"action": "start"})
        assert code == 200 and reply["state"]["mode"] == "paused" and reply["state"]["pause"]["holds"] is True
        alert(bus, FATIGUE, "cleared", 10)
        await settle(server)
        assert (await post(server, {"action": "start"}))[1]["state"]["mode"] == "active"


async def test_a_failing_store_and_pain_log_are_reported_not_fatal() -> None:
    def broken(*_: object) -> Any:
        raise OSError("disk I/O error")

    providers = RetrainProviders(baseline=broken, history=broken, on_progress=broken, pain=lambda r: [])
    async with retrain_server(providers) as server:
        bus = server.bus
        status(bus, "running")
        await post(server, {"action": "start"})
        await settle(server)
        r = server.app[RETRAIN_HUB].runners[RUNNER]
        assert r.errors == [
            "programme history unreadable (starting as session 1): disk I/O error",
            "stored baseline unreadable (calibrating instead): disk I/O error",
        ]
        assert r.session.mode == "calibrating"
        status(bus, "finished")
        await settle(server)
        assert r.last_progress is not None and r.last_progress["stored"] is False  # said, not claimed
        assert r.errors[-1] == "progress not stored: disk I/O error"
        # a pain log that cannot be read: the start is refused (the red-flag check comes first)
        r.hub.providers.pain = broken
        status(bus, "running", session_id="s2")
        await settle(server)
        assert await post(server, {"action": "start"}) == (
            503,
            {"error": "cannot read the pain log: retraining does not start without its red-flag check"},
        )
        assert r.session.mode == "off"


async def test_runners_are_bounded_and_idle_ones_forgotten(monkeypatch) -> None:
    monkeypatch.setattr(retrain_routes, "MAX_RUNNERS", 2)
    async with retrain_server() as server:
        await post(server, {"action": "start"}, runner="a")  # armed: kept
        await post(server, {"action": "stop"}, runner="b")  # idle: may be forgotten
        assert (await post(server, {"action": "start"}, runner="c"))[0] == 200  # b was forgotten for c
        assert sorted(server.app[RETRAIN_HUB].runners) == ["a", "c"]
        assert await post(server, {"action": "stop"}, runner="d") == (
            503,
            {"error": "more than 2 runners in retraining"},
        )


async def test_server_stop_ends_an_open_feed_promptly() -> None:
    async with retrain_server() as server, aiohttp.ClientSession() as http:
        resp = await http.get(server.url + f"runner/{RUNNER}/retrain/events")
        await asyncio.wait_for(resp.content.readline(), 5)
        t0 = asyncio.get_running_loop().time()
        await server.stop()
        assert asyncio.get_running_loop().time() - t0 < 2.0
        resp.close()


async def test_the_target_follows_the_speed_the_windows_carry() -> None:
    at_speed = Baseline(
        metrics={
            "cadence": MetricBaseline(value=170.0, sd=2.0, n_windows=30, speed_mps=3.0),  # no learned slope
            "impact": MetricBaseline(value=2.5, sd=0.1, n_windows=30, speed_mps=3.0),
        }
    )
    async with retrain_server(RetrainProviders(baseline=lambda r: at_speed)) as server:
        bus = server.bus
        status(bus, "running")
        _, reply = await post(server, {"action": "start"})
        assert reply["state"]["target_spm"] == 178.5  # no speed yet: the baseline's own
        topic = f"strideguard/v1/t/{RUNNER}/metrics"
        bus.publish(topic, {"session_id": "s1", "running": True, "speed_mps": 2.5})
        await settle(server)
        session = server.app[RETRAIN_HUB].runners[RUNNER].session
        assert session.target_spm == pytest.approx((170.0 - 0.5 * 170.0 * 0.045) * 1.05)  # 4.5 %/(m/s) slower
        bus.publish(topic, {"session_id": "s1", "running": True, "speed_mps": None})  # speed lost: keep the last
        await settle(server)
        assert session.target_spm == pytest.approx((170.0 - 0.5 * 170.0 * 0.045) * 1.05)
        _, reply = await post(server, {"action": "start", "fixed_target_spm": 182})
        assert reply["state"]["target_spm"] == 182  # a fixed rate does not follow speed


async def test_open_pages_are_bounded_and_a_stalled_page_is_dropped(monkeypatch) -> None:
    monkeypatch.setattr(retrain_routes, "MAX_PAGES", 1)
    monkeypatch.setattr(retrain_routes, "WRITE_TIMEOUT_S", 0.3)
    async with retrain_server() as server:
        bus = server.bus
        host, port = "127.0.0.1", server.port
        # a page that connects and never reads
        _reader, writer = await asyncio.open_connection(host, port)
        writer.write(f"GET /runner/{RUNNER}/retrain/events HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        await writer.drain()
        hub = server.app[RETRAIN_HUB]
        for _ in range(100):
            if hub.runners.get(RUNNER) and hub.runners[RUNNER].pages:
                break
            await asyncio.sleep(0.02)
        async with aiohttp.ClientSession() as http, http.get(server.url + f"runner/{RUNNER}/retrain/events") as r:
            assert r.status == 503
            assert await r.json() == {"error": "1 retraining pages are open already; try later"}
        status(bus, "running")
        await post(server, {"action": "start"})
        k = 0
        while hub.drops["page: stalled, dropped"] == 0 and k < 60_000:
            for _ in range(1000):
                step(bus, (k + 1) * 300_000_000, None if k == 0 else 0.3, 2.5, k)
                k += 1
            await settle(server)
            await asyncio.sleep(0.05)
        print(f"dropped after {k} steps")
        assert hub.drops["page: stalled, dropped"] == 1
        for _ in range(100):
            if not hub.runners[RUNNER].pages:
                break
            await asyncio.sleep(0.02)
        assert not hub.runners[RUNNER].pages  # its place is free again
        writer.close()
