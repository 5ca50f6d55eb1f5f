"""The coach role (`stream.runtime.coach`): the workers' MQTT outputs onto the bus the live pages serve.

Before this work the team set-up (`collect` + `worker`) had no team page at all. These tests check what
the coach puts on its bus, that a broken or hostile message from the broker is a counted drop (never a
crash, never on the page), and that a page's snooze reaches the runner's control topic and the worker's
answer comes back, through a real Mosquitto.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest

from strideguard.analytics.results import RiskEvent, RiskEventKind, Severity, WindowMetrics
from strideguard.stream.mqtt.connection import MqttConnection, MqttSettings, unique_client_id
from strideguard.stream.runtime import bus as busmod
from strideguard.stream.runtime.coach import Coach
from tests.fixtures_services import MosquittoService

NS = 1_000_000_000
T0 = 1_767_250_800 * NS


def window(runner: str = "ana", risk: float | None = 12.0) -> dict:
    w = WindowMetrics(runner=runner, t_start_ns=T0, t_end_ns=T0 + 5 * NS, n_steps=14, running=True, risk_score=risk)
    return {"session_id": f"{runner}-s1", "input_seq": 3, **w.as_row()}


def onset(runner: str = "ana", metric: str = "cadence", t_s: int = 60) -> dict:
    e = RiskEvent(
        runner=runner,
        t_ns=T0 + t_s * NS,
        kind=RiskEventKind.ONSET,
        metric=metric,
        severity=Severity.WARNING,
        value=150.0,
        baseline=170.0,
        deviation=-11.8,
        deviation_unit="%",
        duration_s=12.0,
        message="Cadence dropped 12%",
        cue="Shorten your stride",
        onset_t_ns=T0 + t_s * NS,
    )
    return {"session_id": f"{runner}-s1", **e.as_row()}


def topic(kind: str, runner: str = "ana", team: str = "club") -> str:
    return busmod.topic(team, runner, kind)


def b(message: object) -> bytes:
    return json.dumps(message).encode()


def make_coach(**kwargs) -> tuple[Coach, busmod.Bus]:
    bus = busmod.Bus()
    return Coach(settings=MqttSettings(), team="club", bus=bus, **kwargs), bus


HOSTILE = [
    ("bad_topic", "strideguard/v1/club/ana/imu/3", b(window())),
    ("bad_topic", "strideguard/v1/club/a+b/metrics", b(window())),
    ("bad_topic", "elsewhere/club/ana/metrics", b(window())),
    ("not_json", topic("metrics"), b"\xff\xfe not json"),
    ("not_json", topic("metrics"), b"[1, 2, 3]"),
    ("not_json", topic("status"), b"[" * 50_000),  # deeper than Python recurses: RecursionError
    ("too_big", topic("status"), b'{"pad": "' + b"x" * 70_000 + b'"}'),
    ("bad_message", topic("metrics"), b({**window(), "risk_score": "high"})),
    ("bad_message", topic("metrics"), b({**window(), "running": 1})),
    ("bad_message", topic("metrics"), b({k: v for k, v in window().items() if k != "t_end_ns"})),
    ("bad_message", topic("metrics"), b({**window(), "session_id": None})),
    ("bad_message", topic("alerts"), b({**onset(), "severity": "apocalyptic"})),
    ("bad_message", topic("alerts"), b({**onset(), "t_ns": 1.5})),
    ("bad_message", topic("alerts"), b({**onset(), "message": ["a"]})),
    ("bad_message", topic("status"), b({"session_id": "s", "state": "exploded"})),
    ("bad_message", topic("status"), b({"session_id": "s", "state": "running", "sensor": "<img>"})),
    ("bad_message", topic("status"), b({"session_id": "s", "state": "running", "sensor_t_ns": "now"})),
    ("bad_message", topic("control"), b({"action": "snoozed", "until_t_ns": "later"})),
    ("foreign", topic("metrics", runner="ben"), b(window(runner="ana"))),
]


@pytest.mark.parametrize(("reason", "topic_name", "payload"), HOSTILE)
async def test_a_hostile_message_is_a_counted_drop_and_never_reaches_the_bus(reason, topic_name, payload):
    coach, bus = make_coach()
    seen = bus.subscribe("#")
    assert coach.take(topic_name, payload) is False
    assert dict(coach.stats.dropped) == {reason: 1}
    assert bus.last == {} and seen.get_nowait() is None
    # and the coach goes on: the next good message is on the bus
    assert coach.take(topic("metrics"), b(window())) is True
    assert bus.last[topic("metrics")]["risk_score"] == 12.0
    await coach.dispatcher.close()


async def test_outputs_go_on_the_bus_with_the_topics_runner_and_alerts_are_delivered_for_the_runner_page():
    coach, bus = make_coach()
    assert coach.take(topic("status"), b({"session_id": "ana-s1", "runner": "ana", "state": "running"}))
    assert coach.take(topic("metrics"), b(window()))
    assert coach.take(topic("alerts"), b(onset()))
    await coach.dispatcher.flush(2.0)
    alerts = bus.subscribe(topic("alerts"))
    assert bus.last[topic("status")]["state"] == "running"
    assert bus.last[topic("metrics")]["runner"] == "ana"
    # the raw event (team page, held-back count) and the dispatcher's delivered twin (runner page) with its words
    delivered = bus.last[topic("alerts")]
    assert delivered["delivered"] is True and delivered["metric"] == "cadence"
    assert delivered["spoken"] and "%" not in delivered["spoken"]
    assert alerts.get_nowait() is None  # nothing more than those two
    await coach.dispatcher.close()


async def test_the_rate_limit_holds_back_onsets_as_the_embedded_pipeline_does():
    coach, bus = make_coach()
    delivered = bus.subscribe(topic("alerts"))
    for i, metric in enumerate(("cadence", "impact", "sway_ml", "lean", "step_asymmetry")):
        assert coach.take(topic("alerts"), b(onset(metric=metric, t_s=60 + i)))
    await coach.dispatcher.flush(2.0)
    messages = []
    while (item := delivered.get_nowait()) is not None:
        messages.append(item[1])
    assert sum(1 for m in messages if not m.get("delivered")) == 5
    assert sum(1 for m in messages if m.get("delivered")) == 3  # DispatchPolicy.burst
    assert coach.dispatcher.suppressed == 2
    await coach.dispatcher.close()


async def test_snooze_requests_from_mqtt_are_not_put_on_the_bus_but_replies_are():
    coach, bus = make_coach()
    request = {"action": "snooze", "metric": None, "minutes": 10, "request_id": 1}
    assert coach.take(topic("control"), b(request)) is False
    assert not coach.stats.dropped and bus.last == {}  # not a drop: it is the worker's business
    reply = {"runner": "ana", "action": "snoozed", "metric": None, "minutes": 10, "from_t_ns": T0, "until_t_ns": T0}
    assert coach.take(topic("control"), b(reply)) is True
    assert bus.last[topic("control")]["action"] == "snoozed"
    await coach.dispatcher.close()


async def test_every_team_leaves_out_the_services_status_without_counting_it_as_a_drop():
    """`--team +` subscribes to `strideguard/v1/+/+/status`, which the collector's and workers' own
    status matches: before, each one was counted and logged as a bad message."""
    bus = busmod.Bus()
    coach = Coach(settings=MqttSettings(), team="+", bus=bus)
    assert coach.take("strideguard/v1/_services/worker-club-0of1/status", b({"state": "online"})) is False
    assert not coach.stats.dropped and bus.last == {}
    assert coach.take(topic("metrics", team="other"), b(window())) is True
    await coach.dispatcher.close()


async def test_too_many_runners_are_refused_not_kept():
    coach, bus = make_coach(max_runners=3)
    for i in range(5):
        coach.take(topic("metrics", runner=f"r{i}"), b(window(runner=f"r{i}")))
    assert coach.stats.dropped["too_many_runners"] == 2
    assert len(bus.last) == 3
    await coach.dispatcher.close()


@pytest.mark.services
async def test_through_mosquitto_junk_is_dropped_outputs_arrive_and_a_page_snooze_reaches_the_worker(
    mosquitto: MosquittoService,
):
    settings = MqttSettings(host=mosquitto.host, port=mosquitto.port)
    team = "coachteam"
    bus = busmod.Bus()
    coach = Coach(settings=settings, team=team, bus=bus)
    stop = asyncio.Event()
    task = asyncio.create_task(coach.run(stop))
    await asyncio.wait_for(coach.ready.wait(), 10)
    control_topic = busmod.topic(team, "ana", "control")
    async with MqttConnection(
        settings=settings, client_id=unique_client_id("fake-worker"), subscriptions=[control_topic]
    ) as worker:
        await worker.publish(busmod.topic(team, "ana", "metrics"), b"\x00junk", qos=1)
        await worker.publish(busmod.topic(team, "ana", "status"), b"[" * 50_000, qos=1)
        await worker.publish(busmod.topic(team, "ana", "metrics"), b(window()), qos=1)
        await asyncio.wait_for(_until(lambda: busmod.topic(team, "ana", "metrics") in bus.last), 10)
        assert dict(coach.stats.dropped) == {"not_json": 2}
        # a page's snooze (the WebServer publishes it on the bus) goes to the runner's control topic ...
        bus.publish(
            control_topic, {"action": "snooze", "runner": "ana", "metric": None, "minutes": 10, "request_id": 7}
        )
        got = await asyncio.wait_for(_next_message(worker), 10)
        assert got.topic == control_topic
        assert json.loads(got.payload) == {"action": "snooze", "metric": None, "minutes": 10, "request_id": 7}
        # ... and the worker's answer comes back to the page's feed
        answer = {"runner": "ana", "action": "snoozed", "metric": None, "minutes": 10, "request_id": 7}
        await worker.publish(control_topic, b({**answer, "from_t_ns": T0, "until_t_ns": T0 + 600 * NS}), qos=1)
        await asyncio.wait_for(_until(lambda: bus.last[control_topic].get("action") == "snoozed"), 10)
    assert coach.stats.snoozes_forwarded == 1
    stop.set()
    await asyncio.wait_for(task, 10)


async def _until(condition) -> None:
    while not condition():
        await asyncio.sleep(0.02)


async def _next_message(conn: MqttConnection):
    async for message in conn.messages():
        with contextlib.suppress(ValueError):
            if json.loads(message.payload).get("action") == "snooze":
                return message
    raise AssertionError("no message")


def test_the_command_says_what_is_wrong_in_one_line(capsys):
    from strideguard.stream.cli import main

    assert main(["coach", "--broker", "nope://x", "--team", "club"]) == 2
    err = capsys.readouterr().err
    assert err == "strideguard coach: error: broker URL must look like mqtt://host:1883, got 'nope://x'\n"
