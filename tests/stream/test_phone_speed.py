"""Speed from the phone, without a browser: the page server's `POST /api/runner/<name>/speed` over real
sockets, and the pipeline / engine edge that put the speed into the runner's session.

Before: there was no way for a speed to come from the phone; without a footpod every window had
`speed_mps` None and the cadence floor was never judged (`cadence_floor_windows.no_speed` only)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from strideguard.sensors.synthetic import SyntheticConfig, SyntheticRunner
from strideguard.sensors.types import StrideReading
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.runtime.engine import PHONE_DEVICE, Edge, EdgeLimits
from strideguard.stream.runtime.pipeline import BusSink, Pipeline
from strideguard.stream.web import WebServer
from tests.stream.snooze_helpers import analyzer
from tests.stream.test_web_access import lan_server  # noqa: F401  (fixture)
from tests.stream.web_raw import request

JSON = {"Content-Type": "application/json"}
NS = 1_000_000_000
SEED = 7


def running(bus: busmod.Bus, runner: str = "anna") -> None:
    bus.publish(busmod.topic("club", runner, "status"), {"runner": runner, "state": "running"})


async def post(server: WebServer, runner: str, body: bytes, headers: dict[str, str] | None = None):
    path = f"/api/runner/{runner}/speed"
    return await request(server.port, path, method="POST", headers=headers or JSON, body=body)


async def test_a_good_speed_is_published_on_the_runners_control_topic(server: WebServer) -> None:
    running(server.bus)
    control = server.bus.subscribe(f"{busmod.TOPIC_ROOT}/+/+/control")
    before_ns = time.time_ns()
    reply = await post(server, "anna", b'{"speed_mps": 3.2, "accuracy_m": 6}')
    assert reply.status == 202, reply.body
    topic_name, message = control.get_nowait()
    assert topic_name == busmod.topic("club", "anna", "control")
    assert (message["action"], message["runner"], message["speed_mps"], message["accuracy_m"]) == (
        "speed",
        "anna",
        3.2,
        6.0,
    )
    assert before_ns <= message["t_ns"] <= time.time_ns()  # the server's clock, not the phone's
    assert server.speeds_accepted == 1


HOSTILE = [
    (b'{"speed_mps": NaN, "accuracy_m": 5}', 400, "speed", "speed_mps must be a finite number"),
    (b'{"speed_mps": Infinity, "accuracy_m": 5}', 400, "speed", "speed_mps must be a finite number"),
    (b'{"speed_mps": -1, "accuracy_m": 5}', 400, "speed", "speed_mps must be a finite number of 0 to 12"),
    (b'{"speed_mps": 1000, "accuracy_m": 5}', 400, "speed", "speed_mps must be a finite number of 0 to 12"),
    (b'{"speed_mps": true, "accuracy_m": 5}', 400, "speed", "speed_mps must be a finite number"),
    (b'{"speed_mps": "3", "accuracy_m": 5}', 400, "speed", "speed_mps must be a finite number"),
    (b'{"speed_mps": 3}', 400, "accuracy", "accuracy_m must be a finite number"),
    (b'{"speed_mps": 3, "accuracy_m": NaN}', 400, "accuracy", "accuracy_m must be a finite number"),
    (b'{"speed_mps": 3, "accuracy_m": 400}', 422, "rough", "the position is only good to 400 m"),
    (b'{"speed_mps": 3, "accuracy_m": 5, "runner": "bob"}', 400, "runner", "names another runner"),
    (b"[3.2]", 400, "json", "send a JSON object"),
    (b"{not json", 400, "json", "not valid JSON"),
    (b'{"speed_mps": 3, "accuracy_m": 5, "pad": "' + b"x" * 400 + b'"}', 413, "size", "at most 256 bytes"),
]


@pytest.mark.parametrize(("body", "status", "reason", "error"), HOSTILE)
async def test_hostile_speeds_are_refused_with_one_line_and_counted(
    server: WebServer, body: bytes, status: int, reason: str, error: str
) -> None:
    running(server.bus)
    control = server.bus.subscribe(f"{busmod.TOPIC_ROOT}/+/+/control")
    reply = await post(server, "anna", body)
    assert reply.status == status, reply.body
    message = json.loads(reply.body)["error"]
    assert error in message and "\n" not in message
    assert control.get_nowait() is None  # nothing reached the session
    assert server.speed_refused == {reason: 1} and server.speeds_accepted == 0
    health = json.loads((await request(server.port, "/healthz")).body)
    assert health["speed_refused"] == {reason: 1}


async def test_a_runner_without_a_live_session_a_form_post_and_a_flood_are_refused(server: WebServer) -> None:
    reply = await post(server, "nobody", b'{"speed_mps": 3, "accuracy_m": 5}')
    assert reply.status == 404 and json.loads(reply.body)["error"] == "no live session for runner 'nobody'"
    form = await request(
        server.port,
        "/api/runner/anna/speed",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"speed_mps=3",
    )
    assert form.status == 415
    running(server.bus)
    statuses = [(await post(server, "anna", b'{"speed_mps": 3, "accuracy_m": 5}')).status for _ in range(5)]
    assert statuses[0] == 202 and statuses.count(429) >= 3  # one per 0.5 s, however fast the client
    assert server.speed_refused["no session"] == 1 and server.speed_refused["type"] == 1
    assert server.speed_refused["rate"] == statuses.count(429)


async def test_another_sites_page_cannot_post_a_speed(server: WebServer) -> None:
    running(server.bus)
    reply = await post(
        server, "anna", b'{"speed_mps": 3, "accuracy_m": 5}', headers={**JSON, "Origin": "http://evil.example"}
    )
    assert reply.status == 403 and server.access.rejected["origin"] == 1 and server.speeds_accepted == 0


async def test_beyond_loopback_a_speed_needs_the_key(lan_server: WebServer) -> None:  # noqa: F811
    server = lan_server
    running(server.bus)
    address = server.url.split("//")[1].split(":")[0]
    body = b'{"speed_mps": 3, "accuracy_m": 5}'
    for query in ("", "?key=wrong"):
        reply = await request(
            server.port, f"/api/runner/anna/speed{query}", method="POST", headers=JSON, body=body, address=address
        )
        assert reply.status == 403 and reply.body.count(b"\n") == 1
    assert server.speeds_accepted == 0 and server.access.rejected["key"] == 2
    reply = await request(
        server.port, f"/api/runner/anna/speed?key={server.key}", method="POST", headers=JSON, body=body, address=address
    )
    assert reply.status == 202


# -- the pipeline and the engine's edge --------------------------------------------------------------
def live_run(duration_s: float, start_t_ns: int):
    """A runner at 156 spm (under the 160 floor) from `start_t_ns`, 25 Hz."""
    config = SyntheticConfig(cadence_spm=156.0, standing_s=2.0)
    print(f"synthetic seed {SEED}")
    return SyntheticRunner(config).generate(duration_s, 25, seed=SEED, runner="anna", start_t_ns=start_t_ns)


async def speed_into(pipeline: Pipeline, bus: busmod.Bus, speed_mps: float, t_ns: int, runner: str = "anna") -> None:
    """What the page server publishes for one speed (its shape is checked there)."""
    message = {"action": "speed", "runner": runner, "speed_mps": speed_mps, "accuracy_m": 5.0, "t_ns": t_ns}
    bus.publish(busmod.topic("t", runner, "control"), message)


async def run_with_speeds(start_t_ns: int, speed_at_data_time: bool) -> tuple[Pipeline, list[dict]]:
    bus = busmod.Bus()
    replies = bus.subscribe(f"{busmod.TOPIC_ROOT}/+/+/control")
    pipeline = Pipeline(analyzer_factory=analyzer, sinks=[BusSink(bus)], team="t", source="live", keep_outputs=True)
    run = live_run(60.0, start_t_ns)
    wall_ns = time.time_ns()
    for batch in run.iter_batches(1.0):
        if batch.kind.value == "acc":
            t_ns = int(batch.t_ns[-1]) if speed_at_data_time else wall_ns
            await speed_into(pipeline, bus, 3.2, t_ns)
            wall_ns += NS // 2
        await pipeline.push(batch)
    await pipeline.finish()
    await pipeline.close()
    answers = []
    while (item := replies.get_nowait()) is not None:
        if item[1].get("action") == "speed_refused":
            answers.append(item[1])
    return pipeline, answers


async def test_a_live_sessions_phone_speed_reaches_the_windows_and_the_floor_is_judged() -> None:
    pipeline, refused = await run_with_speeds(time.time_ns(), speed_at_data_time=True)
    summary = pipeline.summaries["anna"]
    windows = [w for w in pipeline.outputs("anna").windows if w.running]
    with_speed = [w.speed_mps for w in windows if w.speed_mps is not None]
    assert len(with_speed) >= len(windows) - 1 and all(abs(v - 3.2) < 1e-9 for v in with_speed)
    floor = summary.risk["cadence_floor_windows"]
    assert floor["judged"] > 0 and floor["no_speed"] <= 1, floor
    assert refused == [] and pipeline.phone_speeds["used"] > 50


async def test_a_replays_session_refuses_the_wall_clock_speed_and_says_why() -> None:
    """A replay runs on its recording's time: a speed measured now is not put into 2026-01-01."""
    pipeline, refused = await run_with_speeds(1_767_250_800 * NS, speed_at_data_time=False)
    summary = pipeline.summaries["anna"]
    assert all(w.speed_mps is None for w in pipeline.outputs("anna").windows)
    assert summary.risk["cadence_floor_windows"]["judged"] == 0
    reason = "phone speeds away from the session's data time (a replay is not on the wall clock)"
    assert refused and {r["reason"] for r in refused} == {reason}
    assert summary.dropped[reason] == len(refused) == pipeline.phone_speeds["refused"]


async def test_a_speed_for_another_runner_never_enters_this_runners_session() -> None:
    bus = busmod.Bus()
    pipeline = Pipeline(analyzer_factory=analyzer, sinks=[BusSink(bus)], team="t", source="live", keep_outputs=True)
    run = live_run(40.0, time.time_ns())
    for batch in run.iter_batches(1.0):
        # the topic says bob; a message naming anna on bob's topic is not anna's either
        bus.publish(
            busmod.topic("t", "bob", "control"),
            {"action": "speed", "runner": "anna", "speed_mps": 3.2, "accuracy_m": 5.0, "t_ns": int(batch.t_ns[-1])},
        )
        await pipeline.push(batch)
    await pipeline.finish()
    await pipeline.close()
    assert all(w.speed_mps is None for w in pipeline.outputs("anna").windows)
    assert pipeline.phone_speeds == {"used": 0, "refused": 0}


def test_the_edge_checks_the_phones_time_and_range() -> None:
    edge = Edge("anna", EdgeLimits())
    t0 = 1_800_000_000 * NS

    def reading(t_ns: int, speed: float = 3.0) -> StrideReading:
        return StrideReading(runner="anna", device=PHONE_DEVICE, t_ns=t_ns, speed_mps=speed, cadence_spm=0)

    assert edge.admit_reading(reading(t0)) is None  # no samples yet: no data time to compare with
    edge.last_t_ns = t0
    assert edge.admit_reading(reading(t0 + 2 * NS)) is not None
    assert edge.admit_reading(reading(t0 + 1 * NS)) is None  # time went back
    assert edge.admit_reading(reading(t0 + 3 * NS, float("nan"))) is None
    assert edge.admit_reading(reading(t0 + 3 * NS, 12.5)) is None
    assert edge.admit_reading(reading(t0 + 60 * NS)) is None
    assert edge.dropped == {
        "phone speeds away from the session's data time (a replay is not on the wall clock)": 2,
        "phone speeds not after the previous one": 1,
        "phone speeds out of range": 2,
    }
    # a footpod's reading is not held to the phone's rules
    pod = StrideReading(runner="anna", device="pod", t_ns=t0 + 600 * NS, speed_mps=3.0, cadence_spm=170)
    assert edge.admit_reading(pod) is pod


async def test_speeds_do_not_keep_a_silent_sensor_alive_nor_pile_up_while_it_is_silent() -> None:
    """The phone keeps sending while the strap is off: the sensor watch still sees silence, and the
    speeds waiting for the next samples are bounded (the oldest go, counted and answered)."""
    bus = busmod.Bus()
    replies = bus.subscribe(f"{busmod.TOPIC_ROOT}/+/+/control")
    pipeline = Pipeline(analyzer_factory=analyzer, sinks=[BusSink(bus)], team="t", source="live", silent_after_s=0.4)
    run = live_run(10.0, time.time_ns())
    for batch in list(run.iter_batches(1.0))[:4]:
        await pipeline.push(batch)
    for _ in range(40):
        await speed_into(pipeline, bus, 3.0, time.time_ns())
    pipeline.apply_controls()
    await asyncio.sleep(1.2)
    assert [c.sensor for c in pipeline.sensor_changes] == ["silent"]
    assert pipeline.phone_speeds == {"used": 0, "refused": 8}
    answers = [m for _, m in iter(replies.get_nowait, None) if m.get("action") == "speed_refused"]
    assert [a["reason"] for a in answers] == ["phone speeds waiting for samples that did not come"] * 8
    await pipeline.finish()
    await pipeline.close()
